"""Endpoints, payloads and delivery of the outbox (quiz.outbox) to CRM receivers.

Delivery is at least once: a row is claimed for a while (locked_until), sent, and marked
delivered only after a 2xx answer. A worker killed mid-send leaves the row claimed; the
claim runs out and the next sweep sends it again, so a receiver must dedupe by event id
(the README's receiver does). Failures are retried with exponential back-off until the
event is GIVE_UP old (24 hours), then the row is failed and can be replayed by hand.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from quiz.clock import CHINA
from quiz.db import Database, utcnow
from quiz.models import Campaign, Participant, WebhookDelivery, WebhookEndpoint
from quiz.privacy.protection import Protector
from quiz.webhooks import signing

log = logging.getLogger("quiz.webhooks")
SCHEMA_VERSION = 1


class WebhookError(Exception):
    """A refused endpoint setting; str(exc) is the Chinese message."""


@dataclass(frozen=True)
class DeliverySettings:
    """Back-off and timing (QUIZ_WEBHOOK_* settings; tests shorten them)."""

    backoff_seconds: float = 30.0  # the first retry's wait; doubled each time
    max_backoff_seconds: float = 3600.0
    give_up_after: timedelta = timedelta(hours=24)
    timeout_seconds: float = 10.0
    claim_seconds: float = 60.0  # longer than a send can take
    batch: int = 50

    def backoff(self, attempts: int) -> float:
        """The wait after the `attempts`-th failed attempt: 30 s, 60 s, 120 s, … ≤ 1 h."""
        return min(self.backoff_seconds * 2 ** max(attempts - 1, 0), self.max_backoff_seconds)


# ---- endpoints (the back office) -------------------------------------------------------


def _check_url(url: str) -> str:
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > 500:
        raise WebhookError("接收地址须为 http:// 或 https:// 开头的完整网址(不超过500个字符)。")
    return url


def create_endpoint(
    session: Session,
    protector: Protector,
    campaign_id: int,
    name: str,
    url: str,
    *,
    reveal: bool,
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its secret (shown once to the person who created it)."""
    name = name.strip()
    if not name or len(name) > 100:
        raise WebhookError("请填写名称(不超过100个字)。")
    secret = "whsec_" + secrets.token_urlsafe(32)
    endpoint = WebhookEndpoint(
        campaign_id=campaign_id,
        name=name,
        url=_check_url(url),
        secret_enc=protector.encrypt(secret),
        reveal=reveal,
        active=True,
    )
    session.add(endpoint)
    session.flush()
    return endpoint, secret


def endpoints_of(session: Session, campaign_id: int) -> list[WebhookEndpoint]:
    return list(
        session.scalars(
            select(WebhookEndpoint)
            .where(WebhookEndpoint.campaign_id == campaign_id)
            .order_by(WebhookEndpoint.id)
        )
    )


def delivery_counts(session: Session, endpoint_id: int) -> dict[str, int]:
    rows = session.execute(
        select(WebhookDelivery.status, func.count())
        .where(WebhookDelivery.endpoint_id == endpoint_id)
        .group_by(WebhookDelivery.status)
    )
    return {status: n for status, n in rows}


def deliveries_of(
    session: Session, endpoint_id: int, status: str | None = None, limit: int = 100
) -> list[WebhookDelivery]:
    stmt = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
    if status:
        stmt = stmt.where(WebhookDelivery.status == status)
    return list(session.scalars(stmt.order_by(WebhookDelivery.id.desc()).limit(limit)))


def replay(session: Session, delivery: WebhookDelivery, now: datetime | None = None) -> None:
    """Send a failed (or delivered) event again, with the same event id, from now on."""
    now = now or utcnow()
    delivery.status = "pending"
    delivery.next_attempt_at = now
    delivery.retry_from = now  # a fresh 24 hours of retries
    delivery.locked_until = None
    delivery.last_error = None


# ---- payload -----------------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(CHINA).isoformat(timespec="seconds")


def payload(
    session: Session,
    protector: Protector,
    delivery: WebhookDelivery,
    endpoint: WebhookEndpoint,
) -> dict[str, Any]:
    """The JSON body (README "CRM webhooks" documents every field). Personal data is read
    now, masked unless the endpoint may see it; erased (anonymised) entries are masked."""
    lead: dict[str, Any] | None = None
    campaign = session.get(Campaign, endpoint.campaign_id)
    participant = (
        session.get(Participant, delivery.participant_id) if delivery.participant_id else None
    )
    if participant is not None:
        full = endpoint.reveal and participant.anonymised_at is None
        lead = {
            "id": participant.public_id,
            "name": participant.name if full else participant.name_masked,
            "mobile": protector.decrypt(participant.mobile_enc)
            if full
            else participant.mobile_masked,
            "address": participant.address if full else None,
            "postal_code": participant.postal_code if full else None,
            "province_code": participant.province_code,
            "city_code": participant.city_code,
            "branch_code": participant.branch.code if participant.branch else None,
            "branch_name": participant.branch.name if participant.branch else None,
            "agent_code": participant.agent.code if participant.agent else None,
            "status": participant.status,
            "score": participant.score,
            "intent_level": participant.intent_level,
            "contact_opt_out": participant.contact_opt_out,
            "follow_up_status": participant.follow_up_status,
            "registered_at": _iso(participant.created_at),
            "masked": not full,
        }
    data = dict(delivery.data)
    if not endpoint.reveal:
        data.pop("note", None)  # staff notes may quote the person: full-data receivers only
    return {
        "schema": SCHEMA_VERSION,
        "id": delivery.event_id,
        "type": delivery.event_type,
        "occurred_at": _iso(delivery.created_at),
        "campaign": {"slug": campaign.slug, "name": campaign.name} if campaign else None,
        "lead": lead,
        "data": data,
    }


# ---- delivery ----------------------------------------------------------------------------

Sender = Callable[[str, bytes, dict[str, str], float], int]


def http_send(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """POST the body; the HTTP status (urllib raises on 4xx/5xx: their status is returned)."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise WebhookError("bad scheme")
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


@dataclass
class SweepResult:
    sent: int = 0
    failed: int = 0
    given_up: int = 0
    # (delivery id, seconds from now) of each retry this sweep planned.
    retries: list[tuple[int, float]] | None = None
    # Seconds until the first due row claimed by another (or a killed) worker is free.
    claimed_elsewhere_for: float | None = None


def _claim(
    database: Database, settings: DeliverySettings, only: int | None, now: datetime
) -> list[int]:
    """Take up to `batch` due rows for this worker: a conditional UPDATE per row, so two
    workers never both claim one (the loser's UPDATE matches nothing)."""
    until = now + timedelta(seconds=settings.claim_seconds)
    due = (
        WebhookDelivery.status == "pending",
        WebhookDelivery.next_attempt_at <= now,
        or_(WebhookDelivery.locked_until.is_(None), WebhookDelivery.locked_until <= now),
    )
    claimed: list[int] = []
    with database.transaction(write=True) as session:
        stmt = select(WebhookDelivery.id).where(*due)
        if only is not None:
            stmt = stmt.where(WebhookDelivery.id == only)
        ids = list(session.scalars(stmt.order_by(WebhookDelivery.id).limit(settings.batch)))
        for delivery_id in ids:
            done = session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == delivery_id, *due)
                .values(locked_until=until)
            )
            if done.rowcount:  # type: ignore[attr-defined]
                claimed.append(delivery_id)
    return claimed


def _next_claim_expiry(database: Database, now: datetime) -> float | None:
    with database.transaction(write=False) as session:
        first = session.scalar(
            select(func.min(WebhookDelivery.locked_until)).where(
                WebhookDelivery.status == "pending",
                WebhookDelivery.next_attempt_at <= now,
                WebhookDelivery.locked_until > now,
            )
        )
    return None if first is None else (first - now).total_seconds() + 0.1


def deliver_due(
    database: Database,
    protector: Protector,
    settings: DeliverySettings,
    *,
    only: int | None = None,
    send: Sender = http_send,
    now: Callable[[], datetime] = utcnow,
) -> SweepResult:
    """Send every due event (or the one `only`), each in its own short transactions."""
    result = SweepResult(retries=[])
    while True:
        claimed = _claim(database, settings, only, now())
        for delivery_id in claimed:
            _deliver_one(database, protector, settings, delivery_id, send, now, result)
        if only is not None or len(claimed) < settings.batch:
            result.claimed_elsewhere_for = _next_claim_expiry(database, now())
            return result


def _deliver_one(
    database: Database,
    protector: Protector,
    settings: DeliverySettings,
    delivery_id: int,
    send: Sender,
    now: Callable[[], datetime],
    result: SweepResult,
) -> None:
    with database.transaction(write=False) as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        if delivery is None:
            return
        endpoint = delivery.endpoint
        url = endpoint.url
        secret = protector.decrypt(endpoint.secret_enc)
        body = json.dumps(
            payload(session, protector, delivery, endpoint), ensure_ascii=False
        ).encode()
        event_id, event_type, active = delivery.event_id, delivery.event_type, endpoint.active
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "quiz-webhooks/1",
        signing.TIMESTAMP_HEADER: str(timestamp),
        signing.SIGNATURE_HEADER: signing.sign(secret, timestamp, body),
        signing.EVENT_ID_HEADER: event_id,
        signing.EVENT_TYPE_HEADER: event_type,
    }
    status: int | None = None
    error: str | None = None
    if not active:
        error = "接收端已停用"
    else:
        try:
            status = send(url, body, headers, settings.timeout_seconds)
        except Exception as exc:  # a refused connection, a timeout, DNS: all retried
            error = f"{type(exc).__name__}: {exc}"[:500]
    with database.transaction(write=True) as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        if delivery is None:
            return
        at = now()
        delivery.attempts += 1
        delivery.last_status = status
        delivery.locked_until = None
        if status is not None and 200 <= status < 300:
            delivery.status, delivery.delivered_at, delivery.last_error = "delivered", at, None
            result.sent += 1
            return
        delivery.last_error = error or f"HTTP {status}"
        result.failed += 1
        wait = settings.backoff(delivery.attempts)
        if at + timedelta(seconds=wait) - delivery.retry_from > settings.give_up_after:
            delivery.status = "failed"
            result.given_up += 1
            return
        delivery.next_attempt_at = at + timedelta(seconds=wait)
        assert result.retries is not None
        result.retries.append((delivery_id, wait))
