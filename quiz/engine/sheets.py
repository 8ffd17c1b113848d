"""Answer sheets: record answers one by one, score and finish (the quiz engine)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from quiz.campaign.lifecycle import FlowError, ensure_open
from quiz.db import utcnow
from quiz.engine import entry_counts, intent_counts
from quiz.engine.bank import QuestionBank, question_bank
from quiz.engine.shuffle import option_order
from quiz.models import Campaign, Participant, Question, QuizItem

# The intent option by which a participant declines sales contact (campaign plan, step 5).
OPT_OUT_TEXT = "暂不需要联系"


class AnswerError(FlowError):
    """The answer cannot be accepted (wrong question, invalid choice)."""


# The statements of the public flow are built once, on table columns: each keeps its SQL
# cache key, so a request neither rebuilds nor re-hashes them, and none takes the ORM's
# compile step.
_PARTICIPANT = Participant.__table__.c


_ITEM = QuizItem.__table__.c


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
        option_order=bindparam("new_option_order", type_=_ITEM.option_order.type),
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
    shown_to: str | None = None,
) -> AnswerSheet:
    """Store the answer to question `position`; finishing the last one completes the entry.
    Returns the sheet as it now stands. `shown_to` is the entry's public id, whose
    option order (engine.shuffle) is stored with the answer.

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
            "new_option_order": (
                None
                if shown_to is None
                else option_order(shown_to, question.key, [o["key"] for o in question.options])
            ),
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
        # The dashboard's figures, in this same transaction (exact under concurrency).
        entry_counts.count_finished(session, sheet.participant_id)
        intent_counts.count_completed(session, sheet.participant_id)
    return bool(done)
