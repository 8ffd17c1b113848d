"""Outbox, payload, signature, back-off and replay: the delivery rules without a worker."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from quiz.campaign.lifecycle import current_campaign
from quiz.db import utcnow
from quiz.leads import service as leads
from quiz.models import WebhookDelivery
from quiz.webhooks import service as webhooks
from quiz.webhooks import signing
from tests.factories import make_participant, make_staff
from tests.webhooks.receiver import Receiver, running

FAST = webhooks.DeliverySettings(backoff_seconds=1, claim_seconds=30)


def _endpoint(session, protector, url="http://127.0.0.1:9/crm", *, reveal=False):
    campaign = current_campaign(session)
    endpoint, secret = webhooks.create_endpoint(
        session, protector, campaign.id, "CRM", url, reveal=reveal
    )
    session.commit()
    return endpoint, secret


def _rows(session):
    session.expire_all()
    return list(session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


def test_a_registration_and_a_follow_up_each_queue_one_event_per_endpoint(session, protector):
    _endpoint(session, protector)
    _endpoint(session, protector, "https://crm.example/other")
    lead = make_participant(session, protector, current_campaign(session), 1)
    staff = make_staff(session, "ho", role="admin")
    leads.record_follow_up(session, staff, lead, "已联系", "约周五")
    session.commit()
    rows = _rows(session)
    assert [(r.event_type, r.endpoint_id) for r in rows] == [
        ("lead.created", 1),
        ("lead.created", 2),
        ("lead.follow_up", 1),
        ("lead.follow_up", 2),
    ]
    # One event, one id, whichever endpoint it goes to.
    assert rows[0].event_id == rows[1].event_id != rows[2].event_id == rows[3].event_id
    assert rows[2].data == {"status": "已联系", "note": "约周五", "staff": "ho"}


def test_a_rolled_back_registration_queues_nothing(session, protector):
    _endpoint(session, protector)
    make_participant(session, protector, current_campaign(session), 1)
    session.rollback()
    assert _rows(session) == []


def test_no_endpoint_no_rows(session, protector):
    make_participant(session, protector, current_campaign(session), 1)
    session.commit()
    assert _rows(session) == []


def test_masked_and_full_endpoints_get_what_their_permission_allows(app, session, protector):
    masked, _ = _endpoint(session, protector)
    full, _ = _endpoint(session, protector, reveal=True)
    lead = make_participant(session, protector, current_campaign(session), 1)
    staff = make_staff(session, "ho", role="admin")
    leads.record_follow_up(session, staff, lead, "已联系", "客户说下午方便")
    session.commit()
    mobile = protector.decrypt(lead.mobile_enc)
    by_endpoint = {}
    for row in _rows(session):
        by_endpoint[(row.endpoint_id, row.event_type)] = webhooks.payload(
            session, protector, row, row.endpoint
        )
    hidden = by_endpoint[(masked.id, "lead.follow_up")]
    shown = by_endpoint[(full.id, "lead.follow_up")]
    assert hidden["lead"]["mobile"] == lead.mobile_masked != mobile
    assert hidden["lead"]["name"] == lead.name_masked and hidden["lead"]["address"] is None
    assert "note" not in hidden["data"] and hidden["lead"]["masked"] is True
    assert shown["lead"]["mobile"] == mobile and shown["lead"]["name"] == lead.name
    assert shown["data"]["note"] == "客户说下午方便"
    assert shown["type"] == "lead.follow_up" and shown["campaign"]["slug"]
    # The ID number is never sent, masked or not.
    text = json.dumps(shown, ensure_ascii=False)
    assert lead.id_masked not in text and lead.id_last4 not in text.replace(mobile, "")


def test_a_wrong_signature_is_detected():
    body = b'{"id": "e1"}'
    now = int(time.time())
    good = signing.sign("s3cret", now, body)
    assert signing.verify("s3cret", str(now), body, good)
    assert not signing.verify("other", str(now), body, good)  # wrong secret
    assert not signing.verify("s3cret", str(now), body + b" ", good)  # body changed
    assert not signing.verify("s3cret", str(now + 1), body, good)  # timestamp changed
    old = now - 3600
    assert not signing.verify("s3cret", str(old), body, signing.sign("s3cret", old, body))
    assert not signing.verify("s3cret", "soon", body, good)


def test_failures_back_off_exponentially_then_give_up_after_24_hours(app, session, protector):
    _endpoint(session, protector)
    make_participant(session, protector, current_campaign(session), 1)
    session.commit()
    database = app.extensions["quiz.db"]
    clock = [utcnow()]
    waits = []
    for _ in range(40):
        result = webhooks.deliver_due(
            database,
            protector,
            webhooks.DeliverySettings(),
            send=lambda *_a: 503,
            now=lambda: clock[0],
        )
        waits += [wait for _id, wait in result.retries or ()]
        row = _rows(session)[0]
        status, next_at = row.status, row.next_attempt_at
        session.rollback()  # the fixture's session holds SQLite's write lock until it ends
        if status == "failed":
            break
        clock[0] = next_at
    row = _rows(session)[0]
    assert waits[:5] == [30, 60, 120, 240, 480]
    assert max(waits) == 3600  # capped at an hour
    assert row.status == "failed" and row.last_status == 503
    assert timedelta(hours=23) < clock[0] - row.retry_from <= timedelta(hours=24)
    # Staff replay it: pending again from now, same event id.
    event_id = row.event_id
    webhooks.replay(session, row)
    session.commit()
    session.rollback()
    result = webhooks.deliver_due(database, protector, FAST, send=lambda *_a: 204)
    assert result.sent == 1
    row = _rows(session)[0]
    assert row.status == "delivered" and row.event_id == event_id


def test_an_unreachable_receiver_is_retried_not_lost(app, session, protector):
    _endpoint(session, protector, "http://127.0.0.1:9/closed")
    make_participant(session, protector, current_campaign(session), 1)
    session.commit()
    result = webhooks.deliver_due(app.extensions["quiz.db"], protector, FAST)
    row = _rows(session)[0]
    assert result.failed == 1 and row.status == "pending" and row.attempts == 1
    assert "URLError" in row.last_error or "Connection" in row.last_error


def test_delivery_to_a_real_receiver_is_signed(app, session, protector):
    with running(Receiver("")) as receiver:
        endpoint, secret = _endpoint(session, protector, "http://placeholder/")
        endpoint.url = receiver.url
        receiver.secret = secret
        make_participant(session, protector, current_campaign(session), 1)
        session.commit()
        webhooks.deliver_due(app.extensions["quiz.db"], protector, FAST)
    assert receiver.bad_signatures == 0 and len(receiver.stored) == 1
    assert _rows(session)[0].status == "delivered"


@pytest.mark.parametrize("url", ["ftp://x/y", "crm.example", "http://", "javascript:alert(1)"])
def test_endpoint_urls_must_be_http(session, protector, url):
    with pytest.raises(webhooks.WebhookError):
        _endpoint(session, protector, url)


def test_the_readme_receiver_snippet_verifies_our_signature_and_refuses_a_wrong_one():
    """The 10 lines of Python the README gives receivers really work."""
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    start = readme.index("```python\nimport hashlib, hmac, time")
    code = readme[start + len("```python\n") : readme.index("```", start + 10)]
    assert len(code.strip().splitlines()) <= 10
    scope: dict = {}
    exec(code, scope)  # noqa: S102  (our own README)
    verify = scope["verify"]
    body, now = b'{"id": "e1"}', int(time.time())
    headers = {"X-Quiz-Timestamp": str(now), "X-Quiz-Signature": signing.sign("k", now, body)}
    assert verify("k", headers, body)
    assert not verify("wrong", headers, body)
    assert not verify("k", headers, body.replace(b"e1", b"e2"))
    assert not verify("k", {**headers, "X-Quiz-Signature": "sha256=" + "0" * 64}, body)
