"""Key rotation: re-encrypt stored personal data under the newest data key and,
when the hash key changes, recompute the look-up hashes from the decrypted values.

The work goes in batches of rows, each batch in its own transaction. A row that
is already up to date (token readable with the newest key alone, hashes equal to
the new ones) is left untouched, so an interrupted run simply runs again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from quiz.db import Database
from quiz.models import (
    Agent,
    ArtworkChild,
    ArtworkFamily,
    Campaign,
    Exclusion,
    ListEntrant,
    Participant,
    StaffUser,
)
from quiz.privacy import list_entrants
from quiz.privacy.protection import KeyError_, Protector

Progress = Callable[[str, int, int], None]
PARTICIPANT_COLUMNS = ("id_enc", "mobile_enc", "landline_enc")


@dataclass
class RotationReport:
    """Counts of what a rotation changed."""

    participants_seen: int = 0
    list_entrants_seen: int = 0
    tokens_reencrypted: int = 0
    hashes_recomputed: int = 0
    exclusions_rehashed: int = 0
    agents_rehashed: int = 0
    staff_reencrypted: int = 0
    unmatched_exclusions: list[int] = field(default_factory=list)
    unmatched_agents: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "participants_seen": self.participants_seen,
            "list_entrants_seen": self.list_entrants_seen,
            "tokens_reencrypted": self.tokens_reencrypted,
            "hashes_recomputed": self.hashes_recomputed,
            "exclusions_rehashed": self.exclusions_rehashed,
            "agents_rehashed": self.agents_rehashed,
            "staff_reencrypted": self.staff_reencrypted,
            "unmatched_exclusions": len(self.unmatched_exclusions),
            "unmatched_agents": len(self.unmatched_agents),
        }


class KeyRing:
    """The configured keys plus, during a hash-key change, the new hash key."""

    def __init__(self, data_keys: list[str], hash_key: str, new_hash_key: str | None = None):
        self.protector = Protector(data_keys, hash_key)
        self.newest = Fernet(data_keys[0].encode())
        self.new_hasher: Protector | None = None
        if new_hash_key and new_hash_key != hash_key:
            try:
                self.new_hasher = Protector(data_keys, new_hash_key)
            except KeyError_ as exc:  # the message names the configured key: name this one
                raise KeyError_(str(exc).replace("QUIZ_HASH_KEY", "the new hash key")) from exc

    def is_current(self, token: bytes) -> bool:
        """True when the newest key alone decrypts the token (nothing to re-encrypt)."""
        try:
            self.newest.decrypt(token)
        except InvalidToken:
            return False
        return True

    def rotate(self, token: bytes) -> bytes | None:
        """The token under the newest key, or None when it already is."""
        if self.is_current(token):
            return None
        try:
            return self.protector.rotate(token)
        except InvalidToken as exc:
            raise KeyError_("a stored value cannot be decrypted with the configured keys") from exc


def _rotate_participant(
    session: Session, ring: KeyRing, participant: Participant, report: RotationReport
) -> None:
    report.participants_seen += 1
    if ring.new_hasher is not None and participant.anonymised_at is None:
        _rehash(session, ring, participant, report)
    for column in PARTICIPANT_COLUMNS:
        token = getattr(participant, column)
        if token is None:
            continue
        new = ring.rotate(token)
        if new is not None:
            setattr(participant, column, new)
            report.tokens_reencrypted += 1


def _rehash(
    session: Session, ring: KeyRing, participant: Participant, report: RotationReport
) -> None:
    assert ring.new_hasher is not None
    number = ring.protector.decrypt(participant.id_enc)
    mobile = ring.protector.decrypt(participant.mobile_enc)
    new_id_hash = ring.new_hasher.lookup_hash("rid", number)
    new_mobile_hash = ring.new_hasher.lookup_hash("mobile", mobile)
    if participant.id_hash != new_id_hash:
        # Exclusions store only the hash: carry them over from the person's old hash, in
        # any campaign (each named, so the (campaign_id, id_hash) key serves, not a scan).
        report.exclusions_rehashed += session.execute(
            update(Exclusion)
            .where(
                Exclusion.campaign_id.in_(select(Campaign.id)),
                Exclusion.id_hash == participant.id_hash,
            )
            .values(id_hash=new_id_hash)
            .execution_options(synchronize_session=False)
        ).rowcount
        participant.id_hash = new_id_hash
        report.hashes_recomputed += 1
    if participant.mobile_hash != new_mobile_hash:
        # Agents store only their mobile's hash too (self-referral check): carry it over
        # from an entry with the same mobile, or self-referrals go unflagged after the switch.
        report.agents_rehashed += session.execute(
            update(Agent)
            .where(Agent.mobile_hash == participant.mobile_hash)
            .values(mobile_hash=new_mobile_hash)
            .execution_options(synchronize_session=False)
        ).rowcount
        participant.mobile_hash = new_mobile_hash
        report.hashes_recomputed += 1


def _rotate_list_entrant(
    session: Session, ring: KeyRing, entrant: ListEntrant, report: RotationReport
) -> None:
    report.list_entrants_seen += 1
    if ring.new_hasher is not None and entrant.anonymised_at is None:
        report.exclusions_rehashed += list_entrants.rehash(
            session, ring.new_hasher, ring.protector, entrant
        )
        report.hashes_recomputed += 1
    new = ring.rotate(entrant.personal_enc)
    if new is not None:
        entrant.personal_enc = new
        report.tokens_reencrypted += 1


def _in_batches(
    database: Database,
    model: type[Participant] | type[ListEntrant],
    batch_size: int,
    rotate: Callable[[Session, Any], None],
    label: str,
    progress: Progress | None,
) -> None:
    """Rotate every row of `model` in id order, one committed transaction per batch, and
    report progress after each commit (an interrupted run resumes from the rows left)."""
    with database.transaction(write=False) as session:
        total = int(session.scalar(select(func.count()).select_from(model)) or 0)
    last_id = done = 0
    while True:
        with database.transaction() as session:
            rows = session.scalars(
                select(model).where(model.id > last_id).order_by(model.id).limit(batch_size)
            ).all()
            for row in rows:
                rotate(session, row)
            session.flush()
        if not rows:
            return
        last_id = rows[-1].id
        done += len(rows)
        if progress:
            progress(label, done, total)


def _rotate_staff(session: Session, ring: KeyRing, report: RotationReport) -> None:
    for user in session.scalars(select(StaffUser).where(StaffUser.totp_secret_enc.is_not(None))):
        assert user.totp_secret_enc is not None
        new = ring.rotate(user.totp_secret_enc)
        if new is not None:
            user.totp_secret_enc = new
            report.staff_reencrypted += 1
    session.flush()


def _rotate_artwork(session: Session, ring: KeyRing, report: RotationReport) -> None:
    """The drawing contest's guardians and children (quiz.artwork): names, mobile, school."""
    for family in session.scalars(select(ArtworkFamily)):
        if ring.new_hasher is not None:
            family.mobile_hash = ring.new_hasher.lookup_hash(
                "mobile", ring.protector.decrypt(family.mobile_enc)
            )
            report.hashes_recomputed += 1
        for column in ("guardian_enc", "mobile_enc"):
            new = ring.rotate(getattr(family, column))
            if new is not None:
                setattr(family, column, new)
                report.tokens_reencrypted += 1
    for child in session.scalars(select(ArtworkChild)):
        for column in ("name_enc", "school_enc"):
            token = getattr(child, column)
            new = ring.rotate(token) if token is not None else None
            if new is not None:
                setattr(child, column, new)
                report.tokens_reencrypted += 1
    session.flush()


def unmatched_exclusions(session: Session) -> list[int]:
    """Exclusions whose hash matches no participant or list entrant: they cannot be carried
    to a new hash key."""
    known = select(Participant.id_hash).union(select(ListEntrant.customer_hash))
    return list(session.scalars(select(Exclusion.id).where(Exclusion.id_hash.not_in(known))))


def rotate_keys(
    database: Database,
    ring: KeyRing,
    *,
    batch_size: int = 500,
    progress: Progress | None = None,
) -> RotationReport:
    """Re-encrypt every encrypted column and (with a new hash key) recompute hashes.

    Commits once per batch: this is a long job, not a request.
    """
    report = RotationReport()
    if ring.new_hasher is not None:
        with database.transaction() as session:
            report.unmatched_exclusions = unmatched_exclusions(session)
            report.unmatched_agents = unmatched_agents(session)
    _in_batches(
        database,
        Participant,
        batch_size,
        lambda session, row: _rotate_participant(session, ring, row, report),
        "participants",
        progress,
    )
    _in_batches(
        database,
        ListEntrant,
        batch_size,
        lambda session, row: _rotate_list_entrant(session, ring, row, report),
        "list entrants",
        progress,
    )
    with database.transaction() as session:
        _rotate_staff(session, ring, report)
    with database.transaction() as session:
        _rotate_artwork(session, ring, report)
    if progress:
        progress("staff", report.staff_reencrypted, report.staff_reencrypted)
    return report


def unmatched_agents(session: Session) -> list[int]:
    """Agents whose mobile hash matches no participant: their hash cannot be carried to a
    new hash key (the mobile itself is not stored), so the agents file must be imported
    again after the switch."""
    known = select(Participant.mobile_hash)
    return list(
        session.scalars(
            select(Agent.id).where(Agent.mobile_hash.is_not(None), Agent.mobile_hash.not_in(known))
        )
    )
