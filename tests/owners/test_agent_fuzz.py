"""Fuzzing the agent's outcome form (/a/<token>/<lead>): never a 500; a refusal is a 4xx
with a Chinese message and records nothing; a forged token is a 404."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from quiz.campaign.lifecycle import current_campaign
from quiz.models import Agent, ContactAttempt
from quiz.owners import service as owners
from tests.factories import make_participant, make_staff
from tests.security.fuzzing import CJK, EXAMPLES, FUZZ, form_data, fuzz_app

# Two fields and one id: a tenth of the public forms' examples keeps CI's budget.
AGENT_FUZZ = settings(FUZZ, max_examples=max(EXAMPLES // 10, 1))


@pytest.fixture(scope="module")
def app(tmp_path_factory) -> Iterator[Flask]:
    yield from fuzz_app(tmp_path_factory.mktemp("fuzz_agent"))


@pytest.fixture(scope="module")
def target(app):
    database = app.extensions["quiz.db"]
    protector = app.extensions["quiz.protector"]
    with database.transaction() as session:
        lead = make_participant(session, protector, current_campaign(session), 1)
        agent = Agent(branch_id=lead.branch_id, code="F1", name="业务员")
        session.add(agent)
        session.flush()
        manager = make_staff(session, "fm", role="branch", branch_id=lead.branch_id)
        owners.assign(session, manager, [lead.id], [agent.id])
        token = owners.agent_token(protector.lookup_hash, agent.id)
        return f"/a/{token}/{lead.id}", agent.id


def _attempts(app) -> int:
    with app.extensions["quiz.db"].transaction(write=False) as s:
        return s.scalar(select(func.count()).select_from(ContactAttempt))


@pytest.mark.fuzz
def test_outcome_form_fuzz(app, target):
    path, _ = target
    client = app.test_client()

    @AGENT_FUZZ
    @given(data=form_data(["outcome", "note"]))
    def run(data):
        before = _attempts(app)
        resp = client.post(path, data=data)
        body = resp.get_data(as_text=True)
        assert resp.status_code < 500, body[:1000]
        if resp.status_code >= 400:
            assert CJK.search(body) and _attempts(app) == before

    run()


@pytest.mark.fuzz
def test_forged_tokens_are_404(app, target):
    _, agent_id = target
    client = app.test_client()

    @AGENT_FUZZ
    @given(tail=st.text(min_size=1, max_size=40).filter(lambda t: "/" not in t))
    def run(tail):
        resp = client.get(f"/a/{agent_id}-{tail}")
        assert resp.status_code in (404, 400), resp.status_code

    run()
