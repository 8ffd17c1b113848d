"""Who takes part in the draw, and head office's exclusions before the freeze."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, exists, select
from sqlalchemy.orm import Session

from quiz.models import Campaign, Draw, Exclusion, Participant, StaffUser
from quiz.staff import audit
from quiz.text_safety import strip_invisible


class DrawRefused(Exception):
    """A draw operation is refused; str(exc) is the Chinese message for staff."""


def eligible_query(campaign: Campaign) -> Select[Any]:
    """(participant id, masked name, masked mobile) of every eligible entry, in entry order.

    Eligible: completed inside the campaign window, 18 or older on the day of entry (the
    registration's rule, quiz.entry.age: an entry of unknown age is not drawn), not excluded by
    flag or by an Exclusion row on the same ID-number hash, not anonymised, and
    score >= min_score when one is set.
    The id_hash is unique per campaign, so each person appears at most once.
    """
    p = Participant
    excluded_by_row = exists().where(
        Exclusion.campaign_id == campaign.id, Exclusion.id_hash == p.id_hash
    )
    stmt = (
        select(p.id, p.name_masked, p.mobile_masked)
        .where(
            p.campaign_id == campaign.id,
            p.status == "completed",
            p.created_at >= campaign.opens_at,
            p.created_at <= campaign.closes_at,
            p.completed_at.is_not(None),
            p.completed_at >= campaign.opens_at,
            p.completed_at <= campaign.closes_at,
            p.adult.is_(True),
            p.excluded.is_(False),
            # Withdrawn consent (anonymised) means no draw, as the privacy notice says.
            p.anonymised_at.is_(None),
            ~excluded_by_row,
        )
        .order_by(p.completed_at, p.id)
    )
    min_score = campaign.content.get("min_score")
    if min_score is not None:
        stmt = stmt.where(p.score >= int(min_score))
    return stmt


def active_draw(session: Session, campaign: Campaign) -> Draw | None:
    """The campaign's frozen or drawn draw (voided ones are history)."""
    return session.scalars(
        select(Draw)
        .where(Draw.campaign_id == campaign.id, Draw.status != "voided")
        .order_by(Draw.id.desc())
        .limit(1)
    ).first()


def exclude_participant(
    session: Session,
    campaign: Campaign,
    participant: Participant,
    reason: str,
    actor: StaffUser | None = None,
    *,
    operator: str | None = None,
    ip: str | None = None,
) -> Exclusion:
    """Exclude a participant (and their ID number) from the draw; refused once frozen."""
    reason = strip_invisible(reason or "").strip()
    if not reason:
        raise DrawRefused("请填写排除原因。")
    if len(reason) > 200:
        raise DrawRefused("排除原因不能超过200个字。")
    if participant.campaign_id != campaign.id:
        raise DrawRefused("该参与者不属于本次活动。")
    # The lock freeze takes: on PostgreSQL an exclusion saved while a freeze runs would
    # otherwise pass the check below and still leave the person in the frozen list.
    session.execute(select(Campaign.id).where(Campaign.id == campaign.id).with_for_update())
    if active_draw(session, campaign) is not None:
        raise DrawRefused("抽奖名单已冻结,不能再排除参与者;如确需调整,请先作废本次抽奖。")
    participant.excluded = True
    participant.excluded_reason = reason
    exclusion = session.scalars(
        select(Exclusion).where(
            Exclusion.campaign_id == campaign.id, Exclusion.id_hash == participant.id_hash
        )
    ).first()
    if exclusion is None:
        exclusion = Exclusion(campaign_id=campaign.id, id_hash=participant.id_hash, reason=reason)
        session.add(exclusion)
    else:
        exclusion.reason = reason
    session.flush()
    audit.record(
        session,
        actor,
        "draw.exclude",
        f"participant:{participant.id}",
        {"reason": reason, "campaign": campaign.slug},
        ip,
        actor_name=operator,
    )
    return exclusion
