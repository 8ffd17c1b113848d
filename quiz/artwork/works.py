"""Works on the day: check-in lists per branch and group, one photographed work per child."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from quiz.artwork.images import MediaStore, Processed
from quiz.db import utcnow
from quiz.models import ArtworkChild, ArtworkFamily, ArtworkWork, Campaign

ONE_WORK = "这个孩子已经交了作品,每个孩子限交一幅作品。"


class WorkError(ValueError):
    """Refused; the message is for the staff member or guardian."""


def work_number(work: ArtworkWork | None, child: ArtworkChild) -> str:
    """The number judges and certificates use: the child's entry number (no name in it)."""
    return f"{child.id:05d}"


@dataclass(frozen=True)
class CheckInRow:
    child: ArtworkChild
    family: ArtworkFamily
    work: ArtworkWork | None


def check_in_list(
    session: Session, campaign: Campaign, branch_id: int | None, group: str | None
) -> list[CheckInRow]:
    """The children of a branch (None: every branch), of one group or all, by number."""
    stmt = (
        select(ArtworkChild, ArtworkFamily, ArtworkWork)
        .join(ArtworkFamily, ArtworkChild.family_id == ArtworkFamily.id)
        .outerjoin(ArtworkWork, ArtworkWork.child_id == ArtworkChild.id)
        .where(ArtworkChild.campaign_id == campaign.id, ArtworkFamily.anonymised_at.is_(None))
        .order_by(ArtworkChild.age_group, ArtworkChild.id)
    )
    if branch_id is not None:
        stmt = stmt.where(ArtworkFamily.branch_id == branch_id)
    if group:
        stmt = stmt.where(ArtworkChild.age_group == group)
    return [CheckInRow(c, f, w) for c, f, w in session.execute(stmt)]


def check_in(session: Session, child: ArtworkChild, actor: str) -> None:
    """Mark the child present at the branch (again: no change)."""
    if child.checked_in_at is None:
        child.checked_in_at = utcnow()
        child.checked_in_by = actor[:64]
        session.flush()


def attach_work(
    session: Session,
    store: MediaStore,
    child: ArtworkChild,
    processed: Processed,
    uploaded_by: str,
) -> ArtworkWork:
    """Store the re-encoded picture as the child's one work (WorkError for a second)."""
    if session.scalar(select(ArtworkWork.id).where(ArtworkWork.child_id == child.id)):
        raise WorkError(ONE_WORK)
    key = store.save(processed)
    work = ArtworkWork(
        child_id=child.id,
        campaign_id=child.campaign_id,
        branch_id=child.family.branch_id,
        age_group=child.age_group,
        image_key=key,
        width=processed.width,
        height=processed.height,
        uploaded_by=uploaded_by[:64],
    )
    session.add(work)
    try:
        session.flush()
    except Exception:
        store.delete(key)  # the unique child_id lost a race: leave no orphan file
        raise
    if child.checked_in_at is None:
        child.checked_in_at = work.created_at
        child.checked_in_by = uploaded_by[:64]
    return work
