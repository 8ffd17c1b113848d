"""The drawing contest's settings from the campaign file's [artwork] table, and its age rule.

Pure data and rules (no Flask, no database): the campaign file check (spec.py) validates
the table with `parse`, and quiz.artwork reads the stored settings with `from_content`.

The age rule. The plan (范文一) sets 幼儿组 7岁以下, 儿童组 8至11岁, 少年组 11至15岁. Ages
are whole years (周岁) on the reference date, the contest day printed on the invitation.
"以下" and "至" include the number named (《民法典》第一千二百五十九条), so 7 belongs to
幼儿组 and 11 is named by both 儿童组 and 少年组: it goes to the first group that names
it, 儿童组, and 少年组 starts at 12. The youngest age is 3 (范文三: 3-15周岁). The shipped
campaign file writes the groups out with these bounds, and the sign-up page says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

DEFAULT_GROUPS: tuple[tuple[str, int, int], ...] = (
    ("幼儿组", 3, 7),
    ("儿童组", 8, 11),
    ("少年组", 12, 15),
)
DEFAULT_AWARDS: tuple[tuple[str, int], ...] = (
    ("一等奖", 3),
    ("二等奖", 5),
    ("三等奖", 10),
    ("纪念奖", 20),
)
DEFAULT_RULE = (
    "年龄按活动当日(参照日)的周岁计算。“7岁以下”含7岁;11周岁同时属于方案中的儿童组"
    "(8至11岁)和少年组(11至15岁),本活动将11周岁归入儿童组,少年组为12至15周岁。"
)
ALLOWED = frozenset(
    {
        "reference_date",
        "groups",
        "age_rule",
        "awards",
        "branch_quota",
        "finalists",
        "regional_judges",
        "final_judges",
        "consent_child",
        "consent_licence",
        "consent_publish",
    }
)


@dataclass(frozen=True)
class AgeGroup:
    name: str
    min_age: int
    max_age: int


@dataclass(frozen=True)
class ArtworkSettings:
    """Everything the contest reads from its campaign file."""

    reference_date: date
    groups: tuple[AgeGroup, ...]
    awards: tuple[tuple[str, int], ...]
    age_rule: str = DEFAULT_RULE
    # 初评: works each branch sends on per group; 复评 → 终评: works per group.
    branch_quota: int = 10
    finalists: int = 60
    regional_judges: tuple[str, ...] = ()
    final_judges: tuple[str, ...] = ()
    consent_child: list[str] = field(default_factory=list)
    consent_licence: list[str] = field(default_factory=list)
    consent_publish: str = (
        "同意主办方在活动页面展示获奖作品,并显示孩子的姓氏(如“王小*”)、年龄和所在城市。"
    )

    def group_for_age(self, age: int) -> AgeGroup | None:
        """The first group whose range holds `age` (None: outside every group)."""
        return next((g for g in self.groups if g.min_age <= age <= g.max_age), None)

    def group(self, name: str) -> AgeGroup | None:
        return next((g for g in self.groups if g.name == name), None)

    @property
    def awarded_per_group(self) -> int:
        return sum(count for _, count in self.awards)


def _consent_default(kind: str) -> list[str]:
    if kind == "child":
        return [
            "您是孩子的父母或其他监护人。孩子未满十四周岁,其个人信息属于敏感个人信息,"
            "根据《中华人民共和国个人信息保护法》第三十一条,须取得您的单独同意。",
            "我们仅收集参赛所必需的信息:孩子的姓名、出生日期(仅用于确定组别,不保存日期本身,"
            "只保存参照日的周岁和组别)、学校(可不填)以及参赛作品的照片。",
            "这些信息仅用于比赛报名、签到、评选、颁奖和证书,活动结束后按保存期限删除。",
        ]
    return [
        "参赛者同意参赛作品由主办方保留,不予返还。",
        "参赛者同意将作品的著作权无偿许可给主办方或第三单位使用。",
        "参赛作品如侵犯第三人知识产权,主办方不承担任何责任。",
    ]


def parse(table: Any) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Validate an [artwork] table; return its JSON-ready form and (key, problem) pairs."""
    problems: list[tuple[str, str]] = []
    if not isinstance(table, dict):
        return {}, [("", "must be a table [artwork]")]
    for key in table:
        if key not in ALLOWED:
            problems.append((key, f"unknown key (allowed: {', '.join(sorted(ALLOWED))})"))
    out: dict[str, Any] = {}
    ref = table.get("reference_date")
    if not isinstance(ref, date) or hasattr(ref, "hour"):
        problems.append(("reference_date", "must be a date such as 2026-12-20 (the contest day)"))
    else:
        out["reference_date"] = ref.isoformat()
    groups = table.get(
        "groups", [{"name": n, "min_age": a, "max_age": b} for n, a, b in DEFAULT_GROUPS]
    )
    parsed_groups: list[dict[str, Any]] = []
    if not isinstance(groups, list) or not groups:
        problems.append(("groups", "must be a non-empty list of {name, min_age, max_age}"))
    else:
        for i, g in enumerate(groups):
            ok = (
                isinstance(g, dict)
                and isinstance(g.get("name"), str)
                and g["name"].strip()
                and all(
                    isinstance(g.get(k), int) and not isinstance(g.get(k), bool)
                    for k in ("min_age", "max_age")
                )
            )
            if not ok or g["min_age"] > g["max_age"] or g["min_age"] < 0:
                problems.append(
                    ("groups", f"group {i + 1} needs a name and 0 <= min_age <= max_age")
                )
                continue
            parsed_groups.append(
                {"name": g["name"].strip(), "min_age": g["min_age"], "max_age": g["max_age"]}
            )
        ordered = sorted(parsed_groups, key=lambda g: g["min_age"])
        for before, after in zip(ordered, ordered[1:], strict=False):
            if after["min_age"] <= before["max_age"]:
                problems.append(
                    (
                        "groups",
                        f"{before['name']} and {after['name']} overlap:"
                        " give the shared age to one group only",
                    )
                )
        if len({g["name"] for g in parsed_groups}) != len(parsed_groups):
            problems.append(("groups", "group names must differ"))
    out["groups"] = parsed_groups
    awards = table.get("awards", [{"tier": t, "count": c} for t, c in DEFAULT_AWARDS])
    parsed_awards: list[dict[str, Any]] = []
    if not isinstance(awards, list) or not awards:
        problems.append(("awards", "must be a non-empty list of {tier, count}"))
    else:
        for a in awards:
            if (
                not isinstance(a, dict)
                or not isinstance(a.get("tier"), str)
                or not isinstance(a.get("count"), int)
                or isinstance(a.get("count"), bool)
                or a["count"] < 1
            ):
                problems.append(
                    ("awards", "each award needs a tier name and a count of at least 1")
                )
                continue
            parsed_awards.append({"tier": a["tier"].strip(), "count": a["count"]})
    out["awards"] = parsed_awards
    for key, default in (("branch_quota", 10), ("finalists", 60)):
        value = table.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            problems.append((key, "must be a whole number of at least 1"))
        else:
            out[key] = value
    if (
        "finalists" in out
        and parsed_awards
        and out["finalists"] < sum(a["count"] for a in parsed_awards)
    ):
        problems.append(("finalists", "must be at least the number of awards per group"))
    for key in ("regional_judges", "final_judges"):
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            problems.append((key, "must be a list of staff user names"))
        else:
            out[key] = value
    for key in ("consent_child", "consent_licence"):
        value = table.get(key)
        if value is not None and (
            not isinstance(value, list)
            or not value
            or not all(isinstance(p, str) and p.strip() for p in value)
        ):
            problems.append((key, "must be a non-empty list of paragraphs"))
        elif value is not None:
            out[key] = value
    for key in ("age_rule", "consent_publish"):
        value = table.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            problems.append((key, "must be a non-empty string"))
        elif value is not None:
            out[key] = value.strip()
    return out, problems


def from_content(content: dict[str, Any]) -> ArtworkSettings | None:
    """The settings a stored campaign holds (None: not a drawing contest)."""
    raw = content.get("artwork")
    if not raw or "reference_date" not in raw:
        return None
    return ArtworkSettings(
        reference_date=date.fromisoformat(raw["reference_date"]),
        groups=tuple(AgeGroup(g["name"], g["min_age"], g["max_age"]) for g in raw["groups"]),
        awards=tuple((a["tier"], a["count"]) for a in raw["awards"]),
        age_rule=raw.get("age_rule", DEFAULT_RULE),
        branch_quota=raw.get("branch_quota", 10),
        finalists=raw.get("finalists", 60),
        regional_judges=tuple(raw.get("regional_judges", ())),
        final_judges=tuple(raw.get("final_judges", ())),
        consent_child=raw.get("consent_child") or _consent_default("child"),
        consent_licence=raw.get("consent_licence") or _consent_default("licence"),
        **({"consent_publish": raw["consent_publish"]} if raw.get("consent_publish") else {}),
    )
