"""Entries counted for the dashboard: per branch and status, per province, per score,
each per Beijing day of registration (models.BranchCount, ProvinceCount, ScoreCount).

Grouping a million entries took seconds on every dashboard view; these tables hold the
same figures in a few thousand rows. They stay exact because every change of a counted
column writes its counters in the same transaction, with an atomic upsert
(count = count + n), so concurrent writers never lose an increment:

- an entry is saved (entry.signup.save_registration): +1;
- it completes (engine.sheets._finish): its status row moves, and its score is counted;
- its follow-up status changes (leads.service.record_follow_up), it is placed in a
  province (branches.routing.place_lead) or changes branch (assigned, re-routed): move().

move() reads the rows FOR UPDATE before the change, so two staff changing one lead at the
same time each move it from the status the other left. Rows are written in key order, so
two transactions take the counter rows' locks in one order and cannot deadlock.
The intent answers have their own counters (intent_counts), moved here with the branch.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any, NamedTuple

from sqlalchemy import bindparam, delete, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from quiz.engine import intent_counts
from quiz.engine.intent_counts import NO_BRANCH, beijing_day
from quiz.models import BranchCount, Participant, ProvinceCount, ScoreCount

NO_PROVINCE = ""  # ProvinceCount.province_code of an address no province was found in
_TABLES = {t.__tablename__: t for t in (BranchCount, ProvinceCount, ScoreCount)}


class Dims(NamedTuple):
    """What the counters count an entry by."""

    campaign_id: int
    branch_id: int
    status: str
    follow_up_status: str
    province_code: str
    score: int
    day: date


TallyKey = tuple[str, tuple[Any, ...]]  # table name, its primary key's values


def dims(
    campaign_id: int,
    branch_id: int | None,
    status: str,
    follow_up_status: str,
    province_code: str | None,
    score: int | None,
    created_at: datetime,
) -> Dims:
    return Dims(
        campaign_id,
        branch_id if branch_id is not None else NO_BRANCH,
        status,
        follow_up_status,
        province_code or NO_PROVINCE,
        int(score or 0),
        beijing_day(created_at),
    )


_P = Participant
_DIMS = (
    _P.campaign_id,
    _P.branch_id,
    _P.status,
    _P.follow_up_status,
    _P.province_code,
    _P.score,
    _P.created_at,
)


def keys(d: Dims) -> list[TallyKey]:
    """The counter rows one entry is in (the score only once it completed)."""
    out: list[TallyKey] = [
        ("branch_count", (d.campaign_id, d.branch_id, d.status, d.follow_up_status, d.day)),
        ("province_count", (d.campaign_id, d.province_code, d.day)),
    ]
    if d.status == "completed":
        out.append(("score_count", (d.campaign_id, d.score, d.day)))
    return out


def changes(before: Iterable[Dims], after: Iterable[Dims]) -> Counter[TallyKey]:
    """-1 on each row the entries were in, +1 on each they are in now (equal rows cancel)."""
    delta: Counter[TallyKey] = Counter()
    for d in before:
        for key in keys(d):
            delta[key] -= 1
    for d in after:
        for key in keys(d):
            delta[key] += 1
    return delta


def _add(dialect: Any, table: Any) -> Any:
    pk = [c for c in table.primary_key.columns]
    stmt = dialect.insert(table).values(
        {c.name: bindparam(f"k_{c.name}", type_=c.type) for c in pk}
        | {"count": bindparam("by", type_=table.c.count.type)}
    )
    return stmt.on_conflict_do_update(
        index_elements=pk, set_={"count": table.c.count + stmt.excluded.count}
    )


# Built once per dialect and table: each statement keeps its SQL cache key.
_ADDS = {
    (name, dialect_name): _add(dialect, model.__table__)
    for name, model in _TABLES.items()
    for dialect_name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}


def add(session: Session, delta: Mapping[TallyKey, int]) -> None:
    """Add each change to its counter row (created when missing), table by table, in key
    order."""
    dialect = session.get_bind().dialect.name
    for name in sorted(_TABLES):
        model = _TABLES[name]
        columns = [c.name for c in model.__table__.primary_key.columns]
        rows = sorted((k, n) for (t, k), n in delta.items() if t == name and n)
        if rows:
            session.execute(
                _ADDS[(name, dialect)],
                [
                    {**{f"k_{c}": v for c, v in zip(columns, k, strict=True)}, "by": n}
                    for k, n in rows
                ],
            )


def count_new(session: Session, values: Mapping[str, Any]) -> None:
    """Count an entry just inserted with these column values (status and follow-up status
    take the columns' defaults when not given)."""
    d = dims(
        values["campaign_id"],
        values.get("branch_id"),
        values.get("status") or "registered",
        values.get("follow_up_status") or "待联系",
        values.get("province_code"),
        values.get("score"),
        values["created_at"],
    )
    add(session, changes([], [d]))


def count_finished(session: Session, participant_id: int) -> None:
    """Count an entry just completed: call it in that transaction, after the UPDATE that
    completed it (which holds the row). It was counted as registered until now."""
    after = dims(*session.execute(select(*_DIMS).where(_P.id == participant_id)).one())
    add(session, changes([after._replace(status="registered")], [after]))


def move(session: Session, where: Any, **new: Any) -> None:
    """Call it just before changing the counted columns in `new` (branch_id,
    follow_up_status, province_code) of the entries matching `where`, in that transaction:
    it reads them FOR UPDATE and moves their counters (the intent answers' with the branch)."""
    # NO KEY UPDATE: the lock an UPDATE of these (non-key) columns takes anyway; it does
    # not wait on rows that only reference the entry (a follow-up being inserted).
    rows = session.execute(select(_P.id, *_DIMS).where(where).with_for_update(key_share=True)).all()
    before = [dims(*r[1:]) for r in rows]
    # A lead loaded before this lock may hold a stale value equal to the one the caller
    # sets next: the ORM would see no change and write nothing, leaving the row and its
    # counters apart. Expired, the caller's assignment is always written.
    locked = {r[0] for r in rows}
    for held in list(session.identity_map.values()):
        if isinstance(held, Participant) and held.id in locked:
            session.expire(held, list(new))
    swapped = {
        "branch_id": lambda v: v if v is not None else NO_BRANCH,
        "province_code": lambda v: v or NO_PROVINCE,
        "follow_up_status": lambda v: v,
    }
    after = [d._replace(**{k: swapped[k](v) for k, v in new.items()}) for d in before]
    add(session, changes(before, after))
    if "branch_id" in new:
        intent_counts.move(session, where, new["branch_id"])


def stored(session: Session, campaign_id: int) -> Counter[TallyKey]:
    """The campaign's counter rows as they are (zeros left out)."""
    out: Counter[TallyKey] = Counter()
    for name, model in _TABLES.items():
        pk = list(model.__table__.primary_key.columns)
        for row in session.execute(
            select(*pk, model.__table__.c.count).where(
                model.__table__.c.campaign_id == campaign_id, model.__table__.c.count != 0
            )
        ):
            out[(name, tuple(row[:-1]))] = int(row[-1])
    return out


def recounted(session: Session, campaign_id: int) -> Counter[TallyKey]:
    """What the campaign's counters should hold, read from every entry."""
    rows = session.execute(select(*_DIMS).where(_P.campaign_id == campaign_id))
    return +changes([], (dims(*r) for r in rows))


def rebuild(session: Session, campaign_id: int) -> None:
    """Replace a campaign's counters (these and the intent answers') with a recount; for
    data changed outside the app's own paths (a repair, a test)."""
    if session.get_bind().dialect.name == "postgresql":
        # Registrations, finishes and moves wait until this commits: none is lost or doubled.
        session.execute(
            text("LOCK TABLE branch_count, province_count, score_count IN EXCLUSIVE MODE")
        )
    for model in _TABLES.values():
        session.execute(delete(model).where(model.__table__.c.campaign_id == campaign_id))
    add(session, recounted(session, campaign_id))
    intent_counts.rebuild(session, campaign_id)
