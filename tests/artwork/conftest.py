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


def make_work(
    session: Session,
    protector: Any,
    contest: Campaign,
    agent: Agent,
    store: Any,
    n: int,
    birth: date = date(2018, 3, 1),
    *,
    stage: str = "entered",
) -> Any:
    """A family invited by `agent`, its child and the child's photographed work."""
    from quiz.artwork import invitations
    from quiz.artwork.images import process
    from quiz.artwork.signup import Child, Consents, Guardian, sign_up
    from quiz.artwork.works import attach_work
    from tests.artwork.pictures import jpeg_with_gps

    settings = from_content(contest.content)
    assert settings is not None
    invitation = invitations.issue(session, contest, agent, "test")
    child = sign_up(
        session,
        protector,
        contest,
        settings,
        invitation,
        Guardian(f"家长{n}", f"139{n:08d}", "母亲"),
        Child(f"王小{chr(0x4E00 + n)}", birth),
        Consents(True, True, True, "v1", datetime.now(UTC), None),
    )
    global _PICTURE
    if _PICTURE is None:
        _PICTURE = process(jpeg_with_gps((120, 90)))
    work = attach_work(session, store, child, _PICTURE, "staff")
    work.stage = stage
    session.flush()
    return work


_PICTURE: Any = None


@pytest.fixture
def store(tmp_path: Path) -> Any:
    from quiz.artwork.images import MediaStore

    return MediaStore(tmp_path / "media")


@pytest.fixture(scope="session")
def demo_settings() -> ArtworkSettings:
    """The demo contest's settings straight from its file: no app, no database."""
    found = from_content({"artwork": load_campaign_file(DEMO).artwork})
    assert found is not None
    return found
