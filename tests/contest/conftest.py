"""Contest fixtures: the shipped demo contest installed beside the test prize quiz."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from quiz.campaign.spec import install_campaign, load_campaign_file
from quiz.contest import paper, roster
from quiz.models import Campaign

DEMO = Path(__file__).resolve().parents[2] / "quiz" / "data" / "campaign" / "staff-contest.toml"
ROSTER = DEMO.with_name("staff-contest-roster.csv")


def install_contest(session: Session, **changes: Any) -> Campaign:
    """The demo contest; by default it starts in an hour (the roster may still change)."""
    spec = load_campaign_file(DEMO)
    now = datetime.now(UTC)
    values: dict[str, Any] = {
        "opens_at": now + timedelta(hours=1),
        "closes_at": now + timedelta(hours=3),
        "draw_at": now + timedelta(hours=4),
    }
    contest = changes.pop("contest", None)
    values.update(changes)
    if contest:
        values["contest"] = {**(spec.contest or {}), **contest}
    campaign = install_campaign(session, dataclasses.replace(spec, **values))
    session.flush()
    return campaign


def save_demo_roster(session: Session, campaign: Campaign, protector: Any) -> None:
    """The shipped demo roster, checked and saved for `campaign`."""
    report = roster.check_roster(session, campaign, roster.read_roster(ROSTER.read_bytes()))
    roster.save_roster(session, campaign, report, protector)


def running_contest(
    session: Session, protector: Any, started: timedelta = timedelta(minutes=5)
) -> Campaign:
    """The demo contest with its roster, open since `started`, ending in 2 hours (flushed)."""
    campaign = install_contest(session)
    save_demo_roster(session, campaign, protector)
    now = paper.utcnow()
    campaign.opens_at = now - started
    campaign.closes_at = now + timedelta(hours=2)
    session.flush()
    return campaign


@pytest.fixture
def contest(session: Session) -> Campaign:
    campaign = install_contest(session)
    session.commit()
    return campaign
