"""The campaign window: open or closed, and which campaign the public site serves."""

from __future__ import annotations

from datetime import datetime, timedelta

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


# The six stages a campaign passes through, in order, with their Chinese names.
STAGES: dict[str, str] = {
    "draft": "草稿",
    "scheduled": "已发布(未开始)",
    "open": "进行中",
    "closed": "已结束",
    "drawn": "已开奖",
    "archived": "已归档",
}


def stage(campaign: Campaign, now: datetime, has_drawn: bool) -> str:
    """The lifecycle stage (a key of STAGES) from the status, the window and the draws.

    Status wins over the window (a draft whose window has begun is still a draft; an
    archived campaign stays archived); a published one is scheduled, open or closed by
    its window, and drawn once a draw of it has run (`has_drawn`), whatever the clock says.
    """
    if campaign.status == "draft":
        return "draft"
    if campaign.status == "archived":
        return "archived"
    if has_drawn:
        return "drawn"
    return {"upcoming": "scheduled", "open": "open", "closed": "closed"}[
        window_state(campaign, now)
    ]


def current_campaign(session: Session) -> Campaign | None:
    """The campaign the old, campaign-less addresses serve (/register, /draw ...): the
    first published prize quiz, the one those addresses were printed for before there were
    several, so a campaign opened later never takes them over (it has its /c/<slug>/). Back-
    office defaults use it when no campaign is chosen."""
    published = select(Campaign).where(Campaign.status == "published")
    return (
        session.scalars(
            published.where(Campaign.kind == "prize_quiz").order_by(Campaign.id).limit(1)
        ).first()
        or session.scalars(published.order_by(Campaign.id).limit(1)).first()
    )


def campaign_by_slug(session: Session, slug: str) -> Campaign | None:
    """The campaign at /c/<slug>/, or None (drafts have no public address)."""
    return session.scalars(
        select(Campaign).where(Campaign.slug == slug, Campaign.status == "published")
    ).first()


def all_campaigns(session: Session) -> list[Campaign]:
    """Every campaign, newest window first (the back office's switcher and the CLI)."""
    return list(
        session.scalars(select(Campaign).order_by(Campaign.opens_at.desc(), Campaign.id.desc()))
    )


# How long a closed campaign stays listed on / (its winners are published after the draw).
RECENTLY_CLOSED = timedelta(days=60)


def listed_campaigns(session: Session, now: datetime | None = None) -> list[Campaign]:
    """The campaigns / lists: published ones that are open, about to open, or closed within
    RECENTLY_CLOSED; open ones first, then upcoming, then closed, each soonest first."""
    now = now or utcnow()
    rows = session.scalars(
        select(Campaign)
        .where(Campaign.status == "published", Campaign.closes_at >= now - RECENTLY_CLOSED)
        .order_by(Campaign.opens_at, Campaign.id)
    ).all()
    order = {"open": 0, "upcoming": 1, "closed": 2}
    return sorted(rows, key=lambda c: order[window_state(c, now)])


# The statements of the public flow are built once, on table columns: each keeps its SQL
# cache key, so a request neither rebuilds nor re-hashes them, and none takes the ORM's
# compile step.
_PARTICIPANT = Participant.__table__.c


_ITEM = QuizItem.__table__.c
