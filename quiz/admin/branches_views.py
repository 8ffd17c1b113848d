"""Head office: branches (机构), the province/city mapping, and the unassigned-lead queue.

Admins edit; analysts see the same pages read-only (forms are not rendered for them and
every POST route is admin_required).
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import func, select
from wtforms import IntegerField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp

from quiz.admin import bp
from quiz.admin.access import admin_required, current_staff, head_office_required
from quiz.admin.campaign_views import selected_campaign
from quiz.branches import routing
from quiz.branches import service as branches
from quiz.models import Branch, BranchRoute, Participant
from quiz.regions import divisions
from quiz.staff import audit
from quiz.web.forms import SafeForm
from quiz.web.request import db, page_arg

PAGE_SIZE = 50
REASONS = {
    "empty address": "地址为空",
    "no administrative division found": "未识别出省市区",
    "no city": "只识别出省份,未识别出城市",
}


# --- forms -----------------------------------------------------------------


class BranchForm(SafeForm):
    """Create or edit a branch."""

    code = StringField(
        "机构代码",
        [
            DataRequired("请填写机构代码。"),
            Regexp(r"^[A-Za-z0-9_-]{1,32}$", message="机构代码为1-32位字母、数字、- 或 _。"),
        ],
    )
    name = StringField(
        "机构名称",
        [DataRequired("请填写机构名称。"), Length(max=100, message="机构名称不能超过100个字。")],
    )
    level = SelectField(
        "机构层级",
        choices=[SelectChoice(lv, lv) for lv in branches.BRANCH_LEVELS],
        invalid_choice_message="请从列表中选择机构层级。",
    )
    parent_code = SelectField(
        "上级机构",
        choices=[SelectChoice("", "(无)")],
        default="",
        invalid_choice_message="请从列表中选择上级机构。",
    )
    contact = StringField(
        "联系人及电话", [Optional(), Length(max=200, message="联系方式不能超过200个字。")]
    )
    target = IntegerField(
        "报名目标(人)",
        [Optional(), NumberRange(min=0, max=branches.MAX_TARGET, message="目标须为0或正整数。")],
    )

    def set_parents(self, exclude: Branch | None) -> None:
        rows = db().execute(select(Branch.code, Branch.name).order_by(Branch.code)).all()
        self.parent_code.choices = [SelectChoice("", "(无)")] + [
            SelectChoice(code, f"{name}({code})")
            for code, name in rows
            if not exclude or code != exclude.code
        ]


class PlaceChoiceForm(SafeForm):
    """Pick a province or a city (the mapping then picks the branch)."""

    place = SelectField(
        "所在地区", validate_choice=True, invalid_choice_message="请从列表中选择地区。"
    )


class BranchChoiceForm(SafeForm):
    """Pick a branch."""

    branch_code = SelectField(
        "机构", validate_choice=True, invalid_choice_message="请从列表中选择机构。"
    )


class RemoveOverrideForm(SafeForm):
    """Remove one city override (hidden codes checked by the service)."""

    province_code = StringField(validators=[DataRequired()])
    city_code = StringField(validators=[DataRequired()])


def _branch_choices() -> list[SelectChoice]:
    rows = db().execute(select(Branch.code, Branch.name).order_by(Branch.code)).all()
    return [SelectChoice("", "请选择机构")] + [
        SelectChoice(code, f"{name}({code})") for code, name in rows
    ]


def _place_choices(*, provinces: bool) -> list[SelectChoice]:
    """Optgroups per province: (optionally) the whole province, then its cities."""
    choices = [SelectChoice("", "请选择地区")]
    for province in divisions.provinces():
        if provinces:
            choices.append(
                SelectChoice(province.code, f"{province.name}(全省)", optgroup=province.name)
            )
        choices += [
            SelectChoice(c.code, c.name, optgroup=province.name)
            for c in routing.cities_of(province.code)
        ]
    return choices


def _branch_or_404(branch_id: int) -> Branch:
    branch = db().get(Branch, branch_id)
    if branch is None:
        abort(404)
    return branch


def _by_code(code: str) -> Branch | None:
    return db().scalars(select(Branch).where(Branch.code == code)).first()


# --- branches --------------------------------------------------------------


@bp.get("/branches", endpoint="branches")
@head_office_required
def branches_list() -> ResponseReturnValue:
    """Every branch with its lead count against its target."""
    rows = db().scalars(select(Branch).order_by(Branch.code)).all()
    current = selected_campaign()
    counts = branches.branch_lead_counts(db(), current.id if current else None)
    names = {b.id: b.name for b in rows}
    return render_template(
        "admin/branches.html",
        branches=rows,
        counts=counts,
        parent_names=names,
        # The queue's own definition (erased entries need no branch), as its page lists.
        unassigned=db().scalar(
            select(func.count()).select_from(routing.unassigned_leads().order_by(None).subquery())
        ),
        can_edit=current_staff().role == "admin",  # type: ignore[union-attr]
    )


def _branch_form_page(form: BranchForm, branch: Branch | None, status: int = 200) -> Any:
    return render_template("admin/branch_form.html", form=form, branch=branch), status


def _save(form: BranchForm, branch: Branch | None) -> ResponseReturnValue:
    data = branches.BranchData(
        code=(form.code.data or "").strip(),
        name=(form.name.data or "").strip(),
        level=form.level.data or "分公司",
        parent_code=form.parent_code.data or "",
        contact=(form.contact.data or "").strip(),
        target=form.target.data,
    )
    before = None if branch is None else _snapshot(branch)
    try:
        saved = branches.save_branch(db(), data, branch)
    except branches.BranchError as exc:
        db().rollback()
        form.code.errors = [*form.code.errors, str(exc)]
        return _branch_form_page(form, branch, 422)
    audit.record(
        db(),
        current_staff(),
        "branch.create" if before is None else "branch.update",
        f"branch:{saved.code}",
        {"before": before, "after": _snapshot(saved)},
        request.remote_addr,
    )
    db().commit()
    flash(f"已保存机构 {saved.name}。", "success")
    return redirect(url_for("admin.branches"))


def _snapshot(branch: Branch) -> dict[str, Any]:
    return {
        "code": branch.code,
        "name": branch.name,
        "level": branch.level,
        "parent_id": branch.parent_id,
        "contact": branch.contact,
        "target": branch.target,
    }


@bp.route("/branches/new", methods=["GET", "POST"])
@admin_required
def branches_new() -> ResponseReturnValue:
    """Create a branch."""
    form = BranchForm()
    form.set_parents(None)
    if request.method == "GET":
        form.parent_code.data = "HO" if _by_code("HO") else ""
        return _branch_form_page(form, None)
    if not form.validate_on_submit():
        return _branch_form_page(form, None, 422)
    return _save(form, None)


@bp.route("/branches/<int:branch_id>/edit", methods=["GET", "POST"])
@admin_required
def branches_edit(branch_id: int) -> ResponseReturnValue:
    """Edit a branch: name, level, parent, contact, target."""
    branch = _branch_or_404(branch_id)
    if request.method == "GET":
        form = BranchForm(formdata=None, obj=branch)
        form.set_parents(branch)
        parent = db().get(Branch, branch.parent_id) if branch.parent_id else None
        form.parent_code.data = parent.code if parent else ""
        return _branch_form_page(form, branch)
    form = BranchForm()
    form.set_parents(branch)
    if not form.validate_on_submit():
        return _branch_form_page(form, branch, 422)
    return _save(form, branch)


# --- the mapping -----------------------------------------------------------


def _routes_page(status: int = 200, **forms: Any) -> ResponseReturnValue:
    routes = (
        db()
        .execute(
            select(BranchRoute.province_code, BranchRoute.city_code, Branch.code, Branch.name).join(
                Branch, Branch.id == BranchRoute.branch_id
            )
        )
        .all()
    )
    defaults = {p: (code, name) for p, c, code, name in routes if c is None}
    overrides: dict[str, list[tuple[str, str, str, str]]] = {}
    for p, c, code, name in routes:
        if c is not None:
            city = divisions.get(c)
            overrides.setdefault(p, []).append((c, city.name if city else c, code, name))
    branch_choices = _branch_choices()
    default_form = forms.get("default_form") or BranchChoiceForm(formdata=None)
    override_form = forms.get("override_form") or PlaceChoiceForm(formdata=None)
    override_branch = forms.get("override_branch") or BranchChoiceForm(formdata=None)
    for f in (default_form, override_branch):
        f.branch_code.choices = branch_choices
    override_form.place.choices = _place_choices(provinces=False)
    return render_template(
        "admin/routes.html",
        provinces=divisions.provinces(),
        defaults=defaults,
        overrides={p: sorted(v) for p, v in overrides.items()},
        branch_choices=branch_choices,
        default_form=default_form,
        override_form=override_form,
        override_branch=override_branch,
        remove_form=RemoveOverrideForm(formdata=None),
        not_served=branches.NOT_SERVED,
        error=forms.get("error"),
        can_edit=current_staff().role == "admin",  # type: ignore[union-attr]
    ), status


@bp.get("/branches/routes")
@head_office_required
def branches_routes() -> ResponseReturnValue:
    """Province defaults and city overrides."""
    return _routes_page()


def _apply_route(province_code: str, city_code: str | None, branch_code: str) -> str | None:
    """Set one route; returns an error message (Chinese) or None after committing."""
    branch = _by_code(branch_code)
    if branch is None:
        return "请选择机构。"
    before = (
        db()
        .scalars(
            select(Branch.code)
            .join(BranchRoute, BranchRoute.branch_id == Branch.id)
            .where(
                BranchRoute.province_code == province_code,
                BranchRoute.city_code == city_code
                if city_code
                else BranchRoute.city_code.is_(None),
            )
        )
        .first()
    )
    try:
        branches.set_route(db(), province_code, city_code, branch)
    except branches.BranchError as exc:
        db().rollback()
        return f"无法保存:{exc}"
    audit.record(
        db(),
        current_staff(),
        "route.set",
        f"route:{province_code}/{city_code or '*'}",
        {"branch": branch.code, "previous": before},
        request.remote_addr,
    )
    db().commit()
    return None


@bp.post("/branches/routes/<province_code>/default")
@admin_required
def branches_route_default(province_code: str) -> ResponseReturnValue:
    """Point a province's default at a branch."""
    form = BranchChoiceForm()
    form.branch_code.choices = _branch_choices()
    province = divisions.get(province_code)
    if province is None or province.level != divisions.PROVINCE:
        abort(404)
    if not form.validate_on_submit() or not form.branch_code.data:
        return _routes_page(422, error="请选择机构。")
    error = _apply_route(province_code, None, form.branch_code.data)
    if error:
        return _routes_page(422, error=error)
    flash(f"{province.name}的默认机构已改为 {form.branch_code.data}。", "success")
    flash("已有线索不会自动转移;如需按新规则重新分配,请运行 quiz branches reassign。", "info")
    return redirect(url_for("admin.branches_routes") + f"#p{province_code}")


@bp.post("/branches/routes/override")
@admin_required
def branches_route_override() -> ResponseReturnValue:
    """Add or change a city override."""
    place = PlaceChoiceForm()
    place.place.choices = _place_choices(provinces=False)
    choice = BranchChoiceForm()
    choice.branch_code.choices = _branch_choices()
    if not (place.validate_on_submit() and choice.validate_on_submit()):
        return _routes_page(
            422, override_form=place, override_branch=choice, error="请选择城市和机构。"
        )
    city = divisions.get(place.place.data or "")
    if city is None or not place.place.data or not choice.branch_code.data:
        return _routes_page(
            422, override_form=place, override_branch=choice, error="请选择城市和机构。"
        )
    error = _apply_route(city.parent_code, city.code, choice.branch_code.data)
    if error:
        return _routes_page(422, override_form=place, override_branch=choice, error=error)
    flash(f"已设置:{city.name} → {choice.branch_code.data}。", "success")
    return redirect(url_for("admin.branches_routes") + f"#p{city.parent_code}")


@bp.post("/branches/routes/override/remove")
@admin_required
def branches_route_remove() -> ResponseReturnValue:
    """Remove a city override: the province default applies again."""
    form = RemoveOverrideForm()
    if not form.validate_on_submit():
        abort(400)
    province_code, city_code = form.province_code.data or "", form.city_code.data or ""
    if not branches.remove_override(db(), province_code, city_code):
        db().rollback()
        flash("该城市没有单独设置的机构。", "warning")
        return redirect(url_for("admin.branches_routes"))
    audit.record(
        db(),
        current_staff(),
        "route.remove",
        f"route:{province_code}/{city_code}",
        {},
        request.remote_addr,
    )
    db().commit()
    city = divisions.get(city_code)
    flash(f"已删除{city.name if city else city_code}的单独设置,改按省级默认机构。", "success")
    return redirect(url_for("admin.branches_routes") + f"#p{province_code}")


# --- the unassigned queue --------------------------------------------------


@bp.get("/unassigned")
@head_office_required
def unassigned() -> ResponseReturnValue:
    """Leads no branch receives, oldest first."""
    page = page_arg()
    stmt = routing.unassigned_leads()
    total = db().scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    rows = db().scalars(stmt.limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).all()
    return render_template(
        "admin/unassigned.html",
        leads=rows,
        total=total,
        page=page,
        pages=max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1),
        reason=_reason,
        lead=None,
    )


def _reason(code: str | None) -> str:
    if not code:
        return "所在地区没有对应机构"
    if code.startswith("ambiguous"):
        return "地名有歧义:" + code.partition(":")[2].strip()
    return REASONS.get(code, code)


def _queued_or_404(participant_id: int) -> Participant:
    participant = db().get(Participant, participant_id)
    if participant is None:
        abort(404)
    return participant


def _lead_page(participant: Participant, status: int = 200, **forms: Any) -> ResponseReturnValue:
    place_form = forms.get("place_form") or PlaceChoiceForm(formdata=None)
    place_form.place.choices = _place_choices(provinces=True)
    branch_form = forms.get("branch_form") or BranchChoiceForm(formdata=None)
    branch_form.branch_code.choices = _branch_choices()
    return render_template(
        "admin/unassigned.html",
        lead=participant,
        reason=_reason,
        place_form=place_form,
        branch_form=branch_form,
        branch=db().get(Branch, participant.branch_id) if participant.branch_id else None,
        candidates=routing.candidate_places(
            participant.unresolved_reason, participant.province_code, participant.postal_code
        ),
        can_edit=current_staff().role == "admin",  # type: ignore[union-attr]
    ), status


@bp.get("/unassigned/<int:participant_id>")
@head_office_required
def unassigned_lead(participant_id: int) -> ResponseReturnValue:
    """One queued lead and the two ways to resolve it."""
    return _lead_page(_queued_or_404(participant_id))


@bp.post("/unassigned/<int:participant_id>/place")
@admin_required
def unassigned_place(participant_id: int) -> ResponseReturnValue:
    """Resolve by province/city: the mapping gives the branch."""
    participant = _queued_or_404(participant_id)
    form = PlaceChoiceForm()
    form.place.choices = _place_choices(provinces=True)
    if not form.validate_on_submit() or not form.place.data:
        if not form.place.errors:
            form.place.errors = ["请选择地区。"]
        return _lead_page(participant, 422, place_form=form)
    division = divisions.get(form.place.data)
    assert division is not None  # validate_choice only admits known codes
    province, city = (
        (division.code, "")
        if division.level == divisions.PROVINCE
        else (division.parent_code, division.code)
    )
    try:
        branch = routing.place_lead(
            db(), participant, province, city, actor=current_staff(), ip=request.remote_addr
        )
    except routing.RoutingError as exc:
        db().rollback()
        form.place.errors = [str(exc)]
        return _lead_page(participant, 422, place_form=form)
    db().commit()
    flash(f"线索 #{participant.id} 已分配到 {branch.name}。", "success")
    return redirect(url_for("admin.unassigned"))


@bp.post("/unassigned/<int:participant_id>/assign")
@admin_required
def unassigned_assign(participant_id: int) -> ResponseReturnValue:
    """Resolve by choosing the branch directly."""
    participant = _queued_or_404(participant_id)
    form = BranchChoiceForm()
    form.branch_code.choices = _branch_choices()
    branch = _by_code(form.branch_code.data or "") if form.validate_on_submit() else None
    if branch is None:
        form.branch_code.errors = [*form.branch_code.errors, "请选择机构。"]
        return _lead_page(participant, 422, branch_form=form)
    routing.assign_lead(db(), participant, branch, actor=current_staff(), ip=request.remote_addr)
    db().commit()
    flash(f"线索 #{participant.id} 已分配到 {branch.name}。", "success")
    return redirect(url_for("admin.unassigned"))
