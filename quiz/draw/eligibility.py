"""Who takes part in the draw, and head office's exclusions before the freeze."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, exists, false, select
from sqlalchemy.orm import Session

from quiz.models import (
    Campaign,
    Draw,
    Exclusion,
    ListEntrant,
    Participant,
    StaffUser,
    Winner,
)
from quiz.staff import audit
from quiz.text_safety import strip_invisible


class DrawRefused(Exception):
    """A draw operation is refused; str(exc) is the Chinese message for staff."""


def eligible_query(campaign: Campaign, until: datetime | None = None) -> Select[Any]:
    """(participant id, masked name, masked mobile) of every eligible entry, in entry order.

    Eligible: completed inside the campaign window, 18 or older on the day of entry (the
    registration's rule, quiz.entry.age: an entry of unknown age is not drawn), not excluded by
    flag or by an Exclusion row on the same ID-number hash, not anonymised, and
    score >= min_score when one is set.
    The id_hash is unique per campaign, so each person appears at most once. `until`
    moves the end of the window (a draw declared to close earlier than the campaign).
    """
    p = Participant
    closes_at = until or campaign.closes_at
    excluded_by_row = exists().where(
        Exclusion.campaign_id == campaign.id, Exclusion.id_hash == p.id_hash
    )
    stmt = (
        select(p.id, p.name_masked, p.mobile_masked)
        .where(
            p.campaign_id == campaign.id,
            p.status == "completed",
            p.created_at >= campaign.opens_at,
            p.created_at <= closes_at,
            p.completed_at.is_not(None),
            p.completed_at >= campaign.opens_at,
            p.completed_at <= closes_at,
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


def list_eligible_query(campaign: Campaign, import_id: int | None) -> Select[Any]:
    """(list entrant id, masked name, masked mobile) of an imported list, in file order:
    everyone on the list not anonymised and not excluded (Exclusion rows of a list draw
    hold the keyed hash of the 客户号 where a quiz's hold the ID number's)."""
    e = ListEntrant
    excluded_by_row = exists().where(
        Exclusion.campaign_id == campaign.id, Exclusion.id_hash == e.customer_hash
    )
    stmt = select(e.id, e.name_masked, e.mobile_masked).where(
        e.campaign_id == campaign.id, e.anonymised_at.is_(None), ~excluded_by_row
    )
    stmt = stmt.where(e.import_id == import_id) if import_id is not None else stmt.where(false())
    return stmt.order_by(e.line_no, e.id)


def earlier_winner_filter(campaign: Campaign, number: int) -> ColumnElement[bool]:
    """Not a winner of an earlier draw (lower number, drawn, not voided) of the campaign:
    the same ID number for a quiz, the same 客户号 for a list."""
    earlier = (
        select(Winner.draw_id)
        .join(Draw, Draw.id == Winner.draw_id)
        .where(Draw.campaign_id == campaign.id, Draw.status == "drawn", Draw.number < number)
    )
    if campaign.kind == "list_draw":
        won = ListEntrant.__table__.alias("won")
        return ~exists(
            earlier.join(won, won.c.id == Winner.list_entrant_id).where(
                won.c.customer_hash == ListEntrant.customer_hash
            )
        )
    won_p = Participant.__table__.alias("won_p")
    return ~exists(
        earlier.join(won_p, won_p.c.id == Winner.participant_id).where(
            won_p.c.id_hash == Participant.id_hash
        )
    )


def active_draw(session: Session, campaign: Campaign, number: int | None = None) -> Draw | None:
    """The campaign's frozen or drawn draw (voided ones are history): of that number, or
    the newest of any number."""
    stmt = select(Draw).where(Draw.campaign_id == campaign.id, Draw.status != "voided")
    if number is not None:
        stmt = stmt.where(Draw.number == number)
    return session.scalars(stmt.order_by(Draw.id.desc()).limit(1)).first()


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
