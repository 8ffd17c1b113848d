"""Hostile input against every public form: never a 500, refusals change nothing.

One app per module so that 1,000 examples per form run in seconds. Every response
is a 4xx with a Chinese message or a normal 2xx/3xx; after any 4xx the participant
and quiz_item tables are byte-for-byte what they were (count and checksum).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from werkzeug.test import encode_multipart

from quiz.models import Campaign, Draw, Participant
from tests.factories import make_mobile, make_resident_id
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

REGISTER_FIELDS = [
    "name",
    "resident_id",
    "address",
    "province_code",
    "city_code",
    "district_code",
    "address_detail",
    "postal_code",
    "mobile",
    "landline",
    "confirm_postal",
]
# path -> (fields, which client state the form needs)
FORMS: dict[str, tuple[list[str], str]] = {
    "/consent": (["agree_rules", "agree_sensitive"], "fresh"),
    "/register": (REGISTER_FIELDS, "consented"),
    "/resume": (["resident_id", "mobile"], "fresh"),
    "/resume/last4": (["resident_id", "mobile_last4"], "fresh"),
    "/quiz": (["position", "choice"], "playing"),
    "/draw/check": (["mobile", "id_last4"], "fresh"),
    "/winners/lookup": (["mobile", "id_last4"], "fresh"),
}
# Public forms whose address carries a secret or an id, fuzzed by their own tests.
FUZZED_ELSEWHERE = {
    "/a/<token>/<int:participant_id>": "tests/owners/test_agent_fuzz.py",
    **dict.fromkeys(
        [
            "/contest/sign-in",
            "/contest/start",
            "/contest/paper",
            "/contest/submit",
            "/contest/away",
            "/contest/sign-out",
            "/artwork/join",
            "/artwork/family/child",
            "/artwork/family/<int:child_id>/work",
        ],
        "tests/security/test_fuzz_kinds.py",
    ),
}
ESCAPE_ADDRESS = "湖北省武汉市江岸区沿江大道<script>alert(1)</script>100号"


@pytest.fixture(scope="module")
def app(tmp_path_factory) -> Iterator[Flask]:
    yield from fuzz_app(tmp_path_factory.mktemp("fuzz_public"))


@pytest.fixture(scope="module")
def clients(app):
    """A client per state: fresh, consented (may register), playing (has unanswered questions)."""
    fresh = app.test_client()
    consented = app.test_client()
    consented.post("/consent", data={"agree_rules": "y", "agree_sensitive": "y"})
    playing = app.test_client()
    playing.post("/consent", data={"agree_rules": "y", "agree_sensitive": "y"})
    resp = playing.post(
        "/register",
        data={
            "name": "赵六",
            "resident_id": make_resident_id("310115", seq=808),
            "address": "上海市浦东新区张江路100号",
            "postal_code": "201203",
            "mobile": make_mobile(808),
            "landline": "",
        },
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)
    database = app.extensions["quiz.db"]
    with database.transaction() as s:
        # A published draw, so the look-up forms run their queries too.
        campaign = s.scalars(select(Campaign)).one()
        s.add(
            Draw(
                campaign_id=campaign.id,
                status="drawn",
                entrant_count=0,
                entrant_digest="0" * 64,
                randomness_source="test",
                tiers=[],
                drawn_at=datetime.now(UTC),
            )
        )
    return {"fresh": fresh, "consented": consented, "playing": playing}


def _route_exists(app: Flask, path: str, method: str = "POST") -> bool:
    adapter = app.url_map.bind("localhost")
    return adapter.test(path, method=method)


def _form(app: Flask, path: str) -> tuple[list[str], str]:
    assert _route_exists(app, path), f"{path} is gone: update FORMS"
    return FORMS[path]


def test_every_public_post_route_is_fuzzed(app):
    """A new public form must be added to FORMS (and so to the fuzzing). A campaign's own
    address (/c/<slug>/...) runs the same view as the old one, so it counts as fuzzed."""
    posts = {
        r.rule.removeprefix("/c/<slug>")
        for r in app.url_map.iter_rules()
        if "POST" in r.methods and not r.rule.startswith("/admin")
    }
    assert posts <= set(FORMS) | set(FUZZED_ELSEWHERE), posts - set(FORMS)


@pytest.mark.fuzz
@pytest.mark.parametrize("path", list(FORMS))
def test_form_fields_fuzz(app, clients, path):
    fields, state = _form(app, path)
    client = clients[state]

    @FUZZ
    @given(data=form_data(fields), multipart=st.booleans())
    def run(data, multipart):
        before = snapshot(app)
        if multipart:
            # Encoded in memory: the client's own encoder spools big bodies to a temp file
            # it never closes (a ResourceWarning, which this suite treats as an error).
            boundary, body = encode_multipart(data)
            ct = f"multipart/form-data; boundary={boundary}"
            resp = client.post(path, data=body, content_type=ct)
        else:
            resp = client.post(path, data=data)
        check_response(resp, before, app)

    run()


@pytest.mark.fuzz
@pytest.mark.parametrize("path", list(FORMS))
def test_raw_bodies_fuzz(app, clients, path):
    fields, state = _form(app, path)
    client = clients[state]

    @settings(FUZZ, max_examples=max(EXAMPLES // 2, 1))  # on top of the field-level examples
    @given(body=raw_bodies(fields))
    def run(body):
        before = snapshot(app)
        resp = post_raw(client, path, *body)
        check_response(resp, before, app)

    run()


@pytest.mark.parametrize("path", list(FORMS))
@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_wrong_methods_are_405_with_a_message(app, clients, path, method):
    _form(app, path)
    before = snapshot(app)
    resp = clients["consented"].open(path, method=method, data={"name": "x"})
    assert resp.status_code == 405
    check_response(resp, before, app)


@pytest.mark.parametrize("path", list(FORMS))
@pytest.mark.parametrize(
    "content_type", ["application/x-www-form-urlencoded", "multipart/form-data; boundary=b"]
)
def test_oversized_bodies_are_413(app, clients, path, content_type):
    fields, state = _form(app, path)
    before = snapshot(app)
    if content_type.startswith("multipart"):
        body = (
            b'--b\r\nContent-Disposition: form-data; name="'
            + fields[0].encode()
            + b'"\r\n\r\n'
            + b"A" * MAX_BODY
            + b"\r\n--b--\r\n"
        )
    else:
        body = fields[0].encode() + b"=" + b"A" * MAX_BODY
    resp = post_raw(clients[state], path, body, content_type)
    assert resp.status_code == 413
    check_response(resp, before, app)


def test_stored_text_is_escaped_when_shown(app):
    """An address with markup is stored as typed and shown as text, never as markup."""
    client = app.test_client()
    client.post("/consent", data={"agree_rules": "y", "agree_sensitive": "y"})
    rid = make_resident_id("420102", seq=606)
    resp = client.post(
        "/register",
        data={
            "name": "钱七",
            "resident_id": rid,
            "address": ESCAPE_ADDRESS,
            "postal_code": "430014",
            "mobile": make_mobile(606),
            "landline": "",
        },
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)
    with app.extensions["quiz.db"].transaction(write=False) as s:
        stored = s.scalars(select(Participant).where(Participant.name == "钱七")).one()
    assert "<script>alert(1)</script>" in stored.address  # kept as typed
    # The page that shows the registration back: the form re-displayed on a refusal.
    again = client.post(
        "/register",
        data={
            "name": "钱七",
            "resident_id": rid,
            "address": ESCAPE_ADDRESS,
            "postal_code": "430014",
            "mobile": make_mobile(606),
            "landline": "",
        },
    )
    html = again.get_data(as_text=True)
    assert again.status_code == 409
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    from tests.factories import login_as, make_staff

    with app.extensions["quiz.db"].transaction() as s:
        admin = make_staff(s, "fuzz-admin", "admin")
    staff = app.test_client()
    login_as(staff, admin)
    for page in ("/admin/leads", f"/admin/leads/{stored.id}"):
        resp = staff.get(page)
        html = resp.get_data(as_text=True)
        assert resp.status_code == 200, page
        assert "<script>alert(1)</script>" not in html, page
    # The lead page shows the full address: as text.
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


# --- with CSRF protection on, as in production ---------------------------------

TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def _token(client, path: str) -> str:
    # "/" leads to the only live campaign's own page.
    m = TOKEN.search(client.get(path, follow_redirects=True).get_data(as_text=True))
    assert m, f"no CSRF token on {path}"
    return m.group(1) or m.group(2)


@pytest.fixture(scope="module")
def csrf_client(tmp_path_factory):
    for application in fuzz_app(tmp_path_factory.mktemp("fuzz_csrf"), WTF_CSRF_ENABLED=True):
        client = application.test_client()
        token = _token(client, "/")
        resp = client.post(
            "/consent", data={"agree_rules": "y", "agree_sensitive": "y", "csrf_token": token}
        )
        assert resp.status_code == 302
        yield application, client, _token(client, "/register")


@pytest.mark.fuzz
def test_register_fuzz_with_csrf_on_and_a_valid_token(csrf_client):
    app, client, token = csrf_client

    @FUZZ
    @given(data=form_data(REGISTER_FIELDS))
    def run(data):
        data.setlist("csrf_token", [token])
        before = snapshot(app)
        resp = client.post("/register", data=data)
        check_response(resp, before, app)
        # A valid token means the form itself judged the input, not the CSRF check.
        assert "页面已过期" not in resp.get_data(as_text=True)

    run()


@pytest.mark.parametrize("token", [None, "", "forged.token", "\x00" * 10])
def test_missing_or_forged_token_is_400_and_changes_nothing(csrf_client, token):
    app, client, _ = csrf_client
    data = {
        "name": "孙八",
        "resident_id": make_resident_id("110105", seq=505),
        "address": "北京市朝阳区建国路88号",
        "postal_code": "100022",
        "mobile": make_mobile(505),
    }
    if token is not None:
        data["csrf_token"] = token
    before = snapshot(app)
    resp = client.post("/register", data=data)
    assert resp.status_code == 400 and "页面已过期" in resp.get_data(as_text=True)
    check_response(resp, before, app)
