"""The staff contest's settings in the browser editor: the campaign file's [contest] table
(quiz.campaign.contest_spec) as form fields, and back.

Field names are the table's key paths (``contest.time_limit_minutes``,
``contest.awards[0].count``, ``contest.groups[1].quotas``), so the campaign file check's
problems land under the field they concern. A group's quotas are one line of text,
``理赔流程=4,理赔时效=3``: the categories are the question bank's own.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from quiz.campaign.document import Document
from quiz.campaign.spec import CampaignSpec
from quiz.models import Campaign, Contestant, ContestPaper, Question

# (key in [contest], label, input kind)
SCALARS: tuple[tuple[str, str, str], ...] = (
    ("time_limit_minutes", "答题限时(分钟,服务器计时,到时自动交卷)", "int"),
    ("points_per_question", "每题分值", "int"),
    (
        "multiple_choice",
        "多选题计分(partial:按选对的比例得分,选错不得分;all_or_nothing:全部选对才得分)",
        "text",
    ),
    ("freeze_minutes", "排行榜在结束前冻结的分钟数(0:不冻结)", "int"),
    ("branch_awards", "机构评优奖励:每组获奖机构数", "int"),
)
WEIGHTS = (("participation", "机构排名中参赛率的权重(%)"), ("average", "平均分的权重(%)"))
AWARD_FIELDS = (("name", "奖项"), ("count", "名额"))
GROUP_FIELDS = (
    ("code", "组别代码(小写英文字母、数字或“_”,如 sales)"),
    ("name", "组别名称(与参赛名单的“组别”一致)"),
    ("quotas", "各分类抽题数(分类=题数,用逗号分开,如 理赔流程=4,理赔时效=3)"),
)
NOTICE = "contest.privacy_notice"

_QUOTA_SPLIT = re.compile(r"[,,;;、\n]+")
_QUOTA_ITEM = re.compile(r"\s*(.+?)\s*[=:=:]\s*(\S+)\s*")
_WHOLE = re.compile(r"[0-9]{1,9}")

STARTED = "竞赛已开始(已有人答题),不能修改:这会改变已答题者的成绩标准。"
ROSTER_GROUPS = "参赛名单中已有这个组别的人员:组别不能删除,组别代码不能修改。"


def quotas_text(quotas: Mapping[str, Any]) -> str:
    """A group's quotas as the form shows them: 理赔流程=4,理赔时效=3."""
    return ",".join(f"{category}={count}" for category, count in quotas.items())


def parse_quotas(text: str) -> dict[str, int] | None:
    """理赔流程=4,理赔时效=3 -> {"理赔流程": 4, "理赔时效": 3}; None when not so written."""
    quotas: dict[str, int] = {}
    for item in filter(str.strip, _QUOTA_SPLIT.split(text)):
        match = _QUOTA_ITEM.fullmatch(item)
        if match is None or not _WHOLE.fullmatch(match[2]):
            return None
        quotas[match[1]] = int(match[2])
    return quotas or None


def values(doc: Document) -> dict[str, str]:
    """The form's values from the document, with one blank award row and one blank group
    row to add another."""
    table = doc.get("contest", {})
    shown: dict[str, str] = {}
    for key, _, _ in SCALARS:
        value = table.get(key)
        shown[f"contest.{key}"] = "" if value is None else str(value)
    weights = table.get("branch_weights", {})
    for key, _ in WEIGHTS:
        value = weights.get(key) if isinstance(weights, dict) else None
        shown[f"contest.branch_weights.{key}"] = "" if value is None else str(value)
    for i, award in enumerate([*table.get("awards", []), {}]):
        for key, _ in AWARD_FIELDS:
            value = award.get(key)
            shown[f"contest.awards[{i}].{key}"] = "" if value is None else str(value)
    for i, group in enumerate([*table.get("groups", []), {}]):
        shown[f"contest.groups[{i}].code"] = str(group.get("code", ""))
        shown[f"contest.groups[{i}].name"] = str(group.get("name", ""))
        quotas = group.get("quotas") or ""
        shown[f"contest.groups[{i}].quotas"] = (
            quotas_text(quotas) if isinstance(quotas, dict) else str(quotas)
        )
    shown[NOTICE] = "\n".join(str(p) for p in table.get("privacy_notice", []))
    return shown


def rows(shown: Mapping[str, str], name: str) -> int:
    """How many rows of `name` (awards, groups) the form has, the blank one included."""
    return sum(1 for k in shown if k.startswith(f"contest.{name}[") and k.endswith("].name"))


def apply(doc: Document, form: Callable[[str], str]) -> dict[str, list[str]]:
    """Put the posted contest settings into the document's [contest] table; returns the
    problems of values not even of their kind (a word where a number goes). The campaign
    file check then judges the rest (ranges, the bank's categories, weights adding up)."""
    problems: dict[str, list[str]] = {}
    table = doc.setdefault("contest", {})
    for key, _, kind in SCALARS:
        raw = form(f"contest.{key}")
        if not raw:
            table.pop(key, None)
        elif kind == "int" and not _WHOLE.fullmatch(raw):
            problems[f"contest.{key}"] = ["请填写整数。"]
        else:
            table[key] = int(raw) if kind == "int" else raw
    weights: dict[str, int] = {}
    for key, _ in WEIGHTS:
        raw = form(f"contest.branch_weights.{key}")
        if not _WHOLE.fullmatch(raw):
            problems["contest.branch_weights"] = ["请填写整数,参赛率和平均分的权重之和为 100。"]
        else:
            weights[key] = int(raw)
    if len(weights) == len(WEIGHTS):
        table["branch_weights"] = weights
    awards = []
    for i in range(len(table.get("awards", [])) + 1):
        name, count = form(f"contest.awards[{i}].name"), form(f"contest.awards[{i}].count")
        if not (name or count):
            continue  # the blank row, or an award removed
        if not _WHOLE.fullmatch(count):
            problems[f"contest.awards[{i}].count"] = ["请填写整数。"]
        # A refused row stays in its place: the form comes back with it as it was typed.
        awards.append({"name": name, "count": int(count) if _WHOLE.fullmatch(count) else count})
    table["awards"] = awards
    groups = []
    for i in range(len(table.get("groups", [])) + 1):
        row = {key: form(f"contest.groups[{i}].{key}") for key, _ in GROUP_FIELDS}
        if not any(row.values()):
            continue
        quotas = parse_quotas(row["quotas"])
        if quotas is None:
            problems[f"contest.groups[{i}].quotas"] = [
                "请按“分类=题数”填写,多个分类用逗号分开,如:理赔流程=4,理赔时效=3。"
            ]
        groups.append({"code": row["code"], "name": row["name"], "quotas": quotas or row["quotas"]})
    table["groups"] = groups
    raw_notice = form(NOTICE)
    table["privacy_notice"] = [line.strip() for line in raw_notice.splitlines() if line.strip()]
    return problems


def begun(session: Session, campaign: Campaign) -> bool:
    """Whether any contestant has begun the paper."""
    first = select(ContestPaper.id).where(ContestPaper.campaign_id == campaign.id).limit(1)
    return session.scalar(first) is not None


def locked_changes(session: Session, campaign: Campaign, new: CampaignSpec) -> dict[str, str]:
    """What a change of the contest settings would alter under contestants already in it:
    field -> the reason, in Chinese. The paper's scoring and make-up are fixed once anyone
    has begun; the groups the roster names are fixed once it is imported."""
    old, settings = campaign.content.get("contest") or {}, new.contest or {}
    if not old or campaign.kind != "staff_contest":
        return {}
    locked: dict[str, str] = {}
    if begun(session, campaign):
        for key in ("time_limit_minutes", "points_per_question", "multiple_choice"):
            if settings.get(key) != old.get(key):
                locked[f"contest.{key}"] = STARTED
        quotas = {g["code"]: g["quotas"] for g in old.get("groups", [])}
        for i, group in enumerate(settings.get("groups", [])):
            if group["code"] in quotas and group["quotas"] != quotas[group["code"]]:
                locked[f"contest.groups[{i}].quotas"] = STARTED
    on_roster = set(
        session.scalars(
            select(Contestant.group_code).where(Contestant.campaign_id == campaign.id).distinct()
        )
    )
    if on_roster - {g["code"] for g in settings.get("groups", [])}:
        locked["contest.groups"] = ROSTER_GROUPS
    return locked


def categories(session: Session, campaign: Campaign) -> dict[str, int]:
    """The bank's knowledge questions per category (in use), for the quotas' hint."""
    stmt = (
        select(Question.category, func.count())
        .where(
            Question.campaign_id == campaign.id,
            Question.kind == "knowledge",
            Question.active.is_(True),
        )
        .group_by(Question.category)
        .order_by(Question.category)
    )
    return {category or "": count for category, count in session.execute(stmt)}
