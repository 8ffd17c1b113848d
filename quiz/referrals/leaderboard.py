"""Branch leaderboard and referral attribution: SQL aggregates (GROUP BY), no per-lead loops.

Counts are by the lead's owning branch (`Participant.branch_id`, as the campaign's
referral_rule decided), so the branch rows plus the unassigned row add up to the
dashboard's totals. Every figure comes with and without referral-flagged entries.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from quiz.leads.exports import neutralise
from quiz.models import Agent, Branch, Campaign, Channel, Participant

DEFAULT_TIERS: tuple[dict[str, Any], ...] = (
    {"name": "第一名", "from": 1, "to": 1},
    {"name": "第二名", "from": 2, "to": 2},
    {"name": "第三名", "from": 3, "to": 3},
)
BASES = ("valid", "all")  # exclude flagged entries, or count everything
ORDERS = ("rate", "count")


@dataclass
class Counts:
    """Registrations and completions, all and flagged."""

    registrations: int = 0
    completions: int = 0
    flagged_registrations: int = 0
    flagged_completions: int = 0

    @property
    def valid_registrations(self) -> int:
        return self.registrations - self.flagged_registrations

    @property
    def valid_completions(self) -> int:
        return self.completions - self.flagged_completions

    def registrations_on(self, basis: str) -> int:
        return self.valid_registrations if basis == "valid" else self.registrations


@dataclass
class BranchRow:
    """One branch on the leaderboard."""

    branch_id: int | None
    code: str
    name: str
    target: int | None
    counts: Counts = field(default_factory=Counts)
    rate: float | None = None
    rank: int | None = None
    tier: str = ""
    reached: bool = False


def _aggregates() -> tuple[ColumnElement[Any], ...]:
    completed = Participant.status == "completed"
    flagged = Participant.referral_flagged.is_(True)
    return (
        func.count(Participant.id),
        func.coalesce(func.sum(case((completed, 1), else_=0)), 0),
        func.coalesce(func.sum(case((flagged, 1), else_=0)), 0),
        func.coalesce(func.sum(case((completed & flagged, 1), else_=0)), 0),
    )


def _counts(row: Any) -> Counts:
    return Counts(*(int(v or 0) for v in row))


def totals(session: Session, campaign: Campaign) -> Counts:
    """All registrations and completions of the campaign."""
    row = session.execute(
        select(*_aggregates()).where(Participant.campaign_id == campaign.id)
    ).one()
    return _counts(row)


def tiers_of(campaign: Campaign) -> list[dict[str, Any]]:
    """The ranking tiers the campaign rewards: campaign content 'leaderboard_tiers' or 1st-3rd."""
    tiers = campaign.content.get("leaderboard_tiers") if campaign.content else None
    return list(tiers) if isinstance(tiers, list) and tiers else list(DEFAULT_TIERS)


def competition_ranks(values: list[float | None]) -> list[int | None]:
    """Ranks for descending values, ties sharing a rank (1, 1, 3); None stays unranked."""
    ranked = sorted((v for v in values if v is not None), reverse=True)
    first: dict[float, int] = {}
    for i, v in enumerate(ranked):
        first.setdefault(v, i + 1)
    return [first[v] if v is not None else None for v in values]


def branch_board(
    session: Session, campaign: Campaign, *, basis: str = "valid", order: str = "rate"
) -> list[BranchRow]:
    """Every branch (and the unassigned queue) with counts, 达成率, rank and reward tier.

    `basis` 'valid' ranks on registrations without flagged entries, 'all' on every
    registration; `order` 'rate' ranks on registrations / target (branches without a
    target are unranked), 'count' on registrations.
    """
    grouped = {
        branch_id: _counts(rest)
        for branch_id, *rest in session.execute(
            select(Participant.branch_id, *_aggregates())
            .where(Participant.campaign_id == campaign.id)
            .group_by(Participant.branch_id)
        )
    }
    rows: list[BranchRow] = []
    for branch in session.scalars(select(Branch).order_by(Branch.code)):
        if branch.id not in grouped and (not branch.active or branch.level == "总公司"):
            continue
        row = BranchRow(branch.id, branch.code, branch.name, branch.target)
        row.counts = grouped.get(branch.id, Counts())
        if branch.target:
            row.rate = row.counts.registrations_on(basis) / branch.target
            row.reached = row.rate >= 1
        rows.append(row)
    metric = [
        (r.rate if order == "rate" else float(r.counts.registrations_on(basis))) for r in rows
    ]
    tiers = tiers_of(campaign)
    for row, rank in zip(rows, competition_ranks(metric), strict=True):
        row.rank = rank
        if rank is not None:
            row.tier = next(
                (str(t["name"]) for t in tiers if int(t["from"]) <= rank <= int(t["to"])), ""
            )
    rows.sort(key=lambda r: (r.rank is None, r.rank or 0, r.code))
    if None in grouped:
        rows.append(BranchRow(None, "", "未分配", None, grouped[None]))
    return rows


@dataclass
class AgentRow:
    """One agent's referrals."""

    agent_id: int
    code: str
    name: str
    branch_id: int
    branch_name: str
    counts: Counts


def agent_board(
    session: Session,
    campaign: Campaign,
    *,
    branch_id: int | None = None,
    limit: int = 200,
) -> list[AgentRow]:
    """Agents by registrations through their links (top `limit`), optionally of one branch."""
    stmt = (
        select(Participant.agent_id, *_aggregates())
        .join(Agent, Agent.id == Participant.agent_id)
        .where(Participant.campaign_id == campaign.id, Participant.agent_id.isnot(None))
        .group_by(Participant.agent_id)
        .order_by(func.count(Participant.id).desc(), Participant.agent_id)
        .limit(limit)
    )
    if branch_id is not None:
        stmt = stmt.where(Agent.branch_id == branch_id)
    grouped = {agent_id: _counts(rest) for agent_id, *rest in session.execute(stmt)}
    agents = {
        a.id: (a, b)
        for a, b in session.execute(
            select(Agent, Branch)
            .join(Branch, Branch.id == Agent.branch_id)
            .where(Agent.id.in_(list(grouped)))
        )
    }
    return [
        AgentRow(
            aid,
            agents[aid][0].code,
            agents[aid][0].name,
            agents[aid][1].id,
            agents[aid][1].name,
            counts,
        )
        for aid, counts in grouped.items()
    ]


@dataclass
class SourceRow:
    """Registrations from one source: a channel, branch links, agent links or direct."""

    label: str
    counts: Counts


def source_board(session: Session, campaign: Campaign) -> list[SourceRow]:
    """Registrations and completions by channel and link kind; the rows add up to the total."""
    via_agent = Participant.agent_id.isnot(None)
    via_link = Participant.referral_link_id.isnot(None)
    stmt = (
        select(Participant.channel_id, via_agent, via_link, *_aggregates())
        .where(Participant.campaign_id == campaign.id)
        .group_by(Participant.channel_id, via_agent, via_link)
    )
    channels = {c.id: c.name for c in session.scalars(select(Channel))}
    merged: dict[str, Counts] = {}
    for channel_id, agent, link, *rest in session.execute(stmt):
        if channel_id is not None:
            label = f"渠道:{channels.get(channel_id, channel_id)}"
        elif agent:
            label = "业务人员推荐链接"
        elif link:
            label = "机构推荐链接"
        else:
            label = "直接访问(无推荐链接)"
        c = merged.setdefault(label, Counts())
        for name, value in vars(_counts(rest)).items():
            setattr(c, name, getattr(c, name) + value)
    return [
        SourceRow(label, c)
        for label, c in sorted(merged.items(), key=lambda kv: -kv[1].registrations)
    ]


def _local_day(session: Session, column: Any) -> ColumnElement[Any]:
    # Beijing has no daylight saving: the day is the UTC time plus eight hours.
    if session.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone("Asia/Shanghai", column))
    return func.date(column, "+8 hours")


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def daily_trend(
    session: Session, campaign: Campaign, branch_id: int | None = None
) -> list[tuple[date, int, int]]:
    """(Beijing day, registrations, completions) for one branch or, with None, all branches."""
    days: dict[date, list[int]] = {}
    for column, index in ((Participant.created_at, 0), (Participant.completed_at, 1)):
        day = _local_day(session, column)
        stmt = (
            select(day, func.count(Participant.id))
            .where(Participant.campaign_id == campaign.id, column.isnot(None))
            .group_by(day)
        )
        if branch_id is not None:
            stmt = stmt.where(Participant.branch_id == branch_id)
        for value, count in session.execute(stmt):
            days.setdefault(_as_date(value), [0, 0])[index] = int(count)
    return [(d, v[0], v[1]) for d, v in sorted(days.items())]


# --- export ---------------------------------------------------------------------------

EXPORT_HEADER = (
    "排名",
    "奖励",
    "机构代码",
    "机构",
    "目标",
    "注册数量",
    "有效注册数量",
    "达成率",
    "完成答题",
    "有效完成答题",
    "可疑注册",
)


def export_lines_cell(value: Any) -> Any:
    """A leaderboard cell that spreadsheets will not run as a formula (quiz.leads.exports'
    rule); numbers stay numbers."""
    return neutralise(value) if isinstance(value, str) else value


def export_lines(rows: Iterable[BranchRow]) -> Iterator[list[Any]]:
    """The leaderboard as table rows, header first."""
    yield list(EXPORT_HEADER)
    for r in rows:
        c = r.counts
        yield [
            export_lines_cell(v)
            for v in (
                r.rank if r.rank is not None else "",
                r.tier,
                r.code,
                r.name,
                r.target if r.target is not None else "",
                c.registrations,
                c.valid_registrations,
                f"{r.rate:.1%}" if r.rate is not None else "",
                c.completions,
                c.valid_completions,
                c.flagged_registrations,
            )
        ]


def csv_bytes(lines: Iterable[Iterable[Any]]) -> bytes:
    """UTF-8 with BOM (Excel opens it as UTF-8), CRLF line ends."""
    out = io.StringIO()
    writer = csv.writer(out)
    for line in lines:
        writer.writerow([export_lines_cell(v) for v in line])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def rate_percent(rate: float | None) -> str:
    """达成率 as shown: 87.5%."""
    return "" if rate is None else f"{rate:.1%}"
