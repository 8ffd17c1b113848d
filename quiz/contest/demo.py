"""The demo contest that `quiz setup` / `quiz serve` load beside the demo prize quiz, so a
newcomer sees a staff_contest: the shipped campaign file and a small roster, with fresh
invitation codes printed once (`quiz contest invitations` issues new ones)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from quiz.campaign.spec import install_campaign, load_campaign_file
from quiz.contest import roster
from quiz.models import Campaign
from quiz.privacy.protection import Protector

DEMO_FILE = Path(__file__).resolve().parent.parent / "data" / "campaign" / "staff-contest.toml"
DEMO_ROSTER = DEMO_FILE.with_name("staff-contest-roster.csv")


def install_demo(session: Session, protector: Protector) -> list[roster.Invitation] | None:
    """Install the demo contest and its roster unless its slug exists; the invitation
    codes issued (None when the demo was there already)."""
    spec = load_campaign_file(DEMO_FILE)
    if session.scalar(select(Campaign.id).where(Campaign.slug == spec.slug)) is not None:
        return None
    campaign = install_campaign(session, spec)
    report = roster.check_roster(session, campaign, roster.read_roster(DEMO_ROSTER.read_bytes()))
    # The demo's window may already be open: its roster is loaded as if before the start.
    roster.save_roster(
        session, campaign, report, protector, now=campaign.opens_at, locked_check=False
    )
    return roster.issue_invitations(session, campaign, protector)
