"""Background XLSX exports: an ExportJob row, a thread that builds the file, progress.

xlsxwriter can only produce the file once the workbook is closed, so an XLSX of
a million leads cannot stream; building it inside the request would outlive
gunicorn's worker timeout. A task on the queue (quiz.tasks, run by `quiz worker`) writes
it to the export folder and updates the job row that the progress page polls.
"""

from __future__ import annotations

import logging
import os
import secrets
import tempfile
import time
import zipfile
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from quiz.db import Database, utcnow
from quiz.leads import exports
from quiz.leads.service import LeadFilters
from quiz.models import ExportJob, StaffUser
from quiz.privacy.protection import Protector, private_dir
from quiz.staff import audit

log = logging.getLogger("quiz.exports")
KEEP_FILES = timedelta(days=1)
PROGRESS_EVERY = 5000


class ExportError(Exception):
    """A refused export; str(exc) is the Chinese message."""


def create_job(
    session: Session,
    user: StaffUser,
    fmt: str,
    scope: str,
    filters: LeadFilters,
    ip: str | None = None,
) -> ExportJob:
    """Record a pending job with its expected row count, and audit the export."""
    if fmt != "xlsx":
        raise ExportError("后台导出仅支持 Excel(XLSX)格式。")
    if scope not in ("branch", "all"):
        raise ExportError("导出范围无效。")
    parts = exports.plan_parts(session, user, filters, scope)
    total = sum(p.rows for p in parts)
    job = ExportJob(
        staff_id=user.id,
        format=fmt,
        scope=scope,
        filters=filters.to_dict(),
        reveal=bool(user.can_reveal),
        status="pending",
        total=total,
    )
    session.add(job)
    session.flush()
    audit.record(
        session,
        user,
        "export",
        target=f"export_job:{job.id}",
        detail={
            "format": fmt,
            "scope": scope,
            "filters": filters.to_dict(),
            "rows": total,
            "full_personal_data": job.reveal,
        },
        ip=ip,
    )
    return job


def job_for(session: Session, user: StaffUser, job_id: int) -> ExportJob | None:
    """A job the user started (others' jobs are invisible, even to head office)."""
    return session.scalars(
        select(ExportJob).where(ExportJob.id == job_id, ExportJob.staff_id == user.id)
    ).first()


def recent_jobs(session: Session, user: StaffUser, limit: int = 10) -> list[ExportJob]:
    """The user's latest jobs."""
    return list(
        session.scalars(
            select(ExportJob)
            .where(ExportJob.staff_id == user.id)
            .order_by(ExportJob.id.desc())
            .limit(limit)
        )
    )


def _progress(database: Database, job_id: int, done: int) -> None:
    # A short write transaction of its own: the export's read never holds SQLite's write lock.
    with database.transaction(write=True) as session:
        job = session.get(ExportJob, job_id)
        if job is not None:
            job.rows_done = done


def run_job(database: Database, protector: Protector, job_id: int, folder: Path) -> None:
    """Build the job's file; record done/failed. Never raises (it runs as a queued task)."""
    try:
        with database.transaction(write=True) as session:
            job = session.get(ExportJob, job_id)
            if job is None or job.status != "pending":
                return
            job.status = "running"
            user = session.get(StaffUser, job.staff_id)
            scope, filters = job.scope, LeadFilters.from_dict(job.filters)
            reveal = job.reveal
        if user is None:
            raise ExportError("导出用户不存在。")
        private_dir(folder, tighten=True)  # exports hold personal data: owner only
        purge_old_files(folder)
        fail_abandoned_jobs(database)
        suffix = "zip" if scope == "all" else "xlsx"
        final = folder / f"export-{job_id}-{secrets.token_hex(8)}.{suffix}"
        with database.transaction(write=False) as session:
            download = exports.file_name(session, user, filters, suffix)
        done = _build(database, protector, user, reveal, scope, filters, final, job_id)
        with database.transaction(write=True) as session:
            job = session.get(ExportJob, job_id)
            assert job is not None
            job.status, job.rows_done, job.finished_at = "done", done, utcnow()
            job.file_path, job.file_name = str(final), download
    except Exception as exc:
        log.exception("export job %s failed", job_id)
        with database.transaction(write=True) as session:
            job = session.get(ExportJob, job_id)
            if job is not None:
                job.status, job.finished_at = "failed", utcnow()
                job.error = str(exc)[:500] if isinstance(exc, ExportError) else "导出失败,请重试。"


def _build(
    database: Database,
    protector: Protector,
    user: StaffUser,
    reveal: bool,
    scope: str,
    filters: LeadFilters,
    final: Path,
    job_id: int,
) -> int:
    """Write the XLSX (or a ZIP of one XLSX per branch) to a temp name, then move it in place."""
    session = database.session(write=False)
    try:
        ctx = exports.context_for(session, reveal, protector, filters.campaign_id)
        parts = exports.plan_parts(session, user, filters, scope)
        # Under the export- prefix, so that purge_old_files also removes what a worker
        # killed mid-export (a restart, max_requests) left behind: it holds personal data.
        prefix = f"export-{job_id}-"
        fd, tmp = tempfile.mkstemp(dir=final.parent, prefix=prefix, suffix=".part")
        os.close(fd)
        base = 0

        def progress(n: int) -> None:
            _progress(database, job_id, base + n)

        try:
            if scope != "all":
                base += exports.write_xlsx(
                    tmp,
                    exports.iter_rows(session, user, parts[0].filters, ctx),
                    progress,
                    headers=ctx.headers,
                )
            else:
                # XLSX is already deflated: store the members as they are.
                with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as archive:
                    for part in parts:
                        fd, member = tempfile.mkstemp(
                            dir=final.parent, prefix=prefix, suffix=".xlsx.part"
                        )
                        os.close(fd)
                        try:
                            base += exports.write_xlsx(
                                member,
                                exports.iter_rows(session, user, part.filters, ctx),
                                progress,
                                headers=ctx.headers,
                            )
                            archive.write(member, f"{part.name}.xlsx")
                        finally:
                            os.unlink(member)
                        progress(0)
            os.replace(tmp, final)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return base
    finally:
        session.close()


def purge_old_files(folder: Path, keep: timedelta = KEEP_FILES) -> None:
    """Delete export files older than `keep`: they hold personal data."""
    cutoff = time.time() - keep.total_seconds()
    for path in folder.glob("export-*"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
        except FileNotFoundError:
            continue


ABANDONED_MESSAGE = "导出未完成(服务曾重启),请重新导出。"


def fail_abandoned_jobs(database: Database, older_than: timedelta = KEEP_FILES) -> int:
    """Mark jobs still pending or running after `older_than` as failed: a queued job is run
    within minutes, so one this old lost its task (a queue storage wiped, a worker killed
    mid-build), and its progress page would otherwise spin forever.
    An export of every lead takes minutes, so a day-old job is certainly gone."""
    cutoff = utcnow() - older_than
    with database.transaction(write=True) as session:
        stale = session.scalars(
            select(ExportJob).where(
                ExportJob.status.in_(("pending", "running")), ExportJob.created_at < cutoff
            )
        ).all()
        for job in stale:
            job.status, job.finished_at, job.error = "failed", utcnow(), ABANDONED_MESSAGE
    return len(stale)
