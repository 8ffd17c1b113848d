"""TOML values kept in JSON: the dates and times a campaign file may hold, tagged.

A stored campaign's content is JSON, while some of its tables ([artwork], [race],
[[draws]]) are kept as the file wrote them so that the editor and `quiz campaign export`
write them back unchanged. JSON has no date, so a date becomes {"$date": "2026-11-30"}
(likewise datetime and time) and comes back as the same Python value.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

_TAGS: dict[str, Any] = {
    "$datetime": datetime.fromisoformat,
    "$date": date.fromisoformat,
    "$time": time.fromisoformat,
}


def tagged(value: Any) -> Any:
    """`value` (as tomllib reads it) with its dates and times as tagged JSON objects."""
    if isinstance(value, datetime):  # before date: a datetime is a date too
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, time):
        return {"$time": value.isoformat()}
    if isinstance(value, dict):
        return {key: tagged(item) for key, item in value.items()}
    if isinstance(value, list):
        return [tagged(item) for item in value]
    return value


def untagged(value: Any) -> Any:
    """The inverse of `tagged`."""
    if isinstance(value, dict):
        if len(value) == 1:
            ((key, text),) = value.items()
            if key in _TAGS and isinstance(text, str):
                return _TAGS[key](text)
        return {key: untagged(item) for key, item in value.items()}
    if isinstance(value, list):
        return [untagged(item) for item in value]
    return value
