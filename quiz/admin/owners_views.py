"""线索分配 (quiz.owners): branch managers give leads to their agents; head office sees
conversion and overdue counts per branch and agent, and the overdue lists."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from quiz.admin import bp
from quiz.admin.access import current_staff, scoped_staff
from quiz.admin.campaign_views import selected_campaign
from quiz.clock import CHINA
from quiz.db import utcnow
from quiz.models import Branch, StaffUser
from quiz.owners import service as owners
from quiz.staff import audit
from quiz.web.forms import SafeForm
from quiz.web.request import db, int_arg, protector, public_base_url

MAX_BULK = 5000


class AssignForm(SafeForm):
    """The CSRF token; the agents and the leads are read from the request's lists."""


def _whole(value: str) -> bool:
    """An id as posted: ASCII digits that fit the database's integer."""
    return value.isascii() and value.isdigit() and len(value) < 10


def _user() -> StaffUser:
    user = current_staff()
    assert user is not None
    return user


def _branch_of(user: StaffUser) -> int | None:
    """The branch the page is about: a branch user's own; head office's ?branch=."""
    if user.role == "branch":
        return user.branch_id
    return int_arg("branch")


def _all_branches() -> list[Branch]:
    return list(db().scalars(select(Branch).order_by(Branch.code)))


@bp.get("/owners")
@scoped_staff
def owners_page() -> ResponseReturnValue:
    user = _user()
    campaign = selected_campaign()
    if campaign is None:
        abort(404)
    today = utcnow().astimezone(CHINA).date()
    branch_id = _branch_of(user)
    per_branch, per_agent = owners.figures(db(), campaign.id, today, branch_id=branch_id)
    agents = owners.agents_of(db(), branch_id) if branch_id else []
    base = public_base_url().rstrip("/")
    lookup = protector().lookup_hash
    links = {
        a.id: base + url_for("public.agent_leads", token=owners.agent_token(lookup, a.id))
        for a in agents
    }
    return render_template(
        "admin/owners.html",
        campaign=campaign,
        branch=db().get(Branch, branch_id) if branch_id else None,
        branches=[]
        if user.role == "branch"
        else list(db().scalars(select(Branch).order_by(Branch.code))),
        agents=agents,
        links=links,
        unowned=len(owners.unowned_lead_ids(db(), branch_id, campaign.id)) if branch_id else 0,
        per_branch=per_branch,
        per_agent=per_agent,
        overdue=owners.overdue(db(), today, campaign_id=campaign.id, branch_id=branch_id)[:200],
        form=AssignForm(),
        follow_up_days=owners.follow_up_days(campaign),
    )


@bp.post("/owners/assign")
@scoped_staff
def owners_assign() -> ResponseReturnValue:
    """Round-robin among the ticked agents: the ticked leads, or the branch's unowned ones."""
    user = _user()
    campaign = selected_campaign()
    if campaign is None or not AssignForm().validate():
        abort(400)
    posted = request.form.get("branch", "")
    branch_id = (
        user.branch_id if user.role == "branch" else (int(posted) if _whole(posted) else None)
    )
    if branch_id is None:
        abort(400)
    agent_ids = [int(v) for v in request.form.getlist("agent") if _whole(v)]
    lead_ids = [int(v) for v in request.form.getlist("lead") if _whole(v)][:MAX_BULK]
    raw_count = request.form.get("count", "")
    count = min(int(raw_count), MAX_BULK) if _whole(raw_count) and int(raw_count) else MAX_BULK
    if not lead_ids:
        lead_ids = owners.unowned_lead_ids(db(), branch_id, campaign.id, count)
    try:
        given = owners.assign(db(), user, lead_ids, agent_ids)
    except owners.OwnerError as exc:
        db().rollback()
        flash(str(exc), "error")
        return redirect(url_for("admin.owners_page", branch=branch_id))
    audit.record(
        db(),
        user,
        "owners.assign",
        f"branch:{branch_id}",
        {"leads": sum(given.values()), "agents": {str(k): v for k, v in given.items()}},
        request.remote_addr,
    )
    db().commit()
    flash(f"已分配 {sum(given.values())} 条线索给 {len(given)} 位业务人员。")
    return redirect(url_for("admin.owners_page", branch=branch_id))
