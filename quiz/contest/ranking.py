"""Contest ranking: per group by score, then time used, then the time the paper closed;
a branch table per group; the staff scoreboard that freezes before the end (as CTFd's
freeze: papers closed after the freeze time stay off the board until the end); award
tiers per group and the branch award once the results are final.

Only closed papers rank (submitted, or past their deadline: computed here, on read).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from quiz.campaign.contest_spec import award_slots, group_names
from quiz.db import utcnow
from quiz.models import Branch, Campaign, Contestant, ContestPaper


@dataclass(frozen=True)
class Board:
    """Which papers a board shows: `state` is live, frozen or final; papers closed at
    `cutoff` or before rank."""

    state: str
    cutoff: datetime
    freeze_at: datetime


def board_at(campaign: Campaign, now: datetime | None = None) -> Board:
    now = now or utcnow()
    settings = campaign.content.get("contest") or {}
    freeze_at = campaign.closes_at - timedelta(minutes=int(settings.get("freeze_minutes", 0)))
    if now >= campaign.closes_at:
        return Board("final", campaign.closes_at, freeze_at)
    if now >= freeze_at:
        return Board("frozen", freeze_at, freeze_at)
    return Board("live", now, freeze_at)


@dataclass(frozen=True)
class Ranked:
    group_code: str
    rank: int
    contestant_id: int
    staff_no: str
    name: str
    branch_id: int
    branch_code: str
    branch_name: str
    score: int
    max_score: int
    seconds: float
    finished_at: datetime
    visibility_changes: int
    award: str | None


def _finished(submitted: datetime | None, deadline: datetime) -> datetime:
    return deadline if submitted is None else min(submitted, deadline)


def ranking(
    session: Session, campaign: Campaign, *, now: datetime | None = None, board: Board | None = None
) -> dict[str, list[Ranked]]:
    """Each group's ranked papers (group code -> rows, best first), as the board shows."""
    now = now or utcnow()
    board = board or board_at(campaign, now)
    settings = campaign.content.get("contest") or {}
    slots = award_slots(settings.get("awards", [])) if board.state == "final" else []
    rows = session.execute(
        select(
            ContestPaper.group_code,
            ContestPaper.started_at,
            ContestPaper.deadline_at,
            ContestPaper.submitted_at,
            ContestPaper.score,
            ContestPaper.max_score,
            ContestPaper.visibility_changes,
            Contestant.id.label("contestant_id"),
            Contestant.staff_no,
            Contestant.name.label("contestant_name"),
            Branch.id.label("branch_id"),
            Branch.code.label("branch_code"),
            Branch.name.label("branch_name"),
        )
        .join(Contestant, Contestant.id == ContestPaper.contestant_id)
        .join(Branch, Branch.id == Contestant.branch_id)
        .where(ContestPaper.campaign_id == campaign.id)
    ).all()
    by_group: dict[str, list[tuple[Any, ...]]] = {code: [] for code in group_names(settings)}
    for r in rows:
        finished = _finished(r.submitted_at, r.deadline_at)
        if finished > board.cutoff or (r.submitted_at is None and r.deadline_at > now):
            continue  # still open, or closed after the freeze
        seconds = (finished - r.started_at).total_seconds()
        by_group.setdefault(r.group_code, []).append((r, finished, seconds))
    result: dict[str, list[Ranked]] = {}
    for code, entries in by_group.items():
        entries.sort(key=lambda e: (-e[0].score, e[2], e[1], e[0].staff_no))
        result[code] = [
            Ranked(
                code,
                n,
                r.contestant_id,
                r.staff_no,
                r.contestant_name,
                r.branch_id,
                r.branch_code,
                r.branch_name,
                r.score,
                r.max_score,
                seconds,
                finished,
                r.visibility_changes,
                slots[n - 1] if n <= len(slots) else None,
            )
            for n, (r, finished, seconds) in enumerate(entries, start=1)
        ]
    return result


@dataclass(frozen=True)
class BranchRow:
    group_code: str
    rank: int
    branch_id: int
    branch_code: str
    branch_name: str
    roster: int
    took_part: int
    rate: float  # 0..1
    average: float  # average score of the branch's ranked papers
    index: float  # the weighted figure the branches rank by (0..100)
    award: bool


def branch_table(
    session: Session,
    campaign: Campaign,
    ranked: Mapping[str, list[Ranked]],
    *,
    final: bool,
) -> dict[str, list[BranchRow]]:
    """Per group: each branch's participation (papers on the board ÷ roster), average
    score and the weighted index (weights from the campaign file); the best
    `branch_awards` branches get the branch award once the results are final."""
    settings = campaign.content.get("contest") or {}
    weights = settings.get("branch_weights", {"participation": 50, "average": 50})
    awards = int(settings.get("branch_awards", 0)) if final else 0
    roster = session.execute(
        select(Contestant.group_code, Branch.id, Branch.code, Branch.name, func.count())
        .join(Branch, Branch.id == Contestant.branch_id)
        .where(Contestant.campaign_id == campaign.id)
        .group_by(Contestant.group_code, Branch.id, Branch.code, Branch.name)
    ).all()
    tables: dict[str, list[BranchRow]] = {}
    for code in group_names(settings):
        papers = ranked.get(code, [])
        rows = []
        for group_code, branch_id, branch_code, branch_name, count in roster:
            if group_code != code:
                continue
            mine = [p for p in papers if p.branch_id == branch_id]
            rate = len(mine) / count if count else 0.0
            average = sum(p.score for p in mine) / len(mine) if mine else 0.0
            max_score = max((p.max_score for p in mine), default=0)
            share = average / max_score if max_score else 0.0
            index = weights["participation"] * rate + weights["average"] * share
            rows.append(
                (branch_id, branch_code, branch_name, int(count), len(mine), rate, average, index)
            )
        rows.sort(key=lambda r: (-r[7], -r[5], r[1]))
        tables[code] = [
            BranchRow(code, n, *r, award=n <= awards and r[4] > 0)
            for n, r in enumerate(rows, start=1)
        ]
    return tables


def results_tsv_rows(
    campaign: Campaign, ranked: Mapping[str, list[Ranked]]
) -> list[tuple[str, ...]]:
    """`quiz contest results`: group, rank, 工号, 姓名, 机构代码, score, seconds."""
    names = group_names(campaign.content.get("contest") or {})
    return [
        (
            names.get(code, code),
            str(r.rank),
            r.staff_no,
            r.name,
            r.branch_code,
            str(r.score),
            f"{r.seconds:.1f}",
        )
        for code, rows in ranked.items()
        for r in rows
    ]
