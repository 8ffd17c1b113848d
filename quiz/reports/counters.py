"""Daily funnel counters: campaign-page visits (batched per process) and consents.

A consent is counted inside its own request's write transaction. Visits are not worth
a write each: every cookie-less GET / took SQLite's write lock for its upsert, so a
loop of plain GETs queued every registration behind it. Each process adds its visits
up in memory (VisitBatch) and writes them in one transaction at most every
QUIZ_VISIT_FLUSH_SECONDS (and when the worker exits); a worker killed outright loses
at most that many seconds of its visits.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from collections import Counter
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from quiz.db import Database
from quiz.models import DailyCounter

CHINA = ZoneInfo("Asia/Shanghai")
log = logging.getLogger("quiz.counters")


def today_in_china(now: datetime | None = None) -> date:
    """The campaign's calendar day (Asia/Shanghai)."""
    return (now or datetime.now(CHINA)).astimezone(CHINA).date()


def _upsert(dialect: Any) -> Any:
    table = DailyCounter.__table__
    stmt = dialect.insert(table).values(
        day=bindparam("on_day", type_=table.c.day.type),
        metric=bindparam("of_metric", type_=table.c.metric.type),
        count=1,
    )
    return stmt.on_conflict_do_update(
        index_elements=[table.c.day, table.c.metric], set_={"count": table.c.count + 1}
    )


# Built once per dialect (two of these run for every participant): each statement keeps
# its SQL cache key, so no request rebuilds or re-hashes it.
_UPSERTS = {"postgresql": _upsert(postgresql), "sqlite": _upsert(sqlite)}


def of_campaign(metric: str, campaign_id: int) -> str:
    """The counter name of `metric` for one campaign ("visit:12"): several campaigns are
    live on the same days, and each funnel counts its own. Rows named by the bare metric
    were written before there were several (see stats.funnel_counters)."""
    return f"{metric}:{campaign_id}"


def bump(session: Session, metric: str, day: date | None = None) -> None:
    """Add one to a counter inside the caller's (write) transaction."""
    upsert = _UPSERTS[session.get_bind().dialect.name]
    session.execute(upsert, {"on_day": day or today_in_china(), "of_metric": metric})


def _add(dialect: Any) -> Any:
    table = DailyCounter.__table__
    stmt = dialect.insert(table).values(
        day=bindparam("on_day", type_=table.c.day.type),
        metric=bindparam("of_metric", type_=table.c.metric.type),
        count=bindparam("by", type_=table.c.count.type),
    )
    return stmt.on_conflict_do_update(
        index_elements=[table.c.day, table.c.metric],
        set_={"count": table.c.count + stmt.excluded.count},
    )


_ADDS = {"postgresql": _add(postgresql), "sqlite": _add(sqlite)}
_batches: weakref.WeakSet[VisitBatch] = weakref.WeakSet()


class VisitBatch:
    """Counts added up in this process, written at most every `interval` seconds."""

    def __init__(self, database: Database, interval: float) -> None:
        self.database = database
        self.interval = interval
        self._lock = threading.Lock()
        self._pending: Counter[tuple[date, str]] = Counter()
        self._last = time.monotonic()
        _batches.add(self)

    def add(self, metric: str, day: date | None = None) -> None:
        """Count one; write the batch when the interval has passed (never fails the page).

        Call it before the request's own session has begun, or SQLite's single writer
        lock would make the two transactions wait on each other.
        """
        now = time.monotonic()
        with self._lock:
            self._pending[(day or today_in_china(), metric)] += 1
            due = now - self._last >= self.interval
        if due:
            self.flush()

    def flush(self) -> None:
        """Write what this process has counted, in one short transaction."""
        with self._lock:
            pending, self._pending = self._pending, Counter()
            self._last = time.monotonic()
        if not pending:
            return
        try:
            with self.database.transaction(write=True) as session:
                add = _ADDS[session.get_bind().dialect.name]
                session.execute(
                    add,
                    [{"on_day": d, "of_metric": m, "by": n} for (d, m), n in pending.items()],
                )
        except SQLAlchemyError:
            log.warning("counters %s not written; kept for the next try", dict(pending))
            with self._lock:
                self._pending.update(pending)


def flush_all() -> None:
    """Write every batch of this process (worker exit, interpreter exit)."""
    for batch in list(_batches):
        batch.flush()


atexit.register(flush_all)


def totals(session_factory: Database) -> dict[str, int]:
    """Sum of every counter over all days."""
    with session_factory.transaction(write=False) as session:
        rows = session.execute(select(DailyCounter.metric, DailyCounter.count)).all()
    out: dict[str, int] = {}
    for metric, count in rows:
        out[metric] = out.get(metric, 0) + int(count)
    return out
