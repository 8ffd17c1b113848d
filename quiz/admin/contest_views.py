"""Staff pages of the staff knowledge contest (kind staff_contest), for the selected campaign:
the roster (head office imports it; branch staff see their own), invitation codes, the
scoreboard (frozen before the end), final results with awards, exports and certificates.

Branch staff see their own branch's contestants and rows only; ranks stay province-wide.
Thin: quiz.contest holds the rules.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import segno
from flask import Response, abort, render_template, request
from flask.typing import ResponseReturnValue
from flask_wtf.file import FileField, FileRequired
from markupsafe import Markup
from sqlalchemy import select

from quiz.admin import bp
from quiz.admin.access import current_staff, head_office_required, scoped_staff
from quiz.admin.campaign_views import selected_campaign
from quiz.campaign.contest_spec import group_names
from quiz.contest import exports, ranking, roster
from quiz.db import utcnow
from quiz.leads.scope import HEAD_OFFICE
from quiz.models import Branch, Campaign, StaffUser
from quiz.staff import audit
from quiz.web.forms import SafeForm
from quiz.web.request import db, protector, public_base_url, takes_uploads

STATES = {"live": "实时排名", "frozen": "已封榜", "final": "最终成绩"}


class RosterUploadForm(SafeForm):
    file = FileField("参赛名单(CSV 或 XLSX)", validators=[FileRequired("请选择名单文件")])


class ActionForm(SafeForm):
    """A button that only needs its CSRF token."""


def _staff() -> StaffUser:
    user = current_staff()
    if user is None:
        abort(401)
    return user


def _scope(user: StaffUser) -> int | None:
    """None for head office, else the user's branch (scoped_staff refused the others)."""
    return None if user.role in HEAD_OFFICE else user.branch_id


def _contest() -> Campaign:
    campaign = selected_campaign()
    if campaign is None or campaign.kind != "staff_contest":
        abort(404)
    return campaign


def _overview(
    campaign: Campaign, user: StaffUser, form: RosterUploadForm, **extra: Any
) -> ResponseReturnValue:
    scope = _scope(user)
    status = extra.pop("status", 200)
    counts = roster.roster_counts(db(), campaign.id, scope)
    return render_template(
        "admin/contest.html",
        campaign=campaign,
        form=form,
        action_form=ActionForm(formdata=None),
        names=group_names(campaign.content.get("contest") or {}),
        counts=counts,
        total=sum(c[3] for c in counts),
        head_office=scope is None,
        editable=utcnow() < campaign.opens_at,
        web_max_rows=roster.WEB_MAX_ROWS,
        branches=db().scalars(select(Branch).where(Branch.active).order_by(Branch.code)).all()
        if scope is None
        else [],
        **extra,
    ), status


@bp.get("/contest")
@scoped_staff
def contest_home() -> ResponseReturnValue:
    return _overview(_contest(), _staff(), RosterUploadForm(formdata=None))


@bp.post("/contest/roster")
@head_office_required
@takes_uploads
def contest_roster() -> ResponseReturnValue:
    """Check an uploaded roster (检查) or check and save it (导入): every problem is listed
    and nothing is saved while there is one."""
    campaign, user = _contest(), _staff()
    form = RosterUploadForm()
    if not form.validate_on_submit():
        return _overview(campaign, user, form, status=422)
    db().commit()  # let go of SQLite's write lock while the file is read
    upload = form.file.data
    try:
        rows = roster.read_roster(upload.read(), upload.filename or "", roster.WEB_MAX_ROWS)
    except roster.RosterError as exc:
        form.file.errors = [*form.file.errors, str(exc)]
        return _overview(
            campaign, user, form, status=413 if isinstance(exc, roster.TooManyRows) else 422
        )
    report = roster.check_roster(db(), campaign, rows)
    if not report.ok:
        return _overview(campaign, user, form, report=report, status=422)
    if request.form.get("action") != "import":
        return _overview(campaign, user, form, report=report, checked=True)
    try:
        roster.save_roster(db(), campaign, report, protector())
    except roster.RosterError as exc:
        db().rollback()
        form.file.errors = [str(exc)]
        return _overview(campaign, user, form, report=report, status=409)
    audit.record(
        db(),
        user,
        "contest.roster_import",
        upload.filename or "",
        {
            "rows": len(report.rows),
            "new": report.new,
            "updated": report.updated,
            "removed": report.removed,
        },
        request.remote_addr,
        campaign_id=campaign.id,
    )
    db().commit()
    return _overview(campaign, user, RosterUploadForm(formdata=None), report=report, saved=True)


def _qr(url: str) -> Markup:
    return Markup(segno.make(url, error="m").svg_inline(scale=3))  # noqa: S704 - segno's own SVG


@bp.post("/contest/invitations")
@scoped_staff
def contest_invitations() -> ResponseReturnValue:
    """New invitation codes for the branch's (or one branch's) contestants, shown once: as
    CSV with sign-in links, or as a printable page with QR codes. Earlier codes stop working."""
    campaign, user = _contest(), _staff()
    if not ActionForm().validate_on_submit():
        abort(400)
    scope = _scope(user)
    branch_id = scope
    raw = request.form.get("branch", "")
    if scope is None and raw:
        whole = raw.isascii() and raw.isdigit() and len(raw) < 10
        if not whole or db().get(Branch, int(raw)) is None:
            abort(404)
        branch_id = int(raw)
    staff_no = (request.form.get("staff_no") or "").strip()[:32] or None
    issued = roster.issue_invitations(
        db(), campaign, protector(), branch_id=branch_id, staff_nos=[staff_no] if staff_no else None
    )
    if not issued:
        abort(404)
    audit.record(
        db(),
        user,
        "contest.invitations",
        staff_no or "",
        {"count": len(issued), "branch_id": branch_id},
        request.remote_addr,
        campaign_id=campaign.id,
    )
    db().commit()
    url = f"{public_base_url().rstrip('/')}/c/{campaign.slug}/"
    rows = exports.invitation_rows(issued, url)
    if request.form.get("format") == "print":
        cards = [
            (row, _qr(f"{url}?no={i.staff_no}&code={i.code}"))
            for row, i in zip(rows, issued, strict=True)
        ]
        return render_template("admin/contest_invitations.html", campaign=campaign, cards=cards)
    return _download(exports.csv_file(exports.INVITE_HEADERS, rows), "邀请码", "csv")


def _download(data: bytes, stem: str, fmt: str) -> Response:
    from urllib.parse import quote

    name = quote(f"{stem}-{utcnow():%Y%m%d%H%M}.{fmt}")
    mime = (
        "text/csv; charset=utf-8"
        if fmt == "csv"
        else ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    )
    return Response(
        data,
        mimetype=mime,
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{name}"},
    )


def _standing(campaign: Campaign) -> tuple[ranking.Board, dict[str, list[ranking.Ranked]]]:
    now = utcnow()
    board = ranking.board_at(campaign, now)
    return board, ranking.ranking(db(), campaign, now=now, board=board)


@bp.get("/contest/results")
@scoped_staff
def contest_results() -> ResponseReturnValue:
    campaign, user = _contest(), _staff()
    scope = _scope(user)
    board, ranked = _standing(campaign)
    tables = ranking.branch_table(db(), campaign, ranked, final=board.state == "final")
    if scope is not None:
        ranked = {k: [r for r in v if r.branch_id == scope] for k, v in ranked.items()}
        tables = {k: [b for b in v if b.branch_id == scope] for k, v in tables.items()}
    return render_template(
        "admin/contest_results.html",
        campaign=campaign,
        board=board,
        state=STATES[board.state],
        ranked=ranked,
        tables=tables,
        names=group_names(campaign.content.get("contest") or {}),
        head_office=scope is None,
        own_branch=scope,
    )


@bp.get("/contest/results.<fmt>")
@scoped_staff
def contest_results_export(fmt: str) -> ResponseReturnValue:
    """Results per group (?group=) and branch: people (default) or ?table=branches."""
    if fmt not in ("csv", "xlsx"):
        abort(404)
    campaign, user = _contest(), _staff()
    scope = _scope(user)
    board, ranked = _standing(campaign)
    names = group_names(campaign.content.get("contest") or {})
    group = request.args.get("group") or None
    if group is not None and group not in names:
        abort(404)
    if request.args.get("table") == "branches":
        tables = ranking.branch_table(db(), campaign, ranked, final=board.state == "final")
        if group is not None:
            tables = {group: tables.get(group, [])}
        if scope is not None:  # branch staff: their own branch's rows (ranks stay overall)
            tables = {k: [b for b in v if b.branch_id == scope] for k, v in tables.items()}
        headers, rows = exports.BRANCH_HEADERS, exports.branch_rows(tables, names)
        stem = "机构成绩"
    else:
        head_office = scope is None
        headers = exports.RESULT_HEADERS + (exports.HEAD_OFFICE_EXTRA if head_office else ())
        rows = exports.result_rows(
            ranked, names, branch_id=scope, group=group, head_office=head_office
        )
        stem = "个人成绩"
    stem = f"{stem}-{STATES[board.state]}" + (f"-{names[group]}" if group else "")
    data = exports.csv_file(headers, rows) if fmt == "csv" else exports.xlsx_file(headers, rows)
    return _download(data, stem, fmt)


def _final_or_404(
    campaign: Campaign, at: datetime | None = None
) -> dict[str, list[ranking.Ranked]]:
    board, ranked = _standing(campaign)
    if board.state != "final":
        abort(404)
    return ranked


@bp.get("/contest/certificate/<int:contestant_id>")
@scoped_staff
def contest_certificate(contestant_id: int) -> ResponseReturnValue:
    """A printable certificate for an award winner (final results only)."""
    campaign, user = _contest(), _staff()
    scope = _scope(user)
    ranked = _final_or_404(campaign)
    names = group_names(campaign.content.get("contest") or {})
    for code, rows in ranked.items():
        for r in rows:
            if r.contestant_id == contestant_id and r.award and scope in (None, r.branch_id):
                return render_template(
                    "admin/contest_certificate.html",
                    campaign=campaign,
                    who=r.name,
                    branch=r.branch_name,
                    group=names.get(code, code),
                    award=r.award,
                )
    abort(404)


@bp.get("/contest/certificate/branch/<group>/<int:branch_id>")
@scoped_staff
def contest_branch_certificate(group: str, branch_id: int) -> ResponseReturnValue:
    campaign, user = _contest(), _staff()
    scope = _scope(user)
    ranked = _final_or_404(campaign)
    names = group_names(campaign.content.get("contest") or {})
    tables = ranking.branch_table(db(), campaign, ranked, final=True)
    for b in tables.get(group, []):
        if b.branch_id == branch_id and b.award and scope in (None, branch_id):
            return render_template(
                "admin/contest_certificate.html",
                campaign=campaign,
                who=b.branch_name,
                branch=None,
                group=names.get(group, group),
                award="机构评优奖",
            )
    abort(404)
