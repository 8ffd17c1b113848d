"""Leads list, lead page, follow-up and the audited reveal of personal data."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from quiz.admin import bp
from quiz.admin.access import any_staff, current_staff, lead_or_404
from quiz.admin.campaign_views import selected_campaign
from quiz.admin.lead_forms import (
    VIEWS,
    BulkStatusForm,
    FollowUpForm,
    LeadFilterForm,
    RevealForm,
)
from quiz.leads import service as leads
from quiz.leads.scope import HEAD_OFFICE
from quiz.models import Participant, StaffUser
from quiz.regions import divisions
from quiz.web.request import database, db, int_arg, protector

# The list's own query arguments that are not filters (kept when walking lead to lead).
_LIST_ARGS = ("view", "q", "sort")


def _user() -> StaffUser:
    user = current_staff()
    assert user is not None  # bp.before_request guarantees a signed-in user
    return user


def filter_form(user: StaffUser) -> LeadFilterForm:
    """The filter form bound to the query string, its choices filled in."""
    form = LeadFilterForm(request.args)
    selected = selected_campaign()
    form.setup(
        leads.branch_choices(db()),
        leads.intent_levels(db()),
        leads.campaign_choices(db()),
        default_campaign_id=selected.id if selected else None,
    )
    return form.set_intent_options(leads.intent_options(db(), form.campaign_id.data))


def list_args(form: LeadFilterForm, filters: leads.LeadFilters) -> dict[str, Any]:
    """The list as query arguments: its filters as the user gave them, view, search, order."""
    args: dict[str, Any] = dict(filters.query_args())
    if filters.intent:
        args["intent"] = list(filters.intent)  # url_for repeats the argument
    # A view's own conditions come back from `view`; a search from `q` (never its hash).
    for key in ("due_on", "overdue_before", "mobile_hash", "name", "id_last4"):
        args.pop(key, None)
    if form.view.data == "today":
        args.pop("date_from", None)
        args.pop("date_to", None)
    if form.view.data == "mine":
        args.pop("hide_opt_out", None)
    for key in _LIST_ARGS:
        value = getattr(form, key).data
        if value and not (key == "sort" and value == "new"):
            args[key] = str(value).strip()
    return args


def _list_of_request(user: StaffUser) -> tuple[dict[str, Any], leads.LeadFilters | None]:
    """The list a lead page or action came from (its query string): its arguments and
    filters, or nothing when they do not validate."""
    form = filter_form(user)
    if not form.validate():
        return {}, None
    filters = form.to_filters(user, _mobile_hash)
    return list_args(form, filters), filters


def _show_numbers(user: StaffUser, ids: list[int]) -> dict[int, leads.Contact]:
    """The numbers the contact permission shows, their views audited: a GET reads in the
    request's read session, so the audit takes a write transaction of its own."""
    shown = leads.contact_numbers(db(), protector(), user, ids)
    if not shown:
        return shown
    if request.method in ("GET", "HEAD"):
        with database().transaction() as session:
            leads.audit_contact_views(session, user, list(shown), ip=request.remote_addr)
    else:
        # A refused form shown again: the request's own write session (a second writer
        # would wait for its lock); nothing else of the refused request is in it.
        leads.audit_contact_views(db(), user, list(shown), ip=request.remote_addr)
        db().commit()
    return shown


@bp.get("/leads", endpoint="leads")
@any_staff
def leads_list() -> ResponseReturnValue:
    user = _user()
    form = filter_form(user)
    context: dict[str, Any] = {
        "form": form,
        "user": user,
        "views": VIEWS,
        "head_office": user.role in HEAD_OFFICE,
        "division_name": _division_name,
        "age": leads.age_label,
    }
    if not form.validate():
        return render_template("admin/leads.html", page=None, filters=None, args={}, **context), 400
    filters = form.to_filters(user, _mobile_hash)
    after = int_arg("after")
    page_no = int_arg("page") or 1
    page = leads.list_leads(
        db(),
        user,
        filters,
        after_id=after,
        sort=form.sort.data or "new",
        page_no=page_no,
        with_total=True,
    )
    return render_template(
        "admin/leads.html",
        page=page,
        filters=filters,
        after=after,
        page_no=page_no,
        args=list_args(form, filters),
        numbers=_show_numbers(user, [r.id for r in page.rows]),
        bulk_form=BulkStatusForm(formdata=None),
        **context,
    )


def _mobile_hash(mobile: str) -> str:
    return protector().lookup_hash("mobile", mobile)


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
    args, _ = _list_of_request(user)
    numbers = {} if revealed else _show_numbers(user, [lead.id])
    context: dict[str, Any] = {
        "lead": lead,
        "user": user,
        "answers": leads.answers_of(db(), lead),
        "follow_ups": leads.follow_ups_of(db(), lead),
        "form": form or FollowUpForm(formdata=None, status=lead.follow_up_status),
        "reveal_form": RevealForm(),
        "revealed": revealed,
        "contact": numbers.get(lead.id),
        "args": args,
        "views": VIEWS,
        "division_name": _division_name,
        "age": leads.age_label,
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
        leads.record_follow_up(
            db(),
            user,
            lead,
            form.status.data or "",
            form.note.data or "",
            next_contact_on=form.next_contact_on.data,
        )
    except leads.LeadError as exc:
        db().rollback()
        form.note.errors = [str(exc)]
        return _render_lead(lead, user, form=form, status=400)
    db().commit()
    when = form.next_contact_on.data
    flash(
        f"已记录跟进结果:{form.status.data}" + (f",下次联系 {when:%Y-%m-%d}" if when else ""),
        "success",
    )
    # The list the lead was opened from travels in the query string (view, filters).
    args, list_filters = _list_of_request(user)
    if request.form.get("then") == "next" and list_filters is not None:
        following = leads.next_lead_id(db(), user, list_filters, lead.id)
        if following is not None:
            return redirect(url_for("admin.lead_page", lead_id=following, **args))
        flash("这是列表中的最后一条线索。", "info")
        return redirect(url_for("admin.leads", **args))
    return redirect(url_for("admin.lead_page", lead_id=lead.id, **args) + "#follow-up")


@bp.post("/leads/bulk-status")
@any_staff
def leads_bulk_status() -> ResponseReturnValue:
    """Set one follow-up status on the ticked leads (each recorded as a follow-up)."""
    user = _user()
    form = BulkStatusForm()
    args, _ = _list_of_request(user)
    if not form.validate():
        flash("；".join(e for errors in form.errors.values() for e in errors), "error")
        return redirect(url_for("admin.leads", **args))
    ids = [int(i) for i in form.ids.data or []]
    changed = leads.bulk_follow_up(db(), user, ids, form.status.data or "")
    db().commit()
    flash(f"已将 {changed} 条线索的跟进状态改为 {form.status.data}。", "success")
    return redirect(url_for("admin.leads", **args))


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
