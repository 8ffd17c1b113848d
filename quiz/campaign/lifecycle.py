"""The campaign window: open or closed, and which campaign the public site serves."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from quiz.db import utcnow
from quiz.models import Campaign, Participant, QuizItem


class FlowError(Exception):
    """A participant-facing refusal; str(exc) is the Chinese message."""


class NotOpen(FlowError):
    """The campaign has not started yet."""


class Closed(FlowError):
    """The campaign no longer takes entries or answers."""


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
