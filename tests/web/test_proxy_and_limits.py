"""Client addresses behind reverse proxies, rate-limit storage rules, Redis outages."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from quiz import ConfigurationError, create_app
from quiz.db import Base
from quiz.extensions import limiter
from tests.conftest import KEYS, REDIS_URL, make_app
from tests.factories import install_test_campaign
from tests.load.server import ROOT, free_port

CREATED: list[Flask] = []


@pytest.fixture(autouse=True)
def _fresh_limiter_state() -> Iterator[None]:
    # The limiter object is global to the process: a test that saw Redis die must not
    # leave later tests on the in-memory fallback.
    limiter._storage_dead = False
    yield
    limiter._storage_dead = False
    while CREATED:
        CREATED.pop().extensions["quiz.db"].dispose()


def limited_app(database_url: str, tmp_path: Path, **overrides: Any) -> Flask:
    """The app with rate limiting on: 2 registration POSTs a minute per client."""
    config: dict[str, Any] = {
        "RATELIMIT_ENABLED": True,
        "RATELIMIT_STORAGE_URI": REDIS_URL or "memory://",
        "QUIZ_REGISTER_LIMIT": "2/minute",
    }
    config.update(overrides)
    app = make_app(database_url, tmp_path / "instance", **config)
    database = app.extensions["quiz.db"]
    Base.metadata.create_all(database.engine)
    with database.transaction() as session:
        install_test_campaign(session)
    CREATED.append(app)
    return app


def post_register(app: Flask, remote: str, forwarded: str | None = None) -> int:
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    client = app.test_client()
    response = client.post(
        "/register", data={}, headers=headers, environ_base={"REMOTE_ADDR": remote}
    )
    return response.status_code


def test_forged_forwarded_for_does_not_dodge_limits_without_proxies(
    database_url: str, tmp_path: Path
) -> None:
    app = limited_app(database_url, tmp_path, TRUSTED_PROXIES=0)
    statuses = [post_register(app, "203.0.113.7", forwarded=f"198.51.100.{i}") for i in range(3)]
    # No consent yet: the form redirects to the campaign page until the limit bites.
    assert statuses == [302, 302, 429]  # every forged address counted against the real one
    assert post_register(app, "203.0.113.8") == 302  # another real client is unaffected


def test_one_trusted_proxy_uses_the_right_most_address(database_url: str, tmp_path: Path) -> None:
    app = limited_app(database_url, tmp_path, TRUSTED_PROXIES=1)
    proxy = "127.0.0.1"
    # The client prepends whatever it likes; nginx appends the address it saw last.
    statuses = [post_register(app, proxy, forwarded=f"10.0.0.{i}, 198.51.100.20") for i in range(3)]
    assert statuses == [302, 302, 429]
    # A different real client behind the same proxy has its own count.
    assert post_register(app, proxy, forwarded="10.0.0.1, 198.51.100.21") == 302


def test_resume_and_answers_have_their_own_limits(database_url: str, tmp_path: Path) -> None:
    """继续答题 takes an ID number and a mobile: unlimited, it would let anyone try pairs.
    Answers are limited apart from registrations, and a 429 is in Chinese."""
    app = limited_app(database_url, tmp_path, QUIZ_ANSWER_LIMIT="2/minute")
    resume = app.test_client()
    sent = [{"resident_id": "110101199003070011", "mobile": f"1380013800{i}"} for i in range(3)]
    statuses = [resume.post("/resume", data=d).status_code for d in sent]
    assert 429 not in statuses[:2] and statuses[2] == 429
    answers = app.test_client()
    statuses = [answers.post("/quiz", data={"position": "1"}).status_code for _ in range(3)]
    assert statuses[2] == 429 and 429 not in statuses[:2]
    assert "操作过于频繁" in answers.post("/quiz", data={"position": "1"}).get_data(as_text=True)


def test_request_log_shows_the_resolved_client_address(
    database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = limited_app(database_url, tmp_path, TRUSTED_PROXIES=1)
    with caplog.at_level(logging.INFO, logger="quiz.request"):
        post_register(app, "127.0.0.1", forwarded="1.2.3.4, 198.51.100.22")
    lines = [r.getMessage() for r in caplog.records if r.name == "quiz.request"]
    assert len(lines) == 1 and "ip=198.51.100.22" in lines[0]


def test_production_refuses_memory_limits_with_several_workers(database_url: str) -> None:
    production = {
        "QUIZ_ENV": "production",
        "DATABASE_URL": database_url,
        **KEYS,
        "RATELIMIT_STORAGE_URI": "memory://",
        # Production refuses the console SMS backend (tests/fraud/test_sms.py).
        "QUIZ_SMS_BACKEND": "aliyun",
        "QUIZ_SMS_SIGN_NAME": "保险竞答",
        "QUIZ_SMS_TEMPLATE_ID": "SMS_1",
        "QUIZ_SMS_KEY_ID": "id",
        "QUIZ_SMS_KEY_SECRET": "secret",
    }
    with pytest.raises(ConfigurationError, match="memory://"):
        create_app({**production, "WEB_CONCURRENCY": 4})
    # One worker, or Redis, is fine.
    create_app({**production, "WEB_CONCURRENCY": 1})
    create_app({**production, "WEB_CONCURRENCY": 4, "RATELIMIT_STORAGE_URI": "redis://x:6379/0"})


@pytest.mark.slow
def test_gunicorn_refuses_memory_limits_when_workers_come_from_the_command_line(
    tmp_path: Path,
) -> None:
    """`-w 3` on the command line, WEB_CONCURRENCY unset: the master still refuses."""
    env = {
        "PATH": "/usr/bin:/bin",
        "QUIZ_ENV": "production",
        **KEYS,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'q.sqlite3'}",
        "RATELIMIT_STORAGE_URI": "memory://",
        "QUIZ_BIND": f"127.0.0.1:{free_port()}",
        "QUIZ_PRELOAD": "0",
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            "quiz/server/gunicorn.conf.py",
            "-w",
            "3",
            "wsgi:app",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert b"memory://" in done.stderr + done.stdout


def test_dead_redis_falls_back_to_memory_limits_and_logs(
    database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis unreachable: requests go through, the same limits hold per worker, it is logged."""
    dead = f"redis://127.0.0.1:{free_port()}/0"
    app = limited_app(database_url, tmp_path, RATELIMIT_STORAGE_URI=dead)
    with caplog.at_level(logging.WARNING, logger="flask-limiter"):
        statuses = [post_register(app, "203.0.113.9") for _ in range(3)]
        healthy = app.test_client().get("/healthz")
    assert statuses == [302, 302, 429]
    assert healthy.status_code == 200
    assert any("falling back to in-memory" in r.getMessage() for r in caplog.records)


def test_dead_redis_without_fallback_lets_requests_through(
    database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: Any
) -> None:
    """With the fallback off (QUIZ_RATELIMIT_FALLBACK=0) errors are swallowed and logged."""
    dead = f"redis://127.0.0.1:{free_port()}/0"
    app = limited_app(database_url, tmp_path, RATELIMIT_STORAGE_URI=dead)
    monkeypatch.setattr(limiter, "_in_memory_fallback_enabled", False)
    with caplog.at_level(logging.ERROR, logger="flask-limiter"):
        statuses = [post_register(app, "203.0.113.10") for _ in range(4)]
    assert statuses == [302] * 4
    assert any("Swallowing error" in r.getMessage() for r in caplog.records)


def test_the_idle_limiter_hook_is_dropped_but_a_default_limit_keeps_it(
    database_url: str, tmp_path: Path
) -> None:
    # Route limits are checked when their route runs, without the before-request hook.
    app = limited_app(database_url, tmp_path / "a")
    assert limiter._check_request_limit not in app.before_request_funcs[None]
    assert [post_register(app, "10.9.0.1") for _ in range(3)][-1] == 429
    # A site-wide default limit needs the hook: it stays, and the limit holds.
    try:
        limited = limited_app(database_url, tmp_path / "b", RATELIMIT_DEFAULT="2/minute")
        assert limiter._check_request_limit in limited.before_request_funcs[None]
        client = limited.test_client()
        statuses = [client.get("/privacy").status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
    finally:
        # The limiter object is global to the process: later apps get no default limit.
        limiter.limit_manager.set_default_limits([])
