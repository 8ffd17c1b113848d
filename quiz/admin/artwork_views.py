"""Staff pages of the drawing contest: invitations, check-in and photographs, 初评,
blind judging, results and awards, certificates and the per-branch export.

Every page answers only when the selected campaign is a drawing contest. Branch staff
see and act on their own branch only; head office on every branch. Judges (the staff
accounts the campaign file names for a round) see works by number and picture only.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from markupsafe import Markup
from sqlalchemy import select
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms import IntegerField, SelectField
from wtforms.fields.choices import SelectChoice

from quiz.admin import bp
from quiz.admin.access import (
    admin_required,
    any_staff,
    current_staff,
    head_office_required,
    scoped_staff,
)
from quiz.admin.campaign_views import selected_campaign
from quiz.admin.forms import ActionForm
from quiz.artwork import awards, images, invitations, judging, works
from quiz.artwork.images import ImageRefused
from quiz.artwork.judging import JudgingError
from quiz.campaign.artwork_settings import ArtworkSettings, from_content
from quiz.extensions import client_address
from quiz.leads.scope import HEAD_OFFICE
from quiz.models import (
    MAX_ID,
    Agent,
    ArtworkChild,
    ArtworkInvitation,
    ArtworkWork,
    Branch,
    Campaign,
    StaffUser,
)
from quiz.referrals import posters
from quiz.staff import audit
from quiz.web.forms import SafeForm
from quiz.web.request import db, protector, public_base_url, takes_uploads

UPLOAD_ENDPOINTS = frozenset({"admin.artwork_upload"})


@bp.url_value_preprocessor
def _upload_limit(endpoint: str | None, _values: dict[str, Any] | None) -> None:
    # Before CSRF reads the body: a photograph of an A3 work may be 15 MB.
    if endpoint in UPLOAD_ENDPOINTS:
        request.max_content_length = images.UPLOAD_BODY_LIMIT


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(exc: RequestEntityTooLarge) -> ResponseReturnValue:
    # A blueprint's handler wins over the app's: the other upload forms keep their pages.
    from quiz.web.errors import render_error, too_large

    if request.endpoint in UPLOAD_ENDPOINTS:
        return render_error(413, images.TOO_LARGE)
    return too_large(request.endpoint)


class IssueForm(SafeForm):
    agent_id = IntegerField("代理人")


class ScoreForm(SafeForm):
    score = SelectField("评分", choices=[SelectChoice(str(n), f"{n}分") for n in range(10, 0, -1)])


def _user() -> StaffUser:
    user = current_staff()
    assert user is not None  # the decorators let no anonymous request through
    return user


def _contest() -> tuple[Campaign, ArtworkSettings]:
    campaign = selected_campaign()
    settings = (
        from_content(campaign.content) if campaign and campaign.kind == "artwork_contest" else None
    )
    if campaign is None or settings is None:
        abort(404)
    return campaign, settings


def _scope(user: StaffUser) -> int | None:
    """The branch a user acts for (None: head office, every branch)."""
    return None if user.role in HEAD_OFFICE else user.branch_id


def _branch_arg(user: StaffUser) -> int | None:
    """Head office may pick a branch (?branch=CODE); branch staff always get theirs."""
    scope = _scope(user)
    if scope is not None:
        return scope
    code = request.args.get("branch", "")
    if not code:
        return None
    branch_id = db().scalar(select(Branch.id).where(Branch.code == code[:32]))
    if branch_id is None:
        abort(404)
    return branch_id


def _store() -> images.MediaStore:
    return images.store_for(current_app.config.get("QUIZ_MEDIA_DIR"), current_app.instance_path)


def _group_arg(settings: ArtworkSettings) -> str | None:
    group = request.args.get("group") or None
    if group is not None and settings.group(group) is None:
        abort(404)
    return group


@bp.get("/artwork")
@scoped_staff
def artwork_overview() -> ResponseReturnValue:
    campaign, settings = _contest()
    user = _user()
    scope = _scope(user)
    agents_stmt = select(Agent).order_by(Agent.branch_id, Agent.code)
    if scope is not None:
        agents_stmt = agents_stmt.where(Agent.branch_id == scope)
    agents = db().scalars(agents_stmt.limit(500)).all()
    counts = invitations.counts_by_agent(db(), campaign)
    recent_stmt = (
        select(ArtworkInvitation)
        .where(ArtworkInvitation.campaign_id == campaign.id)
        .order_by(ArtworkInvitation.id.desc())
        .limit(20)
    )
    if scope is not None:
        recent_stmt = recent_stmt.where(ArtworkInvitation.branch_id == scope)
    return render_template(
        "admin/artwork/overview.html",
        campaign=campaign,
        settings=settings,
        agents=agents,
        counts=counts,
        recent=db().scalars(recent_stmt).all(),
        stages=judging.round_counts(db(), campaign),
        judge_rounds=[r for r in judging.ROUNDS if judging.is_judge(settings, user, r)],
        head_office=scope is None,
        form=IssueForm(),
    )


@bp.post("/artwork/invitations")
@scoped_staff
def artwork_issue() -> ResponseReturnValue:
    campaign, _settings = _contest()
    user = _user()
    form = IssueForm()
    agent = (
        db().get(Agent, form.agent_id.data)
        if form.validate() and form.agent_id.data and 0 < form.agent_id.data <= MAX_ID
        else None
    )
    scope = _scope(user)
    if agent is None or (scope is not None and agent.branch_id != scope):
        flash("请选择本机构的代理人。", "error")
        return redirect(url_for("admin.artwork_overview")), 303
    invitation = invitations.issue(db(), campaign, agent, user.username)
    audit.record(
        db(),
        user,
        "artwork.invite",
        f"代理人 {agent.code}",
        {"code": invitation.code},
        client_address(),
    )
    db().commit()
    return redirect(url_for("admin.artwork_invitation", invitation_id=invitation.id)), 303


@bp.get("/artwork/invitations/<int:invitation_id>")
@scoped_staff
def artwork_invitation(invitation_id: int) -> ResponseReturnValue:
    """The printable 《活动邀请函》: the personal link as a QR code and the code to type."""
    campaign, settings = _contest()
    user = _user()
    invitation = db().get(ArtworkInvitation, invitation_id) if invitation_id <= MAX_ID else None
    scope = _scope(user)
    if (
        invitation is None
        or invitation.campaign_id != campaign.id
        or (scope is not None and invitation.branch_id != scope)
    ):
        abort(404)
    url = public_base_url().rstrip("/") + invitations.invitation_path(
        campaign.slug, invitation.code
    )
    qr = Markup(posters.qr_svg(url, title=f"邀请函二维码 {url}"))  # noqa: S704 - segno's own SVG
    return render_template(
        "admin/artwork/invitation.html",
        campaign=campaign,
        settings=settings,
        invitation=invitation,
        url=url,
        qr=qr,
    )


@bp.get("/artwork/checkin")
@scoped_staff
def artwork_checkin() -> ResponseReturnValue:
    """The check-in list of a branch and group on the day (printable)."""
    campaign, settings = _contest()
    user = _user()
    branch_id = _branch_arg(user)
    group = _group_arg(settings)
    rows = works.check_in_list(db(), campaign, branch_id, group)
    names = {r.child.id: protector().decrypt(r.child.name_enc) for r in rows}
    return render_template(
        "admin/artwork/checkin.html",
        campaign=campaign,
        settings=settings,
        rows=rows,
        names=names,
        group=group,
        branch=db().get(Branch, branch_id) if branch_id else None,
        action=ActionForm(),
    )


def _child_in_scope(child_id: int) -> ArtworkChild:
    campaign, _settings = _contest()
    child = db().get(ArtworkChild, child_id) if child_id <= MAX_ID else None
    scope = _scope(_user())
    if child is None or child.campaign_id != campaign.id:
        abort(404)
    if scope is not None and child.family.branch_id != scope:
        abort(404)
    return child


def _back_to_checkin(child: ArtworkChild) -> ResponseReturnValue:
    return redirect(
        url_for("admin.artwork_checkin", group=child.age_group) + f"#child-{child.id}"
    ), 303


@bp.post("/artwork/child/<int:child_id>/checkin")
@scoped_staff
def artwork_check_in(child_id: int) -> ResponseReturnValue:
    child = _child_in_scope(child_id)
    works.check_in(db(), child, _user().username)
    db().commit()
    flash(f"{child.name_masked}已签到。", "success")
    return _back_to_checkin(child)


@bp.post("/artwork/child/<int:child_id>/work")
@scoped_staff
@takes_uploads
def artwork_upload(child_id: int) -> ResponseReturnValue:
    """A phone photograph of the A3 work, taken from the check-in page."""
    child = _child_in_scope(child_id)
    user = _user()
    try:
        upload = request.files.get("picture")
        if upload is None or not upload.filename:
            raise ImageRefused(images.EMPTY)
        processed = images.process(images.read_limited(upload.stream))
        work = works.attach_work(db(), _store(), child, processed, user.username)
    except RequestEntityTooLarge:
        flash(images.TOO_LARGE, "error")
        return _back_to_checkin(child)
    except (ImageRefused, works.WorkError) as exc:
        db().rollback()
        flash(str(exc), "error")
        return _back_to_checkin(child)
    audit.record(
        db(), user, "artwork.photo", f"作品 {child.id:05d}", {"work": work.id}, client_address()
    )
    db().commit()
    flash(f"作品 {child.id:05d} 已拍照上传。", "success")
    return _back_to_checkin(child)


@bp.route("/artwork/select", methods=["GET", "POST"])
@scoped_staff
def artwork_select() -> ResponseReturnValue:
    """Branch 初评: choose up to the quota per group to send on to 复评."""
    campaign, settings = _contest()
    user = _user()
    branch_id = _branch_arg(user)
    if branch_id is None:
        branches = (
            db()
            .scalars(
                select(Branch).where(
                    Branch.id.in_(
                        select(ArtworkWork.branch_id).where(ArtworkWork.campaign_id == campaign.id)
                    )
                )
            )
            .all()
        )
        return render_template(
            "admin/artwork/select_branch.html", campaign=campaign, branches=branches
        )
    form = ActionForm()
    status = 200
    if request.method == "POST" and form.validate_on_submit():
        chosen = [int(v) for v in request.form.getlist("work") if v.isdecimal() and len(v) < 10]
        try:
            count = judging.select_for_review(
                db(), campaign, settings, user, chosen, branch_id, client_address()
            )
        except JudgingError as exc:
            db().rollback()
            flash(str(exc), "error")
            status = 422
        else:
            db().commit()
            flash(f"已选送{count}幅作品进入复评。", "success")
            return redirect(request.full_path), 303
    items = (
        db()
        .scalars(
            select(ArtworkWork)
            .where(ArtworkWork.campaign_id == campaign.id, ArtworkWork.branch_id == branch_id)
            .order_by(ArtworkWork.age_group, ArtworkWork.child_id)
        )
        .all()
    )
    return (
        render_template(
            "admin/artwork/select.html",
            campaign=campaign,
            settings=settings,
            items=items,
            branch=db().get(Branch, branch_id),
            form=form,
        ),
        status,
    )


def _round_or_404(round_: str) -> str:
    if round_ not in judging.ROUNDS:
        abort(404)
    return round_


@bp.get("/artwork/judge/<round_>")
@any_staff
def artwork_judge(round_: str) -> ResponseReturnValue:
    """A judge's sheet: numbers and pictures only, a progress bar, a score per work."""
    campaign, settings = _contest()
    user = _user()
    _round_or_404(round_)
    if not judging.is_judge(settings, user, round_):
        abort(403)
    group = _group_arg(settings)
    sheet = judging.works_for_judge(db(), campaign, user, round_, group)
    done, total = judging.progress(db(), campaign, user, round_)
    return render_template(
        "admin/artwork/judge.html",
        campaign=campaign,
        settings=settings,
        round_=round_,
        sheet=sheet,
        done=done,
        total=total,
        group=group,
        form=ScoreForm(),
    )


@bp.post("/artwork/judge/<round_>/<int:work_id>")
@any_staff
def artwork_score(round_: str, work_id: int) -> ResponseReturnValue:
    campaign, settings = _contest()
    user = _user()
    _round_or_404(round_)
    form = ScoreForm()
    if not form.validate_on_submit():
        flash("评分须为1至10分的整数。", "error")
        return redirect(url_for("admin.artwork_judge", round_=round_)), 303
    try:
        judging.record_score(
            db(),
            campaign,
            settings,
            user,
            work_id,
            round_,
            int(form.score.data or 0),
            client_address(),
        )
    except JudgingError as exc:
        db().rollback()
        flash(str(exc), "error")
        return redirect(url_for("admin.artwork_judge", round_=round_)), 303
    db().commit()
    flash("评分已保存。", "success")
    return redirect(url_for("admin.artwork_judge", round_=round_) + f"#work-{work_id}"), 303


@bp.get("/artwork/results")
@head_office_required
def artwork_results() -> ResponseReturnValue:
    campaign, settings = _contest()
    tables = {
        (group.name, round_): judging.ranking(db(), campaign, round_, group.name)
        for group in settings.groups
        for round_ in judging.ROUNDS
    }
    codes = dict(db().execute(select(Branch.id, Branch.code)).all())
    return render_template(
        "admin/artwork/results.html",
        campaign=campaign,
        settings=settings,
        tables=tables,
        codes=codes,
        tie_rule=judging.TIE_RULE,
        form=ActionForm(),
    )


def _decision(group: str, action: Any, done: str) -> ResponseReturnValue:
    campaign, settings = _contest()
    if settings.group(group) is None:
        abort(404)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        action(db(), campaign, settings, _user(), group, client_address())
    except JudgingError as exc:
        db().rollback()
        flash(str(exc), "error")
        return redirect(url_for("admin.artwork_results")), 303
    db().commit()
    flash(done, "success")
    return redirect(url_for("admin.artwork_results")), 303


@bp.post("/artwork/results/<group>/advance")
@admin_required
def artwork_advance(group: str) -> ResponseReturnValue:
    return _decision(group, judging.advance_to_final, f"{group}复评结束,入围作品进入终评。")


@bp.post("/artwork/results/<group>/awards")
@admin_required
def artwork_confirm(group: str) -> ResponseReturnValue:
    return _decision(group, judging.confirm_awards, f"{group}奖项已确认。")


@bp.get("/artwork/certificates")
@scoped_staff
def artwork_certificates() -> ResponseReturnValue:
    campaign, _settings = _contest()
    user = _user()
    items = awards.certificates(db(), protector(), campaign, _branch_arg(user))
    return render_template("admin/artwork/certificates.html", campaign=campaign, items=items)


@bp.get("/artwork/export.csv")
@scoped_staff
def artwork_export() -> ResponseReturnValue:
    """One branch's families and awards for the agents' follow-up."""
    campaign, _settings = _contest()
    user = _user()
    branch_id = _branch_arg(user)
    if branch_id is None:
        abort(404)
    out = io.StringIO()
    csv.writer(out).writerows(awards.family_rows(db(), protector(), campaign, branch_id))
    code = branch.code if (branch := db().get(Branch, branch_id)) else ""
    audit.record(db(), user, "artwork.export", code, {}, client_address())
    db().commit()
    return Response(
        "\ufeff" + out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename=artwork-{code}.csv"},
    )


@bp.get("/artwork/image/<int:work_id>/<size>")
@any_staff
def artwork_image(work_id: int, size: str) -> ResponseReturnValue:
    """A work's picture: head office, its branch's staff, or a judge who may score it."""
    campaign, settings = _contest()
    user = _user()
    work = db().get(ArtworkWork, work_id) if work_id <= MAX_ID else None
    if work is None or work.campaign_id != campaign.id or size not in images.SIZES:
        abort(404)
    allowed = user.role in HEAD_OFFICE or user.branch_id == work.branch_id
    if not allowed:
        allowed = any(
            judging.is_judge(settings, user, r)
            and any(
                w.work_id == work.id
                for w in judging.works_for_judge(db(), campaign, user, r, work.age_group)
            )
            for r in judging.ROUNDS
        )
    if not allowed:
        abort(404)
    path = _store().path(work.image_key, size)
    if not path.exists():
        abort(404)
    response = Response(path.read_bytes(), mimetype="image/jpeg")
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
