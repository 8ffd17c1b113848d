"""The optional [race] table of a campaign file: groups, targets, milestones, rewards.

[race]
metric = "registrations"          # or "completed", or "imported:网上注册"
follow_up_days = 7                # a lead's deadline, N days after it is assigned
[race.targets]                    # branch code = target of this campaign
GD = 800
[[race.groups]]
name = "A组"
branches = ["GD", "JS"]           # none at all: A/B/C by target, a third each
rewards = [3000, 2000, 1000]      # yuan for 第一名, 第二名, … (paid only at target)
[[race.milestones]]
date = 2026-11-30                 # a local date: the percent is due at its end
percent = 30
label = "推广阶段"
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

METRICS = ("registrations", "completed")
IMPORTED_PREFIX = "imported:"
_CODE = re.compile(r"[A-Za-z0-9_-]{1,32}")
_RACE_KEYS = frozenset({"metric", "follow_up_days", "targets", "groups", "milestones"})
_GROUP_KEYS = frozenset({"name", "branches", "rewards"})
_MILESTONE_KEYS = frozenset({"date", "percent", "label"})

Fail = Callable[[tuple[Any, ...], str], None]


def check_race(data: Mapping[str, Any], fail: Fail) -> dict[str, Any] | None:
    """The [race] table as plain JSON data, or None when the file has none; each problem
    goes to `fail(path, message)` (the campaign file checker names its line)."""
    race = data.get("race")
    if race is None:
        return None
    if not isinstance(race, dict):
        fail(("race",), "must be a table [race]")
        return None
    for key in race:
        if key not in _RACE_KEYS:
            fail(("race", key), f"unknown key (allowed: {', '.join(sorted(_RACE_KEYS))})")
    metric = race.get("metric", "registrations")
    imported = isinstance(metric, str) and metric.startswith(IMPORTED_PREFIX)
    if not isinstance(metric, str) or not (
        metric in METRICS or (imported and 0 < len(metric) - len(IMPORTED_PREFIX) <= 32)
    ):
        fail(("race", "metric"), "must be 'registrations', 'completed' or 'imported:<指标名>'")
    days = race.get("follow_up_days", 7)
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 90:
        fail(("race", "follow_up_days"), "must be a whole number of days from 1 to 90")
    targets: dict[str, int] = {}
    raw_targets = race.get("targets", {})
    if not isinstance(raw_targets, dict):
        fail(("race", "targets"), "must be a table [race.targets] of branch code = target")
        raw_targets = {}
    for code, target in raw_targets.items():
        if not _CODE.fullmatch(code):
            fail(("race", "targets", code), "branch codes are 1-32 letters, digits, - or _")
        elif not isinstance(target, int) or isinstance(target, bool) or target < 1:
            fail(("race", "targets", code), f"must be a positive whole number, not {target!r}")
        else:
            targets[code] = target
    groups: list[dict[str, Any]] = []
    seen: dict[str, str] = {}
    for i, group in enumerate(_tables(race, "groups", fail)):
        path = ("race", "groups", i)
        for key in group:
            if key not in _GROUP_KEYS:
                fail((*path, key), f"unknown key (allowed: {', '.join(sorted(_GROUP_KEYS))})")
        name = group.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 32:
            fail((*path, "name"), "must be a name of 1-32 characters")
            continue
        branches = group.get("branches", [])
        if not isinstance(branches, list) or not all(
            isinstance(b, str) and _CODE.fullmatch(b) for b in branches
        ):
            fail((*path, "branches"), "must be a list of branch codes")
            continue
        for code in branches:
            if code in seen:
                fail((*path, "branches"), f"{code} is already in {seen[code]}")
            seen[code] = name
        rewards = group.get("rewards", [])
        if not isinstance(rewards, list) or not all(
            isinstance(r, int) and not isinstance(r, bool) and r >= 0 for r in rewards
        ):
            fail((*path, "rewards"), "must be a list of amounts in yuan, first place first")
            continue
        groups.append({"name": name.strip(), "branches": branches, "rewards": rewards})
    milestones: list[dict[str, Any]] = []
    for i, stone in enumerate(_tables(race, "milestones", fail)):
        path = ("race", "milestones", i)
        for key in stone:
            if key not in _MILESTONE_KEYS:
                fail((*path, key), f"unknown key (allowed: {', '.join(sorted(_MILESTONE_KEYS))})")
        day, percent = stone.get("date"), stone.get("percent")
        if not isinstance(day, date) or hasattr(day, "hour"):
            fail((*path, "date"), "must be a local date such as 2026-11-30")
            continue
        if (
            not isinstance(percent, int | float)
            or isinstance(percent, bool)
            or not (0 < percent <= 100)
        ):
            fail((*path, "percent"), "must be a percent from 1 to 100")
            continue
        if milestones and (
            day <= date.fromisoformat(milestones[-1]["date"])
            or percent <= milestones[-1]["percent"]
        ):
            fail(path, "milestones go in order: each later and higher than the one before")
            continue
        label = stone.get("label", "")
        milestones.append({"date": day.isoformat(), "percent": percent, "label": str(label)[:32]})
    return {
        "metric": metric,
        "follow_up_days": days,
        "targets": targets,
        "groups": groups,
        "milestones": milestones,
    }


def _tables(race: Mapping[str, Any], name: str, fail: Fail) -> list[Mapping[str, Any]]:
    value = race.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        fail(("race", name), f"must be written as [[race.{name}]] tables")
        return []
    return value
