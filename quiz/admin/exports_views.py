"""Lead exports: streamed CSV (or ZIP of CSVs), background XLSX jobs. Branch staff export
their own branch's leads (apply_filters scopes every query); the ZIP by branch is head
office's."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

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

from quiz.admin import bp
from quiz.admin.access import any_staff, current_staff, scoped_staff
from quiz.admin.lead_forms import ExportForm
from quiz.admin.leads_views import _mobile_hash, filter_form, list_args
from quiz.leads import export_jobs, exports
from quiz.leads import service as leads
from quiz.leads.scope import HEAD_OFFICE
from quiz.models import StaffUser
from quiz.staff import audit
from quiz.web.queue import task_queue
from quiz.web.request import database, db, protector


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
    filters = extra.get("filters")
    if filters is not None:
        extra["args"] = list_args(form, filters)
        extra["words"] = leads.describe_filters(db(), filters.to_dict())
    return render_template(
        "admin/exports.html",
        form=form,
        export_form=export_form,
        jobs=[
            (j, leads.describe_filters(db(), j.filters))
            for j in export_jobs.recent_jobs(db(), user)
        ],
        head_office=user.role in HEAD_OFFICE,
        **extra,
    ), status


@bp.get("/exports")
@scoped_staff
def exports_page() -> ResponseReturnValue:
    user = _user()
    form = filter_form(user)
    if not form.validate():
        return _page(form, ExportForm(), 400, filters=None, matching=None)
    filters = form.to_filters(user, _mobile_hash)
    matching = leads.count_leads(db(), user, filters)
    return _page(form, ExportForm(), filters=filters, matching=matching)


@bp.post("/exports")
@scoped_staff
def exports_start() -> ResponseReturnValue:
    user = _user()
    form = filter_form(user)
    export_form = ExportForm()
    if not form.validate():
        return _page(form, export_form, 400, filters=None, matching=None)
    filters = form.to_filters(user, _mobile_hash)
    if not export_form.validate():
        matching = leads.count_leads(db(), user, filters)
        return _page(form, export_form, 400, filters=filters, matching=matching)
    fmt, scope = export_form.fmt.data, export_form.scope.data
    if user.role not in HEAD_OFFICE:
        scope = "branch"  # one branch: one file
    if fmt == "xlsx":
        job = export_jobs.create_job(db(), user, fmt, scope, filters, ip=request.remote_addr)
        db().commit()
        task_queue().export(job.id, export_folder())
        return redirect(url_for("admin.export_job", job_id=job.id))
    return _stream_csv(user, filters, scope)


def _stream_csv(user: StaffUser, filters: leads.LeadFilters, scope: str) -> Response:
    parts = exports.plan_parts(db(), user, filters, scope)
    total = sum(p.rows for p in parts)
    ctx = exports.context_for(db(), bool(user.can_reveal), protector(), filters.campaign_id)
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
                    parts,
                    lambda part: exports.iter_rows(session, user, part.filters, ctx),
                    ctx.headers,
                )
            else:
                rows = exports.iter_rows(session, user, filters, ctx)
                yield from exports.csv_bytes(rows, ctx.headers)
        finally:
            session.close()

    name = exports.file_name(db(), user, filters, "zip" if scope == "all" else "csv")
    # content_type, not mimetype: Werkzeug appends "; charset=utf-8" to a text/* mimetype.
    content_type = "application/zip" if scope == "all" else "text/csv; charset=utf-8"
    response = Response(stream_with_context(generate()), content_type=content_type)
    # RFC 6266/5987: the Chinese name, with an ASCII one for clients that ignore filename*.
    fallback = "leads." + name.rsplit(".", 1)[-1]
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name)}"
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/exports/jobs/<int:job_id>")
@any_staff
def export_job(job_id: int) -> ResponseReturnValue:
    job = export_jobs.job_for(db(), _user(), job_id)
    if job is None:
        abort(404)
    words = leads.describe_filters(db(), job.filters)
    return render_template("admin/export_job.html", job=job, words=words)


@bp.get("/exports/jobs/<int:job_id>/download")
@any_staff
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
