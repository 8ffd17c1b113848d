"""Invitation-only sign-up: refusals, the age rule, separate consents, encrypted data, lead."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from quiz.artwork import invitations
from quiz.artwork.invitations import InvitationError
from quiz.artwork.signup import (
    Child,
    Consents,
    Guardian,
    SignupError,
    add_child,
    group_of,
    mask_child_name,
    sign_up,
)
from quiz.campaign.artwork_settings import ArtworkSettings
from quiz.models import ArtworkChild, ArtworkFamily, Campaign
from tests.artwork.conftest import make_agent

GUARDIAN = Guardian("王大明", "13912345678", "父亲")


def consents(**kw: bool) -> Consents:
    values = {"child_data": True, "licence": True, "publish": True, **kw}
    return Consents(version="v1", at=datetime.now(UTC), ip="127.0.0.1", **values)


@pytest.mark.parametrize(
    ("birth", "age", "group"),
    [
        (date(2024, 1, 9), 3, "幼儿组"),  # 3 on the day itself
        (date(2019, 1, 10), 7, "幼儿组"),  # 8 only the day after: still 7
        (date(2019, 1, 9), 8, "儿童组"),
        (date(2015, 6, 1), 11, "儿童组"),  # the plan's overlap at 11: 儿童组, as stated
        (date(2015, 1, 9), 12, "少年组"),
        (date(2011, 1, 10), 15, "少年组"),
    ],
)
def test_the_group_follows_the_age_on_the_reference_date(
    demo_settings: ArtworkSettings, birth: date, age: int, group: str
) -> None:
    settings = demo_settings
    assert settings.reference_date == date(2027, 1, 9)
    assert group_of(settings, birth) == (age, group)


@pytest.mark.parametrize("birth", [date(2024, 1, 10), date(2011, 1, 9), date(2030, 1, 1)])
def test_a_birth_date_outside_every_group_is_refused(
    demo_settings: ArtworkSettings, birth: date
) -> None:
    settings = demo_settings
    with pytest.raises(SignupError) as caught:
        group_of(settings, birth)
    assert "不在任何组别内" in str(caught.value)
    assert "2027年1月9日" in str(caught.value)
    assert caught.value.field == "birth_date"


def test_masking_keeps_all_but_the_last_character() -> None:
    assert mask_child_name("王小明") == "王小*"
    assert mask_child_name("王明") == "王*"
    assert mask_child_name("欧阳小明") == "欧阳小*"


def test_signing_up_uses_the_invitation_and_makes_the_family_the_agents_lead(
    session: Session, protector, contest: Campaign, settings: ArtworkSettings
) -> None:
    agent = make_agent(session, "B31", "A001")
    invitation = invitations.issue(session, contest, agent, "admin1")
    found = invitations.find(
        session, contest, invitation.code.lower()[:4] + " " + invitation.code[4:]
    )
    assert found.id == invitation.id

    child = sign_up(
        session,
        protector,
        contest,
        settings,
        found,
        GUARDIAN,
        Child("王小明", date(2018, 3, 1), "实验小学"),
        consents(),
    )

    family = session.get(ArtworkFamily, child.family_id)
    assert family is not None
    assert (family.agent_id, family.branch_id) == (agent.id, agent.branch_id)
    assert invitation.used_at is not None
    assert (child.age, child.age_group, child.name_masked) == (8, "儿童组", "王小*")
    # Encrypted at rest: no name, mobile or school in clear in the rows.
    assert b"\xe7\x8e\x8b" not in child.name_enc  # "王" in UTF-8
    assert protector.decrypt(child.name_enc) == "王小明"
    assert protector.decrypt(child.school_enc) == "实验小学"
    assert family.mobile_masked == "139****5678"
    assert protector.decrypt(family.mobile_enc) == "13912345678"

    # A brother signs up in the same browser without a new invitation.
    brother = add_child(session, protector, settings, family, Child("王小刚", date(2022, 5, 5)))
    assert brother.age_group == "幼儿组" and brother.school_enc is None
    with pytest.raises(SignupError, match="已经报名"):
        add_child(session, protector, settings, family, Child("王小明", date(2018, 3, 1)))


def test_without_a_valid_invitation_there_is_no_sign_up(
    session: Session, protector, contest: Campaign, settings: ArtworkSettings
) -> None:
    with pytest.raises(InvitationError) as caught:
        invitations.find(session, contest, "")
    assert "《活动邀请函》" in str(caught.value)
    with pytest.raises(InvitationError, match="邀请码不正确"):
        invitations.find(session, contest, "ZZZZ2222")
    with pytest.raises(InvitationError, match="邀请码不正确"):
        invitations.find(session, contest, "<script>")


def test_a_used_invitation_is_refused_and_nothing_is_stored(
    session: Session, protector, contest: Campaign, settings: ArtworkSettings
) -> None:
    invitation = invitations.issue(session, contest, make_agent(session, "B11", "A9"), "x")
    sign_up(
        session,
        protector,
        contest,
        settings,
        invitation,
        GUARDIAN,
        Child("王小明", date(2018, 3, 1)),
        consents(),
    )
    with pytest.raises(InvitationError) as caught:
        sign_up(
            session,
            protector,
            contest,
            settings,
            invitation,
            Guardian("赵六", "13800000000", "母亲"),
            Child("赵小丽", date(2017, 1, 1)),
            consents(),
        )
    assert str(caught.value) == invitations.USED
    assert session.scalars(select(ArtworkChild)).all()[0].name_masked == "王小*"
    assert len(session.scalars(select(ArtworkFamily)).all()) == 1


@pytest.mark.parametrize(
    ("given", "field"),
    [({"child_data": False}, "consent_child"), ({"licence": False}, "consent_licence")],
)
def test_each_required_consent_is_separate(
    session: Session,
    protector,
    contest: Campaign,
    settings: ArtworkSettings,
    given: dict[str, bool],
    field: str,
) -> None:
    invitation = invitations.issue(session, contest, make_agent(session, "B11", "A9"), "x")
    with pytest.raises(SignupError) as caught:
        sign_up(
            session,
            protector,
            contest,
            settings,
            invitation,
            GUARDIAN,
            Child("王小明", date(2018, 3, 1)),
            consents(**given),
        )
    assert caught.value.field == field
    assert invitation.used_at is None  # the invitation still works after fixing the form


def test_an_out_of_group_child_leaves_the_invitation_unused(
    session: Session, protector, contest: Campaign, settings: ArtworkSettings
) -> None:
    invitation = invitations.issue(session, contest, make_agent(session, "B11", "A9"), "x")
    with pytest.raises(SignupError):
        sign_up(
            session,
            protector,
            contest,
            settings,
            invitation,
            GUARDIAN,
            Child("王大宝", date(2005, 1, 1)),
            consents(),
        )
    session.refresh(invitation)
    assert invitation.used_at is None
