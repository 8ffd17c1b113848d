"""A campaign as its file: the stored campaign written back as campaign TOML.

The campaign file stays the one import/export format and the one thing validated: the
browser editor edits this document (the data `tomllib` reads from a campaign file),
writes it out with `to_toml` and hands the text to `spec.parse_campaign`, the same check
`quiz campaign check` runs. `quiz campaign export` writes the same text, so export then
load gives back the same campaign.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from quiz.campaign.spec import LOCAL_TZ
from quiz.campaign.toml_values import untagged
from quiz.models import Campaign, Question

Document = dict[str, Any]

# Table order and key order of a written file (the order of the shipped demo file).
_LAYOUT: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("campaign", ("slug", "name", "kind", "opens_at", "closes_at", "draw_at")),
    ("organiser", ("name", "contact")),
    (
        "quiz",
        (
            "questions_per_participant",
            "min_score",
            "referral_rule",
            "sms_verification",
            "bot_challenge",
            "risk_address_limit",
        ),
    ),
    (
        "draw",
        (
            "randomness_source",
            "randomness_format",
            "randomness_example",
            "freeze_deadline",
            "one_winner_per_address",
        ),
    ),
    ("rules", ("version", "entry_conditions", "draw_method", "prize_claim", "paragraphs")),
    ("privacy", ("version", "follow_up_retention_days", "winner_retention_days", "notice")),
)
_ARRAYS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("prizes", ("tier", "count", "prize", "value_yuan")),
    ("leaderboard_tiers", ("name", "from", "to")),
    (
        "questions",
        ("key", "kind", "category", "text", "multiple", "options", "correct", "explanation"),
    ),
)


def local_time(value: str | datetime | None) -> datetime | None:
    """A stored UTC time (ISO string or aware datetime) as naive Beijing time, as files
    write it."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(LOCAL_TZ).replace(tzinfo=None)


def question_table(question: Question) -> dict[str, Any]:
    """One question as its [[questions]] table."""
    table: dict[str, Any] = {"key": question.key, "kind": question.kind}
    if getattr(question, "category", None):
        table["category"] = question.category
    table["text"] = question.text
    if question.multiple:
        table["multiple"] = True
    table["options"] = [opt["text"] for opt in question.options]
    if question.correct is not None:
        table["correct"] = question.correct[0] if len(question.correct) == 1 else question.correct
    if question.explanation:
        table["explanation"] = question.explanation
    return table


def document_of(session: Session, campaign: Campaign) -> Document:
    """The stored campaign as campaign-file data; retired questions are left out (a file
    lists the active bank, and loading it retires what it does not list)."""
    c = campaign.content
    doc: Document = {
        "campaign": {
            "slug": campaign.slug,
            "name": campaign.name,
            "kind": campaign.kind,
            "opens_at": local_time(campaign.opens_at),
            "closes_at": local_time(campaign.closes_at),
            "draw_at": local_time(campaign.draw_at),
        },
        "organiser": {"name": c["organiser_name"], "contact": c["organiser_contact"]},
        "prizes": [dict(p) for p in c["prizes"]],
        "quiz": {
            "questions_per_participant": c.get("questions_per_participant", 5),
            "referral_rule": c.get("referral_rule", "address"),
            "sms_verification": c.get("sms_verification", "off"),
        },
        "draw": {"randomness_source": c["randomness_source"]},
        "rules": {
            "version": c["rules_version"],
            "entry_conditions": c["entry_conditions"],
            "draw_method": c["draw_method"],
            "prize_claim": c["prize_claim"],
            "paragraphs": list(c["rules"]),
        },
        "privacy": {
            "version": c["privacy_version"],
            "notice": list(c["privacy_notice"]),
            "follow_up_retention_days": c["follow_up_retention_days"],
            "winner_retention_days": c["winner_retention_days"],
        },
    }
    if c.get("min_score") is not None:
        doc["quiz"]["min_score"] = c["min_score"]
    for key in ("randomness_format", "randomness_example"):
        if c.get(key):
            doc["draw"][key] = c[key]
    if c.get("freeze_deadline"):
        doc["draw"]["freeze_deadline"] = local_time(c["freeze_deadline"])
    # Fraud defence settings, written only when set (files without them stay as they were).
    if c.get("bot_challenge", "off") != "off":
        doc["quiz"]["bot_challenge"] = c["bot_challenge"]
    if c.get("risk_address_limit", 3) != 3:
        doc["quiz"]["risk_address_limit"] = c["risk_address_limit"]
    if c.get("one_winner_per_address"):
        doc["draw"]["one_winner_per_address"] = True
    if c.get("leaderboard_tiers"):
        doc["leaderboard_tiers"] = [dict(t) for t in c["leaderboard_tiers"]]
    if c.get("contest"):
        doc["contest"] = dict(c["contest"])  # staff_contest (quiz.campaign.contest_spec)
    for name, table in c.get("source_tables", {}).items():
        doc[name] = untagged(table)  # [artwork], [race], [[draws]] as the file wrote them
    questions = session.scalars(
        select(Question)
        .where(Question.campaign_id == campaign.id, Question.active.is_(True))
        .order_by(Question.position)
    )
    doc["questions"] = [question_table(q) for q in questions]
    return doc


def _string(value: str) -> str:
    # A JSON string is a TOML basic string once DEL is escaped too (TOML forbids it raw).
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007F")


def _value(value: Any, inline: bool = False) -> str:
    """A TOML value; `inline`: inside an inline table, where no line break may fall."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, datetime):
        return value.replace(microsecond=0).isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list):
        long_text = all(isinstance(v, str) for v in value) and sum(len(v) for v in value) > 60
        if long_text and not inline:
            return "[\n" + "".join(f"  {_value(v)},\n" for v in value) + "]"
        return "[" + ", ".join(_value(v, inline=True) for v in value) + "]"
    if isinstance(value, dict):  # an inline table ([contest]'s groups, [race]'s targets)
        items = ", ".join(f"{_string(str(k))} = {_value(v, inline=True)}" for k, v in value.items())
        return "{ " + items + " }"
    raise TypeError(f"cannot write {type(value).__name__} to a campaign file")


def _keys(table: dict[str, Any], order: tuple[str, ...]) -> list[str]:
    """The table's keys in the written order, unknown ones last (the validator names
    them)."""
    return [k for k in order if k in table] + [k for k in table if k not in order]


def to_toml(doc: Document) -> str:
    """Write campaign-file data as TOML text (None values are left out)."""
    out = ["# Campaign file (see quiz/campaign/spec.py for the schema). Times are Beijing time."]
    layout = dict(_LAYOUT)
    arrays = dict(_ARRAYS)
    names = [n for n, _ in _LAYOUT] + [n for n, _ in _ARRAYS]
    for name in names + [n for n in doc if n not in names]:
        if name not in doc:
            continue
        value = doc[name]
        if isinstance(value, list) and all(isinstance(t, dict) for t in value):
            for table in value:
                out.append(f"\n[[{name}]]")
                for key in _keys(table, arrays.get(name, ())):
                    if table[key] is not None:
                        out.append(f"{key} = {_value(table[key])}")
        elif isinstance(value, dict):
            out.append(f"\n[{name}]")
            for key in _keys(value, layout.get(name, ())):
                if value[key] is not None:
                    out.append(f"{key} = {_value(value[key])}")
        else:
            out.insert(1, f"{name} = {_value(value)}")
    return "\n".join(out) + "\n"


def campaign_toml(session: Session, campaign: Campaign) -> str:
    """The stored campaign as campaign-file text (`quiz campaign export`)."""
    return to_toml(document_of(session, campaign))
