"""Huey, configured per app, and the tasks it runs.

Jobs are kept in the queue's storage, not in a web worker's thread: a restart or a second
host strands nothing. The storage is SqliteHuey in the instance folder by default (one
machine; `quiz serve` starts the consumer beside gunicorn) and RedisHuey when
QUIZ_QUEUE_URL (or, failing that, RATELIMIT_STORAGE_URI) names a Redis, so every web host
and every `quiz worker` share one queue. "immediate" runs each task inside the call that
enqueues it (unit tests of task bodies only).

Tasks are closures over the app's Database and Protector: the consumer (`quiz worker`)
builds the same app from the same settings, so it registers the same task names.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from huey import Huey, MemoryHuey, RedisHuey, SqliteHuey, crontab

from quiz.clock import CHINA
from quiz.db import Database
from quiz.digest import service as digest
from quiz.leads import export_jobs
from quiz.privacy.protection import Protector
from quiz.referrals import import_jobs
from quiz.webhooks import service as webhooks

log = logging.getLogger("quiz.tasks")
IMMEDIATE = "immediate"
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


class QueueConfigError(ValueError):
    """QUIZ_QUEUE_URL names no storage this queue knows."""


def queue_url(configured: str | None, ratelimit_storage: str, instance_path: str) -> str:
    """The queue storage: QUIZ_QUEUE_URL, else the rate limiter's Redis, else SQLite in the
    instance folder."""
    if configured:
        return configured
    if ratelimit_storage.startswith(REDIS_SCHEMES):
        return ratelimit_storage
    return f"sqlite:///{Path(instance_path) / 'queue.sqlite3'}"


def make_huey(url: str, name: str = "quiz") -> Huey:
    """The Huey of a storage URL; `name` keeps two sites sharing one Redis apart."""
    # results=False: no task returns anything anyone reads; nothing piles up in storage.
    if url == IMMEDIATE:
        return MemoryHuey(name, results=False, immediate=True)
    if url.startswith(REDIS_SCHEMES):
        return RedisHuey(name, results=False, url=url)
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        return SqliteHuey(name, results=False, filename=str(path))
    raise QueueConfigError(
        f"QUIZ_QUEUE_URL {url!r}: use redis://host:6379/1, sqlite:///path or immediate"
    )


@dataclass
class TaskQueue:
    """The app's queue: enqueue from views and commands, consume in `quiz worker`."""

    huey: Huey
    database: Database
    protector: Protector
    delivery: webhooks.DeliverySettings = field(default_factory=webhooks.DeliverySettings)
    smtp: digest.SmtpSettings | None = None

    def __post_init__(self) -> None:
        huey, database, protector = self.huey, self.database, self.protector

        @huey.task(name="export")
        def export(job_id: int, folder: str) -> None:
            export_jobs.run_job(database, protector, job_id, Path(folder))

        @huey.task(name="import_agents")
        def import_agents(
            job_id: int,
            rows: Sequence[tuple[int, dict[str, str]]],
            hash_mobiles: bool,
            only_branch_id: int | None,
            ip: str | None,
        ) -> None:
            import_jobs.run_agents_job(
                database,
                job_id,
                rows,
                hash_mobile=(lambda m: protector.lookup_hash("mobile", m))
                if hash_mobiles
                else None,
                only_branch_id=only_branch_id,
                ip=ip,
            )

        @huey.task(name="deliver_webhooks")
        def deliver(only: int | None = None) -> None:
            result = webhooks.deliver_due(database, protector, self.delivery, only=only)
            # Each failed send is retried by its own scheduled task at its back-off time;
            # the minute sweep below catches any whose schedule was lost.
            for delivery_id, wait in result.retries or ():
                deliver.schedule(args=(delivery_id,), delay=wait)
            if only is None and result.claimed_elsewhere_for is not None:
                # Rows claimed by a worker that may have died: look again when claims expire.
                deliver.schedule(delay=result.claimed_elsewhere_for)

        @huey.periodic_task(crontab(minute="*"), name="sweep_webhooks")
        def sweep() -> None:
            deliver.call_local()

        # 00:30 UTC is 08:30 in Beijing: yesterday's digest reaches branches before work.
        @huey.periodic_task(crontab(hour="0", minute="30"), name="daily_digest")
        def daily_digest() -> None:
            self.send_digests()

        self._export, self._import, self._deliver = export, import_agents, deliver

    def export(self, job_id: int, folder: Path) -> None:
        """Build an export job's file (call after the job row is committed)."""
        self._export(job_id, str(folder))

    def import_agents(
        self,
        job_id: int,
        rows: Sequence[tuple[int, dict[str, str]]],
        *,
        hash_mobiles: bool,
        only_branch_id: int | None,
        ip: str | None,
    ) -> None:
        """Check and write an agents file (call after the job row is committed)."""
        self._import(job_id, list(rows), hash_mobiles, only_branch_id, ip)

    def deliver_webhooks(self, only: int | None = None) -> None:
        """Send the due outbox rows now (after a commit that recorded events)."""
        self._deliver(only)

    def send_digests(self, day: date | None = None) -> int:
        """Each branch's digest of `day` (default: yesterday in Beijing); sent count."""
        if self.smtp is None:
            log.info("QUIZ_SMTP_HOST is not set: no daily digest")
            return 0
        day = day or datetime.now(CHINA).date() - timedelta(days=1)
        with self.database.transaction(write=False) as session:
            mails = [
                mail
                for campaign in digest.campaigns_running(session, day)
                for mail in digest.build(session, campaign, day)
            ]
        return digest.send(mails, self.smtp)

    def consumer(self, workers: int = 2, **options: Any) -> Any:
        """A Huey consumer over this queue (threads: the tasks wait on I/O and SQL)."""
        # Poll an idle queue at least every 2 s (Huey's default backs off to 10 s): a
        # retry due in a second should not wait ten. One indexed read per poll.
        options.setdefault("max_delay", 2.0)
        return self.huey.create_consumer(workers=workers, worker_type="thread", **options)
