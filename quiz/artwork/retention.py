"""Retention and erasure for the drawing contest: child, guardian and the image files.

Erasing a family deletes its rows (children, works and their scores go with them by
cascade) and both picture files of every work; the invitation stays, marked used, so the
agent's count still adds up. The purge erases every family of a contest whose period has
ended, counted from the campaign's draw_at (总公司发布获奖名单): families without an
award after follow_up_retention_days, awarded ones after winner_retention_days.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from quiz.artwork.images import MediaStore
from quiz.db import utcnow
from quiz.models import ArtworkChild, ArtworkFamily, ArtworkWork, Campaign
from quiz.privacy.protection import Protector


@dataclass
class ErasureReport:
    families: int = 0
    children: int = 0
    files: int = 0
    family_ids: list[int] = field(default_factory=list)


def erase_family(
    session: Session, store: MediaStore, family: ArtworkFamily, report: ErasureReport | None = None
) -> ErasureReport:
    """Delete a family, its children, their works, scores and picture files (flush)."""
    report = report or ErasureReport()
    keys = session.scalars(
        select(ArtworkWork.image_key)
        .join(ArtworkChild, ArtworkWork.child_id == ArtworkChild.id)
        .where(ArtworkChild.family_id == family.id)
    ).all()
    report.children += len(family.children)
    report.families += 1
    report.family_ids.append(family.id)
    for child in family.children:
        if child.work is not None:
            session.delete(child.work)
    session.delete(family)
    session.flush()
    for key in keys:  # after the rows: a failed flush must not leave rows without files
        report.files += store.delete(key)
    return report


def families_by_mobile(session: Session, protector: Protector, mobile: str) -> list[ArtworkFamily]:
    """Every contest family a guardian's mobile signed up (an erasure request)."""
    return list(
        session.scalars(
            select(ArtworkFamily).where(
                ArtworkFamily.mobile_hash == protector.lookup_hash("mobile", mobile)
            )
        )
    )


def purge(
    session: Session, store: MediaStore, *, now: datetime | None = None, dry_run: bool = False
) -> ErasureReport:
    """Erase the families of drawing contests whose retention period has ended."""
    now = now or utcnow()
    report = ErasureReport()
    contests = session.scalars(select(Campaign).where(Campaign.kind == "artwork_contest"))
    for campaign in contests:
        follow_up = int(campaign.content.get("follow_up_retention_days") or 0)
        winners = int(campaign.content.get("winner_retention_days") or 0)
        if not follow_up or now < campaign.draw_at + timedelta(days=follow_up):
            continue
        winners_due = bool(winners) and now >= campaign.draw_at + timedelta(days=winners)
        families = session.scalars(
            select(ArtworkFamily).where(ArtworkFamily.campaign_id == campaign.id)
        ).all()
        for family in families:
            awarded = any(c.work is not None and c.work.award for c in family.children)
            if awarded and not winners_due:
                continue
            if dry_run:
                report.families += 1
                report.children += len(family.children)
                report.family_ids.append(family.id)
            else:
                erase_family(session, store, family, report)
    return report
