"""Dashboard aggregates: every figure is a GROUP BY in the database, never a loop over rows.

Each query is covered by one of the ix_participant_stats_* indexes, so the
whole dashboard stays well under a second at a million entries (see
tests/benchmarks/bench_exports.py). Python only reshapes the few aggregated rows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Date, Text, cast, func, literal, literal_column, select, union_all
from sqlalchemy.orm import Session

from quiz.models import (
    FOLLOW_UP_STATUSES,
    Branch,
    Campaign,
    DailyCounter,
    Participant,
    Question,
)
from quiz.regions import divisions
from quiz.reports.counters import of_campaign

UNASSIGNED = "未分配"
CHINA = ZoneInfo("Asia/Shanghai")
MAX_DAYS = 400  # beyond this, one GROUP BY on a date expression
# Statuses that count as "followed up" (anything but still waiting).
CONTACTED = tuple(s for s in FOLLOW_UP_STATUSES if s != "待联系")


@dataclass
class BranchStats:
    """One branch's entries, follow-up progress and conversion."""

    branch_id: int | None
    name: str
    entries: int = 0
    completed: int = 0
    by_status: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FOLLOW_UP_STATUSES, 0))

    @property
    def followed(self) -> int:
        """Leads with any outcome other than 待联系."""
        return sum(self.by_status[s] for s in CONTACTED)

    @property
    def won(self) -> int:
        return self.by_status["已成交"]

    @property
    def progress(self) -> float:
        return self.followed / self.entries if self.entries else 0.0

    @property
    def conversion(self) -> float:
        """已成交 / leads."""
        return self.won / self.entries if self.entries else 0.0


@dataclass(frozen=True)
class Window:
    """Entries registered in [since, until) (aware datetimes); None on a side: open."""

    since: datetime | None = None
    until: datetime | None = None

    def where(self) -> list[Any]:
        p = Participant
        out: list[Any] = []
        if self.since is not None:
            out.append(p.created_at >= self.since)
        if self.until is not None:
            out.append(p.created_at < self.until)
        return out


EVERYTHING = Window()


@dataclass
class IntentQuestion:
    """One intent question's answers: per option, and per branch x option."""

    key: str
    text: str
    multiple: bool
    options: list[str]
    answered: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    # branch name -> option -> count
    by_branch: dict[str, dict[str, int]] = field(default_factory=dict)


@dataclass
class Dashboard:
    """Everything the head-office dashboard shows."""

    visits: int = 0
    consents: int = 0
    entries: int = 0
    completed: int = 0
    per_day: list[tuple[date, int]] = field(default_factory=list)
    provinces: list[tuple[str, int]] = field(default_factory=list)
    branches: list[BranchStats] = field(default_factory=list)
    scores: list[tuple[int, int]] = field(default_factory=list)
    intents: list[tuple[str, int]] = field(default_factory=list)
    follow_up: dict[str, int] = field(default_factory=dict)

    @property
    def completion_rate(self) -> float:
        """Completed quizzes / registrations."""
        return self.completed / self.entries if self.entries else 0.0

    @property
    def funnel(self) -> list[tuple[str, int]]:
        return [
            ("活动页访问", self.visits),
            ("同意参加", self.consents),
            ("完成登记", self.entries),
            ("完成答题", self.completed),
        ]

    @property
    def won(self) -> int:
        return self.follow_up.get("已成交", 0)


def china_day(session: Session) -> Any:
    """SQL expression: the Beijing calendar day of Participant.created_at."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.timezone("Asia/Shanghai", Participant.created_at), Date)
    # SQLite stores UTC as 'YYYY-MM-DD HH:MM:SS'; China has no daylight saving.
    return func.date(Participant.created_at, literal_column("'+8 hours'"))


def per_day(session: Session, campaign_id: int) -> list[tuple[date, int]]:
    """Entries per Beijing day.

    One range count per day over the (campaign_id, created_at) index, UNION ALL'd into a
    single statement: SQLite then never evaluates a date function on a million rows.
    """
    p = Participant
    # Two scalar subqueries, not min() and max() in one SELECT: SQLite answers a lone min()
    # or max() with one index seek, but scans the whole range for the pair.
    bounds = [
        select(agg(p.created_at)).where(p.campaign_id == campaign_id).scalar_subquery()
        for agg in (func.min, func.max)
    ]
    first, last = session.execute(select(*bounds)).one()
    if first is None:
        return []
    first, last = _aware(first), _aware(last)
    day = first.astimezone(CHINA).date()
    end = last.astimezone(CHINA).date()
    if (end - day).days > MAX_DAYS:
        return _per_day_grouped(session, campaign_id)
    days = [day + timedelta(days=i) for i in range((end - day).days + 1)]
    counts = [
        select(literal(i).label("i"), func.count().label("n")).where(
            p.campaign_id == campaign_id,
            p.created_at >= _midnight(d),
            p.created_at < _midnight(d + timedelta(days=1)),
        )
        for i, d in enumerate(days)
    ]
    rows = dict(session.execute(union_all(*counts)).all()) if counts else {}
    # Quiet days stay in, as zeros: the chart's axis is a calendar.
    return [(d, int(rows.get(i, 0))) for i, d in enumerate(days)]


def _aware(value: datetime | str) -> datetime:
    if isinstance(value, str):  # SQLite min()/max() lose the column type
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=CHINA)


def _per_day_grouped(session: Session, campaign_id: int) -> list[tuple[date, int]]:
    day = china_day(session).label("day")
    rows = session.execute(
        select(day, func.count())
        .where(Participant.campaign_id == campaign_id)
        .group_by(day)
        .order_by(day)
    ).all()
    counts = {(d if isinstance(d, date) else date.fromisoformat(str(d))): int(n) for d, n in rows}
    if not counts:
        return []
    first, last = min(counts), max(counts)
    days = (first + timedelta(days=i) for i in range((last - first).days + 1))
    return [(d, counts.get(d, 0)) for d in days]


def by_branch(session: Session, campaign_id: int, window: Window = EVERYTHING) -> list[BranchStats]:
    """Entries, completions and follow-up outcomes per branch, in one grouped query."""
    p = Participant
    rows = session.execute(
        select(p.branch_id, p.status, p.follow_up_status, func.count())
        .where(p.campaign_id == campaign_id, *window.where())
        .group_by(p.branch_id, p.status, p.follow_up_status)
    ).all()
    names = dict(session.execute(select(Branch.id, Branch.name)).all())
    stats: dict[int | None, BranchStats] = {}
    for branch_id, status, follow_up, n in rows:
        entry = stats.get(branch_id)
        if entry is None:
            name = names.get(branch_id, UNASSIGNED) if branch_id is not None else UNASSIGNED
            entry = stats[branch_id] = BranchStats(branch_id, name)
        entry.entries += n
        if status == "completed":
            entry.completed += n
        entry.by_status[follow_up] = entry.by_status.get(follow_up, 0) + n
    return sorted(stats.values(), key=lambda b: (-b.entries, b.name))


def by_province(
    session: Session, campaign_id: int, window: Window = EVERYTHING
) -> list[tuple[str, int]]:
    """Entries per province (name), largest first."""
    rows = session.execute(
        select(Participant.province_code, func.count())
        .where(Participant.campaign_id == campaign_id, *window.where())
        .group_by(Participant.province_code)
    ).all()
    out = []
    for code, n in rows:
        division = divisions.get(code) if code else None
        out.append((division.name if division else "地址未识别", int(n)))
    return sorted(out, key=lambda item: -item[1])


def score_distribution(
    session: Session, campaign_id: int, window: Window = EVERYTHING, top: int = 0
) -> list[tuple[int, int]]:
    """Completed entries per score, every score from 0 to top (or the highest seen) listed:
    a score nobody got is a zero, not a gap."""
    rows = session.execute(
        select(Participant.score, func.count())
        .where(
            Participant.campaign_id == campaign_id,
            Participant.status == "completed",
            *window.where(),
        )
        .group_by(Participant.score)
        .order_by(Participant.score)
    ).all()
    counts = {int(s): int(n) for s, n in rows}
    if not counts:
        return []
    return [(score, counts.get(score, 0)) for score in range(max(top, *counts) + 1)]


def intent_breakdown(
    session: Session, campaign_id: int, window: Window = EVERYTHING
) -> list[tuple[str, int]]:
    """Completed entries per first product-interest answer (Participant.intent_level)."""
    level = Participant.intent_level
    rows = session.execute(
        select(level, func.count())
        .where(Participant.campaign_id == campaign_id, level.is_not(None), *window.where())
        .group_by(level)
    ).all()
    return sorted(((str(k), int(n)) for k, n in rows), key=lambda item: -item[1])


def intent_by_question(
    session: Session, campaign_id: int, window: Window = EVERYTHING
) -> list[IntentQuestion]:
    """Every intent question of the campaign: entries per option (a multiple-choice
    answer counts once for each option chosen) and the branch x option table. One
    GROUP BY over the stored answer sets; Python splits the few distinct sets.

    It reads every entry's answers (no index holds them), so it is not part of the
    dashboard, whose figures stay index-only: it has its own page (/admin/intent)."""
    questions = [
        IntentQuestion(q.key, q.text, q.multiple, [str(o["text"]) for o in q.options])
        for q in session.scalars(
            select(Question)
            .where(Question.campaign_id == campaign_id, Question.kind == "intent")
            .order_by(Question.position)
        )
    ]
    if not questions:
        return []
    for q in questions:
        q.counts = dict.fromkeys(q.options, 0)
    p = Participant
    answers = cast(p.intent, Text)
    rows = session.execute(
        select(p.branch_id, answers, func.count())
        .where(p.campaign_id == campaign_id, p.intent.is_not(None), *window.where())
        .group_by(p.branch_id, answers)
    ).all()
    names = dict(session.execute(select(Branch.id, Branch.name)).all())
    parsed: dict[str, dict[str, Any]] = {}
    for branch_id, text, n in rows:
        if text is None or text == "null":
            continue
        chosen = parsed.get(text)
        if chosen is None:
            chosen = parsed[text] = json.loads(text) or {}
        branch = names.get(branch_id, UNASSIGNED) if branch_id is not None else UNASSIGNED
        for q in questions:
            picked = chosen.get(q.key)
            if not picked:
                continue
            q.answered += n
            row = q.by_branch.setdefault(branch, dict.fromkeys(q.options, 0))
            for option in picked if isinstance(picked, list) else [picked]:
                q.counts[option] = q.counts.get(option, 0) + n
                row[option] = row.get(option, 0) + n
    for q in questions:
        q.by_branch = dict(sorted(q.by_branch.items(), key=lambda kv: -sum(kv[1].values())))
    return questions


def funnel_counters(session: Session, campaign: Campaign) -> dict[str, int]:
    """Summed campaign-page visits and consents from the daily counters, over the
    campaign's own Beijing days: its own counters ("visit:<id>", see counters.of_campaign)
    and the campaign-less ones written before several campaigns could be live (an earlier
    campaign's traffic, on other days, must not inflate this one's funnel)."""
    own = {of_campaign(m, campaign.id): m for m in ("visit", "consent")}
    rows = session.execute(
        select(DailyCounter.metric, func.sum(DailyCounter.count))
        .where(
            DailyCounter.metric.in_(("visit", "consent", *own)),
            DailyCounter.day >= campaign.opens_at.astimezone(CHINA).date(),
            DailyCounter.day <= campaign.closes_at.astimezone(CHINA).date(),
        )
        .group_by(DailyCounter.metric)
    ).all()
    totals: dict[str, int] = {}
    for metric, n in rows:
        name = own.get(str(metric), str(metric))
        totals[name] = totals.get(name, 0) + int(n or 0)
    return totals


def dashboard(session: Session, campaign_id: int | None, window: Window = EVERYTHING) -> Dashboard:
    """All dashboard figures for one campaign (an empty dashboard without a campaign),
    for the entries registered inside the window (the funnel's day counters: all days)."""
    board = Dashboard()
    campaign = session.get(Campaign, campaign_id) if campaign_id is not None else None
    if campaign is None:
        return board
    counters = funnel_counters(session, campaign)
    board.visits = counters.get("visit", 0)
    board.consents = counters.get("consent", 0)
    board.branches = by_branch(session, campaign_id, window)
    board.entries = sum(b.entries for b in board.branches)
    board.completed = sum(b.completed for b in board.branches)
    board.follow_up = {
        s: sum(b.by_status.get(s, 0) for b in board.branches) for s in FOLLOW_UP_STATUSES
    }
    board.per_day = per_day(session, campaign_id)
    if window.since is not None or window.until is not None:
        start = window.since.astimezone(CHINA).date() if window.since else None
        end = window.until.astimezone(CHINA).date() if window.until else None
        board.per_day = [
            (d, n)
            for d, n in board.per_day
            if (start is None or d >= start) and (end is None or d < end)
        ]
    board.provinces = by_province(session, campaign_id, window)
    top = int((campaign.content or {}).get("questions_per_participant") or 0)
    board.scores = score_distribution(session, campaign_id, window, top)
    board.intents = intent_breakdown(session, campaign_id, window)
    return board
