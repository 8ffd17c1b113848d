"""The participant's path: register, get questions, answer them one by one, finish.

Plain functions over a Session; they flush but never commit, and raise
domain errors whose messages are shown to participants as they are.
"""

from __future__ import annotations

import hmac
import random
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, joinedload, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from quiz import age, identity
from quiz.db import utcnow
from quiz.models import Campaign, Participant, Question, QuizItem
from quiz.protection import Protector
from quiz.referrals import flag_new_entry, stored_ip
from quiz.routing import ResolvedAddress, route_participant

# The intent option by which a participant declines sales contact (campaign plan, step 5).
OPT_OUT_TEXT = "暂不需要联系"


class FlowError(Exception):
    """A participant-facing refusal; str(exc) is the Chinese message."""


class NotOpen(FlowError):
    """The campaign has not started yet."""


class Closed(FlowError):
    """The campaign no longer takes entries or answers."""


class AlreadyRegistered(FlowError):
    """This resident ID number already has an entry.

    `same_mobile`: the refused registration gave the entry's mobile too, the proof that
    继续答题 asks for, so it may be told the entry's status and continue it.
    """

    def __init__(self, participant: Participant, *, same_mobile: bool = False) -> None:
        super().__init__("该身份证号码已经参加过本次活动,每人限参加一次。")
        self.participant = participant
        self.same_mobile = same_mobile


class Underage(FlowError):
    """The ID number's holder is not 18 on the day of entry (quiz.age)."""


class NotFound(FlowError):
    """No entry matches the details given."""


class AnswerError(FlowError):
    """The answer cannot be accepted (wrong question, invalid choice)."""


@dataclass(frozen=True)
class Consent:
    """What the participant agreed to on the campaign page."""

    rules_version: str
    privacy_version: str
    sensitive: bool
    at: datetime
    ip: str | None


@dataclass(frozen=True)
class Registration:
    """Validated registration fields."""

    name: str
    resident_id: identity.ResidentId
    mobile: str
    landline: str | None
    postal_code: str
    address: ResolvedAddress  # parsed once, in the view, for the postal-code check too


def window_state(campaign: Campaign, now: datetime | None = None) -> str:
    """'upcoming', 'open' or 'closed'."""
    now = now or utcnow()
    if now < campaign.opens_at:
        return "upcoming"
    if now > campaign.closes_at:
        return "closed"
    return "open"


def ensure_open(campaign: Campaign, now: datetime | None = None) -> None:
    """Raise unless the campaign takes entries at this moment."""
    state = window_state(campaign, now)
    if state == "upcoming":
        raise NotOpen("活动尚未开始,请在活动开始后再参加。")
    if state == "closed":
        raise Closed("活动已结束,不再接受报名和答题。")


def current_campaign(session: Session) -> Campaign | None:
    """The campaign the public site serves: the most recently opened one."""
    return session.scalars(
        select(Campaign).order_by(Campaign.opens_at.desc(), Campaign.id.desc()).limit(1)
    ).first()


# The statements of the public flow are built once, on table columns: each keeps its SQL
# cache key, so a request neither rebuilds nor re-hashes them, and none takes the ORM's
# compile step.
_PARTICIPANT = Participant.__table__.c
_ITEM = QuizItem.__table__.c
_ENTRY_BY_ID_HASH = select(_PARTICIPANT.id).where(
    _PARTICIPANT.campaign_id == bindparam("campaign_id"),
    _PARTICIPANT.id_hash == bindparam("id_hash"),
)


def _same_mobile(table: Any) -> tuple[Any, Any]:
    return (
        table.c.campaign_id == bindparam("in_campaign"),
        table.c.mobile_hash == bindparam("same_mobile"),
    )


_OTHERS = Participant.__table__.alias("others")
# Every entry of a mobile that now has more than one, the new entry included.
_FLAG_SAME_MOBILE = (
    update(Participant.__table__)
    .where(
        *_same_mobile(Participant.__table__),
        select(func.count()).select_from(_OTHERS).where(*_same_mobile(_OTHERS)).scalar_subquery()
        > 1,
    )
    .values(duplicate_mobile=True)
)
_PARTICIPANT_COLUMNS = tuple(c.key for c in Participant.__table__.columns)


def _insert_new_entry(dialect: Any) -> Any:
    # ON CONFLICT on the one-entry-per-ID key: a second entry inserts nothing and returns
    # no id, so the usual new entry needs no duplicate check first, and a concurrent
    # same-ID entry neither raises nor aborts a PostgreSQL transaction.
    return (
        dialect.insert(Participant.__table__)
        .on_conflict_do_nothing(index_elements=[_PARTICIPANT.campaign_id, _PARTICIPANT.id_hash])
        .returning(_PARTICIPANT.id)
    )


_INSERT_NEW_ENTRY = {
    "postgresql": _insert_new_entry(postgresql),
    "sqlite": _insert_new_entry(sqlite),
}
_INSERT_ITEMS = insert(QuizItem.__table__)


def find_by_identity(
    session: Session, protector: Protector, campaign: Campaign, resident_id: str
) -> Participant | None:
    """The entry of this resident ID number in the campaign, if any."""
    return _entry_with_id_hash(session, campaign.id, protector.lookup_hash("rid", resident_id))


def _entry_with_id_hash(session: Session, campaign_id: int, id_hash: str) -> Participant | None:
    # The id first: a registration runs this on every POST and almost always finds none.
    entry_id = session.scalar(_ENTRY_BY_ID_HASH, {"campaign_id": campaign_id, "id_hash": id_hash})
    return None if entry_id is None else session.get_one(Participant, entry_id)


@dataclass
class PreparedEntry:
    """A registration checked and computed outside any write transaction.

    `participant` is transient (in no session): encrypted, hashed, masked, routed.
    """

    participant: Participant
    question_ids: list[int]


def prepare_registration(
    session: Session,
    protector: Protector,
    campaign: Campaign,
    reg: Registration,
    consent: Consent,
    *,
    now: datetime | None = None,
    rng: random.Random | None = None,
    referral: dict[str, Any] | None = None,
    bank: QuestionBank | None = None,
) -> PreparedEntry:
    """Everything a registration needs that only reads: SQLite has one writer at a time,
    so the web view runs this in a read session and holds the write lock only to save.
    Whether the ID number already has an entry is left to save_registration's insert."""
    now = now or utcnow()
    ensure_open(campaign, now)
    if not age.is_adult(reg.resident_id.birth_date, age.entry_day(now)):
        raise Underage(age.UNDERAGE_MESSAGE)
    participant = Participant(
        campaign_id=campaign.id,
        public_id=secrets.token_urlsafe(16),
        name=reg.name,
        name_masked=identity.mask_name(reg.name),
        id_hash=protector.lookup_hash("rid", reg.resident_id.number),
        id_enc=protector.encrypt(reg.resident_id.number),
        id_masked=identity.mask_resident_id(reg.resident_id.number),
        id_last4=reg.resident_id.last4,
        adult=True,  # checked just above; the birth date itself is not stored
        mobile_hash=protector.lookup_hash("mobile", reg.mobile),
        mobile_enc=protector.encrypt(reg.mobile),
        mobile_masked=identity.mask_mobile(reg.mobile),
        landline_enc=protector.encrypt(reg.landline) if reg.landline else None,
        postal_code=reg.postal_code,
        address="",
        consent_rules_version=consent.rules_version,
        consent_privacy_version=consent.privacy_version,
        consent_sensitive=consent.sensitive,
        consent_at=consent.at,
        consent_ip=stored_ip(consent.ip),
        created_at=now,
    )
    route_participant(session, participant, reg.address, referral=referral)
    question_ids, participant.total = choose_questions(session, campaign, rng=rng, bank=bank)
    return PreparedEntry(participant, question_ids)


def save_registration(session: Session, prepared: PreparedEntry) -> Participant:
    """Insert a prepared entry and its questions; AlreadyRegistered (roll back then) when
    the ID number has an entry, one saved just now by a concurrent request included.

    Core INSERTs, not a unit-of-work flush (a third of a registration's cost); the
    participant then joins the session as if loaded, its defaults left to load on access.
    """
    participant = prepared.participant
    if participant.referral_link_id is not None:
        flag_new_entry(session.connection(), participant)
    given = participant.__dict__
    values = {key: given[key] for key in _PARTICIPANT_COLUMNS if key in given}
    insert_new = _INSERT_NEW_ENTRY[session.get_bind().dialect.name]
    new_id = session.execute(insert_new, values).scalar()
    if new_id is None:
        existing = _entry_with_id_hash(session, participant.campaign_id, participant.id_hash)
        if existing is None:  # the conflicting entry was erased in between
            raise FlowError("提交时发生冲突,请重新提交。")
        same_mobile = hmac.compare_digest(existing.mobile_hash, participant.mobile_hash)
        raise AlreadyRegistered(existing, same_mobile=same_mobile)
    participant.id = new_id
    # The same mobile under another ID number is allowed but flagged for head office.
    participant.duplicate_mobile = bool(
        session.execute(
            _FLAG_SAME_MOBILE,
            {"in_campaign": participant.campaign_id, "same_mobile": participant.mobile_hash},
        ).rowcount
    )
    session.execute(
        _INSERT_ITEMS,
        [
            {"participant_id": participant.id, "question_id": qid, "position": i + 1}
            for i, qid in enumerate(prepared.question_ids)
        ],
    )
    make_transient_to_detached(participant)
    session.add(participant)
    return participant


def register(
    session: Session,
    protector: Protector,
    campaign: Campaign,
    reg: Registration,
    consent: Consent,
    *,
    now: datetime | None = None,
    rng: random.Random | None = None,
    referral: dict[str, Any] | None = None,
) -> Participant:
    """Create the participant, route the lead to a branch and assign their questions."""
    prepared = prepare_registration(
        session, protector, campaign, reg, consent, now=now, rng=rng, referral=referral
    )
    return save_registration(session, prepared)


def choose_questions(
    session: Session,
    campaign: Campaign,
    *,
    rng: random.Random | None = None,
    bank: QuestionBank | None = None,
) -> tuple[list[int], int]:
    """A random subset of knowledge questions in random order, then the intent questions:
    their ids in that order, and how many are knowledge questions (the score's maximum)."""
    rng = rng or random.SystemRandom()
    bank = bank or question_bank(session, campaign.id)
    count = min(int(campaign.content.get("questions_per_participant", 5)), len(bank.knowledge))
    return rng.sample(bank.knowledge, count) + list(bank.intent), count


@dataclass(frozen=True)
class QuestionBank:
    """A campaign's questions, read once and shared read-only (the web caches it).

    `by_id` holds every question, inactive ones too, since an entry keeps the
    questions it was given; `knowledge` and `intent` are the active ids in order.
    """

    by_id: Mapping[int, Question]
    knowledge: tuple[int, ...]
    intent: tuple[int, ...]


def question_bank(session: Session, campaign_id: int) -> QuestionBank:
    """Load a campaign's questions, detached from `session` (plain values from here on)."""
    questions = session.scalars(
        select(Question).where(Question.campaign_id == campaign_id).order_by(Question.position)
    ).all()
    for q in questions:
        session.expunge(q)
    active = [q for q in questions if q.active]
    return QuestionBank(
        by_id={q.id: q for q in questions},
        knowledge=tuple(q.id for q in active if q.kind == "knowledge"),
        intent=tuple(q.id for q in active if q.kind == "intent"),
    )


def resume(
    session: Session,
    protector: Protector,
    campaign: Campaign,
    resident_id: str,
    mobile: str,
) -> Participant:
    """Find an entry by ID number and mobile together (both must match)."""
    participant = find_by_identity(session, protector, campaign, resident_id)
    if participant is None or participant.mobile_hash != protector.lookup_hash("mobile", mobile):
        raise NotFound("没有找到与该身份证号码和手机号码相符的报名记录。")
    return participant


def resume_by_last4(
    session: Session,
    protector: Protector,
    campaign: Campaign,
    resident_id: str,
    mobile_last4: str,
) -> Participant:
    """Find an entry by ID number and the last four digits of its mobile: the way back for
    someone who registered again with another mobile. The same refusal whether the ID
    number has no entry or the digits differ, so it tells a stranger nothing; the web
    view limits attempts per ID number (10,000 possible digits)."""
    participant = find_by_identity(session, protector, campaign, resident_id)
    stored = participant.mobile_masked[-4:] if participant is not None else "----"
    if participant is None or not hmac.compare_digest(stored, mobile_last4):
        raise NotFound("没有找到与该身份证号码和手机号码后四位相符的报名记录。")
    return participant


def items_of(
    session: Session, participant: Participant, *, fresh: bool = False
) -> Sequence[QuizItem]:
    """The participant's questions in order, with their answers so far (one query).

    `fresh` overwrites objects already in the session with the database's values.
    """
    query = (
        select(QuizItem)
        .where(QuizItem.participant_id == participant.id)
        .options(joinedload(QuizItem.question))
        .order_by(QuizItem.position)
    )
    if fresh:
        query = query.execution_options(populate_existing=True)
    return session.scalars(query).all()


@dataclass(frozen=True)
class SheetItem:
    """One assigned question on an answer sheet: plain values, no ORM object."""

    id: int
    position: int
    question_id: int
    answer: list[str] | None
    is_correct: bool | None


@dataclass(frozen=True)
class AnswerSheet:
    """A participant's id, status and questions in order with the answers so far.

    The question pages are most of the site's traffic; they read this in one
    query of plain columns and take the question texts from the QuestionBank.
    """

    participant_id: int
    status: str
    items: tuple[SheetItem, ...]

    @property
    def next(self) -> SheetItem | None:
        return next((it for it in self.items if it.answer is None), None)

    @property
    def answered(self) -> int:
        return sum(it.answer is not None for it in self.items)

    @property
    def total(self) -> int:
        return len(self.items)


def _sheet_query(*where: Any) -> Any:
    return (
        select(
            _PARTICIPANT.id.label("participant_id"),
            _PARTICIPANT.status,
            _ITEM.id.label("item_id"),
            _ITEM.position,
            _ITEM.question_id,
            _ITEM.answer,
            _ITEM.is_correct,
        )
        .outerjoin(QuizItem.__table__, _ITEM.participant_id == _PARTICIPANT.id)
        .where(*where)
        .order_by(_ITEM.position)
    )


_SHEET_BY_PUBLIC_ID = _sheet_query(
    _PARTICIPANT.public_id == bindparam("public_id"),
    _PARTICIPANT.campaign_id == bindparam("campaign_id"),
)
_SHEET_BY_ID = _sheet_query(_PARTICIPANT.id == bindparam("participant_id"))
# Of two concurrent submissions only one stores the answer (the answer IS NULL guard).
_STORE_ANSWER = (
    update(QuizItem.__table__)
    .where(_ITEM.id == bindparam("item_id"), _ITEM.answer.is_(None))
    .values(
        answer=bindparam("new_answer", type_=_ITEM.answer.type),
        is_correct=bindparam("new_is_correct", type_=_ITEM.is_correct.type),
        answered_at=bindparam("new_answered_at", type_=_ITEM.answered_at.type),
    )
)
_STORED_ANSWER = select(_ITEM.answer).where(_ITEM.id == bindparam("item_id"))
_FINISHED = ("status", "completed_at", "score", "intent", "intent_level", "contact_opt_out")
# Only a registered entry completes: a concurrent finish of the same entry stores nothing.
_FINISH = (
    update(Participant.__table__)
    .where(_PARTICIPANT.id == bindparam("participant_id"), _PARTICIPANT.status == "registered")
    .values({name: bindparam(f"new_{name}", type_=_PARTICIPANT[name].type) for name in _FINISHED})
)


def _sheet(rows: Sequence[Any]) -> AnswerSheet | None:
    if not rows:
        return None
    items = tuple(
        SheetItem(r.item_id, r.position, r.question_id, r.answer, r.is_correct)
        for r in rows
        if r.item_id is not None
    )
    return AnswerSheet(rows[0].participant_id, rows[0].status, items)


def sheet_of(session: Session, campaign_id: int, public_id: str) -> AnswerSheet | None:
    """The answer sheet of the entry a browser's session names (None if there is none)."""
    rows = session.execute(
        _SHEET_BY_PUBLIC_ID, {"public_id": public_id, "campaign_id": campaign_id}
    ).all()
    return _sheet(rows)


@dataclass(frozen=True)
class Outcome:
    """What the result page shows: the score, and each question with its answer."""

    score: int
    total: int
    mobile_masked: str
    reviews: tuple[tuple[SheetItem, Question], ...]


_SCORE = select(_PARTICIPANT.score, _PARTICIPANT.total, _PARTICIPANT.mobile_masked).where(
    _PARTICIPANT.id == bindparam("participant_id")
)


def outcome_of(session: Session, sheet: AnswerSheet, bank: QuestionBank) -> Outcome | None:
    """The result of a completed entry (None while questions remain)."""
    if sheet.status != "completed":
        return None
    score = session.execute(_SCORE, {"participant_id": sheet.participant_id}).one()
    reviews = tuple((it, bank.by_id[it.question_id]) for it in sheet.items)
    return Outcome(score.score, score.total, score.mobile_masked or "", reviews)


def sheet_of_participant(session: Session, participant_id: int) -> AnswerSheet | None:
    """The answer sheet of a participant known by id (scripts, tests, back office)."""
    return _sheet(session.execute(_SHEET_BY_ID, {"participant_id": participant_id}).all())


def answer_on_sheet(
    session: Session,
    campaign: Campaign,
    bank: QuestionBank,
    sheet: AnswerSheet,
    position: int,
    choices: Sequence[str],
    *,
    now: datetime | None = None,
) -> AnswerSheet:
    """Store the answer to question `position`; finishing the last one completes the entry.
    Returns the sheet as it now stands.

    Answers are only accepted in order. Sending the same answer twice (a double
    tap) is harmless; changing a stored answer is refused.
    """
    now = now or utcnow()
    ensure_open(campaign, now)
    item = next((it for it in sheet.items if it.position == position), None)
    if item is None:
        raise AnswerError("题目不存在,请返回继续答题。")
    question = bank.by_id[item.question_id]
    keys = {opt["key"] for opt in question.options}
    picked = sorted(set(choices))
    if not picked:
        raise AnswerError("请选择一个答案。")
    if not set(picked) <= keys:
        raise AnswerError("所选答案无效,请重新选择。")
    if not question.multiple and len(picked) != 1:
        raise AnswerError("本题为单选题,请只选择一个答案。")
    if item.answer is not None:
        if sorted(item.answer) == picked:
            return sheet
        raise AnswerError("本题已作答,答案不能修改。")
    pending = sheet.next
    if pending is None or pending.position != position:
        raise AnswerError("请按顺序答题。")
    correct = None if question.correct is None else sorted(question.correct) == picked
    stored = session.execute(
        _STORE_ANSWER,
        {
            "item_id": item.id,
            "new_answer": picked,
            "new_is_correct": correct,
            "new_answered_at": now,
        },
    ).rowcount
    if not stored:
        # PostgreSQL (read committed): a concurrent double tap stored first. The same
        # answer is that tap's success; another answer is a change, refused. The
        # request that stored the answer also finishes the entry.
        current = session.scalar(_STORED_ANSWER, {"item_id": item.id})
        if sorted(current or []) != picked:
            raise AnswerError("本题已作答,答案不能修改。")
        return _with_answer(sheet, item, picked, correct)
    _mirror(
        session, QuizItem, item.id, {"answer": picked, "is_correct": correct, "answered_at": now}
    )
    sheet = _with_answer(sheet, item, picked, correct)
    if sheet.next is None and _finish(session, sheet, bank, now):
        sheet = replace(sheet, status="completed")
    return sheet


def _with_answer(
    sheet: AnswerSheet, item: SheetItem, picked: list[str], correct: bool | None
) -> AnswerSheet:
    """The sheet with `item` answered: the next question a reply shows comes from it."""
    return replace(
        sheet,
        items=tuple(
            replace(it, answer=picked, is_correct=correct) if it.id == item.id else it
            for it in sheet.items
        ),
    )


def _mirror(session: Session, model: type[Any], pk: int, values: Mapping[str, Any]) -> None:
    """Show values just written with a Core UPDATE on the session's copy of the row, if it
    holds one (callers that loaded ORM objects keep seeing what is stored)."""
    obj = session.identity_map.get(identity_key(model, pk))
    if obj is not None:
        for name, value in values.items():
            set_committed_value(obj, name, value)


def record_answer(
    session: Session,
    participant: Participant,
    position: int,
    choices: Sequence[str],
    *,
    now: datetime | None = None,
    campaign: Campaign | None = None,
) -> AnswerSheet:
    """answer_on_sheet for a Participant object (scripts, tests, back office)."""
    campaign = campaign or participant.campaign
    sheet = sheet_of_participant(session, participant.id)
    if sheet is None:
        raise AnswerError("题目不存在,请返回继续答题。")
    bank = question_bank(session, campaign.id)
    return answer_on_sheet(session, campaign, bank, sheet, position, choices, now=now)


def _finish(session: Session, sheet: AnswerSheet, bank: QuestionBank, now: datetime) -> bool:
    """Score the entry and keep the purchase-intent answers as lead data. False when
    another request completed it first."""
    score = sum(1 for it in sheet.items if it.is_correct)
    intent: dict[str, Any] = {}
    intent_level: str | None = None
    opt_out = False
    for it in sheet.items:
        q = bank.by_id[it.question_id]
        if q.kind != "intent" or it.answer is None:
            continue
        labels = {opt["key"]: opt["text"] for opt in q.options}
        intent[q.key] = [labels[k] for k in it.answer]
        opt_out = opt_out or OPT_OUT_TEXT in intent[q.key]
        if intent_level is None:
            intent_level = labels[it.answer[0]][:32]
    values: dict[str, Any] = {
        "status": "completed",
        "completed_at": now,
        "score": score,
        "intent": intent,
        "intent_level": intent_level,
        "contact_opt_out": opt_out,
    }
    params = {f"new_{name}": value for name, value in values.items()}
    done = session.execute(_FINISH, {"participant_id": sheet.participant_id, **params}).rowcount
    if done:
        _mirror(session, Participant, sheet.participant_id, values)
    return bool(done)
