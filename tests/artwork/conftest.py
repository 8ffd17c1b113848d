"""Drawing-contest fixtures: the shipped demo contest open now, agents in two branches."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from quiz.campaign.artwork_settings import ArtworkSettings, from_content
from quiz.campaign.spec import install_campaign, load_campaign_file
from quiz.models import Agent, Branch, Campaign

DEMO = Path(__file__).resolve().parents[2] / "quiz" / "data" / "campaign" / "drawing-contest.toml"
REFERENCE = date(2027, 1, 9)


def install_contest(session: Session, **artwork: Any) -> Campaign:
    """The demo contest, open now; `artwork` overrides keys of its [artwork] table."""
    spec = load_campaign_file(DEMO)
    now = datetime.now(UTC)
    campaign = install_campaign(
        session,
        dataclasses.replace(
            spec,
            opens_at=now - timedelta(days=1),
            closes_at=now + timedelta(days=30),
            draw_at=now + timedelta(days=40),
            artwork={**spec.artwork, **artwork},
        ),
    )
    session.flush()
    return campaign


def make_agent(session: Session, branch_code: str, code: str, name: str = "李代理") -> Agent:
    branch = session.scalars(select(Branch).where(Branch.code == branch_code)).one()
    agent = Agent(branch_id=branch.id, code=code, name=name)
    session.add(agent)
    session.flush()
    return agent


@pytest.fixture
def contest(session: Session) -> Campaign:
    return install_contest(session)


@pytest.fixture
def settings(contest: Campaign) -> ArtworkSettings:
    found = from_content(contest.content)
    assert found is not None
    return found
