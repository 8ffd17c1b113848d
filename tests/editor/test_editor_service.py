"""The campaign editor's service, without HTTP: validation by field, locks, versions."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from quiz.campaign.document import campaign_toml, document_of
from quiz.campaign.spec import default_campaign_path, load_campaign_file, parse_campaign
from quiz.editor import service
from quiz.editor.service import EditorError
from quiz.models import AuditLog, Campaign, CampaignTextVersion, Question
from tests.factories import install_test_campaign, make_participant, make_staff


def _doc(session):
    campaign = install_test_campaign(session)
    return campaign, document_of(session, campaign)


def test_export_then_load_gives_the_same_campaign(session):
    """The campaign written back as its file parses to the spec it was loaded from."""
    original = load_campaign_file(default_campaign_path())
    from quiz.campaign.spec import install_campaign

    campaign = install_campaign(session, original)
    again = parse_campaign(campaign_toml(session, campaign))
    assert again.__dict__ | {"source_sha256": ""} == original.__dict__ | {"source_sha256": ""}


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (
            lambda d: d["questions"][0].update(options=["", "乙"]),
            "questions[0].options",
            "选项不能为空",
        ),
        (
            lambda d: d["questions"][0].update(correct=["A", "B"]),
            "questions[0].correct",
            "单选题只能有一个正确答案",
        ),
        (
            lambda d: d["campaign"].update(closes_at=datetime(2020, 1, 1)),
            "campaign.closes_at",
            "结束时间必须晚于开始时间",
        ),
        (
            lambda d: d["campaign"].update(slug="my quiz"),
            "campaign.slug",
            "不能有空格",
        ),
        (
            lambda d: d["questions"][0].update(options=[str(n) for n in range(7)]),
            "questions[0].options",
            "需要 2 至 6 个",
        ),
    ],
)
def test_bad_input_is_refused_by_field_in_chinese_and_nothing_is_saved(
    session, change, field, words
):
    campaign, doc = _doc(session)
    before = campaign.content_sha256
    change(doc)
    with pytest.raises(EditorError) as refused:
        service.save(session, campaign, doc, None)
    assert any(words in m for m in refused.value.problems[field])
    session.refresh(campaign)
    assert campaign.content_sha256 == before


def test_a_slug_another_campaign_uses_is_refused(session):
    campaign, doc = _doc(session)
    other = service.create(
        session, slug="second-quiz", name="第二期", actor=None, kind="prize_quiz"
    )
    doc2 = document_of(session, other)
    doc2["campaign"]["slug"] = campaign.slug
    with pytest.raises(EditorError) as refused:
        service.save(session, other, doc2, None)
    assert "已被活动" in refused.value.problems["campaign.slug"][0]


def test_create_from_template_is_a_draft_with_the_demo_bank_and_audited(session):
    staff = make_staff(session)
    campaign = service.create(
        session, slug="spring-2027", name="春季有奖竞答", actor=staff, kind="prize_quiz"
    )
    assert campaign.name == "春季有奖竞答"
    assert campaign.status == "draft" and campaign.kind == "prize_quiz"
    assert len([q for q in campaign.questions if q.active]) == 28
    entry = session.scalar(select(AuditLog).where(AuditLog.action == "campaign.create"))
    assert entry.detail == {"slug": "spring-2027", "from": "template:prize_quiz"}


def test_copy_keeps_the_bank_of_the_earlier_campaign(session):
    campaign, doc = _doc(session)
    service.retire_question(doc, doc["questions"][0]["key"])
    service.save(session, campaign, doc, None)
    copied = service.create(session, slug="copy-1", name="复制的活动", actor=None, copy_of=campaign)
    keys = [q["key"] for q in document_of(session, copied)["questions"]]
    assert keys == [q["key"] for q in doc["questions"]]


def test_after_the_first_entry_the_answer_key_and_chances_are_locked(session, protector):
    campaign, doc = _doc(session)
    make_participant(session, protector, campaign)
    changes = {
        "questions[0].correct": lambda d: d["questions"][0].update(
            correct="B" if d["questions"][0]["correct"] != "B" else "A"
        ),
        "quiz.questions_per_participant": lambda d: d["quiz"].update(questions_per_participant=4),
        "campaign.opens_at": lambda d: d["campaign"].update(
            opens_at=d["campaign"]["opens_at"].replace(year=2025)
        ),
        "prizes": lambda d: d["prizes"][0].update(count=100),
    }
    for field, change in changes.items():
        edited = copy.deepcopy(doc)
        change(edited)
        with pytest.raises(EditorError) as refused:
            service.save(session, campaign, edited, None)
        assert "已有人参加本活动" in refused.value.problems[field][0], field
    # A text change and a later closing time stay possible.
    doc["campaign"]["name"] = "新名称"
    doc["campaign"]["closes_at"] += timedelta(days=2)
    service.save(session, campaign, doc, None)
    assert campaign.name == "新名称"


def test_without_entries_the_answer_key_can_change(session):
    campaign, doc = _doc(session)
    doc["questions"][0]["correct"] = "B" if doc["questions"][0]["correct"] != "B" else "A"
    service.save(session, campaign, doc, None)
    q = session.scalar(select(Question).where(Question.key == doc["questions"][0]["key"]))
    assert q.correct == [doc["questions"][0]["correct"]]


def test_changed_texts_of_a_published_campaign_get_a_new_dated_version(session):
    staff = make_staff(session)
    campaign, doc = _doc(session)
    old_rules = campaign.content["rules_version"]
    doc["rules"]["paragraphs"].append("新增一条规则。")
    doc["privacy"]["notice"][0] += "(已更新)"
    service.save(session, campaign, doc, staff)
    assert campaign.content["rules_version"] != old_rules
    assert campaign.content["privacy_version"] != old_rules
    versions = session.scalars(
        select(CampaignTextVersion.version).where(CampaignTextVersion.kind == "rules")
    ).all()
    assert campaign.content["rules_version"] in versions
    entry = session.scalar(select(AuditLog).where(AuditLog.action == "campaign.text_version"))
    assert entry.detail["before"]["rules"] == old_rules


def test_a_window_change_is_audited_with_before_and_after(session):
    campaign, doc = _doc(session)
    from quiz.campaign.spec import LOCAL_TZ

    before = campaign.closes_at.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M:%S")
    doc["campaign"]["closes_at"] += timedelta(days=2)
    service.save(session, campaign, doc, None)
    entry = session.scalar(select(AuditLog).where(AuditLog.action == "campaign.window"))
    assert entry.detail["before"]["closes_at"] == before
    after = campaign.closes_at.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M:%S")
    assert entry.detail["after"]["closes_at"] == after != before


def test_bank_edits_reorder_retire_and_restore(session):
    campaign, doc = _doc(session)
    first, second = doc["questions"][0]["key"], doc["questions"][1]["key"]
    service.move_question(doc, second, -1)
    service.retire_question(doc, first)
    service.save(session, campaign, doc, None)
    retired = session.scalar(select(Question).where(Question.key == first))
    assert retired.active is False
    assert document_of(session, campaign)["questions"][0]["key"] == second
    doc = document_of(session, campaign)
    service.restore_question(session, campaign, doc, first)
    service.save(session, campaign, doc, None)
    assert retired.active is True


def test_warnings_name_a_letter_holding_most_answers_and_a_missing_opt_out(session):
    _, doc = _doc(session)
    assert service.warnings(doc) == []  # the shipped key is spread
    for q in doc["questions"]:
        if q["kind"] == "knowledge":
            q["correct"] = "A"
        elif "暂不需要联系" in q["options"]:
            q["options"].remove("暂不需要联系")
    found = service.warnings(doc)
    assert "正确答案是 A" in found[0]
    assert "暂不需要联系" in found[1]


def test_publish_is_audited_with_before_and_after(session):
    campaign = service.create(session, slug="pub-1", name="发布测试", actor=None, kind="prize_quiz")
    service.publish(session, campaign, None)
    entry = session.scalar(select(AuditLog).where(AuditLog.action == "campaign.publish"))
    assert entry.detail["after"] == {"status": "published"}
    assert session.get(Campaign, campaign.id).status == "published"
