"""gunicorn settings: `gunicorn -c quiz/server/gunicorn.conf.py wsgi:app`.

Every setting can be changed from the environment so that a systemd unit or a
container only sets variables. The app factory is preload-safe: database
engines are created lazily in each worker (quiz.db.Database re-creates them
after a fork) and post_fork below builds the worker's own engine at once.
"""

from __future__ import annotations

import multiprocessing
import os
from typing import Any


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


bind = os.environ.get("QUIZ_BIND", "127.0.0.1:8000")
# Sync workers spend most of their time on CPU (templates, encryption, validation):
# two per core keeps the cores busy while one waits on the database.
workers = _int("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2)
# The app reads WEB_CONCURRENCY to refuse per-worker (memory://) rate limits.
os.environ.setdefault("WEB_CONCURRENCY", str(workers))
worker_class = "sync"
# No request should take seconds; a stuck worker is killed and replaced after this.
timeout = _int("QUIZ_WORKER_TIMEOUT", 30)
graceful_timeout = _int("QUIZ_GRACEFUL_TIMEOUT", 20)
keepalive = 5
backlog = _int("QUIZ_BACKLOG", 2048)
# Recycle workers now and then so a slow leak never grows unbounded.
max_requests = _int("QUIZ_MAX_REQUESTS", 10000)
max_requests_jitter = max_requests // 10
preload_app = os.environ.get("QUIZ_PRELOAD", "1") == "1"
accesslog = os.environ.get("QUIZ_ACCESS_LOG", "-")
errorlog = "-"
loglevel = os.environ.get("QUIZ_GUNICORN_LOG_LEVEL", "info")
# One line per request: client, request line, status, bytes, time in ms, request id,
# user agent; written by quiz.server.access_log (gunicorn's access_log_format is not used).
logger_class = "quiz.server.access_log.AccessLogger"
# Only the local reverse proxy may set X-Forwarded-Proto for gunicorn itself; the app
# resolves client addresses with ProxyFix and TRUSTED_PROXIES.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# Request line and header limits well below the defaults: the site takes small forms only.
limit_request_line = 4094
limit_request_fields = 60
# gunicorn 25.1+ opens a control socket in $XDG_RUNTIME_DIR or $HOME by default. systemd
# manages this server (README: Deployment), and under ProtectSystem=strict that directory
# is read-only: no socket, and no warning at each start. (Older gunicorn ignores the name.)
control_socket_disable = True


def on_starting(server: Any) -> None:
    """Refuse per-worker rate-limit counts in production when -w overrides the env."""
    storage = os.environ.get("RATELIMIT_STORAGE_URI", "memory://") or "memory://"
    production = os.environ.get("QUIZ_ENV") == "production"
    if production and server.cfg.workers > 1 and storage.startswith("memory://"):
        raise SystemExit(
            "RATELIMIT_STORAGE_URI=memory:// with several workers multiplies every rate "
            "limit by the worker count; set RATELIMIT_STORAGE_URI=redis://..."
        )


def when_ready(server: Any) -> None:
    """With a preloaded app, warm it up in the master so that every worker forks hot."""
    app = getattr(server.app, "callable", None)  # set only when the app was preloaded
    if "quiz.db" in getattr(app, "extensions", {}):  # the site, not another WSGI app
        from quiz.server.warmup import warm_up

        warm_up(app)


def worker_exit(server: Any, worker: Any) -> None:
    """In the worker: write the visits it counted but has not written yet (reports.counters)."""
    from quiz.reports.counters import flush_all

    flush_all()


def post_fork(server: Any, worker: Any) -> None:
    """Give the worker its own database engine; the master's pool is never shared."""
    app = getattr(server.app, "callable", None)  # set only when the app was preloaded
    database = getattr(app, "extensions", {}).get("quiz.db") if app is not None else None
    if database is not None:
        # Database notices the new pid, drops the inherited pool without closing the
        # parent's sockets and builds a fresh engine for this process.
        database.engine  # noqa: B018
