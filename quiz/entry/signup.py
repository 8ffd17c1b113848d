"""Public sign-up: consent, registration, one entry per person, resume.

Plain functions over a Session; they flush but never commit, and raise
domain errors whose messages are shown to participants as they are.
"""

from __future__ import annotations

import hmac
import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, joinedload, make_transient_to_detached

from quiz import identity, outbox
from quiz.branches.routing import ResolvedAddress, route_participant
from quiz.campaign.lifecycle import FlowError, ensure_open
from quiz.db import utcnow
from quiz.engine import entry_counts
from quiz.engine.bank import QuestionBank, choose_questions
from quiz.entry import age
from quiz.models import Campaign, Participant, QuizItem
from quiz.owners import service as owners
from quiz.privacy.protection import Protector
from quiz.referrals.links import flag_new_entry, stored_ip


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
    """The ID number's holder is not 18 on the day of entry (quiz.entry.age)."""


class NotFound(FlowError):
    """No entry matches the details given."""


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
    entry_counts.count_new(session, values)  # the dashboard's counters, same transaction
    # The CRM hand-off (quiz.webhooks), same transaction: rolled back with the entry.
    outbox.record(session, participant.campaign_id, new_id, outbox.LEAD_CREATED)
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
    if participant.agent_id is not None:  # a referred lead starts owned by its agent
        owners.adopt_referred(session, participant)
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
