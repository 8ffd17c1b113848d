"""Head office imports a list draw's entrant list from the browser: upload, read the
report (accepted, refused with line and reason, duplicates), confirm, and the list is
written in short chunks (quiz.draw.lists). Nothing is saved before the confirmation; a
bad file gets its Chinese reason and a 422. The upload waits in the instance folder
(mode 0700) between the two steps and is deleted once imported."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from quiz.admin import bp
from quiz.admin.access import admin_required, current_staff
from quiz.admin.campaign_views import selected_campaign
from quiz.admin.draw_views import ActionForm, _next_number
from quiz.draw import lists
from quiz.draw.eligibility import DrawRefused
from quiz.models import Campaign
from quiz.privacy.protection import private_dir
from quiz.web.request import database, db, protector, takes_uploads

_TOKEN = re.compile(r"[0-9a-f]{32}")
_SUFFIXES = (".csv", ".xlsx", ".txt")


def _campaign() -> Campaign:
    campaign = selected_campaign()
    if campaign is None or campaign.kind != "list_draw":
        abort(404)
    return campaign


def _uploads() -> Path:
    return private_dir(Path(current_app.instance_path) / "list-uploads")


def _upload_path(token: str) -> Path:
    if not _TOKEN.fullmatch(token or ""):
        abort(400)
    found = [p for p in _uploads().glob(f"{token}.*") if p.suffix in _SUFFIXES]
    if not found:
        abort(404)
    return found[0]


def _page(campaign: Campaign, status: int = 200, **context: object) -> ResponseReturnValue:
    return render_template(
        "admin/draw_list.html",
        campaign=campaign,
        number=_next_number(campaign),
        imports=lists.list_imports(db(), campaign),
        form=ActionForm(),
        max_mb=lists.WEB_MAX_BYTES // 1_048_576,
        when=lists.when,
        **context,
    ), status


@bp.get("/draw/list")
@admin_required
def draw_list() -> ResponseReturnValue:
    """The import form and every import of the campaign (file, rows, digest, who, when)."""
    return _page(_campaign())


@bp.url_value_preprocessor
def _larger_list_uploads(endpoint: str | None, _values: object) -> None:
    # The site's request limit is 2 MB; a list may be larger (the CLI takes any size).
    # Set before the request hooks read the body (url preprocessors run first).
    if endpoint == "admin.draw_list_upload":
        request.max_content_length = lists.WEB_MAX_BYTES + 65_536


@bp.post("/draw/list")
@admin_required
@takes_uploads
def draw_list_upload() -> ResponseReturnValue:
    """Keep the upload, read it whole and show the report; nothing is imported yet."""
    campaign = _campaign()
    if not ActionForm().validate_on_submit():
        abort(400)
    upload = request.files.get("file")
    number = _next_number(campaign)
    if number is None:
        return _page(campaign, 409, error="本活动的各次抽奖名单都已冻结,不能再导入。")
    if upload is None or not upload.filename:
        return _page(campaign, 422, error="请选择要导入的名单文件(CSV或XLSX)。")
    suffix = Path(upload.filename).suffix.lower()
    if suffix not in _SUFFIXES:
        return _page(campaign, 422, error="只接受 .csv 或 .xlsx 文件。")
    token = secrets.token_hex(16)
    path = _uploads() / f"{token}{suffix}"
    upload.save(path)
    path.chmod(0o600)
    try:
        report = lists.check_list(
            db(),
            campaign,
            path,
            file_name=Path(upload.filename).name[:200],
            draw_number=number,
            max_bytes=lists.WEB_MAX_BYTES,
        )
    except (lists.ListFileError, DrawRefused) as exc:
        path.unlink(missing_ok=True)
        return _page(campaign, 422, error=f"文件有误,没有导入任何一行:{exc}")
    return _page(campaign, report=report, token=token)


@bp.post("/draw/list/confirm")
@admin_required
def draw_list_confirm() -> ResponseReturnValue:
    """Import the reported file (the same bytes: its SHA-256 is checked) as the list."""
    campaign = _campaign()
    if not ActionForm().validate_on_submit():
        abort(400)
    path = _upload_path(request.form.get("token", ""))
    file_name = request.form.get("file_name", "")[:200] or path.name
    number = _next_number(campaign)
    user = current_staff()
    if number is None or user is None:
        abort(409)
    campaign_id, user_id = campaign.id, user.id
    # The import writes in its own short transactions: this request's session lets go first.
    db().commit()
    try:
        outcome = lists.import_list(
            database(),
            protector(),
            campaign_id,
            path,
            file_name=file_name,
            draw_number=number,
            expected_sha256=request.form.get("sha256", ""),
            actor_id=user_id,
            ip=request.remote_addr,
            max_bytes=lists.WEB_MAX_BYTES,
        )
    except (lists.ListFileError, DrawRefused) as exc:
        return _page(_campaign(), 409, error=f"没有导入:{exc}")
    finally:
        path.unlink(missing_ok=True)
    assert outcome is not None  # no confirm callback: the report was confirmed already
    replaced = "(已替换原名单)" if outcome.replaced else ""
    flash(f"名单已导入:{outcome.report.accepted} 人{replaced}。", "success")
    return redirect(url_for("admin.draw"))
