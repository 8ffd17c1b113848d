"""Intent answers counted per campaign, Beijing day, branch, question and option.

The dashboard shows every intent question's answers, overall and per branch, for a
period. Reading each entry's JSON answers took 1.6 s at 100,000 entries; these counters
(models.IntentCount) hold the same figures in a few thousand rows.

They stay exact because every change that moves an entry's figures writes them in the
same transaction, with an atomic upsert (count = count + n), so concurrent writers
never lose an increment:

- an entry completes (engine.sheets._finish): +1 for each option chosen, and +1 on the
  question's "" row (it answered);
- a lead changes branch (branches.routing: placed, assigned, re-routed): the old
  branch's rows -1, the new branch's +1. The moved rows are read FOR UPDATE first, so a
  finish running at the same time is counted under one branch only.

Rows are written in key order: on PostgreSQL two transactions then take the counter
rows' locks in the same order and cannot deadlock.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, delete, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from quiz.models import IntentCount, Participant

CHINA = ZoneInfo("Asia/Shanghai")
ANSWERED = ""  # the option value of a question's "answered it" row
NO_BRANCH = 0  # IntentCount.branch_id of entries without a branch

Key = tuple[int, date, int, str, str]  # campaign_id, day, branch_id, question_key, option


def _add(dialect: Any) -> Any:
    table = IntentCount.__table__
    c = table.c
    stmt = dialect.insert(table).values(
        campaign_id=bindparam("k_campaign", type_=c.campaign_id.type),
        day=bindparam("k_day", type_=c.day.type),
        branch_id=bindparam("k_branch", type_=c.branch_id.type),
        question_key=bindparam("k_question", type_=c.question_key.type),
        option=bindparam("k_option", type_=c.option.type),
        count=bindparam("by", type_=c.count.type),
    )
    return stmt.on_conflict_do_update(
        index_elements=[c.campaign_id, c.day, c.branch_id, c.question_key, c.option],
        set_={"count": c.count + stmt.excluded.count},
    )


# Built once per dialect: the statement keeps its SQL cache key across requests.
_ADDS = {"postgresql": _add(postgresql), "sqlite": _add(sqlite)}


def beijing_day(created_at: datetime) -> date:
    """The Beijing calendar day an entry registered on (its IntentCount day)."""
    if created_at.tzinfo is None:  # stored as UTC
        created_at = created_at.replace(tzinfo=ZoneInfo("UTC"))
    return created_at.astimezone(CHINA).date()


def entry_keys(
    campaign_id: int, created_at: datetime, branch_id: int | None, intent: Mapping[str, Any] | None
) -> list[Key]:
    """The counter rows one completed entry adds to."""
    if not intent:
        return []
    day = beijing_day(created_at)
    branch = branch_id if branch_id is not None else NO_BRANCH
    keys: list[Key] = []
    for question, picked in intent.items():
        options = picked if isinstance(picked, list) else [picked]
        if not options:
            continue
        keys.append((campaign_id, day, branch, str(question), ANSWERED))
        keys.extend((campaign_id, day, branch, str(question), str(o)) for o in options)
    return keys


def add(session: Session, deltas: Mapping[Key, int]) -> None:
    """Add each delta to its counter row (created at the delta when missing), in key order."""
    changes = sorted((k, n) for k, n in deltas.items() if n)
    if not changes:
        return
    session.execute(
        _ADDS[session.get_bind().dialect.name],
        [
            {
                "k_campaign": k[0],
                "k_day": k[1],
                "k_branch": k[2],
                "k_question": k[3],
                "k_option": k[4],
                "by": n,
            }
            for k, n in changes
        ],
    )


def count_completed(session: Session, participant_id: int) -> None:
    """Count a just-completed entry: call it in the transaction that completed it, after
    the UPDATE that did (which holds the row, so its branch cannot move meanwhile)."""
    p = Participant
    row = session.execute(
        select(p.campaign_id, p.created_at, p.branch_id, p.intent).where(p.id == participant_id)
    ).one()
    add(session, Counter(entry_keys(*row)))


def moving(session: Session, where: Any, new_branch_id: int | None) -> Counter[Key]:
    """The deltas that move the completed entries matching `where` to new_branch_id.

    Call it just before the UPDATE that moves them, in the same transaction: it reads
    the rows FOR UPDATE, so an entry completing meanwhile is either already counted
    (and moved here) or completes after the move (and is counted under the new branch).
    """
    p = Participant
    rows = session.execute(
        select(p.campaign_id, p.created_at, p.branch_id, p.intent)
        .where(where, p.status == "completed", p.branch_id.is_distinct_from(new_branch_id))
        .with_for_update(key_share=True)  # FOR NO KEY UPDATE, see entry_counts.move
    )
    deltas: Counter[Key] = Counter()
    for campaign_id, created_at, old_branch, intent in rows:
        for key in entry_keys(campaign_id, created_at, old_branch, intent):
            deltas[key] -= 1
        for key in entry_keys(campaign_id, created_at, new_branch_id, intent):
            deltas[key] += 1
    return deltas


def move(session: Session, where: Any, new_branch_id: int | None) -> None:
    """moving() applied: call it before the UPDATE of the entries' branch."""
    add(session, moving(session, where, new_branch_id))


def recount(
    rows: Iterable[tuple[int, datetime, int | None, Mapping[str, Any] | None]],
) -> Counter[Key]:
    """Every counter from (campaign_id, created_at, branch_id, intent) rows of completed
    entries: the backfill, and the reference the tests compare the counters with."""
    total: Counter[Key] = Counter()
    for row in rows:
        total.update(entry_keys(*row))
    return total


def stored(session: Session, campaign_id: int) -> Counter[Key]:
    """The campaign's counter rows as they are (zeros left out)."""
    c = IntentCount
    rows = session.execute(
        select(c.campaign_id, c.day, c.branch_id, c.question_key, c.option, c.count).where(
            c.campaign_id == campaign_id, c.count != 0
        )
    )
    return Counter({tuple(r[:5]): int(r[5]) for r in rows})  # type: ignore[misc]


def recounted(session: Session, campaign_id: int) -> Counter[Key]:
    """What the campaign's counters should hold, read from every completed entry."""
    p = Participant
    rows = session.execute(
        select(p.campaign_id, p.created_at, p.branch_id, p.intent).where(
            p.campaign_id == campaign_id, p.status == "completed"
        )
    )
    return recount(rows)  # type: ignore[arg-type]


def rebuild(session: Session, campaign_id: int) -> int:
    """Replace a campaign's counters with a recount of its completed entries; the number
    of rows written. For data changed outside the app's own paths (a repair, a test)."""
    if session.get_bind().dialect.name == "postgresql":
        # Finishes and moves wait until this commits: none is lost or counted twice.
        session.execute(text("LOCK TABLE intent_count IN EXCLUSIVE MODE"))
    session.execute(delete(IntentCount).where(IntentCount.campaign_id == campaign_id))
    fresh = recounted(session, campaign_id)
    add(session, fresh)
    return len(fresh)
