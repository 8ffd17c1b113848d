"""The daily digest over SMTP, received by a real local server (aiosmtpd)."""

from __future__ import annotations

import email
import email.policy
import socket
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from quiz.campaign.lifecycle import current_campaign
from quiz.db import utcnow
from quiz.digest import service as digest
from quiz.engine import entry_counts
from quiz.models import Agent, Branch, Participant
from quiz.owners import service as owners
from quiz.web.queue import task_queue
from tests.factories import make_participant, make_staff


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], email.message.Message]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        self.messages.append(
            (
                envelope.rcpt_tos,
                email.message_from_bytes(envelope.content, policy=email.policy.default),
            )
        )
        return "250 OK"


@pytest.fixture
def smtp_server():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


def test_each_branch_with_an_address_gets_its_figures(app, session, protector, smtp_server):
    inbox, port = smtp_server
    campaign = current_campaign(session)
    branch, quiet = list(session.scalars(select(Branch).order_by(Branch.code)))[:2]
    branch.contact = "张经理 027-12345678 zhang@branch.example; li@branch.example"
    quiet.contact = "王经理 010-1234"  # no address: no mail
    campaign.content = {
        **campaign.content,
        "race": {
            "metric": "registrations",
            "targets": {branch.code: 10, quiet.code: 10},
            "groups": [{"name": "A组", "branches": [branch.code, quiet.code]}],
            "milestones": [],
        },
    }
    leads = []
    for n in (1, 2, 3):
        lead = make_participant(session, protector, campaign, n)
        entry_counts.move(session, Participant.id == lead.id, branch_id=branch.id)
        lead.branch_id = branch.id
        leads.append(lead)
    agent = Agent(branch_id=branch.id, code="A1", name="业务员")
    session.add(agent)
    session.flush()
    manager = make_staff(session, "m", role="branch", branch_id=branch.id)
    owners.assign(session, manager, [leads[0].id], [agent.id], now=utcnow() - timedelta(days=30))
    session.commit()
    today = owners.beijing_day(utcnow())

    app.config.update(QUIZ_SMTP_HOST="127.0.0.1", QUIZ_SMTP_PORT=port, QUIZ_SMTP_FROM="q@x.cn")
    app.extensions.pop("quiz.queue", None)
    with app.app_context():
        sent = task_queue(app).send_digests(today)
    assert sent == 1
    [(rcpt, message)] = inbox.messages
    assert rcpt == ["li@branch.example", "zhang@branch.example"]
    body = message.get_content()
    assert branch.name in message["Subject"] and "日报" in message["Subject"]
    assert "新增线索:3 条" in body
    assert "逾期未联系线索:1 条" in body
    assert "A组 第 1 名,共 2 家;达成率 30.0 %" in body


def test_recipients_are_the_addresses_in_the_contact_text():
    branch = Branch(code="X", name="x", contact="张 a@b.cn, 李<c.d@e-f.com.cn> 电话 123")
    assert digest.recipients(branch) == ["a@b.cn", "c.d@e-f.com.cn"]
    assert digest.recipients(Branch(code="Y", name="y", contact=None)) == []


def test_the_command_refuses_without_a_mail_server(runner):
    from quiz.cli.worker import digest_command

    result = runner.invoke(digest_command, ["--day", "2026-11-02"])
    assert result.exit_code != 0 and "QUIZ_SMTP_HOST" in result.output
    assert "YYYY-MM-DD" in runner.invoke(digest_command, ["--day", "2.11."]).output
