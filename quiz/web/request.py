"""Request plumbing: the request's database session, request ids, security headers."""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import Flask, abort, current_app, g, request
from flask.wrappers import Response
from sqlalchemy.orm import Session
from werkzeug.routing import IntegerConverter, Map

from quiz.clock import cn_time
from quiz.db import Database
from quiz.models import MAX_ID
from quiz.privacy.protection import Protector
from quiz.web.logging_setup import bare_field

log = logging.getLogger("quiz.request")
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'"
)


def database() -> Database:
    return cast(Database, current_app.extensions["quiz.db"])


def protector() -> Protector:
    return cast(Protector, current_app.extensions["quiz.protector"])


def db() -> Session:
    """The request's session; write requests take SQLite's write lock when they begin.

    The public pages' GETs read statement by statement (see Database.session): they are
    most of the traffic, and none of them writes through this session.
    """
    if "db" not in g:
        write = request.method in WRITE_METHODS
        g.db = database().session(
            write=write, per_statement=not write and request.blueprint == "public"
        )
    return cast(Session, g.db)


class BoundedIntConverter(IntegerConverter):
    """`<int:...>` in every route, capped at MAX_ID: a bigger number does not match (404)."""

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def public_base_url() -> str:
    """The site's public address for printed links and QR codes: QUIZ_PUBLIC_URL when
    set, so a poster never carries the Host a request happened to use (an internal
    address, or a forged Host header); else the request's own root."""
    return str(current_app.config.get("QUIZ_PUBLIC_URL") or request.url_root)


def int_arg(name: str) -> int | None:
    """A query-string number from 1 to MAX_ID, else None (absent, "abc", "²", "0", 10**30)."""
    value = request.args.get(name, "")
    if not (value.isascii() and value.isdigit()):
        return None
    number = int(value)
    return number if 1 <= number <= MAX_ID else None


def page_arg(pages: int | None = None) -> int:
    """The `page` query argument, from 1 to `pages` (to MAX_ID when unknown)."""
    return min(int_arg("page") or 1, pages or MAX_ID)


def _has_nul(value: object) -> bool:
    """Whether any string in a value (query or form values, as lists) holds a NUL."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


View = TypeVar("View", bound=Callable[..., Any])


def takes_uploads(view: View) -> View:
    """Mark a view whose form has a file field: other views refuse files (415)."""
    view.takes_uploads = True  # type: ignore[attr-defined]
    return view


def _takes_uploads() -> bool:
    view = current_app.view_functions.get(request.endpoint or "")
    return bool(getattr(view, "takes_uploads", False))


REQUEST_ID_RE = re.compile(r"[A-Za-z0-9-]{1,64}")


def _request_id() -> str:
    """The id a trusted reverse proxy gave the request (X-Request-Id), else a new one.

    Without a trusted proxy (TRUSTED_PROXIES=0) the header comes from the client itself:
    it is ignored. A value outside [A-Za-z0-9-]{1,64} is replaced, never shortened.
    """
    if current_app.config.get("TRUSTED_PROXIES"):
        given = request.headers.get("X-Request-Id", "")
        if REQUEST_ID_RE.fullmatch(given):
            return given
    return secrets.token_hex(8)


def register(app: Flask) -> None:
    """Install per-request hooks."""
    app.add_template_filter(cn_time, "cn_time")

    @app.before_request
    def _start() -> None:
        g.request_id = _request_id()
        g.started = time.perf_counter()
        writes = request.method in WRITE_METHODS
        # Flask-WTF hands a form whatever the body holds: a JSON document's numbers and
        # lists, or uploaded files, reached text fields and failed there (a 500). No view
        # reads JSON, and only views marked with takes_uploads read files.
        if writes and (request.is_json or (request.files and not _takes_uploads())):
            abort(415)
        # PostgreSQL refuses NUL in text (a 500 from deep inside a query); no form field,
        # query parameter or file name has a legitimate use for one, so refuse it here.
        if _has_nul(list(request.args.listvalues())) or (
            writes
            and (
                _has_nul(list(request.form.listvalues()))
                or any("\x00" in (upload.filename or "") for upload in request.files.values())
            )
        ):
            abort(400)

    @app.teardown_appcontext
    def _close(_exc: BaseException | None) -> None:
        session = g.pop("db", None)
        if session is not None:
            session.close()

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        # setdefault: the campaign editor's preview lets the staff page frame it (SAMEORIGIN).
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["X-Request-Id"] = g.get("request_id", "")
        if app.config.get("QUIZ_HTTPS"):
            response.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
        if not request.path.startswith("/static/"):
            # Pages may carry personal data or CSRF tokens: never store them in caches.
            response.headers.setdefault("Cache-Control", "no-store")
        elapsed_ms = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
        log.info(
            "request id=%s method=%s path=%s status=%s ms=%.1f ip=%s",
            bare_field(g.get("request_id", "-")),
            bare_field(request.method),
            bare_field(request.path),
            response.status_code,
            elapsed_ms,
            bare_field(request.remote_addr),
        )
        return response
