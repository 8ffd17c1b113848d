"""Head office's campaign editor (活动管理): create, edit, question bank, preview, publish.

Views parse the form into the campaign's document and call quiz.editor.service, which
runs the campaign file check; its problems come back by field (the file's key path) and
are shown under that field with a 422, nothing saved.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from quiz.admin import bp
from quiz.admin.access import current_staff, manage_campaigns
from quiz.campaign.document import Document, document_of
from quiz.campaign.kinds import KINDS
from quiz.campaign.spec import OPTION_KEYS
from quiz.editor import contest_form, draws_form, fields, service
from quiz.editor.bank_xlsx import (
    BankImportError,
    bank_to_xlsx,
    describe,
    read_bank_xlsx,
    template_xlsx,
)
from quiz.editor.service import EditorError
from quiz.models import Campaign, Question
from quiz.text_safety import strip_invisible
from quiz.web.preview import preview_pages, preview_token
from quiz.web.request import db, takes_uploads

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_FIELD = 10_000

# The settings form: (path in the campaign file, label, input kind, required).
SETTINGS: tuple[tuple[str, str, str, bool], ...] = (
    ("campaign.name", "活动名称", "text", True),
    ("campaign.slug", "活动地址(/c/ 后面的部分:小写英文字母、数字和“-”)", "text", True),
    ("campaign.opens_at", "开始时间(北京时间)", "datetime", True),
    ("campaign.closes_at", "结束时间(北京时间)", "datetime", True),
    ("campaign.draw_at", "抽奖时间(北京时间)", "datetime", True),
    ("organiser.name", "主办方", "text", True),
    ("organiser.contact", "主办方联系方式", "text", True),
    ("quiz.questions_per_participant", "每人抽取知识题数", "int", True),
    ("quiz.min_score", "抽奖最低分(留空:不设)", "int", False),
    ("quiz.sms_verification", "短信验证手机号(required:必须验证;off:不验证)", "text", True),
    ("draw.randomness_source", "随机数来源", "textarea", True),
    ("draw.randomness_format", "开奖结果书写格式(正则表达式)", "text", False),
    ("draw.randomness_example", "开奖结果示例", "text", False),
    ("draw.freeze_deadline", "名单冻结截止时间(北京时间)", "datetime", False),
    ("rules.version", "活动规则版本", "text", True),
    ("rules.paragraphs", "活动规则(每行一段)", "lines", True),
    ("rules.entry_conditions", "参与条件", "textarea", True),
    ("rules.draw_method", "开奖时间和方式", "textarea", True),
    ("rules.prize_claim", "领奖方式和期限", "textarea", True),
    ("privacy.version", "个人信息处理规则版本", "text", True),
    ("privacy.notice", "个人信息处理规则(每行一段)", "lines", True),
    ("privacy.follow_up_retention_days", "未获奖者信息保存天数", "int", True),
    ("privacy.winner_retention_days", "获奖者信息保存天数", "int", True),
)
# The kinds whose campaigns draw winners: they may declare further draws ([[draws]]).
DRAWN = frozenset({"prize_quiz", "list_draw"})
# Settings a kind has no use for: not shown, and left in the file as they are.
_NOT_DRAWN = frozenset(
    {
        "quiz.questions_per_participant",  # the groups' quotas make up a contest paper
        "quiz.min_score",
        "draw.randomness_source",
        "draw.randomness_format",
        "draw.randomness_example",
        "draw.freeze_deadline",
    }
)
HIDDEN: dict[str, frozenset[str]] = {
    "list_draw": frozenset(p for p, _, _, _ in SETTINGS if p.startswith("quiz.")),
    "staff_contest": _NOT_DRAWN,
}
LABELS: dict[str, dict[str, str]] = {
    "staff_contest": {
        "campaign.opens_at": "竞赛开始时间(北京时间)",
        "campaign.closes_at": "竞赛结束时间(北京时间)",
        "campaign.draw_at": "成绩公布时间(北京时间)",
        "quiz.sms_verification": "登录方式(required:短信验证码;off:邀请码)",
    },
}


def settings_of(kind: str) -> tuple[tuple[str, str, str, bool], ...]:
    """The settings form of a campaign of `kind`."""
    hidden, labels = HIDDEN.get(kind, frozenset()), LABELS.get(kind, {})
    return tuple(
        (path, labels.get(path, label), field, required)
        for path, label, field, required in SETTINGS
        if path not in hidden
    )


def _campaign_or_404(campaign_id: int) -> Campaign:
    campaign = db().get(Campaign, campaign_id)
    if campaign is None:
        abort(404)
    return campaign


def _form(name: str) -> str:
    return strip_invisible(request.form.get(name, "")[:MAX_FIELD]).strip()


def _get(doc: Document, path: str) -> Any:
    table, key = path.split(".")
    return doc.get(table, {}).get(key)


def _kind(doc: Document) -> str:
    return str(doc.get("campaign", {}).get("kind", "prize_quiz"))


def _settings_values(doc: Document) -> dict[str, str]:
    values = {
        path: fields.shown(_get(doc, path), kind) for path, _, kind, _ in settings_of(_kind(doc))
    }
    values |= draws_form.prize_values("prizes", doc.get("prizes", []))
    if _kind(doc) in DRAWN:
        values |= draws_form.values(doc)
    if _kind(doc) == "staff_contest":
        values |= contest_form.values(doc)
    return values


def _parse_settings(doc: Document) -> tuple[Document, dict[str, list[str]]]:
    """The document with the posted settings in it, and the problems of values that are
    not even of their kind (a word where a number goes)."""
    problems: dict[str, list[str]] = {}
    for path, _, kind, _required in settings_of(_kind(doc)):
        table, key = path.split(".")
        raw = _form(path)
        target = doc.setdefault(table, {})
        if not raw:
            target.pop(key, None)  # the check names a missing required field
            continue
        value, problem = fields.parse(raw, kind)
        if problem:
            problems[path] = [problem]
        else:
            target[key] = value
    rows = len(doc.get("prizes", [])) + 1
    doc["prizes"] = draws_form.parse_prizes(_form, "prizes", rows, problems)
    if _kind(doc) in DRAWN:
        problems |= draws_form.apply(doc, _form)
    if _kind(doc) == "staff_contest":
        problems |= contest_form.apply(doc, _form)
    return doc, problems


@bp.get("/campaigns")
@manage_campaigns
def editor_campaigns() -> ResponseReturnValue:
    campaigns = db().scalars(select(Campaign).order_by(Campaign.opens_at.desc())).all()
    return render_template(
        "admin/campaigns.html",
        campaigns=campaigns,
        kinds=KINDS,
        templates=service.TEMPLATES,
        problems={},
        values={},
    )


@bp.post("/campaigns/new")
@manage_campaigns
def editor_create() -> ResponseReturnValue:
    copy_of = None
    source = _form("source")
    if source.startswith("copy:"):
        ident = source[5:]
        whole = ident.isascii() and ident.isdigit() and len(ident) < 10
        copy_of = db().get(Campaign, int(ident)) if whole else None
        if copy_of is None:
            abort(404)
    try:
        campaign = service.create(
            db(),
            slug=_form("slug"),
            name=_form("name"),
            kind=source.removeprefix("template:"),
            copy_of=copy_of,
            actor=current_staff(),
            ip=request.remote_addr,
        )
    except EditorError as exc:
        db().rollback()
        campaigns = db().scalars(select(Campaign).order_by(Campaign.opens_at.desc())).all()
        problems = {k.removeprefix("campaign."): v for k, v in exc.problems.items()}
        return render_template(
            "admin/campaigns.html",
            campaigns=campaigns,
            kinds=KINDS,
            templates=service.TEMPLATES,
            problems=problems,
            values={k: _form(k) for k in ("slug", "name", "source")},
        ), 422
    db().commit()
    flash(f"已创建草稿“{campaign.name}”,请完善设置和题库,预览后发布。", "success")
    return redirect(url_for("admin.editor_settings", campaign_id=campaign.id))


def _settings_page(
    campaign: Campaign,
    values: dict[str, str],
    problems: dict[str, list[str]],
    status: int = 200,
) -> ResponseReturnValue:
    locked = {}
    contest = campaign.kind == "staff_contest"
    if service.has_entries(db(), campaign):
        locked = {
            "campaign.opens_at": "已有人参加,不能修改",
            "quiz.questions_per_participant": "已有人参加,不能修改",
            "quiz.min_score": "已有人参加,不能修改",
            "campaign.slug": "已有人参加,不能修改",
        }
    if contest and contest_form.begun(db(), campaign):
        for key in ("time_limit_minutes", "points_per_question", "multiple_choice"):
            locked[f"contest.{key}"] = "已有人答题,不能修改"
    return render_template(
        "admin/campaign_settings.html",
        campaign=campaign,
        settings=settings_of(campaign.kind),
        prize_fields=draws_form.PRIZE_FIELDS,
        prize_rows=partial(draws_form.prize_rows, values),
        draw_fields=draws_form.draw_fields(campaign.kind) if campaign.kind in DRAWN else (),
        draw_rows=draws_form.draw_rows(values),
        contest=contest_form if contest else None,
        award_rows=contest_form.rows(values, "awards"),
        group_rows=contest_form.rows(values, "groups"),
        categories=contest_form.categories(db(), campaign) if contest else {},
        values=values,
        problems=problems,
        locked=locked,
        versions=service.text_versions(db(), campaign),
        stage_draft=service.is_draft(campaign),
    ), status


@bp.route("/campaigns/<int:campaign_id>/edit", methods=["GET", "POST"])
@manage_campaigns
def editor_settings(campaign_id: int) -> ResponseReturnValue:
    campaign = _campaign_or_404(campaign_id)
    doc = document_of(db(), campaign)
    if request.method == "GET":
        return _settings_page(campaign, _settings_values(doc), {})
    doc, problems = _parse_settings(doc)
    values = {k: _form(k) for k in _settings_values(doc)}
    if problems:
        return _settings_page(campaign, values, problems, 422)
    try:
        service.save(db(), campaign, doc, current_staff(), ip=request.remote_addr)
    except EditorError as exc:
        db().rollback()
        return _settings_page(_campaign_or_404(campaign_id), values, exc.problems, 422)
    db().commit()
    flash("已保存。", "success")
    return redirect(url_for("admin.editor_settings", campaign_id=campaign_id))


def _bank_page(
    campaign: Campaign,
    doc: Document,
    import_problems: list[str] | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    active = {q["key"] for q in doc.get("questions", [])}
    retired = (
        db()
        .scalars(
            select(Question)
            .where(Question.campaign_id == campaign.id, Question.active.is_(False))
            .order_by(Question.position)
        )
        .all()
    )
    return render_template(
        "admin/campaign_questions.html",
        campaign=campaign,
        questions=doc.get("questions", []),
        retired=[q for q in retired if q.key not in active],
        warnings=service.warnings(doc),
        import_problems=import_problems or [],
        locked=service.has_entries(db(), campaign),
    ), status


@bp.get("/campaigns/<int:campaign_id>/questions")
@manage_campaigns
def editor_questions(campaign_id: int) -> ResponseReturnValue:
    campaign = _campaign_or_404(campaign_id)
    return _bank_page(campaign, document_of(db(), campaign))


QUESTION_FIELDS = ("key", "kind", "category", "text", "options", "correct", "explanation")


def _question_values(table: dict[str, Any]) -> dict[str, str]:
    correct = table.get("correct") or ""
    return {
        "key": str(table.get("key", "")),
        "kind": str(table.get("kind", "knowledge")),
        "category": str(table.get("category") or ""),
        "text": str(table.get("text", "")),
        "options": "\n".join(table.get("options") or []),
        "correct": ",".join(correct) if isinstance(correct, list) else str(correct),
        "multiple": "1" if table.get("multiple") else "",
        "explanation": str(table.get("explanation") or ""),
    }


def _posted_question() -> dict[str, Any]:
    table: dict[str, Any] = {"key": _form("key"), "kind": _form("kind")}
    if _form("category"):
        table["category"] = _form("category")
    table["text"] = _form("text")
    # Every line is an option: an empty line between two is an empty option (refused).
    lines = [line.strip() for line in _form("options").splitlines()]
    table["options"] = lines
    if request.form.get("multiple"):
        table["multiple"] = True
    correct = [c for c in _form("correct").upper().replace(",", ",").split(",") if c.strip()]
    if table["kind"] == "knowledge":
        table["correct"] = correct[0].strip() if len(correct) == 1 else [c.strip() for c in correct]
    if _form("explanation"):
        table["explanation"] = _form("explanation")
    return table


@bp.route("/campaigns/<int:campaign_id>/questions/new", methods=["GET", "POST"])
@manage_campaigns
def editor_question_new(campaign_id: int) -> ResponseReturnValue:
    return _question_view(campaign_id, None)


@bp.route("/campaigns/<int:campaign_id>/questions/<key>/edit", methods=["GET", "POST"])
@manage_campaigns
def editor_question(campaign_id: int, key: str) -> ResponseReturnValue:
    return _question_view(campaign_id, key)


def _question_view(campaign_id: int, key: str | None) -> ResponseReturnValue:
    campaign = _campaign_or_404(campaign_id)
    doc = document_of(db(), campaign)
    keys = [q["key"] for q in doc.get("questions", [])]
    if key is not None and key not in keys:
        abort(404)
    if request.method == "GET":
        table = doc["questions"][keys.index(key)] if key else {"kind": "knowledge"}
        return render_template(
            "admin/campaign_question.html",
            campaign=campaign,
            key=key,
            values=_question_values(table),
            problems={},
            letters=OPTION_KEYS,
        )
    table = _posted_question()
    index = keys.index(key) if key else len(keys)
    problems: dict[str, list[str]] = {}
    if table["kind"] not in ("knowledge", "intent"):
        problems["kind"] = ["请选择题型。"]
    elif table["key"] in keys and table["key"] != key:
        problems["key"] = ["题库中已有这个题目编号。"]
    else:
        service.put_question(doc, table, replacing=key)
        try:
            service.save(db(), campaign, doc, current_staff(), ip=request.remote_addr)
        except EditorError as exc:
            db().rollback()
            prefix = f"questions[{index}]."
            for path, messages in exc.problems.items():
                field = path.removeprefix(prefix) if path.startswith(prefix) else ""
                problems.setdefault(field if field in QUESTION_FIELDS else "", []).extend(messages)
    if problems:
        return render_template(
            "admin/campaign_question.html",
            campaign=_campaign_or_404(campaign_id),
            key=key,
            values=_question_values(table),
            problems=problems,
            letters=OPTION_KEYS,
        ), 422
    db().commit()
    flash(f"题目“{table['key']}”已保存。", "success")
    return redirect(url_for("admin.editor_questions", campaign_id=campaign_id))


def _bank_change(campaign_id: int, change: Any, done: str) -> ResponseReturnValue:
    campaign = _campaign_or_404(campaign_id)
    doc = document_of(db(), campaign)
    try:
        change(doc, campaign)
        service.save(db(), campaign, doc, current_staff(), ip=request.remote_addr)
    except EditorError as exc:
        db().rollback()
        messages = [m for ms in exc.problems.values() for m in ms]
        campaign = _campaign_or_404(campaign_id)
        return _bank_page(campaign, document_of(db(), campaign), messages, 422)
    db().commit()
    flash(done, "success")
    return redirect(url_for("admin.editor_questions", campaign_id=campaign_id))


@bp.post("/campaigns/<int:campaign_id>/questions/<key>/move")
@manage_campaigns
def editor_question_move(campaign_id: int, key: str) -> ResponseReturnValue:
    delta = -1 if request.form.get("direction") == "up" else 1
    return _bank_change(
        campaign_id, lambda doc, _: service.move_question(doc, key, delta), "顺序已调整。"
    )


@bp.post("/campaigns/<int:campaign_id>/questions/<key>/retire")
@manage_campaigns
def editor_question_retire(campaign_id: int, key: str) -> ResponseReturnValue:
    return _bank_change(
        campaign_id, lambda doc, _: service.retire_question(doc, key), f"题目“{key}”已停用。"
    )


@bp.post("/campaigns/<int:campaign_id>/questions/<key>/restore")
@manage_campaigns
def editor_question_restore(campaign_id: int, key: str) -> ResponseReturnValue:
    return _bank_change(
        campaign_id,
        lambda doc, campaign: service.restore_question(db(), campaign, doc, key),
        f"题目“{key}”已恢复。",
    )


@bp.post("/campaigns/<int:campaign_id>/questions/import")
@manage_campaigns
@takes_uploads
def editor_import(campaign_id: int) -> ResponseReturnValue:
    campaign = _campaign_or_404(campaign_id)
    doc = document_of(db(), campaign)
    upload = request.files.get("file")
    try:
        if upload is None or not upload.filename:
            raise BankImportError([(None, "文件", "请选择要导入的 .xlsx 文件。")])
        data = upload.read(2 * 1024 * 1024 + 1)
        rows = read_bank_xlsx(data)
        merged = service.merge_bank(doc, rows)
        service.save(db(), campaign, merged, current_staff(), ip=request.remote_addr)
    except BankImportError as exc:
        db().rollback()
        return _bank_page(campaign, doc, [describe(p) for p in exc.problems], 422)
    except EditorError as exc:
        db().rollback()
        messages = [m for ms in exc.problems.values() for m in ms]
        return _bank_page(_campaign_or_404(campaign_id), doc, messages, 422)
    db().commit()
    flash(f"已导入 {len(rows)} 道题。", "success")
    return redirect(url_for("admin.editor_questions", campaign_id=campaign_id))


@bp.get("/campaigns/<int:campaign_id>/questions.xlsx")
@manage_campaigns
def editor_export_bank(campaign_id: int) -> ResponseReturnValue:
    campaign = _campaign_or_404(campaign_id)
    data = bank_to_xlsx(document_of(db(), campaign).get("questions", []))
    name = f"{campaign.slug}-questions.xlsx"
    return (
        data,
        200,
        {
            "Content-Type": XLSX,
            "Content-Disposition": f'attachment; filename="{name}"',
        },
    )


@bp.get("/campaigns/bank-template.xlsx")
@manage_campaigns
def editor_bank_template() -> ResponseReturnValue:
    return (
        template_xlsx(),
        200,
        {
            "Content-Type": XLSX,
            "Content-Disposition": 'attachment; filename="question-bank-template.xlsx"',
        },
    )


@bp.get("/campaigns/<int:campaign_id>/preview")
@manage_campaigns
def editor_preview(campaign_id: int) -> ResponseReturnValue:
    campaign = _campaign_or_404(campaign_id)
    token = preview_token(campaign.id)
    first = {"staff_contest": "竞赛登录页", "list_draw": "抽奖公示页"}.get(campaign.kind, "活动页")
    labels = {
        "campaign": first,
        "register": "信息登记",
        "question": "知识题",
        "intent": "意向题",
        "result": "答题结果",
        "privacy": "个人信息处理规则",
    }
    pages = [(page, labels[page]) for page in preview_pages(campaign.kind)]
    return render_template(
        "admin/campaign_preview.html", campaign=campaign, token=token, pages=pages
    )


@bp.post("/campaigns/<int:campaign_id>/publish")
@manage_campaigns
def editor_publish(campaign_id: int) -> ResponseReturnValue:
    campaign = _campaign_or_404(campaign_id)
    service.publish(db(), campaign, current_staff(), ip=request.remote_addr)
    db().commit()
    flash(f"“{campaign.name}”已发布,将在开始时间后对公众开放。", "success")
    return redirect(url_for("admin.editor_settings", campaign_id=campaign_id))
