"""Staff draw pages: exclude, freeze, run (with confirmation), void, notary record, winners.

Draw actions are admin-only; analysts may view. Winners' shipping is kept by the winner's
branch and head office; the fulfilment export is for admins and each branch's own winners.
"""

from __future__ import annotations

from typing import Any

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import func, select
from wtforms import HiddenField, IntegerField, StringField
from wtforms.validators import ValidationError

from quiz.admin import bp
from quiz.admin.access import (
    admin_required,
    any_staff,
    can_reveal,
    current_staff,
    head_office_required,
    roles_required,
)
from quiz.admin.campaign_views import selected_campaign
from quiz.db import utcnow
from quiz.draw import service
from quiz.draw.eligibility import DrawRefused, exclude_participant
from quiz.leads.scope import HEAD_OFFICE
from quiz.models import MAX_ID, Branch, Campaign, Draw, Participant, StaffUser, Winner
from quiz.staff import audit
from quiz.web.forms import SafeForm
from quiz.web.request import db, int_arg, page_arg, protector

WINNERS_PER_PAGE = 100
RECORD_COLUMNS = 4  # winners side by side per printed row


class ActionForm(SafeForm):
    """A bare POST with its CSRF token."""


class ExcludeForm(SafeForm):
    participant_id = IntegerField("参与者编号(ID)")
    reason = StringField("排除原因")

    def validate_reason(self, field: Any) -> None:
        if not (field.data or "").strip():
            raise ValidationError("请填写排除原因")
        if len(field.data) > 200:
            raise ValidationError("排除原因不能超过200个字")

    def validate_participant_id(self, field: Any) -> None:
        if not field.data or field.data < 1:
            raise ValidationError("请填写参与者编号")
        if field.data > MAX_ID:
            raise ValidationError("没有这个编号的参与者")


class RunForm(SafeForm):
    # Never stripped or normalised: the string is used exactly as published (an invisible
    # character in it fails the announced format instead, and the confirmation lists it).
    exact_fields = frozenset({"randomness"})
    randomness = StringField("随机数来源公布的开奖结果(原样填写)")
    confirmed = HiddenField()

    def validate_randomness(self, field: Any) -> None:
        try:
            service.check_randomness(field.data or "")
        except DrawRefused as exc:
            raise ValidationError(str(exc)) from exc


class VoidForm(SafeForm):
    reason = StringField("作废原因")

    def validate_reason(self, field: Any) -> None:
        if not (field.data or "").strip():
            raise ValidationError("作废抽奖必须填写原因")


class ShippingForm(SafeForm):
    status = StringField("寄送状态")  # checked against SHIPPING_STATUSES by the service
    tracking_no = StringField("快递单号")


def _staff() -> StaffUser:
    user = current_staff()
    if user is None:
        abort(401)
    return user


def _campaign() -> Campaign:
    campaign = selected_campaign()
    if campaign is None:
        abort(404)
    return campaign


def _draw_or_404(draw_id: int) -> Draw:
    draw = db().get(Draw, draw_id)
    if draw is None:
        abort(404)
    return draw


def _overview(status: int = 200, **forms: Any) -> ResponseReturnValue:
    campaign = _campaign()
    draws = (
        db()
        .scalars(select(Draw).where(Draw.campaign_id == campaign.id).order_by(Draw.id.desc()))
        .all()
    )
    active = next((d for d in draws if d.status != "voided"), None)
    user = _staff()
    context: dict[str, Any] = {
        "campaign": campaign,
        "draws": draws,
        "active": active,
        # Counting is one indexed aggregate; only worth showing before the freeze.
        "eligible": None if active else service.count_eligible(db(), campaign),
        "is_admin": user.role == "admin",
        "exclude_form": forms.get("exclude_form") or ExcludeForm(),
        "run_form": forms.get("run_form") or RunForm(),
        "action_form": ActionForm(),
        "tiers": service.tiers_of(campaign),
        "freeze_deadline": service.freeze_deadline_of(campaign),
    }
    return render_template("admin/draw.html", **context), status


@bp.get("/draw")
@head_office_required
def draw() -> ResponseReturnValue:
    """The draw's state, history and (for admins) its actions."""
    return _overview()


@bp.post("/draw/exclude")
@admin_required
def draw_exclude() -> ResponseReturnValue:
    form = ExcludeForm()
    if not form.validate_on_submit():
        return _overview(422, exclude_form=form)
    campaign = _campaign()
    participant = db().get(Participant, form.participant_id.data)
    if participant is None or participant.campaign_id != campaign.id:
        form.participant_id.errors = [*form.participant_id.errors, "找不到该参与者"]
        return _overview(422, exclude_form=form)
    try:
        exclude_participant(
            db(), campaign, participant, form.reason.data, _staff(), ip=request.remote_addr
        )
    except DrawRefused as exc:
        db().rollback()
        form.reason.errors = [*form.reason.errors, str(exc)]
        return _overview(409, exclude_form=form)
    db().commit()
    flash(f"已将参与者 {participant.id}({participant.name_masked})排除出抽奖。", "success")
    return redirect(url_for("admin.draw"))


@bp.post("/draw/freeze")
@admin_required
def draw_freeze() -> ResponseReturnValue:
    """First POST spells out what freezing does; the confirmed POST freezes."""
    if not ActionForm().validate_on_submit():
        abort(400)
    if request.form.get("confirmed") != "yes":
        campaign = _campaign()
        if service.active_draw(db(), campaign) is not None:
            flash("名单已经冻结。", "error")
            return _overview(409)
        return render_template(
            "admin/draw_freeze_confirm.html",
            campaign=campaign,
            eligible=service.count_eligible(db(), campaign),
            freeze_deadline=service.freeze_deadline_of(campaign),
            action_form=ActionForm(),
        )
    try:
        frozen = service.freeze(db(), _campaign(), _staff(), ip=request.remote_addr)
    except DrawRefused as exc:
        db().rollback()
        flash(str(exc), "error")
        return _overview(409)
    db().commit()
    flash(
        f"抽奖名单已冻结:{frozen.entrant_count} 人,摘要 {frozen.entrant_digest}。"
        "请在公开页面公布后,等待随机数来源开奖。",
        "success",
    )
    return redirect(url_for("admin.draw"))


@bp.post("/draw/run")
@admin_required
def draw_run() -> ResponseReturnValue:
    """First POST shows the string back for confirmation; the confirmed POST runs the draw."""
    form = RunForm()
    if not form.validate_on_submit():
        return _overview(422, run_form=form)
    campaign = _campaign()
    active = service.active_draw(db(), campaign)
    if active is None or active.status != "frozen":
        flash("没有待抽奖的冻结名单。", "error")
        return _overview(409, run_form=form)
    randomness: str = form.randomness.data
    try:
        service.check_randomness(randomness, active)  # the format announced for this draw
        service.check_draw_time(active, utcnow())  # no override on the web: see the CLI
    except DrawRefused as exc:
        form.randomness.errors = [*form.randomness.errors, str(exc)]
        return _overview(422, run_form=form)
    if form.confirmed.data != "yes":
        form.confirmed.data = "yes"
        return render_template(
            "admin/draw_confirm.html",
            campaign=campaign,
            draw=active,
            form=form,
            randomness=randomness,
            non_ascii=[(c, f"U+{ord(c):04X}") for c in dict.fromkeys(randomness) if ord(c) > 126],
        )
    try:
        count = service.run_draw(db(), active, randomness, _staff(), ip=request.remote_addr)
    except DrawRefused as exc:
        db().rollback()
        flash(str(exc), "error")
        return _overview(409)
    db().commit()
    flash(f"抽奖完成,共产生 {count} 名获奖者。请运行复核并公布中奖名单。", "success")
    return redirect(url_for("admin.draw_record", draw_id=active.id))


def _void_page(target: Draw, form: VoidForm, status: int = 200) -> ResponseReturnValue:
    winners = db().scalar(
        select(func.count()).select_from(Winner).where(Winner.draw_id == target.id)
    )
    return render_template(
        "admin/draw_void.html", draw=target, form=form, winners=int(winners or 0)
    ), status


# One rule for both methods: werkzeug answers 405 rather than 404 to an id out of range
# when a GET and a POST rule share the path.
@bp.route("/draw/<int:draw_id>/void", methods=["GET", "POST"])
@admin_required
def draw_void(draw_id: int) -> ResponseReturnValue:
    """作废: on the draw's own page, with what it undoes spelled out, and a reason."""
    target = _draw_or_404(draw_id)
    if request.method == "GET":
        if target.status == "voided":
            flash(f"抽奖 {draw_id} 已作废。", "error")
            return redirect(url_for("admin.draw_record", draw_id=draw_id))
        return _void_page(target, VoidForm())
    form = VoidForm()
    if not form.validate_on_submit():
        return _void_page(target, form, 422)
    try:
        service.void_draw(db(), target, form.reason.data, _staff(), ip=request.remote_addr)
    except DrawRefused as exc:
        db().rollback()
        flash(str(exc), "error")
        return _overview(409)
    db().commit()
    flash(f"抽奖 {draw_id} 已作废(记录保留),可以重新冻结名单。", "success")
    return redirect(url_for("admin.draw"))


@bp.get("/draw/<int:draw_id>/record")
@head_office_required
def draw_record(draw_id: int) -> ResponseReturnValue:
    """The printable draw record for the notary (开奖公证)."""
    target = _draw_or_404(draw_id)
    rows = service.winner_rows(db(), target) if target.randomness_value else []
    grid = [rows[i : i + RECORD_COLUMNS] for i in range(0, len(rows), RECORD_COLUMNS)]
    return render_template(
        "admin/draw_record.html",
        campaign=target.campaign,
        draw=target,
        grid=grid,
        winners=len(rows),
        columns=RECORD_COLUMNS,
        prize_total=service.prize_total(target.tiers),
    )


# --- winners and fulfilment -----------------------------------------------------------------


def _drawn(campaign: Campaign) -> Draw | None:
    found = service.active_draw(db(), campaign)
    return found if found is not None and found.status == "drawn" else None


def _winner_in_scope(draw_id: int, rank: int, user: StaffUser) -> Winner:
    winner = db().get(Winner, (draw_id, rank))
    if winner is None:
        abort(404)
    if user.role not in HEAD_OFFICE and (
        user.branch_id is None or winner.participant.branch_id != user.branch_id
    ):
        abort(404)  # another branch's winner: no existence leak
    return winner


@bp.get("/draw/winners")
@any_staff
def draw_winners() -> ResponseReturnValue:
    """Winners with shipping status; branch staff see their own branch's winners."""
    user = _staff()
    campaign = _campaign()
    current = _drawn(campaign)
    rows: list[Any] = []
    total = 0
    page = pages = 1
    if current is not None:
        head_office = user.role in HEAD_OFFICE
        stmt = service.winners_for_branch(db(), current, user.branch_id, all_branches=head_office)
        total = int(db().scalar(select(func.count()).select_from(stmt.subquery())) or 0)
        pages = max(1, -(-total // WINNERS_PER_PAGE))
        page = page_arg(pages)
        rows = (
            db().execute(stmt.offset((page - 1) * WINNERS_PER_PAGE).limit(WINNERS_PER_PAGE)).all()
        )
    branches = {b.id: b.name for b in db().scalars(select(Branch))}
    return render_template(
        "admin/draw_winners.html",
        campaign=campaign,
        draw=current,
        rows=rows,
        total=total,
        page=page,
        pages=pages,
        branches=branches,
        statuses=service.SHIPPING_STATUSES,
        form=ShippingForm(),
        can_export=user.role == "admin" or (user.role == "branch" and user.branch_id),
    )


@bp.post("/draw/winners/<int:draw_id>/<int:rank>/shipping")
@any_staff
def draw_shipping(draw_id: int, rank: int) -> ResponseReturnValue:
    user = _staff()
    winner = _winner_in_scope(draw_id, rank, user)
    form = ShippingForm()
    if not form.validate_on_submit():
        flash("寄送状态无效。", "error")
        return redirect(url_for("admin.draw_winners")), 303
    try:
        service.update_shipping(
            db(),
            winner,
            form.status.data,
            form.tracking_no.data or "",
            user,
            ip=request.remote_addr,
        )
    except DrawRefused as exc:
        db().rollback()
        flash(f"第 {rank} 名:{exc}", "error")
        return redirect(url_for("admin.draw_winners", page=page_arg()))
    db().commit()
    flash(
        f"第 {rank} 名(编号 {winner.entry_no})寄送状态已更新为{winner.shipping_status}。", "success"
    )
    return redirect(url_for("admin.draw_winners", page=page_arg()))


@bp.get("/draw/winners.csv")
@roles_required("admin", "branch")
def draw_winners_export() -> ResponseReturnValue:
    """Fulfilment export: admins any branch, branches their own (whatever they ask for);
    name, mobile and address in full only with the full-data permission, as on the staff
    pages, masked otherwise; audited either way."""
    user = _staff()
    campaign = _campaign()
    current = _drawn(campaign)
    if current is None:
        abort(404)
    if user.role == "admin":
        branch_id = int_arg("branch")
        all_branches = True
    else:
        if user.branch_id is None:
            abort(403)
        branch_id = user.branch_id
        all_branches = False
    reveal = can_reveal(user)
    audit.record(
        db(),
        user,
        "draw.winners_export",
        f"draw:{current.id}",
        {
            "branch_id": branch_id,
            "all_branches": all_branches and branch_id is None,
            "full_personal_data": reveal,
        },
        request.remote_addr,
    )
    db().commit()
    body = "".join(
        service.winners_csv(
            db(), protector(), current, branch_id, all_branches=all_branches, reveal=reveal
        )
    )
    name = f"winners-{campaign.slug}-{branch_id or 'all'}.csv"
    return Response(
        body.encode("utf-8"),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
