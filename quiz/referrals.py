"""Referral links: which channel, branch and agent brought a participant."""

from __future__ import annotations

from typing import Any

from flask import session as web_session
from sqlalchemy import select
from sqlalchemy.orm import Session

from quiz.models import Campaign, ReferralLink


def referral_for_request(db: Session, campaign: Campaign) -> dict[str, Any] | None:
    """The referral carried in the visitor's session, resolved against the link table."""
    code = web_session.get("ref")
    if not isinstance(code, str) or not code:
        return None
    link = db.scalars(select(ReferralLink).where(ReferralLink.code == code)).first()
    if link is None:
        return None
    return {
        "link_id": link.id,
        "agent_id": link.agent_id,
        "channel_id": link.channel_id,
        "branch_id": link.branch_id,
        "rule": campaign.content.get("referral_rule", "address"),
    }
