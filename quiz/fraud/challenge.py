"""Bot challenge without a third party: ALTCHA proof of work (PoW v2) at registration.

The server signs a challenge with a key derived from the app's secret key; the page's
worker (static/vendor/altcha/, the widget's own SHA worker) searches for the counter
while the form is filled and puts the payload in the hidden field `altcha`. Challenges
are deterministic: the counter is drawn between `max_number / 2` and `max_number`, so the
expected work is about 0.75 × max_number hashes, and the server checks a solution with
one HMAC. `max_number` rises with the client's challenge requests per minute. A used
challenge is remembered until it expires (the caller's shared counter store: the rate
limit storage, Redis with several hosts), so a solution works once.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import altcha

ALGORITHM = "SHA-256"
# Expected work at the default difficulty: about 15,000 SHA-256 runs, well under a second
# in a phone's Web Worker (crypto.subtle), a few milliseconds for the server to issue.
BASE_MAX_NUMBER = 20_000
MAX_MAX_NUMBER = 1_280_000
# Challenge requests a client may make per minute before the work doubles, per step.
FREE_REQUESTS = 10
STEP_REQUESTS = 10
EXPIRES_SECONDS = 600
# Registrations one client address may send without a solved challenge (no JavaScript).
NO_SCRIPT_PER_HOUR = 3
REFUSED_MESSAGE = "人机验证未通过或已过期,请稍候片刻再提交(页面会在后台自动完成验证)。"
REPLAYED_MESSAGE = "该人机验证已使用过,请刷新页面后重新提交。"
NO_SCRIPT_MESSAGE = (
    "您的浏览器未启用JavaScript,无法在后台完成人机验证;未启用时每个网络每小时最多提交"
    f"{NO_SCRIPT_PER_HOUR}次报名。请启用JavaScript,或稍后再试。"
)

# A counter store: incr(key, expiry_seconds) -> the count after adding one.
Counter = Callable[[str, int], int]


class ChallengeRefused(Exception):
    """The registration's proof of work is missing, wrong, expired or used; str() is the
    Chinese message for the form."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Keys:
    """The signing secrets, derived from the app's secret key (never the key itself)."""

    challenge: str
    solution: str


def derive_keys(secret_key: str | bytes) -> Keys:
    """HMAC-derived, one per purpose, so rotating SECRET_KEY rotates them too."""
    raw = secret_key.encode() if isinstance(secret_key, str) else secret_key

    def derive(label: str) -> str:
        return hmac.new(raw, f"quiz-altcha:{label}".encode(), hashlib.sha256).hexdigest()

    return Keys(challenge=derive("challenge"), solution=derive("solution"))


def max_number_for(requests_this_minute: int) -> int:
    """The difficulty for a client that asked this many challenges in the last minute:
    the base up to FREE_REQUESTS, then doubled every STEP_REQUESTS more."""
    steps = max(0, requests_this_minute - FREE_REQUESTS + STEP_REQUESTS - 1) // STEP_REQUESTS
    return min(BASE_MAX_NUMBER * 2**steps, MAX_MAX_NUMBER)


def new_challenge(keys: Keys, max_number: int, *, now: float | None = None) -> dict[str, Any]:
    """A signed challenge as the worker takes it (JSON)."""
    now = time.time() if now is None else now
    low = max(1, max_number // 2)
    challenge = altcha.create_challenge(
        algorithm=ALGORITHM,
        cost=1,
        counter=low + secrets.randbelow(max_number - low + 1),
        expires_at=int(now) + EXPIRES_SECONDS,
        hmac_secret=keys.challenge,
        hmac_key_secret=keys.solution,
    )
    return challenge.to_dict()


def verify(payload: str, keys: Keys, mark_used: Counter) -> None:
    """Accept a solved challenge once; ChallengeRefused otherwise."""
    if not payload or len(payload) > 4000:
        raise ChallengeRefused(REFUSED_MESSAGE)
    try:
        result = altcha.verify_solution(payload, keys.challenge, hmac_key_secret=keys.solution)
        signature = str(json.loads(base64.b64decode(payload))["challenge"]["signature"])
    except (ValueError, KeyError, TypeError, binascii.Error, RecursionError):
        raise ChallengeRefused(REFUSED_MESSAGE) from None
    if not result.verified:
        raise ChallengeRefused(REFUSED_MESSAGE)
    # Remembered until the challenge would have expired anyway.
    if mark_used(f"altcha-used:{signature}", EXPIRES_SECONDS) > 1:
        raise ChallengeRefused(REPLAYED_MESSAGE, 409)


def allow_without_script(client: str, count: Counter) -> None:
    """The no-JavaScript path: a registration without a solution costs one of the
    client's NO_SCRIPT_PER_HOUR; beyond them, 429."""
    if count(f"altcha-noscript:{client}", 3600) > NO_SCRIPT_PER_HOUR:
        raise ChallengeRefused(NO_SCRIPT_MESSAGE, 429)


def bot_challenge(campaign_content: dict[str, Any] | None) -> bool:
    """Whether the campaign file asks for the proof of work ([quiz] bot_challenge)."""
    return (campaign_content or {}).get("bot_challenge") == "altcha"


def solve(challenge: dict[str, Any]) -> str:
    """Solve a challenge as the page's worker does and return the form field's payload
    (tests and the load harness; the browser never runs this)."""
    parsed = altcha.Challenge.from_dict(challenge)
    solution = altcha.solve_challenge(parsed)
    assert solution is not None
    return altcha.Payload(parsed, solution).to_base64()
