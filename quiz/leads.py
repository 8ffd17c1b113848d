"""Leads (participants seen by staff): filters, keyset pages, detail, follow-up, reveal.

Every query goes through access.scope_leads so branch staff only ever see their
own branch, whatever filter they send.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from quiz import audit
from quiz.admin.access import HEAD_OFFICE, scope_leads
from quiz.db import utcnow
from quiz.models import (
    FOLLOW_UP_STATUSES,
    Branch,
    Campaign,
    FollowUp,
    Participant,
    Question,
    QuizItem,
    StaffUser,
)
from quiz.protection import Protector
from quiz.regions import divisions
from quiz.text_safety import strip_invisible

CHINA = ZoneInfo("Asia/Shanghai")
PAGE_SIZE = 50
UNASSIGNED_LABEL = "未分配"
NOTE_MAX = 1000


class LeadError(Exception):
    """A refused lead operation; str(exc) is the Chinese message shown to staff."""


class NotAllowed(LeadError):
    """The user lacks the permission for this operation."""


@dataclass(frozen=True)
class LeadFilters:
    """The leads list's filters; also stored as JSON with export jobs and audit entries."""

    branch_id: int | None = None
    unassigned: bool = False
    province_code: str | None = None
    city_code: str | None = None
    intent_level: str | None = None
    score_min: int | None = None
    score_max: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    follow_up_status: str | None = None
    completed: bool | None = None
    duplicates: bool = False
    # Referred entries the anti-gaming checks flagged (the leaderboard's 可疑注册).
    flagged: bool = False
    agent_id: int | None = None
    # The forms default it to the current campaign, as the dashboard counts; None: all.
    campaign_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Only the filters that are set, JSON-friendly (dates as ISO strings)."""
        out: dict[str, Any] = {}
        for key, value in asdict(self).items():
            if value is None or value is False and key in ("unassigned", "duplicates", "flagged"):
                continue
            out[key] = value.isoformat() if isinstance(value, date) else value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LeadFilters:
        """Inverse of to_dict (trusted input: our own stored JSON)."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        for key in ("date_from", "date_to"):
            if isinstance(values.get(key), str):
                values[key] = date.fromisoformat(values[key])
        return cls(**values)

    def query_args(self) -> dict[str, str]:
        """The filters as URL query arguments (the leads form's field names)."""
        out: dict[str, str] = {}
        for key, value in self.to_dict().items():
            if isinstance(value, bool):
                out[key] = "1" if value else "0"
            else:
                out[key] = str(value)
        return out


@dataclass(frozen=True)
class LeadRow:
    """One line of the leads list."""

    id: int
    name: str
    mobile: str
    id_number: str
    province_code: str | None
    city_code: str | None
    branch_name: str | None
    status: str
    score: int
    total: int
    intent_level: str | None
    follow_up_status: str
    duplicate_mobile: bool
    referral_flagged: bool
    created_at: datetime


@dataclass(frozen=True)
class LeadPage:
    """A keyset page: rows newest first and the id to continue after, if there is more."""

    rows: list[LeadRow]
    next_after: int | None


@dataclass(frozen=True)
class Revealed:
    """Personal data shown in full after an audited reveal."""

    id_number: str
    mobile: str
    landline: str | None


def china_day_start(day: date) -> datetime:
    """Midnight of a Beijing calendar day, as an aware datetime."""
    return datetime.combine(day, time.min, tzinfo=CHINA)


def apply_filters(stmt: Select[Any], filters: LeadFilters, user: StaffUser) -> Select[Any]:
    """Add the filters' WHERE clauses, then the user's branch scope (always last word)."""
    p = Participant
    if filters.campaign_id is not None:
        stmt = stmt.where(p.campaign_id == filters.campaign_id)
    if user.role in HEAD_OFFICE:
        if filters.unassigned:
            stmt = stmt.where(p.branch_id.is_(None))
        elif filters.branch_id is not None:
            stmt = stmt.where(p.branch_id == filters.branch_id)
    if filters.province_code:
        stmt = stmt.where(p.province_code == filters.province_code)
    if filters.city_code:
        # A municipality's entries keep the municipality as their city; the filter offers
        # its districts instead (see LeadFilterForm.setup), so match those on the district.
        chosen = divisions.get(filters.city_code)
        if chosen is not None and chosen.parent_code in divisions.MUNICIPALITIES:
            stmt = stmt.where(p.district_code == filters.city_code)
        else:
            stmt = stmt.where(p.city_code == filters.city_code)
    if filters.intent_level:
        stmt = stmt.where(p.intent_level == filters.intent_level)
    if filters.agent_id is not None:
        stmt = stmt.where(p.agent_id == filters.agent_id)
    if filters.score_min is not None:
        stmt = stmt.where(p.score >= filters.score_min)
    if filters.score_max is not None:
        stmt = stmt.where(p.score <= filters.score_max)
    if filters.date_from is not None:
        stmt = stmt.where(p.created_at >= china_day_start(filters.date_from))
    if filters.date_to is not None:
        stmt = stmt.where(p.created_at < china_day_start(filters.date_to + timedelta(days=1)))
    if filters.follow_up_status:
        stmt = stmt.where(p.follow_up_status == filters.follow_up_status)
    if filters.completed is True:
        stmt = stmt.where(p.status == "completed")
    elif filters.completed is False:
        stmt = stmt.where(p.status == "registered")
    if filters.duplicates:
        stmt = stmt.where(p.duplicate_mobile.is_(True))
    if filters.flagged:
        stmt = stmt.where(p.referral_flagged.is_(True))
    return scope_leads(stmt, user)


def list_leads(
    session: Session,
    user: StaffUser,
    filters: LeadFilters,
    after_id: int | None = None,
    limit: int = PAGE_SIZE,
) -> LeadPage:
    """One page of leads, newest first, continuing below after_id (keyset, no OFFSET/COUNT)."""
    p = Participant
    show_name = p.name if user.can_reveal else p.name_masked
    stmt = select(
        p.id,
        show_name,
        p.mobile_masked,
        p.id_masked,
        p.province_code,
        p.city_code,
        Branch.name,
        p.status,
        p.score,
        p.total,
        p.intent_level,
        p.follow_up_status,
        p.duplicate_mobile,
        p.referral_flagged,
        p.created_at,
    ).outerjoin(Branch, Branch.id == p.branch_id)
    stmt = apply_filters(stmt, filters, user)
    if after_id is not None:
        stmt = stmt.where(p.id < after_id)
    # One extra row tells whether a next page exists without counting.
    result = session.execute(stmt.order_by(p.id.desc()).limit(limit + 1)).all()
    rows = [LeadRow(*r) for r in result[:limit]]
    next_after = rows[-1].id if len(result) > limit else None
    return LeadPage(rows, next_after)


def count_leads(session: Session, user: StaffUser, filters: LeadFilters) -> int:
    """How many leads match (for exports and their audit entry, not for list pages)."""
    stmt = apply_filters(select(func.count()).select_from(Participant), filters, user)
    return int(session.scalar(stmt) or 0)


def answers_of(session: Session, participant: Participant) -> Sequence[QuizItem]:
    """The lead's questions in order with their answers."""
    return session.scalars(
        select(QuizItem)
        .where(QuizItem.participant_id == participant.id)
        .order_by(QuizItem.position)
    ).all()


def follow_ups_of(session: Session, participant: Participant) -> Sequence[FollowUp]:
    """The lead's follow-up history, newest first."""
    return session.scalars(
        select(FollowUp)
        .where(FollowUp.participant_id == participant.id)
        .order_by(FollowUp.created_at.desc(), FollowUp.id.desc())
    ).all()


def _check_scope(user: StaffUser, participant: Participant) -> None:
    # Views already load the lead through lead_or_404; this guards other callers.
    if user.role not in HEAD_OFFICE and participant.branch_id != user.branch_id:
        raise NotAllowed("您无权处理其他机构的线索。")


def record_follow_up(
    session: Session,
    user: StaffUser,
    participant: Participant,
    status: str,
    note: str = "",
    *,
    now: datetime | None = None,
) -> FollowUp:
    """Record one contact outcome and make it the lead's current follow-up status."""
    _check_scope(user, participant)
    if status not in FOLLOW_UP_STATUSES:
        raise LeadError("跟进状态无效,请从列表中选择。")
    note = strip_invisible(note or "").strip()
    if len(note) > NOTE_MAX:
        raise LeadError(f"跟进备注不能超过{NOTE_MAX}个字。")
    entry = FollowUp(
        participant_id=participant.id,
        status=status,
        note=note,
        staff_id=user.id,
        created_at=now or utcnow(),
    )
    session.add(entry)
    participant.follow_up_status = status
    session.flush()
    return entry


def reveal(
    session: Session,
    protector: Protector,
    user: StaffUser,
    participant: Participant,
    ip: str | None = None,
) -> Revealed:
    """Decrypt the lead's ID number, mobile and landline; allowed with can_reveal, audited."""
    _check_scope(user, participant)
    if not user.can_reveal:
        raise NotAllowed("您没有查看完整个人信息的权限。")
    if participant.anonymised_at is not None:
        raise LeadError("该线索的个人信息已删除。")
    shown = Revealed(
        id_number=protector.decrypt(participant.id_enc),
        mobile=protector.decrypt(participant.mobile_enc),
        landline=protector.decrypt(participant.landline_enc) if participant.landline_enc else None,
    )
    audit.record(
        session,
        user,
        "reveal",
        target=f"participant:{participant.id}",
        detail={"fields": ["id_number", "mobile", "landline"]},
        ip=ip,
    )
    return shown


def branch_choices(session: Session) -> list[tuple[int, str]]:
    """(id, name) of every branch, for filter and export forms: head office can place a
    lead with 总公司 too (the unassigned queue allows it), and the dashboard links there."""
    rows = session.execute(select(Branch.id, Branch.name).order_by(Branch.code)).all()
    return [(int(i), str(n)) for i, n in rows]


def campaign_choices(session: Session) -> list[tuple[int, str]]:
    """(id, name) of every campaign, newest first, for the campaign filter."""
    rows = session.execute(
        select(Campaign.id, Campaign.name).order_by(Campaign.opens_at.desc(), Campaign.id.desc())
    ).all()
    return [(int(i), str(n)) for i, n in rows]


def intent_levels(session: Session) -> list[str]:
    """The product-interest options (first intent question of each campaign) for the filter."""
    rows = session.execute(
        select(Question.campaign_id, Question.options)
        .where(Question.kind == "intent")
        .order_by(Question.campaign_id.desc(), Question.position)
    ).all()
    seen: dict[str, None] = {}
    done: set[int] = set()
    for campaign_id, options in rows:
        if campaign_id in done:
            continue
        done.add(campaign_id)
        for opt in options:
            seen.setdefault(str(opt["text"])[:32], None)
    return list(seen)
