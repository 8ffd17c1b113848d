"""Results: the public gallery, certificates, the per-branch export, the works TSV."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction

from sqlalchemy import select
from sqlalchemy.orm import Session

from quiz.artwork.judging import ROUNDS, ranking
from quiz.campaign.artwork_settings import ArtworkSettings
from quiz.leads.exports import neutralise
from quiz.models import ArtworkChild, ArtworkFamily, ArtworkWork, Branch, Campaign
from quiz.privacy.protection import Protector


@dataclass(frozen=True)
class GalleryItem:
    number: str
    group: str
    award: str
    caption: str  # 王小* (8岁)
    city: str
    image_key: str


def branch_city(branch: Branch) -> str:
    """The place a branch names (北京分公司 -> 北京), shown instead of anything closer."""
    name = branch.name
    for suffix in ("分公司", "中心支公司", "支公司", "营业部", "总公司"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def gallery(session: Session, campaign: Campaign, settings: ArtworkSettings) -> list[GalleryItem]:
    """Awarded works whose guardian consented to publishing, by group and award order."""
    tier_order = {tier: i for i, (tier, _) in enumerate(settings.awards)}
    group_order = {g.name: i for i, g in enumerate(settings.groups)}
    rows = session.execute(
        select(ArtworkWork, ArtworkChild, Branch)
        .join(ArtworkChild, ArtworkWork.child_id == ArtworkChild.id)
        .join(ArtworkFamily, ArtworkChild.family_id == ArtworkFamily.id)
        .join(Branch, ArtworkWork.branch_id == Branch.id)
        .where(
            ArtworkWork.campaign_id == campaign.id,
            ArtworkWork.stage == "awarded",
            ArtworkFamily.consent_publish.is_(True),
            ArtworkFamily.anonymised_at.is_(None),
        )
    ).all()
    items = [
        GalleryItem(
            f"{child.id:05d}",
            work.age_group,
            work.award or "",
            f"{child.name_masked} ({child.age}岁)",
            branch_city(branch),
            work.image_key,
        )
        for work, child, branch in rows
    ]
    items.sort(key=lambda i: (group_order.get(i.group, 99), tier_order.get(i.award, 99), i.number))
    return items


@dataclass(frozen=True)
class Certificate:
    number: str
    child_name: str
    age: int
    group: str
    award: str
    branch: str


def certificates(
    session: Session, protector: Protector, campaign: Campaign, branch_id: int | None
) -> list[Certificate]:
    """Printable certificates (the full name: handed to the family) of a branch or all."""
    stmt = (
        select(ArtworkWork, ArtworkChild, Branch)
        .join(ArtworkChild, ArtworkWork.child_id == ArtworkChild.id)
        .join(Branch, ArtworkWork.branch_id == Branch.id)
        .where(ArtworkWork.campaign_id == campaign.id, ArtworkWork.stage == "awarded")
        .order_by(ArtworkWork.age_group, ArtworkWork.award_rank)
    )
    if branch_id is not None:
        stmt = stmt.where(ArtworkWork.branch_id == branch_id)
    return [
        Certificate(
            f"{child.id:05d}",
            protector.decrypt(child.name_enc),
            child.age,
            work.age_group,
            work.award or "",
            branch.name,
        )
        for work, child, branch in session.execute(stmt)
    ]


EXPORT_HEADER = ("作品编号", "组别", "孩子", "年龄", "监护人", "关系", "手机", "代理人", "奖项")


def family_rows(
    session: Session, protector: Protector, campaign: Campaign, branch_id: int
) -> Iterator[list[str]]:
    """One branch's families and awards for the agents' follow-up (formulas neutralised)."""
    yield list(EXPORT_HEADER)
    stmt = (
        select(ArtworkChild, ArtworkFamily, ArtworkWork)
        .join(ArtworkFamily, ArtworkChild.family_id == ArtworkFamily.id)
        .outerjoin(ArtworkWork, ArtworkWork.child_id == ArtworkChild.id)
        .where(
            ArtworkChild.campaign_id == campaign.id,
            ArtworkFamily.branch_id == branch_id,
            ArtworkFamily.anonymised_at.is_(None),
        )
        .order_by(ArtworkChild.id)
    )
    for child, family, work in session.execute(stmt):
        yield [
            neutralise(value)
            for value in (
                f"{child.id:05d}",
                child.age_group,
                protector.decrypt(child.name_enc),
                str(child.age),
                protector.decrypt(family.guardian_enc),
                family.relation,
                protector.decrypt(family.mobile_enc),
                f"{family.agent.code} {family.agent.name}",
                (work.award if work else None) or "",
            )
        ]


def _mean_text(mean: Fraction | None) -> str:
    return "" if mean is None else f"{float(mean):.2f}"


def works_tsv(session: Session, campaign: Campaign, settings: ArtworkSettings) -> Iterator[str]:
    """Lines of `group, work number, branch code, round, mean score, award` (with a header).

    The round is the furthest the work reached (初评 for works not sent on) and the mean
    that round's trimmed mean.
    """
    yield "group\twork\tbranch\tround\tmean\taward"
    codes = dict(session.execute(select(Branch.id, Branch.code)).all())
    means: dict[tuple[int, str], Fraction | None] = {}
    for group in settings.groups:
        for round_ in ROUNDS:
            for r in ranking(session, campaign, round_, group.name):
                means[(r.work.id, round_)] = r.mean
    works = session.scalars(
        select(ArtworkWork)
        .where(ArtworkWork.campaign_id == campaign.id)
        .order_by(ArtworkWork.age_group, ArtworkWork.child_id)
    )
    for work in works:
        round_ = {"entered": "初评", "selected": "复评"}.get(work.stage, "终评")
        mean = _mean_text(means.get((work.id, round_))) if round_ != "初评" else ""
        yield "\t".join(
            (
                work.age_group,
                f"{work.child_id:05d}",
                codes.get(work.branch_id, ""),
                round_,
                mean,
                work.award or "",
            )
        )
