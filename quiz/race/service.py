"""Standings of a campaign's branch race: 达成率 per group, milestone status, rewards.

The configuration is the campaign file's [race] table (quiz.campaign.race_spec), kept in
Campaign.content. Counts come from the dashboard's per-day counters (registrations,
completed entries; by Beijing day of registration) or from imported daily figures
(MetricFigure), whichever metric the campaign chose, so a standing never reads the
participants table.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from quiz.campaign.race_spec import IMPORTED_PREFIX
from quiz.models import Branch, BranchCount, Campaign, MetricFigure

DEFAULT_GROUPS = ("A组", "B组", "C组")
METRIC_LABELS = {"registrations": "注册客户", "completed": "完成答题"}


@dataclass(frozen=True)
class Milestone:
    day: date
    percent: float
    label: str = ""


@dataclass(frozen=True)
class GroupConfig:
    name: str
    branches: tuple[str, ...]
    rewards: tuple[int, ...] = ()


@dataclass(frozen=True)
class RaceConfig:
    metric: str = "registrations"
    follow_up_days: int = 7
    targets: dict[str, int] = field(default_factory=dict)
    groups: tuple[GroupConfig, ...] = ()
    milestones: tuple[Milestone, ...] = ()

    @classmethod
    def of(cls, campaign: Campaign) -> RaceConfig | None:
        """The campaign's race, or None when its file has no [race] table."""
        raw = (campaign.content or {}).get("race")
        if not raw:
            return None
        return cls(
            metric=raw.get("metric", "registrations"),
            follow_up_days=int(raw.get("follow_up_days", 7)),
            targets=dict(raw.get("targets", {})),
            groups=tuple(
                GroupConfig(g["name"], tuple(g.get("branches", ())), tuple(g.get("rewards", ())))
                for g in raw.get("groups", ())
            ),
            milestones=tuple(
                Milestone(date.fromisoformat(m["date"]), float(m["percent"]), m.get("label", ""))
                for m in raw.get("milestones", ())
            ),
        )

    @property
    def imported_metric(self) -> str | None:
        if self.metric.startswith(IMPORTED_PREFIX):
            return self.metric.removeprefix(IMPORTED_PREFIX)
        return None

    @property
    def metric_label(self) -> str:
        return self.imported_metric or METRIC_LABELS.get(self.metric, self.metric)


@dataclass
class BranchStanding:
    branch_id: int
    code: str
    name: str
    target: int | None
    count: int
    rank: int | None = None  # shared by ties (1, 1, 3); None without a target
    due_percent: float | None = None  # what the current milestone asks
    reward: int | None = None  # yuan, only when the target is reached

    @property
    def rate(self) -> float | None:
        """达成率 in percent."""
        return None if not self.target else 100.0 * self.count / self.target

    @property
    def reached_target(self) -> bool:
        return bool(self.target) and self.count >= (self.target or 0)

    @property
    def due_count(self) -> int | None:
        if self.target is None or self.due_percent is None:
            return None
        return math.ceil(self.target * self.due_percent / 100 - 1e-9)

    @property
    def on_track(self) -> bool | None:
        due = self.due_count
        return None if due is None else self.count >= due

    @property
    def milestone_line(self) -> str:
        """ "应达 30 %, 实际 22 %" (the plan's wording)."""
        if self.due_percent is None or self.rate is None:
            return ""
        return f"应达 {self.due_percent:g} %, 实际 {self.rate:.0f} %"


@dataclass
class GroupStanding:
    name: str
    rows: list[BranchStanding]
    rewards: tuple[int, ...]
    milestone: Milestone | None


def current_milestone(milestones: Sequence[Milestone], today: date) -> Milestone | None:
    """The milestone being worked toward: the first not yet past, else the last."""
    for stone in milestones:
        if stone.day >= today:
            return stone
    return milestones[-1] if milestones else None


def rank_rows(rows: list[BranchStanding]) -> list[BranchStanding]:
    """Order by 达成率 (exact fractions, not floats), then count and code; equal rates
    share a rank (1, 1, 3). Branches without a target come last, unranked."""

    def rate(row: BranchStanding) -> Fraction:
        return Fraction(row.count, row.target or 1)

    ranked = sorted((r for r in rows if r.target), key=lambda r: (-rate(r), -r.count, r.code))
    for i, row in enumerate(ranked):
        tied = i > 0 and rate(ranked[i - 1]) == rate(row)
        row.rank = ranked[i - 1].rank if tied else i + 1
    return ranked + sorted((r for r in rows if not r.target), key=lambda r: r.code)


def counts_by_branch(
    session: Session, campaign_id: int, metric: str, until: date | None = None
) -> dict[int, int]:
    """The race metric per branch id, up to and including the Beijing day `until`."""
    if metric.startswith(IMPORTED_PREFIX):
        stmt = (
            select(MetricFigure.branch_id, func.sum(MetricFigure.quantity))
            .where(
                MetricFigure.campaign_id == campaign_id,
                MetricFigure.metric == metric.removeprefix(IMPORTED_PREFIX),
            )
            .group_by(MetricFigure.branch_id)
        )
        if until is not None:
            stmt = stmt.where(MetricFigure.day <= until)
    else:
        stmt = (
            select(BranchCount.branch_id, func.sum(BranchCount.count))
            .where(BranchCount.campaign_id == campaign_id, BranchCount.branch_id != 0)
            .group_by(BranchCount.branch_id)
        )
        if metric == "completed":
            stmt = stmt.where(BranchCount.status == "completed")
        if until is not None:
            stmt = stmt.where(BranchCount.day <= until)
    return {int(branch): int(n or 0) for branch, n in session.execute(stmt)}


def daily_counts(session: Session, campaign_id: int, metric: str) -> dict[int, dict[date, int]]:
    """The race metric per branch id and day (for the progress chart)."""
    if metric.startswith(IMPORTED_PREFIX):
        stmt: Any = (
            select(MetricFigure.branch_id, MetricFigure.day, func.sum(MetricFigure.quantity))
            .where(
                MetricFigure.campaign_id == campaign_id,
                MetricFigure.metric == metric.removeprefix(IMPORTED_PREFIX),
            )
            .group_by(MetricFigure.branch_id, MetricFigure.day)
        )
    else:
        stmt = (
            select(BranchCount.branch_id, BranchCount.day, func.sum(BranchCount.count))
            .where(BranchCount.campaign_id == campaign_id, BranchCount.branch_id != 0)
            .group_by(BranchCount.branch_id, BranchCount.day)
        )
        if metric == "completed":
            stmt = stmt.where(BranchCount.status == "completed")
    out: dict[int, dict[date, int]] = defaultdict(dict)
    for branch, day, n in session.execute(stmt):
        out[int(branch)][day] = int(n or 0)
    return out


def groups_of(config: RaceConfig, branches: Iterable[Branch]) -> list[GroupConfig]:
    """The configured groups, or A/B/C by target (largest first), a third each."""
    if config.groups:
        return list(config.groups)
    with_target = sorted(
        (b for b in branches if b.code in config.targets),
        key=lambda b: (-config.targets[b.code], b.code),
    )
    size = math.ceil(len(with_target) / len(DEFAULT_GROUPS)) or 1
    return [
        GroupConfig(name, tuple(b.code for b in with_target[i * size : (i + 1) * size]))
        for i, name in enumerate(DEFAULT_GROUPS)
        if with_target[i * size : (i + 1) * size]
    ]


def standings(
    session: Session, campaign: Campaign, today: date, config: RaceConfig | None = None
) -> list[GroupStanding]:
    """Each group's branches ranked by 达成率 on `today` (Beijing), with the milestone
    line, and the reward each branch has earned so far (only at or above target)."""
    config = config or RaceConfig.of(campaign)
    if config is None:
        return []
    branches = {b.code: b for b in session.scalars(select(Branch).where(Branch.active))}
    counts = counts_by_branch(session, campaign.id, config.metric, today)
    stone = current_milestone(config.milestones, today)
    result = []
    for group in groups_of(config, branches.values()):
        rows = [
            BranchStanding(
                branch_id=b.id,
                code=b.code,
                name=b.name,
                target=config.targets.get(b.code),
                count=counts.get(b.id, 0),
                due_percent=stone.percent if stone else None,
            )
            for code in group.branches
            if (b := branches.get(code)) is not None
        ]
        rows = rank_rows(rows)
        for row in rows:
            if row.rank is not None and row.rank <= len(group.rewards) and row.reached_target:
                row.reward = group.rewards[row.rank - 1]
        result.append(GroupStanding(group.name, rows, group.rewards, stone))
    return result


def group_series(
    session: Session,
    campaign: Campaign,
    group: GroupStanding,
    days: Sequence[date],
    config: RaceConfig | None = None,
) -> dict[str, list[float]]:
    """达成率 per day (cumulative) of each branch of a group with a target: the chart."""
    config = config or RaceConfig.of(campaign)
    if config is None:
        return {}
    per_day = daily_counts(session, campaign.id, config.metric)
    series: dict[str, list[float]] = {}
    for row in group.rows:
        if not row.target:
            continue
        mine = per_day.get(row.branch_id, {})
        before = sum(n for d, n in mine.items() if days and d < days[0])
        total, points = before, []
        for day in days:
            total += mine.get(day, 0)
            points.append(100.0 * total / row.target)
        series[row.name] = points
    return series
