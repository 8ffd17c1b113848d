"""Guardian sign-up: one family per invitation, one entry per child, minimum data kept.

The guardian gives their name, mobile and relation; for each child the name, birth date
(only the age in whole years on the reference date and the group are stored) and,
optionally, the school. Two separate consents are required (PIPL art. 31 for a child
under 14; the copyright licence and keeping of the work) and a third, optional one allows
the gallery to show an awarded work with the masked name. Names, mobile and school are
encrypted like a participant's.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from quiz.artwork.invitations import USED, InvitationError
from quiz.campaign.artwork_settings import ArtworkSettings
from quiz.entry.age import age_on
from quiz.identity import mask_mobile
from quiz.models import ArtworkChild, ArtworkFamily, ArtworkInvitation, Campaign
from quiz.privacy.protection import Protector

RELATIONS = ("父亲", "母亲", "祖父母", "外祖父母", "其他监护人")
MAX_CHILDREN = 5


class SignupError(ValueError):
    """The sign-up is refused; the message is for the guardian (field: which input)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Guardian:
    name: str
    mobile: str  # 11 digits, already validated
    relation: str


@dataclass(frozen=True)
class Child:
    name: str
    birth_date: date
    school: str | None = None


@dataclass(frozen=True)
class Consents:
    """The guardian's separate consents, each given by its own tick box."""

    child_data: bool
    licence: bool
    publish: bool
    version: str
    at: datetime
    ip: str | None = None


def mask_child_name(name: str) -> str:
    """王小明 -> 王小*, 王明 -> 王*: the family name and all but the last character."""
    if len(name) <= 1:
        return "*"
    return name[:-1] + "*" if len(name) > 2 else name[0] + "*"


def group_of(settings: ArtworkSettings, birth: date) -> tuple[int, str]:
    """(age on the reference date, group name), or SignupError naming the groups."""
    age = age_on(birth, settings.reference_date)
    group = settings.group_for_age(age)
    if group is None or birth > settings.reference_date:
        ranges = "、".join(f"{g.name}{g.min_age}至{g.max_age}周岁" for g in settings.groups)
        raise SignupError(
            f"按活动当日({settings.reference_date:%Y年%-m月%-d日})计算,孩子{max(age, 0)}周岁,"
            f"不在任何组别内({ranges}),不能报名。",
            "birth_date",
        )
    return age, group.name


def _child_row(
    protector: Protector, settings: ArtworkSettings, family: ArtworkFamily, child: Child
) -> ArtworkChild:
    age, group = group_of(settings, child.birth_date)
    return ArtworkChild(
        family=family,
        campaign_id=family.campaign_id,
        name_enc=protector.encrypt(child.name),
        name_masked=mask_child_name(child.name),
        age=age,
        age_group=group,
        school_enc=protector.encrypt(child.school) if child.school else None,
    )


def sign_up(
    session: Session,
    protector: Protector,
    campaign: Campaign,
    settings: ArtworkSettings,
    invitation: ArtworkInvitation,
    guardian: Guardian,
    child: Child,
    consents: Consents,
) -> ArtworkChild:
    """The family's first child: uses the invitation, creates the family (the agent's lead)."""
    if invitation.campaign_id != campaign.id:
        raise InvitationError(USED)
    if invitation.used_at is not None:
        raise InvitationError(USED)
    if not consents.child_data:
        raise SignupError(
            "请阅读并勾选“儿童个人信息单独同意”,否则无法为孩子报名。", "consent_child"
        )
    if not consents.licence:
        raise SignupError("请阅读并勾选“作品保留及著作权许可”,否则无法参赛。", "consent_licence")
    if guardian.relation not in RELATIONS:
        raise SignupError("请选择您与孩子的关系。", "relation")
    family = ArtworkFamily(
        campaign_id=campaign.id,
        public_id=secrets.token_urlsafe(16)[:22],
        invitation_id=invitation.id,
        branch_id=invitation.branch_id,
        agent_id=invitation.agent_id,
        guardian_enc=protector.encrypt(guardian.name),
        guardian_masked=mask_child_name(guardian.name),
        mobile_enc=protector.encrypt(guardian.mobile),
        mobile_hash=protector.lookup_hash("mobile", guardian.mobile),
        mobile_masked=mask_mobile(guardian.mobile),
        relation=guardian.relation,
        consent_version=consents.version,
        consent_child_at=consents.at,
        consent_licence_at=consents.at,
        consent_publish=consents.publish,
        consent_ip=consents.ip,
    )
    row = _child_row(protector, settings, family, child)  # refuses the age before any write
    # Marked used in the same statement that checks it: two browsers with one code, one wins.
    claimed = session.execute(
        ArtworkInvitation.__table__.update()
        .where(ArtworkInvitation.id == invitation.id, ArtworkInvitation.used_at.is_(None))
        .values(used_at=consents.at)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise InvitationError(USED)
    session.add(family)
    session.add(row)
    session.flush()
    session.refresh(invitation)
    return row


def add_child(
    session: Session,
    protector: Protector,
    settings: ArtworkSettings,
    family: ArtworkFamily,
    child: Child,
) -> ArtworkChild:
    """A brother or sister signed up by the same guardian in the same browser."""
    count = session.scalar(
        select(func.count()).select_from(ArtworkChild).where(ArtworkChild.family_id == family.id)
    )
    if (count or 0) >= MAX_CHILDREN:
        raise SignupError(f"每个家庭最多为{MAX_CHILDREN}个孩子报名。")
    for existing in family.children:
        if protector.decrypt(existing.name_enc) == child.name:
            raise SignupError("这个孩子已经报名,每个孩子限报名一次。", "child_name")
    row = _child_row(protector, settings, family, child)
    session.add(row)
    session.flush()
    return row


def family_by_public_id(
    session: Session, campaign: Campaign, public_id: str | None
) -> ArtworkFamily | None:
    if not public_id:
        return None
    return session.scalars(
        select(ArtworkFamily).where(
            ArtworkFamily.public_id == public_id,
            ArtworkFamily.campaign_id == campaign.id,
            ArtworkFamily.anonymised_at.is_(None),
        )
    ).first()
