"""One editor field's value: as the form shows it, and read back from what was posted.

Kinds: text, textarea, int (a whole number), datetime (Beijing time, to the minute or,
when the campaign file has them, the second),
lines (one paragraph per line), bool (a checkbox).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

WHOLE_NUMBER = "请填写整数。"
DATE_TIME = "请填写日期和时间,如 2027-03-01 09:00。"


def shown(value: Any, kind: str) -> str:
    """A campaign document's value as the form shows it."""
    if value is None:
        return ""
    if kind == "datetime" and isinstance(value, datetime):
        # To the second when it has seconds (a file's 23:59:59): a save keeps them.
        return value.strftime("%Y-%m-%dT%H:%M:%S" if value.second else "%Y-%m-%dT%H:%M")
    if kind == "lines" and isinstance(value, list):
        return "\n".join(str(v) for v in value)
    if kind == "bool":
        return "1" if value else ""
    return str(value)


def parse(raw: str, kind: str) -> tuple[Any, str | None]:
    """The posted text as the document's value, or (the text, the Chinese problem) when it
    is not even of its kind (a word where a number goes). `raw` is non-empty."""
    if kind == "int":
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 9:
            return raw, WHOLE_NUMBER
        return int(raw), None
    if kind == "datetime":
        try:
            return datetime.fromisoformat(raw).replace(microsecond=0), None
        except ValueError:
            return raw, DATE_TIME
    if kind == "lines":
        return [line.strip() for line in raw.splitlines() if line.strip()], None
    if kind == "bool":
        return True, None
    return raw, None
