"""gunicorn's access log line, built from the few values it shows.

gunicorn's own Logger.access builds a table of every request header, response
header and WSGI environ entry (about sixty entries) for each line, whatever the
format uses; under load that was 6 % of a worker's CPU. This logger writes the
line the site has always logged, one per request:

    127.0.0.1 "GET /quiz HTTP/1.1" 200 3154 4ms rid=5f0c… ua="Mozilla/5.0 …"

client address, request line, status, bytes sent, time in ms, the request id
(the X-Request-Id response header) and the user agent.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from gunicorn.glogging import Logger


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
            environ.get("REMOTE_ADDR", "-"),
            environ.get("REQUEST_METHOD", "-"),
            environ.get("RAW_URI", "-"),
            environ.get("SERVER_PROTOCOL", "-"),
            status,
            "-" if sent is None else sent,
            request_time.seconds * 1000 + request_time.microseconds // 1000,
            request_id or "-",
            environ.get("HTTP_USER_AGENT", "-"),
        )
