"""gunicorn's access log line, built from the few values it shows.

gunicorn's own Logger.access builds a table of every request header, response
header and WSGI environ entry (about sixty entries) for each line, whatever the
format uses; under load that was 6 % of a worker's CPU. This logger writes the
line the site has always logged, one per request:

    127.0.0.1 "GET /quiz HTTP/1.1" 200 3154 4ms rid=5f0c… ua="Mozilla/5.0 …"

client address, request line, status, bytes sent, time in ms, the request id
(the X-Request-Id response header) and the user agent. Client strings are escaped
(quiz.web.logging_setup): a forged field, quote or line break cannot appear.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from gunicorn.glogging import Logger

from quiz.web.logging_setup import bare_field, quoted_field


class AccessLogger(Logger):  # type: ignore[misc]
    """gunicorn's Logger with a cheaper access line (gunicorn.conf.py: logger_class)."""

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: timedelta) -> None:
        # access_log_enabled is gunicorn's own switch (no --access-logfile, no logconfig).
        if not getattr(self, "access_log_enabled", True):
            return
        request_id = next(
            (value for name, value in resp.headers if name.lower() == "x-request-id"), "-"
        )
        status = resp.status
        if isinstance(status, str):
            status = status.split(None, 1)[0]
        sent = getattr(resp, "sent", None)
        self.access_log.info(
            '%s "%s %s %s" %s %s %sms rid=%s ua="%s"',
            bare_field(environ.get("REMOTE_ADDR", "-")),
            bare_field(environ.get("REQUEST_METHOD", "-")),
            bare_field(environ.get("RAW_URI", "-")),
            bare_field(environ.get("SERVER_PROTOCOL", "-")),
            status,
            "-" if sent is None else sent,
            request_time.seconds * 1000 + request_time.microseconds // 1000,
            bare_field(request_id or "-"),
            quoted_field(environ.get("HTTP_USER_AGENT", "-")),
        )
