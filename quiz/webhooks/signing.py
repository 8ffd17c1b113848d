"""The signature a receiver checks: HMAC-SHA256 over "<timestamp>.<body>" with the secret.

The timestamp is inside what is signed, so a captured request cannot be replayed later
with a fresh timestamp; the receiver refuses timestamps older than a few minutes.
"""

from __future__ import annotations

import hashlib
import hmac
import time

TIMESTAMP_HEADER = "X-Quiz-Timestamp"
SIGNATURE_HEADER = "X-Quiz-Signature"
EVENT_ID_HEADER = "X-Quiz-Event-Id"
EVENT_TYPE_HEADER = "X-Quiz-Event"
TOLERANCE_SECONDS = 300


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The X-Quiz-Signature value: "sha256=" and the hex digest."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    *,
    now: float | None = None,
    tolerance: int = TOLERANCE_SECONDS,
) -> bool:
    """What a receiver does (README "CRM webhooks"): a fresh timestamp and a matching MAC."""
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - ts) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, ts, body), signature)
