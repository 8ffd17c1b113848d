"""The question bank: a campaign's questions and the random subset each entrant gets."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from quiz.models import Campaign, Participant, Question, QuizItem

# The statements of the public flow are built once, on table columns: each keeps its SQL
# cache key, so a request neither rebuilds nor re-hashes them, and none takes the ORM's
# compile step.
_PARTICIPANT = Participant.__table__.c


_ITEM = QuizItem.__table__.c


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
