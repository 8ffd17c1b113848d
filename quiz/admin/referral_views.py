"""Staff pages for referral links, QR posters and the branch leaderboard.

Head office manages channels and every branch's agents; branch staff see and
upload their own branch's agents and links, and the leaderboard without other
branches' agent detail.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask.typing import ResponseReturnValue
from flask.wrappers import Response
from flask_wtf.file import FileField, FileRequired
from markupsafe import Markup
from sqlalchemy import select
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from quiz.admin import bp
from quiz.admin.access import any_staff, current_staff, head_office_required
from quiz.admin.campaign_views import selected_campaign
from quiz.leads.scope import HEAD_OFFICE
from quiz.models import Branch, Channel, ReferralLink, StaffUser
from quiz.referrals import import_jobs, leaderboard, posters
from quiz.referrals import links as referrals
from quiz.staff import audit
from quiz.web.forms import SafeForm
from quiz.web.queue import task_queue
from quiz.web.request import (
    db,
    int_arg,
    page_arg,
    public_base_url,
    takes_uploads,
)

PAGE_SIZE = 100


class ChannelForm(SafeForm):
    """A new promotion channel."""

    code = StringField("渠道代码", validators=[DataRequired("请填写渠道代码"), Length(max=32)])
    name = StringField("渠道名称", validators=[DataRequired("请填写渠道名称"), Length(max=100)])


class AgentUploadForm(SafeForm):
    """A CSV of agents: 机构代码,业务员代码,姓名[,手机号码]."""

    file = FileField("业务人员名单(CSV)", validators=[FileRequired("请选择CSV文件")])


class ActionForm(SafeForm):
    """A button that only needs its CSRF token."""


def _staff() -> StaffUser:
    user = current_staff()
    if user is None:
        abort(401)
    return user


def _head_office(user: StaffUser) -> bool:
    return user.role in HEAD_OFFICE


def _own_branch(user: StaffUser) -> int | None:
    """The branch a branch user is limited to (-1 when their account has none)."""
    if _head_office(user):
        return None
    return user.branch_id if user.branch_id is not None else -1


def _campaign() -> Any:
    campaign = selected_campaign()
    if campaign is None:
        abort(404)
    return campaign


def _branches() -> list[Branch]:
    return list(db().scalars(select(Branch).order_by(Branch.code)))


# --- links ---------------------------------------------------------------------


@bp.get("/referrals")
@any_staff
def referrals_list() -> ResponseReturnValue:
    """Every link the user may see, with its QR code and poster."""
    user = _staff()
    scope = _own_branch(user)
    branch_id = scope if scope is not None else int_arg("branch")
    kind = request.args.get("kind") if request.args.get("kind") in referrals.KIND_LABELS else None
    search = request.args.get("q", "")[:50]
    page = page_arg()
    total, rows = referrals.link_rows(
        db(),
        branch_id=branch_id,
        kind=kind,
        search=search,
        offset=(page - 1) * PAGE_SIZE,
        limit=PAGE_SIZE,
    )
    return render_template(
        "admin/referrals.html",
        rows=rows,
        total=total,
        page=page,
        pages=max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1),
        branches=_branches() if scope is None else [],
        branch_id=branch_id,
        kind=kind,
        search=search,
        kinds=referrals.KIND_LABELS,
        head_office=_head_office(user),
        base_url=public_base_url(),
        form=ActionForm(),
    )


@bp.post("/referrals/branch-links")
@head_office_required
def referrals_branch_links() -> ResponseReturnValue:
    """Give every branch its own link."""
    if not ActionForm().validate_on_submit():
        abort(400)
    created = referrals.ensure_branch_links(db())
    audit.record(
        db(), _staff(), "referrals.branch_links", "", {"created": created}, request.remote_addr
    )
    db().commit()
    flash(
        f"已为{created}个机构生成推广链接。" if created else "所有机构都已有推广链接。", "success"
    )
    return redirect(url_for("admin.referrals_list", kind="branch"))


@bp.route("/referrals/channels", methods=["GET", "POST"])
@head_office_required
def referrals_channels() -> ResponseReturnValue:
    """Promotion channels (partner site, SMS, poster ...) and their links."""
    form = ChannelForm()
    status = 200
    if form.validate_on_submit():
        try:
            link = referrals.create_channel(db(), form.code.data or "", form.name.data or "")
        except referrals.ReferralError as exc:
            db().rollback()
            form.code.errors = [*form.code.errors, str(exc)]
            status = 422
        else:
            audit.record(
                db(),
                _staff(),
                "referrals.channel_create",
                form.code.data or "",
                {"link": link.code},
                request.remote_addr,
            )
            db().commit()
            flash(f"已创建渠道“{form.name.data}”,推广链接短码 {link.code}。", "success")
            return redirect(url_for("admin.referrals_channels"))
    elif request.method == "POST":
        status = 422
    _, rows = referrals.link_rows(db(), kind="channel")
    channels = list(db().scalars(select(Channel).order_by(Channel.code)))
    return render_template(
        "admin/referrals_channels.html",
        form=form,
        rows=rows,
        channels=channels,
        base_url=public_base_url(),
    ), status


@bp.route("/referrals/agents", methods=["GET", "POST"])
@any_staff
@takes_uploads
def referrals_agents() -> ResponseReturnValue:
    """Upload agents from a CSV; each gets a personal link. Written by a background job."""
    user = _staff()
    form = AgentUploadForm()
    status = 200
    if form.validate_on_submit():
        # A POST's session holds SQLite's write lock since the sign-in check read the
        # user: let go of it while the file is parsed (up to a second for 100,000 rows).
        db().commit()
        try:
            rows = referrals.parse_agents_csv(
                form.file.data.read(), max_rows=referrals.MAX_IMPORT_ROWS
            )
        except referrals.ReferralError as exc:
            messages = str(exc).splitlines()
            if isinstance(exc, referrals.TooManyRows):
                messages.append(import_jobs.CLI_HINT)
            form.file.errors = [*form.file.errors, *messages]
            status = 422
        else:
            job = import_jobs.create_job(db(), user, form.file.data.filename or "", len(rows))
            db().commit()
            task_queue().import_agents(
                job.id,
                rows,
                hash_mobiles=True,
                only_branch_id=_own_branch(user),
                ip=request.remote_addr,
            )
            return redirect(url_for("admin.referrals_import_job", job_id=job.id))
    elif request.method == "POST":
        status = 422
    return render_template(
        "admin/referrals_agents.html", form=form, head_office=_head_office(user)
    ), status


@bp.get("/referrals/agents/jobs/<int:job_id>")
@any_staff
def referrals_import_job(job_id: int) -> ResponseReturnValue:
    """Progress of an agents import; the page reloads itself until the job has finished."""
    job = import_jobs.job_for(db(), _staff(), job_id)
    if job is None:
        abort(404)
    return render_template("admin/import_job.html", job=job)


@bp.get("/referrals/links.csv")
@any_staff
def referrals_export() -> ResponseReturnValue:
    """Every link the user may see, with its full URL, as CSV."""
    user = _staff()
    scope = _own_branch(user)
    _, rows = referrals.link_rows(db(), branch_id=scope)
    body = leaderboard.csv_bytes(referrals.export_link_lines(rows, public_base_url()))
    audit.record(db(), user, "referrals.export", "", {"rows": len(rows)}, request.remote_addr)
    db().commit()
    return _download(body, "text/csv; charset=utf-8", "referral-links")


def _download(body: bytes, content_type: str, stem: str, ext: str = "csv") -> Response:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
    return Response(
        body,
        content_type=content_type,
        headers={"Content-Disposition": f'attachment; filename="{stem}-{stamp}.{ext}"'},
    )


def _link_for(user: StaffUser, link_id: int) -> ReferralLink:
    """A link the user may print; another branch's (or a channel's, for branches) is 404."""
    link = db().get(ReferralLink, link_id)
    scope = _own_branch(user)
    if link is None or (scope is not None and link.branch_id != scope):
        abort(404)
    return link


def _referrer(link: ReferralLink) -> str:
    if link.agent is not None:
        return f"{link.agent.branch.name} {link.agent.name}(工号{link.agent.code})"
    if link.branch is not None:
        return link.branch.name
    return ""


@bp.get("/referrals/<int:link_id>/poster")
@any_staff
def referrals_poster(link_id: int) -> ResponseReturnValue:
    """A printable A4 poster: campaign, prize, dates, QR and the short URL."""
    link = _link_for(_staff(), link_id)
    campaign = _campaign()
    url = referrals.link_url_for(public_base_url(), link.code, link.campaign_id, campaign)
    text = posters.poster_text(campaign, url, _referrer(link))
    # Our own SVG, built from escaped text: safe to inline.
    qr = Markup(posters.qr_svg(url, title=f"{text.title} {url}"))  # noqa: S704
    return render_template("admin/poster.html", text=text, qr=qr, link=link)


@bp.get("/referrals/posters.zip")
@any_staff
def referrals_posters_zip() -> ResponseReturnValue:
    """One A4 poster SVG per link of a branch (its own link and its agents'), zipped."""
    user = _staff()
    scope = _own_branch(user)
    branch_id = scope if scope is not None else int_arg("branch")
    branch = db().get(Branch, branch_id) if branch_id else None
    if branch is None:
        abort(404)
    campaign = _campaign()
    _, rows = referrals.link_rows(db(), branch_id=branch.id)
    referrers = {
        r.id: (
            f"{r.branch_name} {r.agent_name}(工号{r.agent_code})" if r.agent_code else r.branch_name
        )
        for r in rows
    }
    items = (
        (
            f"{r.branch_code}-{r.agent_code or 'branch'}-{r.code}.svg",
            posters.poster_text(
                campaign,
                referrals.link_url_for(public_base_url(), r.code, r.campaign_id, campaign),
                referrers[r.id],
            ),
        )
        for r in rows
    )
    archive = posters.posters_zip(items)
    audit.record(
        db(),
        user,
        "referrals.posters_zip",
        branch.code,
        {"posters": len(rows)},
        request.remote_addr,
    )
    db().commit()
    return send_file(
        archive,
        mimetype="application/zip",
        as_attachment=True,
        download_name=f"posters-{branch.code}.zip",
    )


# --- leaderboard ----------------------------------------------------------------


def _board_args() -> tuple[str, str]:
    basis = request.args.get("basis", "valid")
    order = request.args.get("order", "rate")
    return (
        basis if basis in leaderboard.BASES else "valid",
        order if order in leaderboard.ORDERS else "rate",
    )


@bp.get("/leaderboard")
@any_staff
def leaderboard_page() -> ResponseReturnValue:
    """Branches ranked on registrations against target, by source and by agent, daily trend."""
    user = _staff()
    campaign = _campaign()
    basis, order = _board_args()
    scope = _own_branch(user)
    trend_branch = scope if scope is not None else int_arg("branch")
    rows = leaderboard.branch_board(db(), campaign, basis=basis, order=order)
    trend = leaderboard.daily_trend(db(), campaign, trend_branch)
    peak = max((max(r, c) for _, r, c in trend), default=0)
    return render_template(
        "admin/leaderboard.html",
        campaign=campaign,
        rows=rows,
        basis=basis,
        order=order,
        totals=leaderboard.totals(db(), campaign),
        sources=leaderboard.source_board(db(), campaign) if scope is None else [],
        agents=leaderboard.agent_board(db(), campaign, branch_id=scope),
        trend=trend,
        peak=peak,
        trend_branch=trend_branch,
        branches=_branches() if scope is None else [],
        head_office=scope is None,
        tiers=leaderboard.tiers_of(campaign),
        rate_percent=leaderboard.rate_percent,
        own_branch=scope,
    )


@bp.get("/leaderboard.csv")
@any_staff
def leaderboard_export() -> ResponseReturnValue:
    """The leaderboard as CSV (UTF-8 with BOM, formula-safe)."""
    user = _staff()
    basis, order = _board_args()
    rows = leaderboard.branch_board(db(), _campaign(), basis=basis, order=order)
    body = leaderboard.csv_bytes(leaderboard.export_lines(rows))
    audit.record(
        db(), user, "leaderboard.export", "", {"basis": basis, "order": order}, request.remote_addr
    )
    db().commit()
    return _download(body, "text/csv; charset=utf-8", "leaderboard")
