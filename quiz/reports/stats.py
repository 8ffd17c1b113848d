"""Dashboard aggregates: every figure is a GROUP BY over the dashboard's counters.

The counters (quiz/engine/entry_counts.py and intent_counts.py) hold entries per branch
and status, province, score and intent answer, each per Beijing day: a few thousand rows
whatever the number of entries, so the whole dashboard stays well under a second at a
million entries (see tests/benchmarks/bench_exports.py). Python only reshapes the few
aggregated rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from quiz.engine.intent_counts import ANSWERED, NO_BRANCH
from quiz.models import (
    FOLLOW_UP_STATUSES,
    Branch,
    BranchCount,
    Campaign,
    DailyCounter,
    IntentCount,
    Participant,
    ProvinceCount,
    Question,
    ScoreCount,
)
from quiz.regions import divisions
from quiz.reports.counters import of_campaign

UNASSIGNED = "未分配"
CHINA = ZoneInfo("Asia/Shanghai")
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
    follow_up: dict[str, int] = field(default_factory=dict)
    # Every intent question: its chart and branch x answer table.
    questions: list[IntentQuestion] = field(default_factory=list)

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


def _days(window: Window, column: Any) -> list[Any]:
    """The window as conditions on a counter's Beijing day (the counters count by day of
    registration, so a window is taken as the Beijing days it starts and ends on; the
    dashboard's periods are whole days)."""
    out: list[Any] = []
    if window.since is not None:
        out.append(column >= window.since.astimezone(CHINA).date())
    if window.until is not None:
        out.append(column < window.until.astimezone(CHINA).date())
    return out


def _day(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def per_day(session: Session, campaign_id: int) -> list[tuple[date, int]]:
    """Entries per Beijing day, every day from the first to the last (quiet days as zeros:
    the chart's axis is a calendar)."""
    c = ProvinceCount
    rows = session.execute(
        select(c.day, func.sum(c.count))
        .where(c.campaign_id == campaign_id)
        .group_by(c.day)
        .order_by(c.day)
    ).all()
    counts = {_day(d): int(n or 0) for d, n in rows if n}
    if not counts:
        return []
    first, last = min(counts), max(counts)
    days = (first + timedelta(days=i) for i in range((last - first).days + 1))
    return [(d, counts.get(d, 0)) for d in days]


def by_branch(session: Session, campaign_id: int, window: Window = EVERYTHING) -> list[BranchStats]:
    """Entries, completions and follow-up outcomes per branch, from the branch counters."""
    c = BranchCount
    rows = session.execute(
        select(c.branch_id, c.status, c.follow_up_status, func.sum(c.count))
        .where(c.campaign_id == campaign_id, *_days(window, c.day))
        .group_by(c.branch_id, c.status, c.follow_up_status)
    ).all()
    names = dict(session.execute(select(Branch.id, Branch.name)).all())
    stats: dict[int | None, BranchStats] = {}
    for stored_branch, status, follow_up, n in rows:
        n = int(n or 0)
        if not n:
            continue
        branch_id = None if stored_branch == NO_BRANCH else stored_branch
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
    c = ProvinceCount
    rows = session.execute(
        select(c.province_code, func.sum(c.count))
        .where(c.campaign_id == campaign_id, *_days(window, c.day))
        .group_by(c.province_code)
    ).all()
    out = []
    for code, n in rows:
        if not n:
            continue
        division = divisions.get(code) if code else None
        out.append((division.name if division else "地址未识别", int(n)))
    return sorted(out, key=lambda item: -item[1])


def score_distribution(
    session: Session, campaign_id: int, window: Window = EVERYTHING, top: int = 0
) -> list[tuple[int, int]]:
    """Completed entries per score, every score from 0 to top (or the highest seen) listed:
    a score nobody got is a zero, not a gap."""
    c = ScoreCount
    rows = session.execute(
        select(c.score, func.sum(c.count))
        .where(c.campaign_id == campaign_id, *_days(window, c.day))
        .group_by(c.score)
        .order_by(c.score)
    ).all()
    counts = {int(s): int(n) for s, n in rows if n}
    if not counts:
        return []
    return [(score, counts.get(score, 0)) for score in range(max(top, *counts) + 1)]


def intent_by_question(
    session: Session, campaign_id: int, window: Window = EVERYTHING
) -> list[IntentQuestion]:
    """Every intent question of the campaign: entries per option (a multiple-choice
    answer counts once for each option chosen) and the branch x option table, every
    option listed (zeros included).

    Read from the intent counters (quiz/engine/intent_counts.py), one GROUP BY over a few
    thousand rows whatever the number of entries. They count by Beijing day of
    registration, so the window is taken as the Beijing days it starts and ends on (the
    dashboard's periods are whole days)."""
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
    c = IntentCount
    rows = session.execute(
        select(c.question_key, c.branch_id, c.option, func.sum(c.count))
        .where(c.campaign_id == campaign_id, *_days(window, c.day))
        .group_by(c.question_key, c.branch_id, c.option)
    ).all()
    names = dict(session.execute(select(Branch.id, Branch.name)).all())
    by_key = {q.key: q for q in questions}
    for q in questions:
        q.counts = dict.fromkeys(q.options, 0)
    for key, branch_id, option, n in rows:
        q = by_key.get(key)
        n = int(n or 0)
        if q is None or not n:
            continue
        if option == ANSWERED:
            q.answered += n
            continue
        branch = names.get(branch_id, UNASSIGNED) if branch_id != NO_BRANCH else UNASSIGNED
        row = q.by_branch.setdefault(branch, dict.fromkeys(q.options, 0))
        q.counts[option] = q.counts.get(option, 0) + n
        row[option] = row.get(option, 0) + n
    for q in questions:
        q.by_branch = dict(
            sorted(q.by_branch.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))
        )
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
    board.questions = intent_by_question(session, campaign_id, window)
    return board
