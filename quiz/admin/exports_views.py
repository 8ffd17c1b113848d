"""Lead exports for head office: streamed CSV (or ZIP of CSVs), background XLSX jobs."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from flask import (
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    send_file,
    stream_with_context,
    url_for,
)
from flask.typing import ResponseReturnValue

from quiz import audit, export_jobs, exports, leads
from quiz.admin import bp
from quiz.admin.access import current_staff, head_office_required
from quiz.admin.lead_forms import ExportForm
from quiz.admin.leads_views import filter_form
from quiz.models import StaffUser
from quiz.web import CHINA, database, db, protector


def _user() -> StaffUser:
    user = current_staff()
    assert user is not None  # bp.before_request guarantees a signed-in user
    return user


def export_folder() -> Path:
    """Where background exports are written (shared storage when there are several hosts)."""
    configured = current_app.config.get("QUIZ_EXPORT_DIR")
    return Path(configured) if configured else Path(current_app.instance_path) / "exports"


def _page(form: Any, export_form: ExportForm, status: int = 200, **extra: Any) -> Any:
    user = _user()
    return render_template(
        "admin/exports.html",
        form=form,
        export_form=export_form,
        jobs=export_jobs.recent_jobs(db(), user),
        head_office=True,
        **extra,
    ), status


@bp.get("/exports")
@head_office_required
def exports_page() -> ResponseReturnValue:
    user = _user()
    form = filter_form(user)
    if not form.validate():
        return _page(form, ExportForm(), 400, filters=None, matching=None)
    filters = form.to_filters(user)
    matching = leads.count_leads(db(), user, filters)
    return _page(form, ExportForm(), filters=filters, matching=matching)


@bp.post("/exports")
@head_office_required
def exports_start() -> ResponseReturnValue:
    user = _user()
    form = filter_form(user)
    export_form = ExportForm()
    if not form.validate():
        return _page(form, export_form, 400, filters=None, matching=None)
    filters = form.to_filters(user)
    if not export_form.validate():
        matching = leads.count_leads(db(), user, filters)
        return _page(form, export_form, 400, filters=filters, matching=matching)
    fmt, scope = export_form.fmt.data, export_form.scope.data
    if fmt == "xlsx":
        job = export_jobs.create_job(db(), user, fmt, scope, filters, ip=request.remote_addr)
        db().commit()
        export_jobs.start(database(), protector(), job.id, export_folder())
        return redirect(url_for("admin.export_job", job_id=job.id))
    return _stream_csv(user, filters, scope)


def _stream_csv(user: StaffUser, filters: leads.LeadFilters, scope: str) -> Response:
    parts = exports.plan_parts(db(), user, filters, scope)
    total = sum(p.rows for p in parts)
    ctx = exports.context_for(db(), bool(user.can_reveal), protector())
    # Recorded before the first byte, with the expected row count: a stream has no "after".
    audit.record(
        db(),
        user,
        "export",
        target=f"csv:{scope}",
        detail={
            "format": "csv",
            "scope": scope,
            "filters": filters.to_dict(),
            "rows": total,
            "full_personal_data": ctx.reveal,
        },
        ip=request.remote_addr,
    )
    db().commit()
    source = database()

    def generate() -> Any:
        # Its own read session: the request's write session must not hold SQLite's lock.
        session = source.session(write=False)
        try:
            if scope == "all":
                yield from exports.zip_csv_bytes(
                    parts, lambda part: exports.iter_rows(session, user, part.filters, ctx)
                )
            else:
                yield from exports.csv_bytes(exports.iter_rows(session, user, filters, ctx))
        finally:
            session.close()

    stamp = datetime.now(CHINA).strftime("%Y%m%d-%H%M")
    name = f"leads-{stamp}.zip" if scope == "all" else f"leads-{stamp}.csv"
    # content_type, not mimetype: Werkzeug appends "; charset=utf-8" to a text/* mimetype.
    content_type = "application/zip" if scope == "all" else "text/csv; charset=utf-8"
    response = Response(stream_with_context(generate()), content_type=content_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@bp.get("/exports/jobs/<int:job_id>")
@head_office_required
def export_job(job_id: int) -> ResponseReturnValue:
    job = export_jobs.job_for(db(), _user(), job_id)
    if job is None:
        abort(404)
    return render_template("admin/export_job.html", job=job)


@bp.get("/exports/jobs/<int:job_id>/download")
@head_office_required
def export_download(job_id: int) -> ResponseReturnValue:
    job = export_jobs.job_for(db(), _user(), job_id)
    if job is None or job.status != "done" or not job.file_path:
        abort(404)
    path = Path(job.file_path).resolve()
    if path.parent != export_folder().resolve() or not path.is_file():
        abort(404)  # purged after a day, or written on another host (see README)
    mimetype = (
        "application/zip"
        if path.suffix == ".zip"
        else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    response = send_file(
        path, mimetype=mimetype, as_attachment=True, download_name=job.file_name, max_age=0
    )
    return response
