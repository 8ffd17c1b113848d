"""Retention: anonymise participants' personal data when its purpose has ended.

Non-winners are kept for the follow-up period, winners until their prize is
fulfilled and the winner period has passed (both counted from the draw date,
set in the campaign file's [privacy] section). Anonymising keeps the columns
statistics are built from (province, city, branch, score, status, intent,
channel, follow-up status) so that dashboards still add up afterwards.
"""

from __future__ import annotations

import secrets
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from quiz.db import utcnow
from quiz.identity import IdentityError, validate_mobile, validate_resident_id
from quiz.models import Campaign, Draw, FollowUp, Participant, RiskKey, RiskSignal, Winner
from quiz.privacy import list_entrants
from quiz.privacy.protection import Protector
from quiz.privacy.rules import ANONYMOUS_NAME, FINAL_SHIPPING_STATUSES, prize_pending
from quiz.regions import divisions


class RetentionError(Exception):
    """A deletion or purge the caller must confirm or correct."""


class PendingPrize(RetentionError):
    """The participant won a prize that has not been fulfilled yet."""


@dataclass
class PurgeReport:
    """What a purge did (or, in a dry run, would do)."""

    non_winners: int = 0
    winners: int = 0
    winners_pending: int = 0
    participant_ids: list[int] = field(default_factory=list)
    # People on imported lists (list_draw campaigns), counted apart.
    list_non_winners: int = 0
    list_winners: int = 0

    @property
    def anonymised(self) -> int:
        return self.non_winners + self.winners + self.list_non_winners + self.list_winners


def _region_text(participant: Participant) -> str:
    """Province + city names of the participant's address (no district, no street)."""
    code = participant.city_code or participant.province_code
    if not code or divisions.get(code) is None:
        return ""
    names: list[str] = []
    for division in divisions.path(code):
        if division.level <= divisions.PREFECTURE and division.name not in names:
            names.append(division.name)
    return "".join(names)


def anonymise(
    session: Session, protector: Protector, participant: Participant, now: datetime | None = None
) -> None:
    """Overwrite the participant's personal data in place; statistics columns stay."""
    participant.name = ANONYMOUS_NAME
    participant.name_masked = "*"
    participant.id_enc = protector.encrypt("")
    participant.mobile_enc = protector.encrypt("")
    if participant.landline_enc is not None:
        participant.landline_enc = protector.encrypt("")
    # Random, unique and not a hash of anything: the person can register again
    # in a later campaign and no look-up finds this row by their numbers.
    participant.id_hash = "anon-" + secrets.token_hex(29)
    participant.mobile_hash = "anon-" + secrets.token_hex(29)
    participant.id_masked = "*" * 18
    participant.id_last4 = ""
    participant.mobile_masked = "*" * 11
    participant.address = _region_text(participant)
    participant.postal_code = (participant.postal_code or "")[:4].ljust(4, "*") + "**"
    participant.district_code = None
    participant.division_code = participant.city_code or participant.province_code
    participant.unresolved_reason = None
    participant.consent_ip = None
    participant.anonymised_at = now or utcnow()
    session.execute(
        update(FollowUp).where(FollowUp.participant_id == participant.id).values(note="")
    )
    # The risk keys and signals are derived from the data just erased.
    session.execute(delete(RiskKey).where(RiskKey.participant_id == participant.id))
    session.execute(delete(RiskSignal).where(RiskSignal.participant_id == participant.id))
    # A courier's tracking number leads back to the delivery address.
    session.execute(
        update(Winner).where(Winner.participant_id == participant.id).values(tracking_no=None)
    )
    session.flush()


def _winner_rows(session: Session, participant_ids: Sequence[int]) -> dict[int, list[Winner]]:
    """Winner rows of non-voided draws, by participant."""
    if not participant_ids:
        return {}
    rows = session.scalars(
        select(Winner)
        .join(Draw, Draw.id == Winner.draw_id)
        .where(Winner.participant_id.in_(participant_ids), Draw.status != "voided")
    )
    found: dict[int, list[Winner]] = {}
    for row in rows:
        found.setdefault(row.participant_id, []).append(row)
    return found


def purge(
    session: Session,
    protector: Protector,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    limit: int | None = None,
) -> PurgeReport:
    """Anonymise participants whose retention period has ended (flush, no commit).

    With `limit`, at most that many are anonymised, so a caller can commit in
    batches and run again until nothing is left (already anonymised rows are skipped).
    """
    now = now or utcnow()
    report = PurgeReport()
    for campaign in session.scalars(select(Campaign).order_by(Campaign.id)):
        if campaign.kind == "list_draw":
            left = None if limit is None else limit - report.anonymised
            if left is not None and left <= 0:
                break
            non_winners, winners, pending = list_entrants.purge_campaign(
                session, protector, campaign, now=now, limit=left, dry_run=dry_run
            )
            report.list_non_winners += non_winners
            report.list_winners += winners
            report.winners_pending += pending
            continue
        follow_up_days = int(campaign.content.get("follow_up_retention_days") or 0)
        winner_days = int(campaign.content.get("winner_retention_days") or 0)
        if not follow_up_days or now < campaign.draw_at + timedelta(days=follow_up_days):
            continue
        winners_due = bool(winner_days) and now >= campaign.draw_at + timedelta(days=winner_days)
        last_id = 0
        while limit is None or report.anonymised < limit:
            batch = session.scalars(
                select(Participant)
                .where(
                    Participant.campaign_id == campaign.id,
                    Participant.anonymised_at.is_(None),
                    Participant.id > last_id,
                )
                .order_by(Participant.id)
                .limit(500)
            ).all()
            if not batch:
                break
            last_id = batch[-1].id
            wins = _winner_rows(session, [p.id for p in batch])
            for participant in batch:
                if limit is not None and report.anonymised >= limit:
                    break
                won = wins.get(participant.id)
                if won and (not winners_due or prize_pending(won)):
                    if winners_due:
                        report.winners_pending += 1
                    continue
                if won:
                    report.winners += 1
                else:
                    report.non_winners += 1
                report.participant_ids.append(participant.id)
                if not dry_run:
                    anonymise(session, protector, participant, now)
    return report


def find_person(
    session: Session,
    protector: Protector,
    *,
    id_number: str | None = None,
    mobile: str | None = None,
    last4: str | None = None,
) -> list[Participant]:
    """Every entry (all campaigns) of one person, by ID number or by mobile + ID last 4."""
    if id_number:
        raw = id_number.strip().upper()
        try:
            number = validate_resident_id(raw).number
        except IdentityError:
            number = raw
        # Every campaign named, so the lookup uses the (campaign_id, id_hash) key instead
        # of scanning all entries inside the write transaction.
        condition = Participant.campaign_id.in_(select(Campaign.id)) & (
            Participant.id_hash == protector.lookup_hash("rid", number)
        )
    elif mobile and last4:
        # Normalised as registration stored it: "+86 139-0000-0004" finds 13900000004.
        try:
            digits = validate_mobile(mobile)
        except IdentityError:
            digits = mobile.strip()
        condition = (Participant.mobile_hash == protector.lookup_hash("mobile", digits)) & (
            Participant.id_last4 == unicodedata.normalize("NFKC", last4).strip().upper()
        )
    else:
        raise RetentionError("give an ID number, or a mobile with the ID number's last 4")
    return list(session.scalars(select(Participant).where(condition).order_by(Participant.id)))


def pending_prizes(session: Session, participants: Sequence[Participant]) -> list[Winner]:
    """Unfulfilled prizes of these participants in non-voided draws."""
    wins = _winner_rows(session, [p.id for p in participants])
    return [
        w
        for rows in wins.values()
        for w in rows
        if w.shipping_status not in FINAL_SHIPPING_STATUSES
    ]


def delete_person(
    session: Session,
    protector: Protector,
    participants: Sequence[Participant],
    *,
    force: bool = False,
    now: datetime | None = None,
) -> list[Participant]:
    """Anonymise a person's entries now (their deletion request); flush, no commit.

    Raises PendingPrize when one of them has a prize still to be sent, unless forced.
    """
    pending = pending_prizes(session, participants)
    if pending and not force:
        raise PendingPrize(
            f"{len(pending)} prize(s) not fulfilled yet (shipping status "
            f"{', '.join(sorted({w.shipping_status for w in pending}))})"
        )
    done = [p for p in participants if p.anonymised_at is None]
    for participant in done:
        anonymise(session, protector, participant, now)
    return done
