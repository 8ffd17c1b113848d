"""Security headers and cookie flags on every kind of response."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from quiz.db import Base
from tests.conftest import make_app
from tests.factories import install_test_campaign

PAGES = ["/", "/privacy", "/resume", "/no-such-page"]


def directives(csp: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for part in csp.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


@pytest.mark.parametrize("path", PAGES)
def test_pages_carry_the_security_headers(client, path):
    resp = client.get(path)
    csp = directives(resp.headers["Content-Security-Policy"])
    for kind in ("script-src", "style-src"):
        assert csp[kind] == ["'self'"], csp  # no 'unsafe-inline', no 'unsafe-eval', no hosts
    assert csp["default-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["object-src"] == ["'none'"] and csp["base-uri"] == ["'none'"]
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["Referrer-Policy"] in {"same-origin", "no-referrer", "strict-origin"}
    assert "no-store" in resp.headers["Cache-Control"]
    assert "Strict-Transport-Security" not in resp.headers  # plain HTTP: HSTS would be wrong


def test_pages_need_no_inline_script_or_style(client):
    """The CSP forbids inline code, so the pages must not rely on any."""
    client.post("/consent", data={"agree_rules": "y", "agree_sensitive": "y"})
    for path in ["/", "/privacy", "/resume", "/register"]:
        html = client.get(path).get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), path
        assert not re.search(r"\sstyle=", html), path
        assert not re.search(r"\son[a-z]+=", html), path
        assert "<style" not in html, path


def test_static_files_may_be_cached(client, app):
    root = Path(app.static_folder)
    static = sorted(p.relative_to(root).as_posix() for p in root.glob("css/*.css"))
    assert static, "expected a stylesheet in static/css/"
    resp = client.get(f"/static/{static[0]}")
    assert resp.status_code == 200
    assert "no-store" not in resp.headers.get("Cache-Control", "")
    resp.close()


def _cookie(resp, name):
    headers = [h for h in resp.headers.getlist("Set-Cookie") if h.startswith(name + "=")]
    assert headers, resp.headers
    return headers[0]


def test_session_cookie_is_httponly_and_samesite_over_http(client):
    cookie = _cookie(client.get("/", follow_redirects=True), "quiz_session")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie


def test_https_mode_sets_secure_cookies_and_hsts(monkeypatch, database_url, tmp_path):
    monkeypatch.setenv("QUIZ_HTTPS", "1")
    app = make_app(database_url, tmp_path / "instance")
    Base.metadata.create_all(app.extensions["quiz.db"].engine)
    with app.extensions["quiz.db"].transaction() as s:
        install_test_campaign(s)
    client = app.test_client()
    resp = client.get("/", follow_redirects=True, base_url="https://quiz.example.cn")
    assert resp.status_code == 200
    hsts = resp.headers["Strict-Transport-Security"]
    assert int(re.search(r"max-age=(\d+)", hsts).group(1)) >= 180 * 86400
    cookie = _cookie(resp, "quiz_session")
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    app.extensions["quiz.db"].dispose()
