"""Hostile input against the staff sign-in forms: never a 500, never a sign-in.

Argon2 is made cheap for this module only (the views still hash and verify every
attempt, unknown accounts included), so that 1,000 examples run in seconds.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import delete
from werkzeug.test import encode_multipart

from quiz.models import LoginThrottle
from quiz.staff import auth
from tests.security.fuzzing import (
    EXAMPLES,
    FUZZ,
    MAX_BODY,
    check_response,
    form_data,
    fuzz_app,
    post_raw,
    raw_bodies,
    snapshot,
)

PASSWORD = "Correct-horse-battery-9"  # noqa: S105
USERNAMES = ["ops-admin", "OPS-ADMIN", " ops-admin ", "branch1"]


@pytest.fixture(scope="module")
def app(tmp_path_factory) -> Iterator[Flask]:
    with pytest.MonkeyPatch.context() as mp:
        cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
        mp.setattr(auth, "hasher", cheap)
        mp.setattr(auth, "_DUMMY_HASH", cheap.hash("dummy"))
        for application in fuzz_app(tmp_path_factory.mktemp("fuzz_login")):
            with application.extensions["quiz.db"].transaction() as s:
                user = auth.create_user(s, "ops-admin", PASSWORD, "admin")
                user.totp_secret_enc = application.extensions["quiz.protector"].encrypt(
                    auth.new_totp_secret()
                )
            yield application


def _names() -> st.SearchStrategy[str]:
    return st.sampled_from(USERNAMES)


def _is_sign_in(resp) -> bool:
    """A redirect anywhere but back to a sign-in step means someone got in."""
    location = resp.headers.get("Location", "")
    return 300 <= resp.status_code < 400 and "/admin/login" not in location


@pytest.mark.fuzz
@settings(FUZZ)
@given(
    data=form_data(["username", "password", "csrf_token", "next"]),
    known=st.one_of(st.none(), _names()),
    multipart=st.booleans(),
)
def test_login_form_fuzz(app, data, known, multipart):
    if known is not None:
        data.setlist("username", [known])  # real accounts too: lockout paths get exercised
    client = app.test_client()
    before = snapshot(app)
    if multipart:
        boundary, body = encode_multipart(data)
        resp = client.post(
            "/admin/login", data=body, content_type=f"multipart/form-data; boundary={boundary}"
        )
    else:
        resp = client.post("/admin/login", data=data)
    check_response(resp, before, app)
    assert resp.status_code >= 400, "a fuzzed password signed in"
    with client.session_transaction() as sess:
        assert "staff" not in sess


@pytest.mark.fuzz
@settings(FUZZ, max_examples=max(EXAMPLES // 2, 1))
@given(body=raw_bodies(["username", "password"]))
def test_login_raw_bodies_fuzz(app, body):
    before = snapshot(app)
    resp = post_raw(app.test_client(), "/admin/login", *body)
    check_response(resp, before, app)
    assert not _is_sign_in(resp)


@pytest.fixture(scope="module")
def pending(app):
    """A client that passed the password step and now owes the second factor."""
    with app.extensions["quiz.db"].transaction() as s:
        # The password fuzzing above has locked the account: unlock it.
        s.execute(delete(LoginThrottle))
    client = app.test_client()
    resp = client.post("/admin/login", data={"username": "ops-admin", "password": PASSWORD})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/admin/login/totp")
    return client


@pytest.mark.fuzz
@settings(FUZZ, max_examples=max(EXAMPLES // 2, 1))
@given(data=form_data(["code", "csrf_token"]))
def test_second_factor_form_fuzz(app, pending, data):
    before = snapshot(app)
    resp = pending.post("/admin/login/totp", data=data)
    check_response(resp, before, app)
    assert not _is_sign_in(resp), "a fuzzed code signed in"


@pytest.mark.parametrize("path", ["/admin/login", "/admin/login/totp"])
def test_oversized_login_bodies_are_413(app, pending, path):
    before = snapshot(app)
    body = b"username=" + b"A" * MAX_BODY
    resp = post_raw(pending, path, body, "application/x-www-form-urlencoded")
    assert resp.status_code == 413
    check_response(resp, before, app)
