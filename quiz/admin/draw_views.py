"""Staff draw pages: exclude, freeze, run (entered by one admin, confirmed by another),
void (requested by one, approved by another), witnesses, notary record, winners.

Draw actions are admin-only; analysts may view. The two-person rules live in
quiz.draw.control. Winners' shipping is kept by the winner's branch and head office; the
fulfilment export is for admins and each branch's own winners.
"""

from __future__ import annotations

from typing import Any

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import func, select
from wtforms import HiddenField, IntegerField, SelectMultipleField, StringField
from wtforms.validators import ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

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
from quiz.draw import control, service
from quiz.draw.eligibility import DrawRefused, exclude_participant
from quiz.draw.lists import active_import
from quiz.draw.plans import plan_of, plans_of
from quiz.fraud.review import address_rule_extra, exclusion_counts
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


class ConfirmForm(SafeForm):
    """The second account types the result again, without seeing the first entry."""

    exact_fields = frozenset({"randomness"})
    randomness = StringField("再次录入开奖结果(原样填写,看不到第一次录入的内容)")

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
        if len(field.data) > 500:
            raise ValidationError("作废原因不能超过500个字")


class WitnessForm(SafeForm):
    notary_name = StringField("公证员")
    supervisor_name = StringField("监督人")


class CheckboxesField(SelectMultipleField):
    """Accounts as checkboxes; a forged or stale value gets a Chinese message, not WTForms'."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def process_formdata(self, valuelist: list[Any]) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError:
            self.data = []
            raise ValueError("请从列表中选择账户") from None

    def pre_validate(self, form: Any) -> None:
        allowed = {value for value, _ in self.choices or []}
        if any(value not in allowed for value in self.data or []):
            raise ValidationError("请从列表中选择有效的管理员账户")


class AccountsForm(SafeForm):
    operators = CheckboxesField("可录入开奖结果、申请作废的账户(不选 = 全部管理员)", coerce=int)
    confirmers = CheckboxesField("可确认开奖结果、批准作废的账户(不选 = 全部管理员)", coerce=int)


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
    # Several declared draws run one after the other: the one in progress (frozen), else
    # the next to freeze, else the last one drawn.
    next_number = _next_number(campaign)
    pending = next((d for d in draws if d.status == "frozen"), None)
    active = pending or (
        None if next_number else next((d for d in draws if d.status != "voided"), None)
    )
    user = _staff()
    accounts = control.draw_accounts(db(), campaign.id)
    accounts_form = forms.get("accounts_form") or _accounts_form(accounts)
    witness_form = forms.get("witness_form") or WitnessForm(
        data={
            "notary_name": active.notary_name if active else "",
            "supervisor_name": active.supervisor_name if active else "",
        }
    )
    context: dict[str, Any] = {
        "campaign": campaign,
        "draws": draws,
        "active": active,
        # Counting is one indexed aggregate; only worth showing before the freeze.
        "eligible": None if active else service.count_eligible(db(), campaign, next_number or 1),
        "exclusions": exclusion_counts(db(), campaign),
        "plans": plans_of(campaign),
        "next_number": next_number,
        "list_draw": campaign.kind == "list_draw",
        "list_import": (
            active_import(db(), campaign.id, next_number or 1)
            if campaign.kind == "list_draw"
            else None
        ),
        "is_admin": user.role == "admin",
        "exclude_form": forms.get("exclude_form") or ExcludeForm(),
        "run_form": forms.get("run_form") or RunForm(),
        "confirm_form": forms.get("confirm_form") or ConfirmForm(),
        "accounts_form": accounts_form,
        "witness_form": witness_form,
        "accounts": accounts,
        "two_person_problem": control.two_person_problem(db(), campaign.id),
        "may_operate": control.may_operate(db(), campaign.id, user),
        "may_confirm": control.may_confirm(db(), campaign.id, user),
        "me": user.username,
        "void_requests": control.void_requests(db(), [d.id for d in draws]),
        "request_state": control.request_state,
        "void_labels": control.VOID_STATUS_LABELS,
        "action_form": ActionForm(),
        "entries_differ": forms.get("entries_differ"),
        "tiers": service.tiers_of(campaign),
        "freeze_deadline": service.freeze_deadline_of(campaign),
    }
    return render_template("admin/draw.html", **context), status


def _next_number(campaign: Campaign) -> int | None:
    """The first declared draw with no frozen or drawn record yet (None: all are)."""
    taken = set(
        db().scalars(
            select(Draw.number).where(Draw.campaign_id == campaign.id, Draw.status != "voided")
        )
    )
    return next((p.number for p in plans_of(campaign) if p.number not in taken), None)


def _accounts_form(accounts: control.DrawAccounts | None = None) -> AccountsForm:
    form = AccountsForm(
        data=(
            {
                "operators": [u.id for u in accounts.operators] if accounts.named_operators else [],
                "confirmers": (
                    [u.id for u in accounts.confirmers] if accounts.named_confirmers else []
                ),
            }
            if accounts is not None
            else None
        )
    )
    choices = [
        (u.id, f"{u.display_name}({u.username})" if u.display_name else u.username)
        for u in control.eligible_accounts(db())
    ]
    form.operators.choices = choices
    form.confirmers.choices = choices
    return form


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
    campaign = _campaign()
    number = _next_number(campaign)
    pending = service.active_draw(db(), campaign)
    if request.form.get("confirmed") != "yes":
        if number is None or (pending is not None and pending.status == "frozen"):
            flash("名单已经冻结。", "error")
            return _overview(409)
        plan = plan_of(campaign, number)
        eligible = service.count_eligible(db(), campaign, number)
        by_address = len(address_rule_extra(db(), campaign)) if campaign.kind == "prize_quiz" else 0
        return render_template(
            "admin/draw_freeze_confirm.html",
            campaign=campaign,
            eligible=eligible - by_address,
            by_address=by_address,
            freeze_deadline=plan.freeze_deadline if plan else None,
            action_form=ActionForm(),
        )
    if pending is not None and pending.status == "frozen":
        number = pending.number  # one draw at a time: the service refuses with its reason
    try:
        frozen = service.freeze(
            db(), campaign, _staff(), ip=request.remote_addr, number=number or 1
        )
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
    """The first entry of the result: the first POST shows the string back, the confirmed
    POST stores it (as a digest) for a second account to confirm. Nothing runs yet."""
    form = RunForm()
    if not form.validate_on_submit():
        return _overview(422, run_form=form)
    campaign = _campaign()
    active = service.active_draw(db(), campaign)
    if active is None or active.status != "frozen":
        flash("没有待抽奖的冻结名单。", "error")
        return _overview(409, run_form=form)
    problem = control.two_person_problem(db(), campaign.id)
    if problem is not None:
        form.randomness.errors = [*form.randomness.errors, problem]
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
        control.enter_result(db(), active.id, randomness, _staff(), ip=request.remote_addr)
    except DrawRefused as exc:
        db().rollback()
        flash(str(exc), "error")
        return _overview(409)
    db().commit()
    flash(
        "开奖结果已录入。请另一位管理员登录后在“确认开奖结果”栏再次录入;两次一致才抽奖。", "success"
    )
    return redirect(url_for("admin.draw"))


@bp.post("/draw/confirm")
@admin_required
def draw_confirm() -> ResponseReturnValue:
    """The second account's entry: equal to the first, the draw runs; different, both
    start again and neither entry is shown."""
    form = ConfirmForm()
    if not form.validate_on_submit():
        return _overview(422, confirm_form=form)
    active = service.active_draw(db(), _campaign())
    if active is None or active.status != "frozen":
        flash("没有待抽奖的冻结名单。", "error")
        return _overview(409)
    try:
        count = control.confirm_result(
            db(), active.id, form.randomness.data, _staff(), ip=request.remote_addr
        )
    except control.EntriesDiffer as exc:
        db().commit()  # the first entry is discarded: both start again
        # Back to the first step, with the message under the (empty) entry field: never
        # echo what either person typed.
        fresh = RunForm(formdata=None)
        fresh.randomness.errors = [str(exc)]
        return _overview(409, run_form=fresh, entries_differ=str(exc))
    except DrawRefused as exc:
        db().rollback()
        flash(str(exc), "error")
        return _overview(409, confirm_form=form)
    db().commit()
    flash(f"两次录入一致,抽奖完成,共产生 {count} 名获奖者。请运行复核并公布中奖名单。", "success")
    return redirect(url_for("admin.draw_record", draw_id=active.id))


@bp.post("/draw/entry/withdraw")
@admin_required
def draw_entry_withdraw() -> ResponseReturnValue:
    if not ActionForm().validate_on_submit():
        abort(400)
    active = service.active_draw(db(), _campaign())
    if active is None:
        abort(404)
    try:
        control.withdraw_entry(db(), active.id, _staff(), ip=request.remote_addr)
    except DrawRefused as exc:
        db().rollback()
        flash(str(exc), "error")
        return _overview(409)
    db().commit()
    flash("已撤回您录入的开奖结果,可以重新录入。", "success")
    return redirect(url_for("admin.draw"))


@bp.post("/draw/accounts")
@admin_required
def draw_accounts() -> ResponseReturnValue:
    """Name the accounts that operate and confirm this campaign's draws."""
    form = _accounts_form()
    form.process(request.form)
    if not form.validate_on_submit():
        return _overview(422, accounts_form=form)
    try:
        control.set_draw_accounts(
            db(),
            _campaign().id,
            form.operators.data or [],
            form.confirmers.data or [],
            _staff(),
            ip=request.remote_addr,
        )
    except DrawRefused as exc:
        db().rollback()
        form.confirmers.errors = [*form.confirmers.errors, str(exc)]
        return _overview(422, accounts_form=form)
    db().commit()
    flash("抽奖操作人设置已保存。", "success")
    return redirect(url_for("admin.draw"))


@bp.post("/draw/<int:draw_id>/witnesses")
@admin_required
def draw_witnesses(draw_id: int) -> ResponseReturnValue:
    """The names of the notary and the supervisor present, for the printed record."""
    target = _draw_or_404(draw_id)
    form = WitnessForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        control.set_witnesses(
            db(),
            target.id,
            form.notary_name.data or "",
            form.supervisor_name.data or "",
            _staff(),
            ip=request.remote_addr,
        )
    except DrawRefused as exc:
        db().rollback()
        form.notary_name.errors = [str(exc)]
        return _overview(422, witness_form=form)
    db().commit()
    flash("见证人已保存,将印在开奖记录上。", "success")
    return redirect(url_for("admin.draw"))


def _void_page(target: Draw, form: VoidForm, status: int = 200) -> ResponseReturnValue:
    winners = db().scalar(
        select(func.count()).select_from(Winner).where(Winner.draw_id == target.id)
    )
    user = _staff()
    return render_template(
        "admin/draw_void.html",
        draw=target,
        form=form,
        action_form=ActionForm(),
        winners=int(winners or 0),
        pending=control.pending_request(db(), target.id),
        requests=control.void_requests(db(), [target.id]),
        request_state=control.request_state,
        void_labels=control.VOID_STATUS_LABELS,
        me=user.username,
        two_person_problem=control.two_person_problem(db(), target.campaign_id),
    ), status


# One rule for both methods: werkzeug answers 405 rather than 404 to an id out of range
# when a GET and a POST rule share the path.
@bp.route("/draw/<int:draw_id>/void", methods=["GET", "POST"])
@admin_required
def draw_void(draw_id: int) -> ResponseReturnValue:
    """作废: on the draw's own page, with what it undoes spelled out; one account asks
    with a reason, another approves or refuses within 24 hours."""
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
        control.request_void(db(), target.id, form.reason.data, _staff(), ip=request.remote_addr)
    except DrawRefused as exc:
        db().rollback()
        form.reason.errors = [*form.reason.errors, str(exc)]
        return _void_page(target, form, 409)
    db().commit()
    flash(
        f"已申请作废抽奖 {draw_id}。须由另一位管理员在24小时内批准,批准前抽奖不受影响。",
        "success",
    )
    return redirect(url_for("admin.draw_void", draw_id=draw_id))


@bp.post("/draw/void-requests/<int:request_id>/approve")
@admin_required
def draw_void_approve(request_id: int) -> ResponseReturnValue:
    """A second admin approves a void request: the draw is voided."""
    return _decide_void(request_id, approve=True)


@bp.post("/draw/void-requests/<int:request_id>/refuse")
@admin_required
def draw_void_refuse(request_id: int) -> ResponseReturnValue:
    """A second admin refuses a void request: nothing changes."""
    return _decide_void(request_id, approve=False)


def _decide_void(request_id: int, *, approve: bool) -> ResponseReturnValue:
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        decided = control.decide_void(db(), request_id, approve, _staff(), ip=request.remote_addr)
    except DrawRefused as exc:
        db().rollback()
        flash(str(exc), "error")
        return _overview(409)
    db().commit()
    if decided.status == "approved":
        flash(f"已批准作废,抽奖 {decided.draw_id} 已作废(记录保留),可以重新冻结名单。", "success")
        return redirect(url_for("admin.draw"))
    flash(f"已拒绝作废抽奖 {decided.draw_id} 的申请。", "success")
    return redirect(url_for("admin.draw_void", draw_id=decided.draw_id))


@bp.get("/draw/<int:draw_id>/record")
@head_office_required
def draw_record(draw_id: int) -> ResponseReturnValue:
    """The printable draw record for the notary (开奖公证)."""
    target = _draw_or_404(draw_id)
    rows = service.winner_rows(db(), target) if target.randomness_value else []
    grid = [rows[i : i + RECORD_COLUMNS] for i in range(0, len(rows), RECORD_COLUMNS)]
    requests = control.void_requests(db(), [target.id])
    return render_template(
        "admin/draw_record.html",
        campaign=target.campaign,
        draw=target,
        requests=requests,
        approved=control.approved_request(requests, target.id),
        request_state=control.request_state,
        void_labels=control.VOID_STATUS_LABELS,
        grid=grid,
        winners=len(rows),
        columns=RECORD_COLUMNS,
        prize_total=service.prize_total(target.tiers),
        exclusions=exclusion_counts(db(), target.campaign),
    )


# --- winners and fulfilment -----------------------------------------------------------------


def _drawn(campaign: Campaign) -> Draw | None:
    """The drawn draw the winners pages show: ?draw=N, else the newest."""
    number = int_arg("draw")
    found = service.active_draw(db(), campaign, number if number and number > 0 else None)
    return found if found is not None and found.status == "drawn" else None


def _winner_in_scope(draw_id: int, rank: int, user: StaffUser) -> Winner:
    winner = db().get(Winner, (draw_id, rank))
    if winner is None:
        abort(404)
    if user.role not in HEAD_OFFICE and (
        user.branch_id is None or service.winner_branch_id(winner) != user.branch_id
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
