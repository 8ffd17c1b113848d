"""Web imports (agents CSV) as background jobs: checked whole, then written in chunks.

One transaction for a whole file held SQLite's single write lock for as long as the
import ran: 60,000 agents kept every registration waiting until gunicorn killed the
worker after 30 s. The upload view now parses the file, records an ImportJob and
returns; a task on the queue (quiz.tasks, run by `quiz worker`) checks every row (a
bad file saves nothing), then writes IMPORT_CHUNK rows per short write transaction,
updating the job row that the progress page polls. Between two chunks any other writer
gets the lock.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from quiz.db import Database, utcnow
from quiz.models import ImportJob, StaffUser
from quiz.referrals import links as referrals
from quiz.staff import audit

log = logging.getLogger("quiz.imports")
PAUSE_BETWEEN_CHUNKS = 0.02  # seconds; 200 chunks of a 100,000-row file add 4 s

CLI_HINT = "更大的文件请由系统管理员在服务器上用命令导入:quiz referrals import-agents 文件名.csv"

AgentRows = Sequence[tuple[int, dict[str, str]]]


def create_job(session: Session, user: StaffUser, file_name: str, total: int) -> ImportJob:
    """Record a pending agents import of `total` rows (the caller commits, then starts it)."""
    job = ImportJob(
        staff_id=user.id, kind="agents", file_name=file_name[:200], status="pending", total=total
    )
    session.add(job)
    session.flush()
    return job


def job_for(session: Session, user: StaffUser, job_id: int) -> ImportJob | None:
    """A job the user started (others' jobs are invisible)."""
    return session.scalars(
        select(ImportJob).where(ImportJob.id == job_id, ImportJob.staff_id == user.id)
    ).first()


def _finish(database: Database, job_id: int, status: str, error: str | None = None) -> None:
    with database.transaction(write=True) as session:
        job = session.get(ImportJob, job_id)
        if job is not None:
            job.status = status
            job.error = error
            job.finished_at = utcnow()


def run_agents_job(
    database: Database,
    job_id: int,
    rows: AgentRows,
    *,
    hash_mobile: Callable[[str], str] | None = None,
    only_branch_id: int | None = None,
    ip: str | None = None,
    chunk: int = referrals.IMPORT_CHUNK,
) -> None:
    """Check every row without writing, then write the agents chunk by chunk."""
    try:
        with database.transaction(write=True) as session:
            job = session.get(ImportJob, job_id)
            if job is None or job.status != "pending":
                return
            job.status = "running"
        with database.transaction(write=False) as session:
            checked = referrals.check_agents(
                session, rows, hash_mobile=hash_mobile, only_branch_id=only_branch_id
            )
        for start_at in range(0, len(checked), chunk):
            part = checked[start_at : start_at + chunk]
            # One short write transaction per chunk, its progress included.
            with database.transaction(write=True) as session:
                done = referrals.write_agents(session, part)
                job = session.get(ImportJob, job_id)
                assert job is not None
                job.rows_done += len(part)
                job.created += done.created
                job.updated += done.updated
                job.links_created += done.links_created
            # Let other writers (registrations) take SQLite's write lock between chunks.
            time.sleep(PAUSE_BETWEEN_CHUNKS)
        with database.transaction(write=True) as session:
            job = session.get(ImportJob, job_id)
            assert job is not None
            job.status = "done"
            job.finished_at = utcnow()
            audit.record(
                session,
                job.staff,
                "referrals.agents_import",
                job.file_name,
                {
                    "created": job.created,
                    "updated": job.updated,
                    "links": job.links_created,
                    "job": job.id,
                },
                ip,
            )
    except referrals.ReferralError as exc:
        _finish(database, job_id, "failed", f"文件有误,没有导入任何一行。请修改后重新上传:\n{exc}")
    except Exception:
        log.exception("agents import job %s failed", job_id)
        _finish(database, job_id, "failed", "导入中断,请重新上传(已导入的行会更新,不会重复)。")
