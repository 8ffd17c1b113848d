"""线索分配 end to end over HTTP: a branch manager gives 50 leads round-robin to 3 agents;
an agent opens the personal link and records an outcome; the overdue list and head
office's figures change."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import func, select

from quiz.campaign.lifecycle import current_campaign
from quiz.engine import entry_counts
from quiz.models import Agent, AuditLog, Branch, LeadOwner, Participant
from tests.factories import login_as, make_participant, make_staff


def test_assign_fifty_round_robin_then_an_agent_records_an_outcome(client, session, protector):
    campaign = current_campaign(session)
    branch = session.scalars(select(Branch).order_by(Branch.code)).first()
    for n in range(1, 51):
        lead = make_participant(session, protector, campaign, n)
        entry_counts.move(session, Participant.id == lead.id, branch_id=branch.id)
        lead.branch_id = branch.id
    agents = [Agent(branch_id=branch.id, code=f"A{i}", name=f"业务员{i}") for i in range(1, 4)]
    session.add_all(agents)
    manager = make_staff(session, "mgr", role="branch", branch_id=branch.id)
    head = make_staff(session, "ho", role="admin")
    session.commit()
    agent_ids = [a.id for a in agents]

    login_as(client, manager)
    page = client.get("/admin/owners").get_data(as_text=True)
    assert "未分配的线索共 50 条" in page
    resp = client.post("/admin/owners/assign", data={"agent": agent_ids})
    assert resp.status_code == 302
    assert "已分配 50 条线索给 3 位业务人员" in client.get(resp.location).get_data(as_text=True)
    counts = sorted(
        session.scalar(select(func.count()).where(LeadOwner.agent_id == a)) for a in agent_ids
    )
    assert counts == [16, 17, 17]
    session.rollback()
    # Time passes: every deadline is yesterday.
    for owner in session.scalars(select(LeadOwner)):
        owner.due_on -= timedelta(days=30)
    session.commit()

    page = client.get("/admin/owners").get_data(as_text=True)
    link = re.search(r"<code>https?://[^/]+(/a/[^<]+)</code>", page)[1]
    assert "逾期未联系(50)" in page

    # The agent, on a phone, through the personal link: no staff sign-in.
    agent_client = client.application.test_client()
    mine = agent_client.get(link, headers={"User-Agent": "Mozilla/5.0 (iPhone) MicroMessenger"})
    text = mine.get_data(as_text=True)
    assert mine.status_code == 200 and "已逾期" in text and 'href="tel:' in text
    lead_id = int(re.search(r"/a/[^/\"]+/(\d+)", text)[1])
    resp = agent_client.post(f"{link}/{lead_id}", data={"outcome": "已成交", "note": "签单"})
    assert resp.status_code == 302
    assert session.get(Participant, lead_id).follow_up_status == "已成交"
    session.rollback()
    # Another agent's lead through this link: refused with a message, nothing changes.
    other = session.scalar(
        select(LeadOwner.participant_id).where(LeadOwner.agent_id != int(link[3:].split("-")[0]))
    )
    session.rollback()
    refused = agent_client.post(f"{link}/{other}", data={"outcome": "无效"})
    assert refused.status_code == 422 and "不归您跟进" in refused.get_data(as_text=True)

    page = client.get("/admin/owners").get_data(as_text=True)
    assert "逾期未联系(49)" in page
    login_as(client, head)
    figures = client.get(f"/admin/owners?branch={branch.id}").get_data(as_text=True)
    assert re.search(
        r"<td>[^<]*</td><td class=\"num\">50</td><td class=\"num\">1</td>"
        r"<td class=\"num\">1</td><td class=\"num\">2.0 %</td>"
        r"<td class=\"num\">49</td>",
        figures,
    )
    actions = set(session.scalars(select(AuditLog.action)))
    assert {"owners.assign", "agent.leads_view", "agent.outcome"} <= actions


def test_a_forged_agent_link_is_a_404(client, session):
    branch = session.scalars(select(Branch)).first()
    agent = Agent(branch_id=branch.id, code="A1", name="业务员")
    session.add(agent)
    session.commit()
    assert client.get(f"/a/{agent.id}-{'0' * 24}").status_code == 404
    assert client.get("/a/abc").status_code == 404
