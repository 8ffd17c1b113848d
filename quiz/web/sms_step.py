"""The 获取验证码 step every public form shares: issue a code, commit, deliver it.

The quiz's registration, the drawing contest's sign-up and the staff contest's sign-in
each issue the code their own way (the mobile typed, or the roster's); what follows is
the same everywhere and lives here, so a refusal gets the same status on every form.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from flask import current_app

from quiz.extensions import client_address
from quiz.fraud.codes import (
    CodeRefused,
    IssuedCode,
    MobileTaken,
    SendFailed,
    deliver,
    issue_code,
    withdraw,
)
from quiz.web.request import db, protector


class StepRefused(Exception):
    """No code went out. `field` is the form field the message belongs on: the mobile
    (already used for an entry: 409) or the code (limits: 429, provider down: 503)."""

    def __init__(self, field: Literal["mobile", "code"], message: str, status: int) -> None:
        super().__init__(message)
        self.field = field
        self.status = status


def send_code(issue: Callable[[], IssuedCode]) -> IssuedCode:
    """Run `issue` (it saves the code in the request's session), commit, then deliver the
    code with no write lock held while the provider answers; a failed delivery withdraws
    the code, so it does not count against the person's limits."""
    try:
        issued = issue()
    except MobileTaken as exc:
        db().rollback()
        raise StepRefused("mobile", str(exc), 409) from exc
    except CodeRefused as exc:
        db().rollback()
        raise StepRefused("code", str(exc), 429) from exc
    db().commit()
    try:
        deliver(current_app.extensions["quiz.sms"], issued)
    except SendFailed as exc:
        withdraw(db(), issued)
        db().commit()
        raise StepRefused("code", str(exc), 503) from exc
    return issued


def send_code_to(campaign_id: int, mobile: str) -> IssuedCode:
    """send_code for a mobile the visitor typed (the quiz, the drawing contest), under the
    site's SMS limits for this client."""
    return send_code(
        lambda: issue_code(
            db(),
            protector(),
            campaign_id,
            mobile,
            client_address(),
            limits=current_app.extensions["quiz.sms_limits"],
        )
    )
