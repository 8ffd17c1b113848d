"""Webhook delivery by a real `quiz worker`: retries until the receiver accepts, and a
worker killed with SIGKILL mid-delivery loses nothing."""

from __future__ import annotations

import os
import signal

import pytest
from sqlalchemy import select

from quiz.campaign.lifecycle import current_campaign
from quiz.models import WebhookDelivery
from quiz.webhooks import service as webhooks
from tests.factories import make_participant
from tests.webhooks.receiver import Receiver, running
from tests.workers import STORAGES, use_queue, wait_for, worker

pytestmark = pytest.mark.slow
FAST = {"QUIZ_WEBHOOK_BACKOFF_SECONDS": "0.2", "QUIZ_WEBHOOK_CLAIM_SECONDS": "2"}


def _setup(session, protector, receiver, leads):
    campaign = current_campaign(session)
    endpoint, secret = webhooks.create_endpoint(
        session, protector, campaign.id, "CRM", receiver.url, reveal=False
    )
    receiver.secret = secret
    for n in range(1, leads + 1):
        make_participant(session, protector, campaign, n)
    session.commit()
    ids = set(session.scalars(select(WebhookDelivery.event_id)))
    session.rollback()  # let go of SQLite's write lock
    return ids


def _states(database):
    with database.transaction(write=False) as read:
        return {
            row.event_id: (row.status, row.attempts)
            for row in read.scalars(select(WebhookDelivery))
        }


@pytest.mark.parametrize("storage", STORAGES)
def test_every_event_arrives_exactly_once_after_three_failures(
    app, session, protector, tmp_path, storage
):
    database = app.extensions["quiz.db"]
    with running(Receiver("", fail_first=3)) as receiver:
        events = _setup(session, protector, receiver, leads=4)
        queue = use_queue(app, storage, tmp_path)
        with worker(app, tmp_path / "worker.log", **FAST):
            wait_for(
                lambda: all(s == "delivered" for s, _ in _states(database).values()),
                45,
                "all deliveries",
            )
    log = (tmp_path / "worker.log").read_text()
    assert set(receiver.stored) == events, log
    assert all(receiver.attempts[e] == 4 for e in events)  # 3 refusals, then accepted
    assert receiver.bad_signatures == 0
    assert {attempts for _, attempts in _states(database).values()} == {4}
    if storage == "redis":
        queue.huey.storage.flush_all()


def test_a_worker_killed_mid_delivery_loses_nothing(app, session, protector, tmp_path):
    database = app.extensions["quiz.db"]
    with running(Receiver("")) as receiver:
        receiver.hang.set()  # the first request is read, then never answered
        events = _setup(session, protector, receiver, leads=3)
        use_queue(app, "sqlite", tmp_path)
        with worker(app, tmp_path / "worker.log", **FAST) as process:
            assert receiver.hung.wait(30), (tmp_path / "worker.log").read_text()
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        states = _states(database)
        # The event in flight is not marked delivered: no 2xx came back.
        assert [e for e, (s, _) in states.items() if s != "delivered"]
        with worker(app, tmp_path / "worker2.log", **FAST):
            wait_for(
                lambda: all(s == "delivered" for s, _ in _states(database).values()),
                90,
                "all deliveries after the restart",
            )
    assert set(receiver.stored) == events  # every event, each stored once
    assert max(receiver.attempts.values()) == 2  # the killed one was sent again
    assert receiver.bad_signatures == 0
