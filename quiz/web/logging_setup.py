"""Logging: one line per event on stderr, each carrying the request id.

gunicorn sends its own error log to stderr and its access log (with the
request id from the X-Request-Id response header) to stdout; the app's
`quiz.*` loggers get a handler of their own here, so their lines reach
stderr under gunicorn, `flask run` and the CLI alike.
"""

from __future__ import annotations

import logging
import sys

FORMAT = "%(asctime)s %(levelname)s %(name)s rid=%(request_id)s pid=%(process)d %(message)s"
HANDLER_MARK = "_quiz_handler"


def _escape_char(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def quoted_field(value: object) -> str:
    """A client string for a "..." field of a log line: backslash and quote escaped, and
    every control, line-break, direction or invisible character written as \\xNN/\\uNNNN,
    so the value cannot end its field, start a forged one or a new line."""
    return "".join(
        "\\\\" if c == "\\" else '\\"' if c == '"' else c if c.isprintable() else _escape_char(c)
        for c in str(value)
    )


def bare_field(value: object) -> str:
    """A client string for a key=value field without quotes: as quoted_field, and spaces
    and equals signs escaped too (a space followed by ip=... would read as another field)."""
    return "".join(_escape_char(c) if c in " =" else c for c in quoted_field(value))


class RequestIdFilter(logging.Filter):
    """Add `request_id` to every record: the current request's id, or '-' outside one."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = _current_request_id()
        return True


def _current_request_id() -> str:
    try:
        from flask import g, has_app_context
    except ImportError:  # pragma: no cover - quiz.draw.replay runs without Flask
        return "-"
    if not has_app_context():
        return "-"
    return str(g.get("request_id", "-"))


class OneLineFormatter(logging.Formatter):
    """Fold tracebacks and stray newlines so that one event is one line for log shippers;
    any other control or invisible character left in a message is escaped."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record).replace("\r", "").replace("\n", " | ")
        if line.isprintable():
            return line
        return "".join(c if c.isprintable() else _escape_char(c) for c in line)


def setup_logging(level: str = "INFO", stream: object | None = None) -> logging.Handler:
    """Attach the stderr handler to the `quiz` logger once per process; set its level."""
    logger = logging.getLogger("quiz")
    logger.setLevel(level)
    for handler in logger.handlers:
        if getattr(handler, HANDLER_MARK, False):
            return handler
    handler = logging.StreamHandler(stream or sys.stderr)  # type: ignore[arg-type]
    handler.setFormatter(OneLineFormatter(FORMAT))
    handler.addFilter(RequestIdFilter())
    setattr(handler, HANDLER_MARK, True)
    logger.addHandler(handler)
    # flask-limiter reports an unreachable storage on its own logger: same line format.
    limiter_logger = logging.getLogger("flask-limiter")
    if handler not in limiter_logger.handlers:
        limiter_logger.addHandler(handler)
    return handler
