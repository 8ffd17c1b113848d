"""Fuzzing the public forms of the staff contest and the drawing contest: never a 500, a
refusal is a 4xx with a Chinese message, and hostile input stores nothing.

Each test first goes the honest way (a contestant signed in with a paper started; a family
signed up with an invitation), so the fuzzed posts reach the code behind the checks, not
only the "please sign in" redirect."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from quiz.artwork import invitations
from quiz.contest import roster
from quiz.models import ArtworkChild, ArtworkWork, ContestAnswer, ContestPaper
from tests.artwork.conftest import install_contest as install_drawing_contest
from tests.artwork.conftest import make_agent
from tests.contest.conftest import running_contest
from tests.security.fuzzing import CJK, EXAMPLES, FUZZ, form_data, fuzz_app

# Several forms per test: a tenth of the public forms' examples each keeps CI's budget.
KIND_FUZZ = settings(FUZZ, max_examples=max(EXAMPLES // 10, 1))

CONTEST_FORMS: dict[str, list[str]] = {
    "/contest/sign-in": ["staff_no", "code", "action"],
    "/contest/start": ["paper"],
    "/contest/paper": ["paper", "position", "choice", "choice"],
    "/contest/submit": ["paper"],
    "/contest/away": ["paper", "count"],
    "/contest/sign-out": [],
}
JOIN_FIELDS = [
    "code",
    "guardian_name",
    "mobile",
    "sms_code",
    "relation",
    "child_name",
    "birth_date",
    "school",
    "consent_child",
    "consent_licence",
    "consent_publish",
    "send_code",
]
CHILD_FIELDS = ["child_name", "birth_date", "school"]


@pytest.fixture(scope="module")
def app(tmp_path_factory) -> Iterator[Flask]:
    yield from fuzz_app(tmp_path_factory.mktemp("fuzz_kinds"))


def _count(app: Flask, model: Any) -> int:
    with app.extensions["quiz.db"].transaction(write=False) as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def _checked(resp: Any) -> None:
    body = resp.get_data(as_text=True)
    assert resp.status_code < 500, body[:1000]
    if resp.status_code >= 400:
        assert CJK.search(body), f"{resp.status_code} without a message: {body[:300]!r}"


@pytest.fixture(scope="module")
def contestant(app: Flask) -> tuple[str, Any]:
    """A running staff contest and a client signed in as YW0001 with the paper started."""
    database = app.extensions["quiz.db"]
    protector = app.extensions["quiz.protector"]
    with database.transaction() as session:
        campaign = running_contest(session, protector)
        code = roster.issue_invitations(session, campaign, protector, staff_nos=["YW0001"])[0]
        slug, secret = campaign.slug, code.code
    client = app.test_client()
    base = f"/c/{slug}"
    signed = client.post(f"{base}/contest/sign-in", data={"staff_no": "YW0001", "code": secret})
    assert signed.status_code == 302
    assert client.post(f"{base}/contest/start").status_code == 302
    return base, client


@pytest.mark.fuzz
@pytest.mark.parametrize("path", list(CONTEST_FORMS))
def test_contest_forms_fuzz(app, contestant, path):
    base, client = contestant
    stranger = app.test_client()  # signed out: every post but sign-in is refused or redirected

    @KIND_FUZZ
    @given(data=form_data(CONTEST_FORMS[path]))
    def run(data):
        before = _count(app, ContestAnswer)
        _checked(client.post(base + path, data=data))
        _checked(stranger.post(base + path, data=data))
        # A hostile answer (a made-up position or choice) is refused, so it adds no answer.
        assert _count(app, ContestAnswer) <= before + (path == "/contest/paper")

    if path in ("/contest/submit", "/contest/sign-out"):
        # Handing in closes the paper and signing out ends the session: a stranger only.
        client = stranger
    run()
    assert _count(app, ContestPaper) == 1


@pytest.fixture(scope="module")
def family(app: Flask) -> tuple[str, Any, int, str]:
    """A drawing contest open now, a family signed up with its child, and a fresh code."""
    database = app.extensions["quiz.db"]
    with database.transaction() as session:
        campaign = install_drawing_contest(session)
        agent = make_agent(session, "B11", "F1")
        used = invitations.issue(session, campaign, agent, "fuzz").code
        fresh = invitations.issue(session, campaign, agent, "fuzz").code
        slug = campaign.slug
    base = f"/c/{slug}"
    client = app.test_client()
    joined = client.post(
        f"{base}/artwork/join",
        data={
            "code": used,
            "guardian_name": "王大明",
            "mobile": "13912345678",
            "relation": "父亲",
            "child_name": "王小明",
            "birth_date": "2018-03-01",
            "consent_child": "y",
            "consent_licence": "y",
        },
    )
    assert joined.status_code == 302, joined.get_data(as_text=True)[:500]
    with database.transaction(write=False) as session:
        child_id = session.scalars(select(ArtworkChild.id)).one()
    return base, client, child_id, fresh


@pytest.mark.fuzz
def test_drawing_contest_join_fuzz(app, family):
    base, _, _, fresh = family

    @KIND_FUZZ
    @given(data=form_data(JOIN_FIELDS), with_code=st.booleans())
    def run(data, with_code):
        if with_code:  # a valid invitation, so the other fields' checks are reached
            data["code"] = fresh
        before = _count(app, ArtworkChild)
        resp = app.test_client().post(f"{base}/artwork/join", data=data)
        _checked(resp)
        if resp.status_code >= 400:
            assert _count(app, ArtworkChild) == before

    run()


@pytest.mark.fuzz
def test_drawing_contest_family_forms_fuzz(app, family):
    base, client, child_id, _ = family

    @KIND_FUZZ
    @given(child=form_data(CHILD_FIELDS), work=form_data(["picture", "note"]))
    def run(child, work):
        before = _count(app, ArtworkChild)
        resp = client.post(f"{base}/artwork/family/child", data=child)
        _checked(resp)
        if resp.status_code >= 400:
            assert _count(app, ArtworkChild) == before
        # A picture field sent as text (no file) is refused and stores no work.
        works = _count(app, ArtworkWork)
        _checked(client.post(f"{base}/artwork/family/{child_id}/work", data=work))
        assert _count(app, ArtworkWork) == works

    run()
