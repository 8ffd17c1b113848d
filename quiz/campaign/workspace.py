"""The workspace of campaigns: which exist, their stages and entries, and which one a
staff member is working on (the back office's campaign switcher)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from quiz.campaign.lifecycle import all_campaigns, current_campaign, stage
from quiz.db import utcnow
from quiz.models import Campaign, Draw, Participant, StaffUser


@dataclass(frozen=True)
class CampaignRow:
    """One campaign as `quiz campaign list` and the switcher show it."""

    id: int
    slug: str
    name: str
    kind: str
    stage: str
    opens_at: datetime
    closes_at: datetime
    entries: int


def drawn_campaign_ids(session: Session) -> set[int]:
    """Campaigns with a draw that has run (and not been voided)."""
    return set(session.scalars(select(Draw.campaign_id).where(Draw.status == "drawn")))


def campaign_rows(
    session: Session, now: datetime | None = None, *, count_entries: bool = True
) -> list[CampaignRow]:
    """Every campaign with its stage and entry count, newest window first.

    count_entries=False leaves the counts at 0: the staff pages' switcher runs on every
    page and must not count a million entries each time."""
    now = now or utcnow()
    entries: dict[int, int] = {}
    if count_entries:
        rows = session.execute(
            select(Participant.campaign_id, func.count()).group_by(Participant.campaign_id)
        )
        entries = {int(cid): int(n) for cid, n in rows}
    drawn = drawn_campaign_ids(session)
    return [
        CampaignRow(
            id=c.id,
            slug=c.slug,
            name=c.name,
            kind=c.kind,
            stage=stage(c, now, c.id in drawn),
            opens_at=c.opens_at,
            closes_at=c.closes_at,
            entries=int(entries.get(c.id, 0)),
        )
        for c in all_campaigns(session)
    ]


def selected_campaign(session: Session, staff: StaffUser) -> Campaign | None:
    """The campaign the back office shows `staff`: the one they last chose, else the one
    the public site serves by default (None when no campaign is loaded)."""
    if staff.current_campaign_id is not None:
        chosen = session.get(Campaign, staff.current_campaign_id)
        if chosen is not None:
            return chosen
    return (
        current_campaign(session)
        or session.scalars(
            select(Campaign).order_by(Campaign.opens_at.desc(), Campaign.id.desc()).limit(1)
        ).first()
    )


class UnknownCampaign(LookupError):
    """The switcher named a campaign that does not exist."""


def choose_campaign(session: Session, staff: StaffUser, campaign_id: int) -> Campaign:
    """Remember `campaign_id` as the campaign `staff` works on; flush, never commit."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise UnknownCampaign(campaign_id)
    staff.current_campaign_id = campaign.id
    session.flush()
    return campaign
