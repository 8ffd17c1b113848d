"""Health checks, one-line logs with request ids, and the gunicorn settings."""

from __future__ import annotations

import io
import logging
import os
import re
import runpy
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from flask import Flask

from quiz.web.logging_setup import FORMAT, OneLineFormatter, RequestIdFilter
from tests.conftest import make_app
from tests.load.server import ROOT, run_server

CONF = ROOT / "quiz" / "server" / "gunicorn.conf.py"


def test_healthz_and_livez_answer(client: Any) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok", "database": "ok"}
    assert client.get("/livez").status_code == 200


def test_healthz_is_503_when_the_database_is_unreachable(tmp_path: Path) -> None:
    app = make_app(f"sqlite:///{tmp_path / 'missing' / 'dir' / 'quiz.sqlite3'}", tmp_path / "i")
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"] == "unreachable"
    # Liveness does not depend on the database: the worker itself is fine.
    assert app.test_client().get("/livez").status_code == 200
    app.extensions["quiz.db"].dispose()


def app_log_lines(app: Flask, path: str, **kw: Any) -> tuple[Any, list[str]]:
    """One request's response and the app log lines it wrote."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(OneLineFormatter(FORMAT))
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("quiz.request")
    logger.addHandler(handler)
    try:
        response = app.test_client().get(path, **kw)
    finally:
        logger.removeHandler(handler)
    return response, stream.getvalue().splitlines()


def test_app_log_lines_carry_the_request_id(database_url: str, tmp_path: Path) -> None:
    behind_proxy = make_app(database_url, tmp_path / "i", TRUSTED_PROXIES=1)
    response, lines = app_log_lines(
        behind_proxy, "/privacy", headers={"X-Request-Id": "req-abc-123"}
    )
    behind_proxy.extensions["quiz.db"].dispose()
    assert response.headers["X-Request-Id"] == "req-abc-123"
    assert len(lines) == 1
    assert " rid=req-abc-123 " in lines[0] and "path=/privacy" in lines[0]


@pytest.mark.parametrize(
    "given", ["a b", "x" * 65, "id\tip=1.2.3.4", "rid=1", "中文", "id;drop", ""]
)
def test_request_ids_from_a_trusted_proxy_must_be_plain(
    database_url: str, tmp_path: Path, given: str
) -> None:
    behind_proxy = make_app(database_url, tmp_path / "i", TRUSTED_PROXIES=1)
    response, _ = app_log_lines(behind_proxy, "/privacy", headers={"X-Request-Id": given})
    behind_proxy.extensions["quiz.db"].dispose()
    assert re.fullmatch(r"[0-9a-f]{16}", response.headers["X-Request-Id"])


def test_without_a_trusted_proxy_the_clients_request_id_is_ignored(app: Flask) -> None:
    """Any client could choose the id that its lines carry in both logs."""
    response, lines = app_log_lines(app, "/privacy", headers={"X-Request-Id": "chosen-by-me"})
    assert response.headers["X-Request-Id"] != "chosen-by-me"
    assert "chosen-by-me" not in lines[0]


def test_a_forged_path_cannot_add_fields_or_lines_to_the_app_log(app: Flask) -> None:
    """A path of "/x ip=... path=/admin/users" produced a second ip= and path= field."""
    _, lines = app_log_lines(app, "/privacy%20ip=6.6.6.6%0Apath=/admin/users%E2%80%AE")
    assert len(lines) == 1
    line = lines[0]
    assert line.count(" ip=") == 1 and line.count(" path=") == 1
    assert "6.6.6.6" in line and "\\u202e" in line and "\u202e" not in line


def test_the_access_log_escapes_the_user_agent_and_the_request_line() -> None:
    """The User-Agent went into ua="..." as sent: a quote ended the field."""
    from datetime import timedelta

    from quiz.server.access_log import AccessLogger

    stream = io.StringIO()
    target = logging.getLogger("test.access")
    handler = logging.StreamHandler(stream)
    target.addHandler(handler)
    logger = AccessLogger.__new__(AccessLogger)
    logger.access_log = target
    target.setLevel(logging.INFO)
    resp = SimpleNamespace(headers=[("X-Request-Id", "abc")], status="200 OK", sent=10)
    environ = {
        "REMOTE_ADDR": "127.0.0.1",
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/a rid=forged",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_USER_AGENT": 'x" rid=forged ua="y\r\n127.0.0.1 "GET /admin',
    }
    try:
        logger.access(resp, None, environ, timedelta(milliseconds=3))
    finally:
        target.removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    assert re.fullmatch(
        r'127\.0\.0\.1 "GET \S+ HTTP/1\.1" 200 10 3ms rid=abc ua="(\\.|[^"\\])*"', lines[0]
    ), lines[0]


def test_a_traceback_stays_on_one_line() -> None:
    formatter = OneLineFormatter(FORMAT)
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("quiz.x", logging.ERROR, __file__, 1, "failed", None, None)
        import sys

        record.exc_info = sys.exc_info()
    RequestIdFilter().filter(record)
    line = formatter.format(record)
    assert "\n" not in line and "ValueError: boom" in line and "rid=-" in line


def load_conf(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, Any]:
    # The config file exports WEB_CONCURRENCY: keep that inside this test.
    environ = {
        k: v for k, v in os.environ.items() if k not in ("WEB_CONCURRENCY", "QUIZ_WORKER_TIMEOUT")
    }
    monkeypatch.setattr(os, "environ", {**environ, **env})
    return runpy.run_path(str(CONF))


def test_gunicorn_workers_follow_the_cpu_count_unless_overridden(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("multiprocessing.cpu_count", lambda: 3)
    assert load_conf(monkeypatch)["workers"] == 6
    conf = load_conf(monkeypatch, WEB_CONCURRENCY="5", QUIZ_WORKER_TIMEOUT="12")
    assert conf["workers"] == 5 and conf["timeout"] == 12
    assert conf["logger_class"] == "quiz.server.access_log.AccessLogger"


def test_post_fork_gives_the_worker_its_own_engine(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = load_conf(monkeypatch)
    database = app.extensions["quiz.db"]
    inherited = database.engine
    inherited.dispose()  # close our own connections first: the fake fork would leak them
    database._pid = -1  # as if this engine had been built in the gunicorn master
    conf["post_fork"](SimpleNamespace(app=SimpleNamespace(callable=app)), None)
    assert database.engine is not inherited
    # Without a preloaded app there is nothing to do and nothing breaks.
    conf["post_fork"](SimpleNamespace(app=SimpleNamespace()), None)


@pytest.mark.slow
def test_gunicorn_access_log_has_time_and_request_id(tmp_path: Path) -> None:
    with run_server(
        f"sqlite:///{tmp_path / 'q.sqlite3'}", tmp_path, workers=1, trusted_proxies=1
    ) as server:
        response = httpx.get(f"{server.url}/livez", headers={"X-Request-Id": "probe-42"})
        assert response.status_code == 200
    lines = [line for line in server.log().splitlines() if "rid=probe-42" in line]
    assert len(lines) == 1
    assert re.fullmatch(
        r'127\.0\.0\.1 "GET /livez HTTP/1\.1" 200 \d+ \d+ms rid=probe-42 ua="python-httpx/.+"',
        lines[0],
    ), lines[0]


def test_nul_bytes_are_a_clear_400_on_every_database(client: Any) -> None:
    """PostgreSQL refuses NUL in text: such input must be a 4xx, never a 500 from a query."""
    for response in (
        client.post("/admin/login", data={"username": "a\x00b", "password": "x"}),
        client.get("/?ref=a\x00b"),
    ):
        assert response.status_code == 400
        assert "请求无法处理" in response.get_data(as_text=True)
    # Flask-WTF would read a JSON body as the form: no view takes one, NUL or not.
    for response in (
        client.post("/admin/login", json={"username": "\x00", "password": "\x00"}),
        client.post("/admin/login", json={"username": "a", "x": [{"\x00": 1}]}),
    ):
        assert response.status_code == 415
        assert "不支持的提交格式" in response.get_data(as_text=True)


def test_when_ready_warms_the_preloaded_app_before_workers_fork(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    from quiz.regions import parser

    conf = load_conf(monkeypatch)
    app.jinja_env.cache.clear()  # type: ignore[union-attr]
    parser._index.cache_clear()
    conf["when_ready"](SimpleNamespace(app=SimpleNamespace(callable=app)))
    compiled = {key[1] for key in app.jinja_env.cache}  # type: ignore[union-attr]
    assert {"public/register.html", "public/question.html", "base.html"} <= compiled
    assert parser._index.cache_info().currsize == 1  # the address automaton is built
    # Without a preloaded app there is nothing to warm and nothing breaks.
    conf["when_ready"](SimpleNamespace(app=SimpleNamespace()))
