"""Time helpers shared by every layer: the Beijing zone and its display format."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

CHINA = ZoneInfo("Asia/Shanghai")


def cn_time(value: datetime | None) -> str:
    """A UTC datetime as Beijing time, the way the campaign states its dates."""
    if value is None:
        return ""
    local = value.astimezone(CHINA)
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"
