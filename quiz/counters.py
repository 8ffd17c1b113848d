"""Daily funnel counters (campaign-page visits, consents) kept with one upsert each."""

from __future__ import annotations

import logging
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


def bump(session: Session, metric: str, day: date | None = None) -> None:
    """Add one to a counter inside the caller's (write) transaction."""
    upsert = _UPSERTS[session.get_bind().dialect.name]
    session.execute(upsert, {"on_day": day or today_in_china(), "of_metric": metric})


def bump_alone(database: Database, metric: str, day: date | None = None) -> None:
    """Add one in a short transaction of its own; a failure never breaks the page.

    Call it before the request's own session has begun, or SQLite's single
    writer lock would make the two transactions wait on each other.
    """
    try:
        with database.transaction(write=True) as session:
            bump(session, metric, day)
    except SQLAlchemyError:
        log.warning("counter %s not bumped", metric, exc_info=True)


def totals(session_factory: Database) -> dict[str, int]:
    """Sum of every counter over all days."""
    with session_factory.transaction(write=False) as session:
        rows = session.execute(select(DailyCounter.metric, DailyCounter.count)).all()
    out: dict[str, int] = {}
    for metric, count in rows:
        out[metric] = out.get(metric, 0) + int(count)
    return out
