"""Prize tiers and the further draws of a campaign in the browser editor.

Draw 1 is the campaign's own [draw] settings and [[prizes]]; draws 2, 3 ... (a monthly
draw, a final one) are the campaign file's [[draws]] tables, each with its own
[[draws.prizes]]. Field names are the file's key paths (``prizes[0].count``,
``draws[1].randomness_source``, ``draws[1].prizes[0].tier``) so the campaign file check's
problems land under their field. Every draw is stated before any freeze: once an entrant
list is frozen the further draws are locked.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from quiz.campaign.document import Document
from quiz.editor import fields

Form = Callable[[str], str]

PRIZE_FIELDS = (("tier", "奖项"), ("count", "名额"), ("prize", "奖品"), ("value_yuan", "价值(元)"))
# (key in [[draws]], label, input kind)
DRAW_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("number", "抽奖序号(2、3……;第 1 次是上面的抽奖设置)", "int"),
    ("name", "名称(如 月度抽奖(3月))", "text"),
    ("closes_at", "计入本次抽奖的答题截止时间(北京时间;留空:活动结束时间)", "datetime"),
    ("draw_at", "抽奖时间(北京时间)", "datetime"),
    ("freeze_deadline", "名单冻结截止时间(北京时间)", "datetime"),
    ("randomness_source", "随机数来源", "textarea"),
    ("randomness_format", "开奖结果书写格式(正则表达式)", "text"),
    ("randomness_example", "开奖结果示例", "text"),
    ("exclude_earlier_winners", "排除本活动此前各次抽奖的中奖者(冻结名单时排除)", "bool"),
)
FROZEN = "抽奖名单已冻结:各次抽奖须在第一次冻结前全部公布,不能再增加、删除或修改。"


def draw_fields(kind: str) -> tuple[tuple[str, str, str], ...]:
    """A further draw's fields for a campaign of `kind` (a list draw's entrants come from
    the list imported for that draw: no answering deadline)."""
    if kind == "list_draw":
        return tuple(f for f in DRAW_FIELDS if f[0] != "closes_at")
    return DRAW_FIELDS


def prize_values(prefix: str, prizes: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """The tiers' form values under `prefix` (``prizes``, ``draws[0].prizes``), with one
    blank row to add a tier."""
    return {
        f"{prefix}[{i}].{key}": fields.shown(prize.get(key), "text")
        for i, prize in enumerate([*prizes, {}])
        for key, _ in PRIZE_FIELDS
    }


def parse_prizes(
    form: Form, prefix: str, rows: int, problems: dict[str, list[str]]
) -> list[dict[str, Any]]:
    """The tiers posted under `prefix` (rows 0 .. rows-1; blank rows dropped); a count or
    value that is not a whole number goes to `problems` and the row stays as typed."""
    prizes = []
    for i in range(rows):
        row = {key: form(f"{prefix}[{i}].{key}") for key, _ in PRIZE_FIELDS}
        if not any(row.values()):
            continue  # a blank row (the empty one to add a tier, or a tier removed)
        prize: dict[str, Any] = {"tier": row["tier"], "prize": row["prize"]}
        for key in ("count", "value_yuan"):
            value, problem = fields.parse(row[key], "int") if row[key] else ("", None)
            if problem or value == "":
                problems[f"{prefix}[{i}].{key}"] = [problem or fields.WHOLE_NUMBER]
            prize[key] = value
        prizes.append(prize)
    return prizes


def values(doc: Document) -> dict[str, str]:
    """The further draws' form values, with one blank draw to add another."""
    kind = str(doc.get("campaign", {}).get("kind", ""))
    shown: dict[str, str] = {}
    for i, draw in enumerate([*doc.get("draws", []), {}]):
        for key, _, field in draw_fields(kind):
            shown[f"draws[{i}].{key}"] = fields.shown(draw.get(key), field)
        shown |= prize_values(f"draws[{i}].prizes", draw.get("prizes", []))
    return shown


def prize_rows(shown: Mapping[str, str], prefix: str) -> int:
    """How many tier rows under `prefix` the form has, the blank one included."""
    row = re.compile(rf"{re.escape(prefix)}\[\d+\]\.tier")
    return sum(1 for k in shown if row.fullmatch(k))


def draw_rows(shown: Mapping[str, str]) -> int:
    """How many further draws the form has, the blank one included."""
    return sum(1 for k in shown if k.startswith("draws[") and k.endswith("].number"))


def apply(doc: Document, form: Form) -> dict[str, list[str]]:
    """Put the posted further draws into the document's [[draws]]; returns the problems of
    values not even of their kind. A draw left wholly blank is dropped (the blank one to
    add a draw, or a draw removed)."""
    kind = str(doc.get("campaign", {}).get("kind", ""))
    problems: dict[str, list[str]] = {}
    before = doc.get("draws", [])
    draws = []
    for i in range(len(before) + 1):
        tiers = len(before[i].get("prizes", [])) + 1 if i < len(before) else 1
        prizes = parse_prizes(form, f"draws[{i}].prizes", tiers, problems)
        table: dict[str, Any] = {}
        for key, _, field in draw_fields(kind):
            raw = form(f"draws[{i}].{key}")
            if not raw:
                continue  # the check names a missing required field
            value, problem = fields.parse(raw, field)
            if problem:
                problems[f"draws[{i}].{key}"] = [problem]
            table[key] = value
        if not prizes and all(field == "bool" for key, _, field in DRAW_FIELDS if key in table):
            continue  # nothing typed (a tick alone in the blank draw adds nothing)
        if kind == "list_draw" and i < len(before) and "closes_at" in before[i]:
            table["closes_at"] = before[i]["closes_at"]  # not on a list draw's form
        table["prizes"] = prizes
        draws.append(table)
    if draws:
        doc["draws"] = draws
    else:
        doc.pop("draws", None)
    return problems
