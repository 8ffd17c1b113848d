"""Leads list, lead page, follow-up and the audited reveal of personal data."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from quiz import leads
from quiz.admin import bp
from quiz.admin.access import HEAD_OFFICE, any_staff, current_staff, lead_or_404
from quiz.admin.lead_forms import FollowUpForm, LeadFilterForm, RevealForm
from quiz.models import Participant, StaffUser
from quiz.regions import divisions
from quiz.web import db, int_arg, protector


def _user() -> StaffUser:
    user = current_staff()
    assert user is not None  # bp.before_request guarantees a signed-in user
    return user


def filter_form(user: StaffUser) -> LeadFilterForm:
    """The filter form bound to the query string, its choices filled in."""
    form = LeadFilterForm(request.args)
    return form.setup(
        leads.branch_choices(db()), leads.intent_levels(db()), leads.campaign_choices(db())
    )


@bp.get("/leads", endpoint="leads")
@any_staff
def leads_list() -> ResponseReturnValue:
    user = _user()
    form = filter_form(user)
    if not form.validate():
        return render_template(
            "admin/leads.html",
            form=form,
            page=None,
            filters=None,
            user=user,
            head_office=user.role in HEAD_OFFICE,
            division_name=_division_name,
        ), 400
    filters = form.to_filters(user)
    after = int_arg("after")
    page = leads.list_leads(db(), user, filters, after_id=after)
    return render_template(
        "admin/leads.html",
        form=form,
        page=page,
        filters=filters,
        after=after,
        user=user,
        head_office=user.role in HEAD_OFFICE,
        division_name=_division_name,
    )


def _division_name(code: str | None) -> str:
    division = divisions.get(code) if code else None
    return division.name if division else ""


def _render_lead(
    lead: Participant,
    user: StaffUser,
    *,
    form: FollowUpForm | None = None,
    revealed: leads.Revealed | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    context: dict[str, Any] = {
        "lead": lead,
        "user": user,
        "answers": leads.answers_of(db(), lead),
        "follow_ups": leads.follow_ups_of(db(), lead),
        "form": form or FollowUpForm(status=lead.follow_up_status),
        "reveal_form": RevealForm(),
        "revealed": revealed,
        "division_name": _division_name,
    }
    return render_template("admin/lead.html", **context), status


@bp.get("/leads/<int:lead_id>")
@any_staff
def lead_page(lead_id: int) -> ResponseReturnValue:
    user = _user()
    return _render_lead(lead_or_404(lead_id, user), user)


@bp.post("/leads/<int:lead_id>/follow-up")
@any_staff
def lead_follow_up(lead_id: int) -> ResponseReturnValue:
    user = _user()
    lead = lead_or_404(lead_id, user)
    form = FollowUpForm()
    if not form.validate():
        return _render_lead(lead, user, form=form, status=400)
    try:
        leads.record_follow_up(db(), user, lead, form.status.data, form.note.data or "")
    except leads.LeadError as exc:
        db().rollback()
        form.note.errors = [str(exc)]
        return _render_lead(lead, user, form=form, status=400)
    db().commit()
    flash(f"已记录跟进结果:{form.status.data}", "success")
    return redirect(url_for("admin.lead_page", lead_id=lead.id))


@bp.post("/leads/<int:lead_id>/reveal")
@any_staff
def lead_reveal(lead_id: int) -> ResponseReturnValue:
    user = _user()
    lead = lead_or_404(lead_id, user)
    if not RevealForm().validate():
        abort(400)
    if not user.can_reveal:
        abort(403)
    try:
        shown = leads.reveal(db(), protector(), user, lead, ip=request.remote_addr)
    except leads.NotAllowed:
        abort(403)
    except leads.LeadError as exc:
        db().rollback()
        flash(str(exc), "error")
        return redirect(url_for("admin.lead_page", lead_id=lead.id))
    db().commit()
    # Rendered, not redirected: the full data must not travel in a URL or the session.
    return _render_lead(lead, user, revealed=shown)
