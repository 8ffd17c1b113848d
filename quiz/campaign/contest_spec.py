"""The [contest] table of a staff knowledge contest's campaign file (kind staff_contest).

    [contest]
    time_limit_minutes = 20          # the whole paper, enforced by the server
    multiple_choice = "partial"      # or "all_or_nothing": how a 多选 question scores
    points_per_question = 10
    freeze_minutes = 30              # the staff scoreboard stops moving this long before the end
    branch_awards = 3                # 机构评优奖励: the best N branches of each group
    branch_weights = { participation = 40, average = 60 }   # percent, adding up to 100
    awards = [ { name = "一等奖", count = 1 }, { name = "二等奖", count = 3 }, ... ]
    privacy_notice = ["...", ...]     # the short notice for staff shown at sign-in

    [[contest.groups]]
    code = "sales"                   # letters/digits, stored on the roster
    name = "业务员组"                 # the roster file's 组别
    quotas = { "理赔" = 6, "产品" = 4 }   # questions per category (the bank's 分类)

Pure validation: returns the settings as plain data and the problems as (key path,
message), which spec.parse_campaign reports with their lines like any other.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

MULTIPLE_CHOICE = ("partial", "all_or_nothing")
_KEYS = frozenset(
    {
        "time_limit_minutes",
        "multiple_choice",
        "points_per_question",
        "freeze_minutes",
        "branch_awards",
        "branch_weights",
        "awards",
        "privacy_notice",
        "groups",
    }
)
_GROUP_CODE = re.compile(r"[a-z0-9_]{1,16}")
# Places of one award: the ranking hands them out one per rank.
MAX_AWARD = 10_000
DEFAULT_AWARDS = (
    {"name": "一等奖", "count": 1},
    {"name": "二等奖", "count": 3},
    {"name": "三等奖", "count": 6},
)

Problem = tuple[tuple[str | int, ...], str]


def _int(
    table: Mapping[str, Any], key: str, default: int, low: int, high: int, out: list[Problem]
) -> int:
    value = table.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        out.append((("contest", key), f"must be a whole number from {low} to {high}"))
        return default
    return value


def check_contest(
    data: Mapping[str, Any], knowledge_by_category: Mapping[str, int]
) -> tuple[dict[str, Any] | None, list[Problem]]:
    """The [contest] table checked; `knowledge_by_category` counts the file's knowledge
    questions per category, so a quota the bank cannot fill is refused here."""
    problems: list[Problem] = []
    table = data.get("contest")
    if not isinstance(table, dict):
        return None, [(("contest",), "a staff_contest campaign needs a [contest] table")]
    for key in table:
        if key not in _KEYS:
            problems.append(
                (("contest", key), f"unknown key (allowed: {', '.join(sorted(_KEYS))})")
            )
    settings: dict[str, Any] = {
        "time_limit_minutes": _int(table, "time_limit_minutes", 20, 1, 600, problems),
        "points_per_question": _int(table, "points_per_question", 10, 1, 100, problems),
        "freeze_minutes": _int(table, "freeze_minutes", 0, 0, 10_000, problems),
        "branch_awards": _int(table, "branch_awards", 3, 0, 1000, problems),
    }
    mode = table.get("multiple_choice", "all_or_nothing")
    if mode not in MULTIPLE_CHOICE:
        problems.append((("contest", "multiple_choice"), "must be 'partial' or 'all_or_nothing'"))
        mode = "all_or_nothing"
    settings["multiple_choice"] = mode
    weights = table.get("branch_weights", {"participation": 50, "average": 50})
    if (
        not isinstance(weights, dict)
        or set(weights) != {"participation", "average"}
        or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in weights.values()
        )
        or sum(weights.values()) != 100
    ):
        problems.append(
            (
                ("contest", "branch_weights"),
                "must be { participation = N, average = M } adding up to 100",
            )
        )
        weights = {"participation": 50, "average": 50}
    settings["branch_weights"] = dict(weights)
    settings["awards"] = _awards(table.get("awards", list(DEFAULT_AWARDS)), problems)
    notice = table.get("privacy_notice", [])
    if not isinstance(notice, list) or not all(isinstance(p, str) and p.strip() for p in notice):
        problems.append((("contest", "privacy_notice"), "must be a list of non-empty strings"))
        notice = []
    settings["privacy_notice"] = list(notice)
    settings["groups"] = _groups(table.get("groups"), knowledge_by_category, problems)
    return settings, problems


def _awards(raw: Any, problems: list[Problem]) -> list[dict[str, Any]]:
    if not isinstance(raw, list) or not raw:
        problems.append((("contest", "awards"), "must be a list of { name, count } tables"))
        return [dict(a) for a in DEFAULT_AWARDS]
    awards = []
    for award in raw:
        name, count = (
            (award.get("name"), award.get("count")) if isinstance(award, dict) else (None, None)
        )
        if (
            not isinstance(name, str)
            or not name.strip()
            or not isinstance(count, int)
            or not 1 <= count <= MAX_AWARD
        ):
            problems.append(
                (
                    ("contest", "awards"),
                    f"each award needs a name and a count from 1 to {MAX_AWARD}",
                )
            )
            continue
        awards.append({"name": name.strip(), "count": count})
    return awards


def _groups(
    raw: Any, knowledge_by_category: Mapping[str, int], problems: list[Problem]
) -> list[dict[str, Any]]:
    if not isinstance(raw, list) or not raw:
        problems.append((("contest", "groups"), "needs at least one [[contest.groups]] table"))
        return []
    groups: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, group in enumerate(raw):
        path: tuple[str | int, ...] = ("contest", "groups", i)
        if not isinstance(group, dict):
            problems.append((path, "must be a table"))
            continue
        code, name, quotas = group.get("code"), group.get("name"), group.get("quotas")
        if not isinstance(code, str) or not _GROUP_CODE.fullmatch(code):
            problems.append(((*path, "code"), "must be 1-16 lowercase letters, digits or _"))
            continue
        if not isinstance(name, str) or not name.strip():
            problems.append(((*path, "name"), "must be a non-empty string"))
            continue
        if code in seen or name.strip() in {g["name"] for g in groups}:
            problems.append(((*path, "code"), "two groups share a code or a name"))
            continue
        seen.add(code)
        checked = _quotas(quotas, knowledge_by_category, (*path, "quotas"), problems)
        groups.append({"code": code, "name": name.strip(), "quotas": checked})
    return groups


def _quotas(
    raw: Any,
    knowledge_by_category: Mapping[str, int],
    path: tuple[str | int, ...],
    problems: list[Problem],
) -> dict[str, int]:
    if not isinstance(raw, dict) or not raw:
        problems.append((path, "must be a table of category = number of questions"))
        return {}
    quotas: dict[str, int] = {}
    for category, count in raw.items():
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            problems.append((path, f"{category!r}: the number must be 1 or more"))
            continue
        available = knowledge_by_category.get(category, 0)
        if count > available:
            problems.append(
                (path, f"{category!r}: {count} questions asked but the bank has {available}")
            )
            continue
        quotas[category] = count
    return quotas


def group_names(settings: Mapping[str, Any]) -> dict[str, str]:
    """Group code -> name (业务员组 ...), in the file's order."""
    return {g["code"]: g["name"] for g in settings.get("groups", [])}


def by_name(settings: Mapping[str, Any]) -> dict[str, str]:
    """Group name -> code: how the roster file's 组别 column is read."""
    return {g["name"]: g["code"] for g in settings.get("groups", [])}


def award_slots(awards: Sequence[Mapping[str, Any]]) -> list[str]:
    """One award name per rank, best first (一等奖, 二等奖, 二等奖, 二等奖, ...)."""
    return [str(a["name"]) for a in awards for _ in range(int(a["count"]))]
