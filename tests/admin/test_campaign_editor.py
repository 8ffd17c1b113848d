"""The campaign editor over HTTP: access, bad input by field with a 4xx and nothing saved."""

from __future__ import annotations

import io
import re

import openpyxl
import pytest
from sqlalchemy import func, select

from quiz.campaign.document import document_of
from quiz.campaign.lifecycle import current_campaign
from quiz.editor.bank_xlsx import COLUMNS
from quiz.models import Campaign, Question
from tests.factories import login_as, make_participant, make_staff


@pytest.fixture
def editor(client, session):
    user = make_staff(session, "editor1", "admin")
    session.commit()
    login_as(client, user)
    return user


@pytest.fixture
def campaign(session):
    found = current_campaign(session)
    session.commit()  # the test session must not hold SQLite's write lock during requests
    return found


def token(client, path):
    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html).group(1)


def settings_form(client, campaign_id):
    """The settings form as the page fills it."""
    html = client.get(f"/admin/campaigns/{campaign_id}/edit").get_data(as_text=True)
    data = {}
    inputs = r'<input id="[^"]+" name="([^"]+)" type="([^"]+)" value="([^"]*)"( checked)?'
    for m in re.finditer(inputs, html):
        if m.group(2) == "checkbox" and not m.group(4):
            continue  # a browser posts only the ticked boxes
        data[m.group(1)] = m.group(3).replace("&#34;", '"').replace("&amp;", "&")
    for m in re.finditer(r'<textarea id="[^"]+" name="([^"]+)"[^>]*>([^<]*)</textarea>', html):
        data[m.group(1)] = (
            m.group(2).replace("&#34;", '"').replace("&amp;", "&").replace("&#39;", "'")
        )
    data["csrf_token"] = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    return data


def test_branch_staff_never_reach_the_editor(client, session, campaign):
    from quiz.models import Branch

    branch = session.scalars(select(Branch)).first()
    user = make_staff(session, "branch1", "branch", branch_id=branch.id)
    session.commit()
    login_as(client, user)
    for path in (
        "/admin/campaigns",
        f"/admin/campaigns/{campaign.id}/edit",
        f"/admin/campaigns/{campaign.id}/questions",
    ):
        assert client.get(path).status_code == 403


def test_settings_round_trip_saves_a_new_name(client, session, editor, campaign):
    data = settings_form(client, campaign.id)
    data["campaign.name"] = "改过的活动名称"
    resp = client.post(f"/admin/campaigns/{campaign.id}/edit", data=data)
    assert resp.status_code == 302, resp.get_data(as_text=True)[:3000]
    session.expire_all()
    assert session.get(Campaign, campaign.id).name == "改过的活动名称"


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("campaign.closes_at", "2020-01-01T00:00", "结束时间必须晚于开始时间"),
        ("campaign.slug", "my quiz", "不能有空格"),
        ("quiz.questions_per_participant", "五", "请填写整数"),
    ],
)
def test_bad_settings_are_named_by_field_and_nothing_is_saved(
    client, session, editor, campaign, field, value, words
):
    before = campaign.content_sha256
    session.commit()
    data = settings_form(client, campaign.id)
    data[field] = value
    resp = client.post(f"/admin/campaigns/{campaign.id}/edit", data=data)
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    fid = "f-" + field.replace(".", "-")
    assert re.search(rf'id="{fid}-error" role="alert">[^<]*{words}', html), html[:4000]
    session.expire_all()
    assert session.get(Campaign, campaign.id).content_sha256 == before


def test_a_slug_another_campaign_uses_is_refused(client, session, editor, campaign):
    resp = client.post(
        "/admin/campaigns/new",
        data={
            "csrf_token": token(client, "/admin/campaigns"),
            "source": "template:prize_quiz",
            "name": "第二期",
            "slug": campaign.slug,
        },
    )
    assert resp.status_code == 422
    assert "已被活动" in resp.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(Campaign)) == 1
    session.commit()


def question_post(client, campaign_id, **changes):
    data = {
        "csrf_token": token(client, f"/admin/campaigns/{campaign_id}/questions/new"),
        "key": "new-q1",
        "kind": "knowledge",
        "text": "新题目?",
        "options": "甲\n乙\n丙",
        "correct": "B",
    }
    data.update(changes)
    return client.post(f"/admin/campaigns/{campaign_id}/questions/new", data=data)


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"options": "甲\n\n丙"}, "options", "选项不能为空"),
        ({"options": ""}, "options", "需要 2 至 6 个"),
        ({"correct": "A,B"}, "correct", "单选题只能有一个正确答案"),
        ({"key": "has space"}, "key", "题目编号只能"),
    ],
)
def test_bad_questions_are_named_by_field_and_nothing_is_saved(
    client, session, editor, campaign, changes, field, words
):
    resp = question_post(client, campaign.id, **changes)
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert re.search(rf'id="f-{field}-error" role="alert">[^<]*{words}', html), html[-3000:]
    assert session.scalar(select(Question).where(Question.key == "new-q1")) is None


def test_a_question_added_by_hand_is_saved(client, session, editor, campaign):
    assert question_post(client, campaign.id).status_code == 302
    q = session.scalar(select(Question).where(Question.key == "new-q1"))
    assert q.options[1]["text"] == "乙" and q.correct == ["B"]


def xlsx(rows, *, formula_at=None):
    book = openpyxl.Workbook()
    ws = book.active
    ws.append(list(COLUMNS))
    for row in rows:
        ws.append(row)
    if formula_at:
        ws[formula_at] = "=1+1"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def row(key, text="题目?"):
    return [key, "知识题", "", text, "甲", "乙", "丙", "", "", "", "", "", "", "", "A", "否", ""]


@pytest.mark.parametrize(
    ("data", "name", "words"),
    [
        (xlsx([row("x1")], formula_at="D2"), "bank.xlsx", "第 2 行 题目:不接受公式"),
        (xlsx([row("x1"), row("x2", "长" * 10_000)]), "bank.xlsx", "第 3 行 题目:共 10000 个字"),
        (b"key,kind\nx1,knowledge\n", "bank.csv", ".xlsx"),
    ],
)
def test_a_bad_upload_is_listed_and_nothing_is_imported(
    client, session, editor, campaign, data, name, words
):
    before = document_of(session, campaign)["questions"]
    session.commit()
    resp = client.post(
        f"/admin/campaigns/{campaign.id}/questions/import",
        data={
            "csrf_token": token(client, f"/admin/campaigns/{campaign.id}/questions"),
            "file": (io.BytesIO(data), name),
        },
        content_type="multipart/form-data",
    )
    assert resp.status_code == 422
    assert words in resp.get_data(as_text=True)
    session.expire_all()
    assert document_of(session, campaign)["questions"] == before


def test_editing_the_answer_key_after_the_first_entry_is_refused_with_the_reason(
    client, session, protector, editor, campaign
):
    make_participant(session, protector, campaign)
    session.commit()
    doc = document_of(session, campaign)
    session.commit()
    first = doc["questions"][0]
    page = f"/admin/campaigns/{campaign.id}/questions/{first['key']}/edit"
    resp = client.post(
        page,
        data={
            "csrf_token": token(client, page),
            "key": first["key"],
            "kind": "knowledge",
            "text": first["text"],
            "options": "\n".join(first["options"]),
            "correct": "B" if first["correct"] != "B" else "A",
        },
    )
    assert resp.status_code == 422
    assert "已有人参加本活动,不能修改已有题目的正确答案" in resp.get_data(as_text=True)
    session.expire_all()
    assert session.scalar(select(Question.correct).where(Question.key == first["key"])) == [
        first["correct"]
    ]


def test_the_preview_frames_every_public_page(client, session, editor, campaign):
    html = client.get(f"/admin/campaigns/{campaign.id}/preview").get_data(as_text=True)
    frames = re.findall(r'<iframe title="[^"]+" width="390" height="844" src="([^"]+)"', html)
    assert len(frames) == 6
    for src in frames:
        page = client.get(src)
        assert page.status_code == 200, src
        assert "frame-ancestors 'self'" in page.headers["Content-Security-Policy"]
    assert client.get(frames[0].replace("/preview/", "/preview/x")).status_code == 404


def test_campaign_edits_read_in_chinese_in_the_audit_log(session, campaign):
    from datetime import timedelta

    from quiz.admin.audit_text import describe
    from quiz.editor import service
    from quiz.models import AuditLog

    doc = document_of(session, campaign)
    doc["campaign"]["closes_at"] += timedelta(days=1)
    service.save(session, campaign, doc, None)
    entry = session.scalar(select(AuditLog).where(AuditLog.action == "campaign.window"))
    line = describe(session, entry)
    assert line.action == "修改活动时间" and line.target == f"活动 {campaign.id}"
    assert len(line.details) == 1 and line.details[0].startswith("结束时间:")
    session.rollback()


def test_a_changed_privacy_notice_is_agreed_to_again(client, session, campaign):
    from quiz.editor import service

    agreed = client.post("/consent", data={"agree_rules": "y", "agree_sensitive": "y"})
    assert agreed.status_code == 302
    assert client.get("/register").status_code == 200
    doc = document_of(session, campaign)
    doc["privacy"]["notice"].append("新增的一段。")
    service.save(session, campaign, doc, None)
    session.commit()
    current_app_cache_clear(client)
    again = client.get("/register")
    assert again.status_code == 302 and "#consent" in again.headers["Location"]


def current_app_cache_clear(client):
    client.application.extensions["quiz.campaign"].clear()


def test_the_campaign_permission_belongs_to_head_office_only(session):
    from quiz.staff.auth import has_permission

    roles = {role: make_staff(session, f"u-{role}", role) for role in ("admin", "analyst")}
    assert all(has_permission(user, "manage_campaigns") for user in roles.values())
    from quiz.models import Branch

    branch = session.scalars(select(Branch)).first()
    clerk = make_staff(session, "u-branch", "branch", branch_id=branch.id)
    assert not has_permission(clerk, "manage_campaigns")
    assert not has_permission(roles["admin"], "no_such_permission")
    session.rollback()
