"""Audit-log viewer (admins only): filters, newest first, keyset pages; read-only by design."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from flask import render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import Select, select

from quiz.admin import bp
from quiz.admin.access import admin_required
from quiz.admin.audit_text import ACTION_LABELS, describe
from quiz.admin.forms import AuditFilterForm, parse_date
from quiz.clock import CHINA
from quiz.models import AuditLog, Campaign
from quiz.web.request import db, int_arg

PAGE_SIZE = 50


def _filtered(form: AuditFilterForm) -> Select[Any]:
    """The filters as a query; dates are Beijing dates, inclusive."""
    stmt = select(AuditLog)
    if form.actor.data and form.actor.data.strip():
        stmt = stmt.where(AuditLog.actor == form.actor.data.strip())
    if form.action.data:
        stmt = stmt.where(AuditLog.action == form.action.data)
    if form.campaign.data:
        stmt = stmt.where(AuditLog.campaign_id == int(form.campaign.data))
    start, end = parse_date(form.start.data), parse_date(form.end.data)
    if start:
        stmt = stmt.where(AuditLog.at >= datetime.combine(start, time(), CHINA))
    if end:
        stmt = stmt.where(AuditLog.at < datetime.combine(end + timedelta(days=1), time(), CHINA))
    return stmt


@bp.get("/audit")
@admin_required
def audit() -> ResponseReturnValue:
    """Audit entries matching the filters, PAGE_SIZE at a time, by descending id."""
    form = AuditFilterForm(request.args)
    actions = db().scalars(select(AuditLog.action).distinct().order_by(AuditLog.action)).all()
    form.action.choices = {"": "全部", **{a: ACTION_LABELS.get(a, a) for a in actions}}
    campaigns = db().execute(select(Campaign.id, Campaign.name).order_by(Campaign.id.desc()))
    form.campaign.choices = {"": "全部活动", **{str(i): name for i, name in campaigns}}
    if form.campaign.data and form.campaign.data not in form.campaign.choices:
        form.campaign.errors = ["没有这个活动,请从列表中选择。"]
        valid = False
    else:
        valid = form.validate()
    if not valid:
        return render_template(
            "admin/audit.html",
            form=form,
            entries=[],
            next_url=None,
            first_url=None,
            labels=ACTION_LABELS,
        ), 422
    stmt = _filtered(form)
    before = int_arg("before")
    if before is not None:
        stmt = stmt.where(AuditLog.id < before)
    rows = db().scalars(stmt.order_by(AuditLog.id.desc()).limit(PAGE_SIZE + 1)).all()
    entries = rows[:PAGE_SIZE]
    args = {k: v for k, v in request.args.items() if k != "before" and v}
    next_url = (
        url_for("admin.audit", **args, before=entries[-1].id) if len(rows) > PAGE_SIZE else None
    )
    first_url = url_for("admin.audit", **args) if before is not None else None
    return render_template(
        "admin/audit.html",
        form=form,
        entries=[(e, describe(db(), e)) for e in entries],
        next_url=next_url,
        first_url=first_url,
        labels=ACTION_LABELS,
    )
