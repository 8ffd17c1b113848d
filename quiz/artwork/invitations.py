"""《活动邀请函》: an agent of the referral roster issues one per family, as a personal
link/QR (/c/<slug>/invite/<code>) or a printed code the guardian types in.

Without a valid invitation there is no sign-up (范文一: 代理人拜访客户,请客户填写《活动邀请函》,
否则不允许参赛). The family that uses it becomes a lead of that agent and the agent's branch.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from quiz.models import Agent, ArtworkInvitation, Campaign
from quiz.referrals.links import ALPHABET, new_code

CODE_LENGTH = 8
NO_INVITATION = (
    "本次绘画比赛须凭代理人发放的《活动邀请函》报名:请扫描邀请函上的二维码,"
    "或输入邀请函上的8位邀请码。没有邀请函的,请联系为您服务的代理人。"
)
UNKNOWN_CODE = "邀请码不正确,请核对邀请函上的8位邀请码(不区分大小写)。"
USED = "这份邀请函已经用于报名。一份邀请函对应一个家庭;如需为其他家庭报名,请向代理人另行索取。"


class InvitationError(ValueError):
    """No usable invitation; the message is for the guardian."""


def normalise(raw: str | None) -> str | None:
    """The code as printed (upper case, no spaces or dashes), or None if it cannot be one."""
    if not raw:
        return None
    code = "".join(ch for ch in raw.upper() if ch not in " -\t")
    if len(code) != CODE_LENGTH or any(ch not in ALPHABET for ch in code):
        return None
    return code


def issue(session: Session, campaign: Campaign, agent: Agent, actor: str) -> ArtworkInvitation:
    """A new invitation of `agent` for `campaign` (flush, no commit)."""
    for _ in range(5):
        invitation = ArtworkInvitation(
            campaign_id=campaign.id,
            code=new_code(CODE_LENGTH),
            agent_id=agent.id,
            branch_id=agent.branch_id,
            created_by=actor[:64],
        )
        try:
            with session.begin_nested():
                session.add(invitation)
                session.flush()
        except IntegrityError:
            continue  # the same random code twice: draw again
        return invitation
    raise RuntimeError("could not draw a free invitation code")


def find(session: Session, campaign: Campaign, raw: str | None) -> ArtworkInvitation:
    """The campaign's invitation with this code; InvitationError with a Chinese message."""
    if not raw or not raw.strip():
        raise InvitationError(NO_INVITATION)
    code = normalise(raw)
    invitation = (
        session.scalars(
            select(ArtworkInvitation).where(
                ArtworkInvitation.code == code, ArtworkInvitation.campaign_id == campaign.id
            )
        ).first()
        if code
        else None
    )
    if invitation is None:
        raise InvitationError(UNKNOWN_CODE)
    return invitation


def counts_by_agent(session: Session, campaign: Campaign) -> dict[int, tuple[int, int]]:
    """agent id -> (invitations issued, invitations used)."""
    rows = session.execute(
        select(
            ArtworkInvitation.agent_id,
            func.count(),
            func.count(ArtworkInvitation.used_at),
        )
        .where(ArtworkInvitation.campaign_id == campaign.id)
        .group_by(ArtworkInvitation.agent_id)
    )
    return {agent_id: (issued, used) for agent_id, issued, used in rows}


def invitation_path(slug: str, code: str) -> str:
    """The path a personal link or QR code leads to (prefix it with the public address)."""
    return f"/c/{slug}/invite/{code}"
