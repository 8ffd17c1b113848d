"""Head office's campaign editor: create, edit, lock and publish campaigns.

Every change goes the same way: the editor changes the campaign's document (the data of
its campaign file, quiz.campaign.document), `save` writes it out and runs the campaign
file check on the text (`spec.parse_campaign`, the one validator), refuses what the
lifecycle locks, then installs it as `quiz campaign load` would. Problems come back by
field, in Chinese (`EditorError.problems`: the validator's key path -> messages).
"""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from quiz.campaign.document import Document, document_of, question_table, to_toml
from quiz.campaign.spec import (
    LOCAL_TZ,
    CampaignFileError,
    CampaignSpec,
    default_campaign_path,
    install_campaign,
    parse_campaign,
)
from quiz.db import utcnow
from quiz.editor import contest_form, draws_form
from quiz.editor.bank_xlsx import FIELD_COLUMNS, BankImportError, ImportedRow
from quiz.engine.sheets import OPT_OUT_TEXT
from quiz.engine.shuffle import letter_spread
from quiz.models import Campaign, CampaignTextVersion, Draw, Participant, Question, StaffUser
from quiz.staff import audit

# The campaign file each kind starts from (the shipped demo of the kind). The drawing
# contest's [artwork] settings have no form yet: it starts as a copy of an earlier one.
TEMPLATES: dict[str, Path] = {
    "prize_quiz": default_campaign_path(),
    "list_draw": default_campaign_path().with_name("reinstatement-draw.toml"),
    "staff_contest": default_campaign_path().with_name("staff-contest.toml"),
}
RULES_TEXTS = ("entry_conditions", "draw_method", "prize_claim", "rules")


class EditorError(ValueError):
    """The change is refused; `problems` maps a field (the campaign file's key path,
    such as ``campaign.closes_at`` or ``questions[3].correct``, "" for the whole
    campaign) to its Chinese messages. Nothing was saved."""

    def __init__(self, problems: Mapping[str, Sequence[str]]) -> None:
        self.problems = {k: list(v) for k, v in problems.items()}
        super().__init__("; ".join(f"{k}: {m}" for k, ms in self.problems.items() for m in ms))


def _problems(error: CampaignFileError) -> dict[str, list[str]]:
    problems: dict[str, list[str]] = {}
    for problem in error.errors:
        problems.setdefault(problem.path or "", []).append(problem.chinese)
    return problems


def validate(doc: Document) -> CampaignSpec:
    """The campaign file check of the document; EditorError by field."""
    try:
        return parse_campaign(to_toml(doc))
    except CampaignFileError as exc:
        raise EditorError(_problems(exc)) from None
    except TypeError:
        raise EditorError({"": ["内容格式不正确。"]}) from None


def has_entries(session: Session, campaign: Campaign) -> bool:
    """Whether anyone has entered the campaign (from then on the locks hold): a
    participant, or a staff contestant who has begun the paper."""
    first = select(Participant.id).where(Participant.campaign_id == campaign.id).limit(1)
    return session.scalar(first) is not None or contest_form.begun(session, campaign)


def draw_frozen(session: Session, campaign: Campaign) -> bool:
    """Whether the entrant list is frozen (a draw that is not voided exists)."""
    stmt = select(Draw.id).where(Draw.campaign_id == campaign.id, Draw.status != "voided")
    return session.scalar(stmt.limit(1)) is not None


ANSWER_KEY_LOCKED = (
    "已有人参加本活动,不能修改已有题目的正确答案、选项或题型:这会改变已答题者的得分。"
    "如需更正,请停用本题并新增一道题。"
)


def locked_changes(session: Session, campaign: Campaign, new: CampaignSpec) -> dict[str, str]:
    """What the change would alter that an entry already depends on: field -> the reason,
    in Chinese. Empty when nothing locked changes (or nobody has entered yet)."""
    locked: dict[str, str] = {}
    content = campaign.content
    if has_entries(session, campaign):
        old = {
            q.key: q
            for q in session.scalars(select(Question).where(Question.campaign_id == campaign.id))
        }
        for i, q in enumerate(new.questions):
            before = old.get(q.key)
            if before is None:
                continue
            options = [{"key": k, "text": t} for k, t in q.options]
            if (before.kind, before.options, before.correct, before.multiple) != (
                q.kind,
                options,
                q.correct,
                q.multiple,
            ):
                field = "correct" if before.options == options else "options"
                locked[f"questions[{i}].{field}"] = ANSWER_KEY_LOCKED
        if new.slug != campaign.slug:
            locked["campaign.slug"] = (
                "已有人参加本活动,活动地址不能修改:已发出的链接和二维码会失效。"
            )
        if new.questions_per_participant != content.get("questions_per_participant", 5):
            locked["quiz.questions_per_participant"] = (
                "已有人参加本活动,每人答题数不能修改:这会改变参与者之间的得分标准。"
            )
        if new.min_score != content.get("min_score"):
            locked["quiz.min_score"] = (
                "已有人参加本活动,抽奖最低分不能修改:这会改变参与者的中奖机会。"
            )
        # Files carry whole seconds; a campaign loaded with finer times still compares.
        if new.opens_at != campaign.opens_at.replace(microsecond=0):
            locked["campaign.opens_at"] = (
                "已有人参加本活动,开始时间不能修改:已报名者是按原开始时间参加的。"
            )
        old_counts = [(p["tier"], p["count"]) for p in content.get("prizes", [])]
        if [(p.tier, p.count) for p in new.prizes] != old_counts:
            locked["prizes"] = "已有人参加本活动,奖项和名额不能修改:这会改变参与者的中奖机会。"
    locked.update(contest_form.locked_changes(session, campaign, new))
    if draw_frozen(session, campaign):
        for key in ("randomness_source", "randomness_format", "randomness_example"):
            if getattr(new, key) != content.get(key):
                locked[f"draw.{key}"] = "抽奖名单已冻结,抽奖设置不能再修改。"
        old_deadline = content.get("freeze_deadline")
        if old_deadline is not None:
            old_deadline = datetime.fromisoformat(old_deadline).replace(microsecond=0)
        if new.freeze_deadline != old_deadline:
            locked["draw.freeze_deadline"] = "抽奖名单已冻结,抽奖设置不能再修改。"
        if new.draws != (content.get("draws") or []):
            locked["draws"] = draws_form.FROZEN
    return locked


def _next_version(session: Session, campaign: Campaign, kind: str, now: datetime) -> str:
    """A new text version named by its Beijing date (2026-12-02, then 2026-12-02-2 ...)."""
    base = now.astimezone(LOCAL_TZ).strftime("%Y-%m-%d")
    taken = set(
        session.scalars(
            select(CampaignTextVersion.version).where(
                CampaignTextVersion.campaign_id == campaign.id, CampaignTextVersion.kind == kind
            )
        )
    )
    taken.add(str(campaign.content.get(f"{kind}_version", "")))
    version, n = base, 1
    while version in taken:
        n += 1
        version = f"{base}-{n}"
    return version


def _texts(spec: CampaignSpec | Mapping[str, Any], kind: str) -> dict[str, Any]:
    get = spec.get if isinstance(spec, Mapping) else (lambda k: getattr(spec, k))
    if kind == "rules":
        return {k: get(k) for k in RULES_TEXTS}
    return {"notice": get("privacy_notice")}


def _record_version(
    session: Session, campaign: Campaign, kind: str, spec: CampaignSpec, actor: str
) -> None:
    version = spec.rules_version if kind == "rules" else spec.privacy_version
    exists = session.scalar(
        select(func.count()).where(
            CampaignTextVersion.campaign_id == campaign.id,
            CampaignTextVersion.kind == kind,
            CampaignTextVersion.version == version,
        )
    )
    if not exists:
        session.add(
            CampaignTextVersion(
                campaign_id=campaign.id,
                kind=kind,
                version=version,
                texts=_texts(spec, kind),
                actor=actor[:64],
            )
        )


def _window(campaign: Campaign) -> dict[str, str]:
    """The window in Beijing time to the second, as the audit log shows it."""

    def shown(moment: datetime) -> str:
        return moment.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M:%S")

    return {
        "opens_at": shown(campaign.opens_at),
        "closes_at": shown(campaign.closes_at),
        "draw_at": shown(campaign.draw_at),
    }


def is_draft(campaign: Campaign) -> bool:
    """Only staff see a draft; its texts change without new versions."""
    return campaign.status == "draft"


def save(
    session: Session,
    campaign: Campaign | None,
    doc: Document,
    actor: StaffUser | None,
    *,
    ip: str | None = None,
    actor_name: str | None = None,
    origin: str = "",
) -> Campaign:
    """Validate and store the document as `campaign` (a new draft when None); flush, never
    commit. EditorError by field when the check, the slug or a lifecycle lock refuses."""
    doc = copy.deepcopy(doc)
    spec = validate(doc)
    who = actor_name or (actor.username if actor else "")
    clash = session.scalar(select(Campaign).where(Campaign.slug == spec.slug))
    if clash is not None and (campaign is None or clash.id != campaign.id):
        raise EditorError(
            {"campaign.slug": [f"活动地址“{spec.slug}”已被活动“{clash.name}”使用,请换一个。"]}
        )
    now = utcnow()
    if campaign is not None:
        locked = locked_changes(session, campaign, spec)
        if locked:
            raise EditorError({k: [v] for k, v in locked.items()})
        if not is_draft(campaign):
            # Published texts that change get a new version (entrants see its date; a new
            # privacy notice is consented to again), unless the editor named one.
            bumped = False
            for kind in ("rules", "privacy"):
                before = _texts(campaign.content, kind)
                same_version = getattr(spec, f"{kind}_version") == campaign.content.get(
                    f"{kind}_version"
                )
                if _texts(spec, kind) != before and same_version:
                    doc[kind]["version"] = _next_version(session, campaign, kind, now)
                    bumped = True
            if bumped:
                spec = validate(doc)
        before_window = _window(campaign)
        before_versions = (
            campaign.content.get("rules_version"),
            campaign.content.get("privacy_version"),
        )
        old_sha = campaign.content_sha256
        campaign.slug = spec.slug  # install_campaign finds the campaign by its slug
        session.flush()
    try:
        stored = install_campaign(session, spec)
    except CampaignFileError as exc:
        raise EditorError(
            {"": [ANSWER_KEY_LOCKED if "assigned" in str(exc) else exc.chinese]}
        ) from None
    if campaign is None:
        stored.status = "draft"
        audit.record(
            session,
            actor,
            "campaign.create",
            f"campaign:{stored.id}",
            {"slug": stored.slug, "from": origin},
            ip,
            actor_name=actor_name,
        )
        for kind in ("rules", "privacy"):
            _record_version(session, stored, kind, spec, who)
        session.flush()
        return stored
    after_window = _window(stored)
    if after_window != before_window:
        audit.record(
            session,
            actor,
            "campaign.window",
            f"campaign:{stored.id}",
            {"before": before_window, "after": after_window},
            ip,
            actor_name=actor_name,
        )
    versions = (spec.rules_version, spec.privacy_version)
    if versions != before_versions:
        audit.record(
            session,
            actor,
            "campaign.text_version",
            f"campaign:{stored.id}",
            {
                "before": {"rules": before_versions[0], "privacy": before_versions[1]},
                "after": {"rules": versions[0], "privacy": versions[1]},
            },
            ip,
            actor_name=actor_name,
        )
    for kind in ("rules", "privacy"):
        _record_version(session, stored, kind, spec, who)
    if stored.content_sha256 != old_sha:
        audit.record(
            session,
            actor,
            "campaign.edit",
            f"campaign:{stored.id}",
            {"slug": stored.slug},
            ip,
            actor_name=actor_name,
        )
    session.flush()
    return stored


def template_document(kind: str) -> Document:
    """The document a new campaign of `kind` starts from (the shipped demo for
    prize_quiz); KeyError for a kind without a template yet."""
    return tomllib.loads(TEMPLATES[kind].read_text(encoding="utf-8"))


def create(
    session: Session,
    *,
    slug: str,
    name: str,
    actor: StaffUser | None,
    kind: str | None = None,
    copy_of: Campaign | None = None,
    ip: str | None = None,
) -> Campaign:
    """A new draft from the kind's template or as a copy of an earlier campaign."""
    if copy_of is not None:
        doc = document_of(session, copy_of)
        origin = f"copy:{copy_of.slug}"
    else:
        if kind not in TEMPLATES:
            raise EditorError({"kind": ["请选择活动类型。"]})
        doc = template_document(kind)
        doc["campaign"]["kind"] = kind
        origin = f"template:{kind}"
    doc["campaign"]["slug"] = slug.strip()
    doc["campaign"]["name"] = name.strip()
    return save(session, None, doc, actor, ip=ip, origin=origin)


def publish(
    session: Session, campaign: Campaign, actor: StaffUser | None, *, ip: str | None = None
) -> None:
    """Make a draft public (within its window); audited with before/after."""
    before = campaign.status
    if before == "published":
        return
    campaign.status = "published"
    audit.record(
        session,
        actor,
        "campaign.publish",
        f"campaign:{campaign.id}",
        {
            "before": {"status": before},
            "after": {"status": "published"},
            "window": _window(campaign),
        },
        ip,
    )
    session.flush()


# --------------------------------------------------------------------------------------
# The question bank, edited in the document
# --------------------------------------------------------------------------------------


def _index(doc: Document, key: str) -> int:
    for i, table in enumerate(doc.get("questions", [])):
        if table.get("key") == key:
            return i
    raise EditorError({"": [f"题目“{key}”不在题库中。"]})


def put_question(doc: Document, table: dict[str, Any], *, replacing: str | None = None) -> None:
    """Add a question at the end, or replace the one keyed `replacing` in place."""
    questions = doc.setdefault("questions", [])
    if replacing is None:
        questions.append(table)
    else:
        questions[_index(doc, replacing)] = table


def move_question(doc: Document, key: str, delta: int) -> None:
    """Move a question up (-1) or down (+1) in the bank's order."""
    questions = doc["questions"]
    i = _index(doc, key)
    j = max(0, min(len(questions) - 1, i + delta))
    questions.insert(j, questions.pop(i))


def retire_question(doc: Document, key: str) -> None:
    """Take a question out of the bank (kept for the entries that hold it)."""
    del doc["questions"][_index(doc, key)]


def restore_question(session: Session, campaign: Campaign, doc: Document, key: str) -> None:
    """Put a retired question back at the end of the bank."""
    question = session.scalar(
        select(Question).where(Question.campaign_id == campaign.id, Question.key == key)
    )
    if question is None:
        raise EditorError({"": [f"题目“{key}”不存在。"]})
    doc.setdefault("questions", []).append(question_table(question))


def merge_bank(doc: Document, rows: Sequence[ImportedRow]) -> Document:
    """The document with the imported rows in its bank (a known key replaces that
    question, a new one is added at the end), validated; BankImportError naming rows and
    columns when the campaign check refuses a row."""
    merged = copy.deepcopy(doc)
    questions = merged.setdefault("questions", [])
    row_of: dict[int, int] = {}
    for item in rows:
        key = item.table.get("key")
        at = next((i for i, q in enumerate(questions) if q.get("key") == key), None)
        if at is None:
            questions.append(item.table)
            at = len(questions) - 1
        else:
            questions[at] = item.table
        row_of[at] = item.row
    try:
        validate(merged)
    except EditorError as exc:
        problems: list[tuple[int | None, str, str]] = []
        for path, messages in exc.problems.items():
            row, column = None, path
            if path.startswith("questions["):
                index = int(path[len("questions[") : path.index("]")])
                field = path[path.index("]") + 2 :] if "]." in path else ""
                row = row_of.get(index)
                column = FIELD_COLUMNS.get(field, field)
                if row is None:
                    column = f"题库第 {index + 1} 题 {column}".strip()
            elif path == "questions":
                column = "题库"
            problems.extend((row, column, m) for m in messages)
        raise BankImportError(sorted(problems, key=lambda p: (p[0] is None, p[0] or 0))) from None
    return merged


def warnings(doc: Document) -> list[str]:
    """What the editor points out without refusing it."""
    out: list[str] = []
    letters = [
        q["correct"]
        for q in doc.get("questions", [])
        if q.get("kind") == "knowledge" and isinstance(q.get("correct"), str)
    ]
    spread = letter_spread(letters)
    if spread is not None:
        letter, count = spread
        out.append(
            f"{len(letters)} 道单选知识题中有 {count} 道的正确答案是 {letter}:"
            "请把正确答案分散到不同选项(参与者看到的选项顺序虽已打乱,题库本身也应均衡)。"
        )
    intent = [q for q in doc.get("questions", []) if q.get("kind") == "intent"]
    if intent and not any(OPT_OUT_TEXT in (q.get("options") or []) for q in intent):
        out.append(f"投保意向题中没有“{OPT_OUT_TEXT}”选项:参与者将无法在调查中拒绝营销联系。")
    return out


@dataclass(frozen=True)
class TextVersion:
    """One version of the rules or privacy notice and when it took effect."""

    kind: str
    version: str
    created_at: datetime
    actor: str


def text_versions(session: Session, campaign: Campaign) -> list[TextVersion]:
    """The campaign's rules and privacy versions, newest first."""
    rows = session.scalars(
        select(CampaignTextVersion)
        .where(CampaignTextVersion.campaign_id == campaign.id)
        .order_by(CampaignTextVersion.created_at.desc(), CampaignTextVersion.id.desc())
    )
    return [TextVersion(r.kind, r.version, r.created_at, r.actor) for r in rows]
