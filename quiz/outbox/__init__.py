"""The webhook outbox: lead events recorded in the transaction that caused them.

A registration or a follow-up change writes one WebhookDelivery row per active endpoint
of the campaign, in the same transaction as the change itself: a rolled-back change sends
nothing, a committed one is sent even if every worker is down at that moment (the worker
finds the row later). Sending is quiz.webhooks' job; this module only records.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, bindparam, insert, literal, select
from sqlalchemy.orm import Session

from quiz.db import UTCDateTime, utcnow
from quiz.models import WebhookDelivery, WebhookEndpoint

LEAD_CREATED = "lead.created"
LEAD_FOLLOW_UP = "lead.follow_up"
LEAD_ASSIGNED = "lead.assigned"
EVENT_TYPES = (LEAD_CREATED, LEAD_FOLLOW_UP, LEAD_ASSIGNED)
PENDING = "outbox_pending"  # session.info key: this transaction recorded events


def record(
    session: Session,
    campaign_id: int,
    participant_id: int,
    event_type: str,
    data: dict[str, Any] | None = None,
    *,
    now: datetime | None = None,
) -> str:
    """Queue one event for every active endpoint of the campaign; returns the event id.

    One INSERT ... SELECT: with no endpoint (the usual case) it writes nothing and costs a
    registration one indexed read.
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    event_id = str(uuid.uuid4())
    at = now or utcnow()
    chosen = select(
        WebhookEndpoint.id,
        literal(event_id),
        literal(event_type),
        literal(participant_id, Integer),
        bindparam("data", data or {}, type_=JSON),
        literal("pending"),
        literal(0),
        bindparam("next_at", at, type_=UTCDateTime()),
        bindparam("created", at, type_=UTCDateTime()),
        bindparam("retry_from", at, type_=UTCDateTime()),
    ).where(WebhookEndpoint.campaign_id == campaign_id, WebhookEndpoint.active.is_(True))
    done = session.execute(
        insert(WebhookDelivery).from_select(
            [
                "endpoint_id",
                "event_id",
                "event_type",
                "participant_id",
                "data",
                "status",
                "attempts",
                "next_attempt_at",
                "created_at",
                "retry_from",
            ],
            chosen,
        )
    )
    if done.rowcount:  # type: ignore[attr-defined]
        # Read after commit by the web layer, which then asks a worker to send at once.
        session.info[PENDING] = True
    return event_id
