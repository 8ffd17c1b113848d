"""Leads (participants seen by staff): filters, keyset pages, detail, follow-up, reveal.

Every query goes through access.scope_leads so branch staff only ever see their
own branch, whatever filter they send.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, Text, and_, cast, func, or_, select
from sqlalchemy.orm import Session

from quiz import outbox
from quiz.db import utcnow
from quiz.engine import entry_counts
from quiz.leads.scope import HEAD_OFFICE, scope_leads
from quiz.models import (
    FOLLOW_UP_STATUSES,
    AuditLog,
    Branch,
    Campaign,
    FollowUp,
    Participant,
    Question,
    QuizItem,
    StaffUser,
)
from quiz.privacy.protection import Protector
from quiz.regions import divisions
from quiz.staff import audit
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
    # Leave out leads that chose 暂不需要联系 (do not call).
    hide_opt_out: bool = False
    # Search: a name (exact or its beginning), a mobile by its keyed hash (never the
    # number itself: filters are stored with export jobs and audit entries), ID last four.
    name: str | None = None
    mobile_hash: str | None = None
    id_last4: str | None = None
    # 我的待联系 on this Beijing day: still 待联系, or the agreed next-contact day has come.
    due_on: date | None = None
    # 逾期未跟进: the agreed next-contact day is before this day and the lead is still open.
    overdue_before: date | None = None
    # Intent answers as "question key=option": any option of one question, every question.
    intent: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Only the filters that are set, JSON-friendly (dates as ISO strings)."""
        out: dict[str, Any] = {}
        for key, value in asdict(self).items():
            if value is None or value is False and key in _FLAGS or value == ():
                continue
            if isinstance(value, tuple):
                value = list(value)
            out[key] = value.isoformat() if isinstance(value, date) else value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LeadFilters:
        """Inverse of to_dict (trusted input: our own stored JSON)."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        for key in _DATES:
            if isinstance(values.get(key), str):
                values[key] = date.fromisoformat(values[key])
        if isinstance(values.get("intent"), list):
            values["intent"] = tuple(values["intent"])
        return cls(**values)

    def query_args(self) -> dict[str, str]:
        """The filters as URL query arguments (the leads form's field names)."""
        out: dict[str, str] = {}
        for key, value in self.to_dict().items():
            if isinstance(value, list):
                continue  # multi-valued: see multi_args
            if isinstance(value, bool):
                out[key] = "1" if value else "0"
            else:
                out[key] = str(value)
        return out


_FLAGS = ("unassigned", "duplicates", "flagged", "hide_opt_out")
_DATES = ("date_from", "date_to", "due_on", "overdue_before")
# Follow-up outcomes after which nobody needs to call again.
CLOSED_STATUSES = ("已成交", "无效")
# The list's orders: key -> label (the first is the default, newest first).
SORTS = {
    "new": "登记时间(新→旧)",
    "old": "登记时间(旧→新)",
    "next": "下次联系日期(早→晚)",
    "status": "跟进状态",
}


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
    contact_opt_out: bool = False
    next_contact_on: date | None = None


@dataclass(frozen=True)
class LeadPage:
    """A page of leads: keyset (newest first, next_after) or, for other orders, numbered
    (next_page); total is how many leads match the filters when it was asked for."""

    rows: list[LeadRow]
    next_after: int | None
    total: int | None = None
    next_page: int | None = None


@dataclass(frozen=True)
class Contact:
    """A lead's numbers as the contact permission shows them (never the ID number)."""

    mobile: str
    landline: str | None


@dataclass(frozen=True)
class Revealed:
    """Personal data shown in full after an audited reveal."""

    id_number: str
    mobile: str
    landline: str | None


def age_label(created_at: datetime, now: datetime | None = None) -> str:
    """How old a lead is in Beijing calendar days: 今天, 昨天, N天前."""
    today = (now or utcnow()).astimezone(CHINA).date()
    days = (today - created_at.astimezone(CHINA).date()).days
    return "今天" if days <= 0 else "昨天" if days == 1 else f"{days}天前"


_FILTER_WORDS: dict[str, str] = {
    "province_code": "省份",
    "city_code": "城市",
    "intent_level": "关注险种",
    "score_min": "最低得分",
    "score_max": "最高得分",
    "date_from": "登记日期从",
    "date_to": "登记日期至",
    "follow_up_status": "跟进状态",
    "name": "姓名",
    "id_last4": "身份证后四位",
    "agent_id": "推荐业务员编号",
}


def describe_filters(session: Session, data: Mapping[str, Any]) -> list[str]:
    """Stored filters (LeadFilters.to_dict) as short Chinese phrases, for export jobs and
    the audit log: 机构:广东分公司, 仅手机号重复 ... ; none at all reads 全部线索."""
    words: list[str] = []
    if data.get("campaign_id") is not None:
        name = session.scalar(select(Campaign.name).where(Campaign.id == data["campaign_id"]))
        words.append(f"活动:{name or data['campaign_id']}")
    if data.get("branch_id") is not None:
        name = session.scalar(select(Branch.name).where(Branch.id == data["branch_id"]))
        words.append(f"机构:{name or data['branch_id']}")
    flags = {
        "unassigned": "仅未分配机构",
        "duplicates": "仅手机号重复",
        "flagged": "仅可疑推荐",
        "hide_opt_out": "不含暂不需要联系",
    }
    words += [label for key, label in flags.items() if data.get(key)]
    for key, label in _FILTER_WORDS.items():
        value = data.get(key)
        if value in (None, ""):
            continue
        if key in ("province_code", "city_code"):
            division = divisions.get(str(value))
            value = division.name if division else value
        words.append(f"{label}:{value}")
    if data.get("intent"):
        options = [str(i).partition("=")[2] for i in data["intent"]]
        words.append("意向:" + "、".join(options))
    if data.get("completed") is not None:
        words.append("答题:已完成" if data["completed"] else "答题:未完成")
    if data.get("mobile_hash"):
        words.append("按手机号搜索")
    if data.get("due_on"):
        words.append(f"我的待联系({data['due_on']})")
    if data.get("overdue_before"):
        words.append(f"逾期未跟进({data['overdue_before']}前)")
    return words or ["全部线索"]


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
    if filters.intent:
        stmt = stmt.where(*intent_conditions(filters.intent))
    if filters.hide_opt_out:
        stmt = stmt.where(p.contact_opt_out.is_(False))
    if filters.name:
        stmt = stmt.where(p.name.startswith(filters.name, autoescape=True))
    if filters.mobile_hash:
        stmt = stmt.where(p.mobile_hash == filters.mobile_hash)
    if filters.id_last4:
        stmt = stmt.where(p.id_last4 == filters.id_last4)
    if filters.due_on is not None:
        stmt = stmt.where(
            or_(
                p.follow_up_status == "待联系",
                and_(
                    p.next_contact_on <= filters.due_on,
                    p.follow_up_status.not_in(CLOSED_STATUSES),
                ),
            )
        )
    if filters.overdue_before is not None:
        stmt = stmt.where(
            p.next_contact_on < filters.overdue_before,
            p.follow_up_status.not_in(CLOSED_STATUSES),
        )
    return scope_leads(stmt, user)


def intent_conditions(chosen: Sequence[str]) -> list[Any]:
    """One condition per intent question: its answer holds any of the chosen options.
    Matched in the stored JSON text (json.dumps, as the column writes it)."""
    by_question: dict[str, list[str]] = {}
    for item in chosen:
        key, _, option = item.partition("=")
        by_question.setdefault(key, []).append(option)
    text = cast(Participant.intent, Text)
    # The column writes json.dumps' escaped form; rows written elsewhere may hold the raw one.
    return [
        or_(
            *(
                text.contains(json.dumps(option, ensure_ascii=ascii), autoescape=True)
                for option in options
                for ascii in (True, False)
            )
        )
        for options in by_question.values()
    ]


def list_leads(
    session: Session,
    user: StaffUser,
    filters: LeadFilters,
    after_id: int | None = None,
    limit: int = PAGE_SIZE,
    *,
    sort: str = "new",
    page_no: int = 1,
    with_total: bool = False,
) -> LeadPage:
    """One page of leads. Newest first continues below after_id (keyset); the other
    orders are numbered pages. with_total also counts the matching leads."""
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
        p.contact_opt_out,
        p.next_contact_on,
    ).outerjoin(Branch, Branch.id == p.branch_id)
    stmt = apply_filters(stmt, filters, user)
    total = count_leads(session, user, filters) if with_total else None
    if sort not in SORTS or sort == "new":
        if after_id is not None:
            stmt = stmt.where(p.id < after_id)
        # One extra row tells whether a next page exists without counting.
        result = session.execute(stmt.order_by(p.id.desc()).limit(limit + 1)).all()
        rows = [LeadRow(*r) for r in result[:limit]]
        next_after = rows[-1].id if len(result) > limit else None
        return LeadPage(rows, next_after, total)
    order = {
        "old": (p.id.asc(),),
        # Leads without an agreed day come after those with one.
        "next": (p.next_contact_on.is_(None), p.next_contact_on.asc(), p.id.desc()),
        "status": (p.follow_up_status.asc(), p.id.desc()),
    }[sort]
    page_no = max(1, page_no)
    stmt = stmt.order_by(*order).offset((page_no - 1) * limit).limit(limit + 1)
    result = session.execute(stmt).all()
    rows = [LeadRow(*r) for r in result[:limit]]
    return LeadPage(rows, None, total, page_no + 1 if len(result) > limit else None)


def next_lead_id(
    session: Session, user: StaffUser, filters: LeadFilters, current_id: int
) -> int | None:
    """The lead after current_id in the list these filters make (newest first), else the
    list's first other lead: 保存并下一条 walks down the list and wraps around."""
    p = Participant
    base = apply_filters(select(p.id), filters, user).where(p.id != current_id)
    below = session.scalar(base.where(p.id < current_id).order_by(p.id.desc()).limit(1))
    if below is not None:
        return int(below)
    top = session.scalar(base.order_by(p.id.desc()).limit(1))
    return int(top) if top is not None else None


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
    # A branch user without a branch has no scope: refused, even for an unassigned lead.
    if user.role not in HEAD_OFFICE and (
        user.branch_id is None or participant.branch_id != user.branch_id
    ):
        raise NotAllowed("您无权处理其他机构的线索。")


def record_follow_up(
    session: Session,
    user: StaffUser,
    participant: Participant,
    status: str,
    note: str = "",
    *,
    next_contact_on: date | None = None,
    now: datetime | None = None,
) -> FollowUp:
    """Record one contact outcome and make it the lead's current follow-up status; the
    next-contact day is replaced (a closed outcome clears it)."""
    _check_scope(user, participant)
    if status not in FOLLOW_UP_STATUSES:
        raise LeadError("跟进状态无效,请从列表中选择。")
    note = strip_invisible(note or "").strip()
    if len(note) > NOTE_MAX:
        raise LeadError(f"跟进备注不能超过{NOTE_MAX}个字。")
    # Locks the lead before the follow-up row (whose foreign key share-locks it) is written.
    entry_counts.move(session, Participant.id == participant.id, follow_up_status=status)
    session.expire(participant, ["next_contact_on"])  # as the status: written even if "same"
    entry = FollowUp(
        participant_id=participant.id,
        status=status,
        note=note,
        staff_id=user.id,
        created_at=now or utcnow(),
    )
    session.add(entry)
    participant.follow_up_status = status
    participant.next_contact_on = None if status in CLOSED_STATUSES else next_contact_on
    outbox.record(
        session,
        participant.campaign_id,
        participant.id,
        outbox.LEAD_FOLLOW_UP,
        {"status": status, "note": note, "staff": user.username},
        now=now,
    )
    session.flush()
    return entry


def bulk_follow_up(
    session: Session, user: StaffUser, lead_ids: Sequence[int], status: str, note: str = ""
) -> int:
    """Record one status on many leads (批量修改); leads outside the user's scope are
    skipped. Returns how many leads were recorded."""
    if status not in FOLLOW_UP_STATUSES:
        raise LeadError("跟进状态无效,请从列表中选择。")
    stmt = scope_leads(select(Participant).where(Participant.id.in_(list(lead_ids))), user)
    chosen = list(session.scalars(stmt.order_by(Participant.id)))
    for participant in chosen:
        keep = participant.next_contact_on
        record_follow_up(session, user, participant, status, note or "批量修改")
        if status not in CLOSED_STATUSES:
            participant.next_contact_on = keep
    session.flush()
    return len(chosen)


def may_see_number(user: StaffUser, contact_opt_out: bool) -> bool:
    """查看联系电话 shows the numbers; a lead who chose 暂不需要联系 keeps them masked for
    anyone without the full-data permission too."""
    if not user.can_call:
        return False
    return not contact_opt_out or bool(user.can_reveal)


def contact_numbers(
    session: Session,
    protector: Protector,
    user: StaffUser,
    lead_ids: Sequence[int],
) -> dict[int, Contact]:
    """The numbers of those leads the user may call (scope and permission checked here).
    Whoever shows them records audit_contact_views for the ids returned."""
    if not user.can_call or not lead_ids:
        return {}
    p = Participant
    stmt = select(p.id, p.mobile_enc, p.landline_enc, p.contact_opt_out).where(
        p.id.in_(list(lead_ids)), p.anonymised_at.is_(None)
    )
    shown: dict[int, Contact] = {}
    for lead_id, mobile_enc, landline_enc, opt_out in session.execute(scope_leads(stmt, user)):
        if not may_see_number(user, bool(opt_out)):
            continue
        landline = protector.decrypt(landline_enc) if landline_enc else None
        shown[int(lead_id)] = Contact(protector.decrypt(mobile_enc), landline)
    return shown


def audit_contact_views(
    session: Session,
    user: StaffUser,
    lead_ids: Sequence[int],
    ip: str | None = None,
    now: datetime | None = None,
) -> int:
    """Audit that the user saw these leads' numbers (action contact_view): one entry per
    lead, user and Beijing day is enough. Returns how many entries were added."""
    now = now or utcnow()
    day_start = china_day_start(now.astimezone(CHINA).date())
    targets = [f"participant:{i}" for i in lead_ids]
    seen = set(
        session.scalars(
            select(AuditLog.target).where(
                AuditLog.action == "contact_view",
                AuditLog.actor_id == user.id,
                AuditLog.at >= day_start,
                AuditLog.target.in_(targets),
            )
        )
    )
    added = 0
    for target in targets:
        if target not in seen:
            entry = audit.record(
                session, user, "contact_view", target, {"fields": ["mobile", "landline"]}, ip
            )
            entry.at = now
            added += 1
    session.flush()
    return added


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


def intent_options(session: Session, campaign_id: int | None) -> list[tuple[str, str, str]]:
    """(value, option, question text) of each intent question's options, for the filter:
    the given campaign's, else the newest campaign's."""
    if campaign_id is None:
        campaign_id = session.scalar(
            select(Campaign.id).order_by(Campaign.opens_at.desc(), Campaign.id.desc()).limit(1)
        )
    rows = session.execute(
        select(Question.key, Question.text, Question.options)
        .where(Question.campaign_id == campaign_id, Question.kind == "intent")
        .order_by(Question.position)
    ).all()
    return [
        (f"{key}={o['text']}", str(o["text"]), str(text)) for key, text, opts in rows for o in opts
    ]


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
