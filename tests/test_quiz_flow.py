"""The participant's path through the services, without HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from quiz import quiz_flow
from quiz.models import Participant, QuizItem
from tests.factories import consent, make_participant, make_resident_id, registration


def campaign_of(session):
    return quiz_flow.current_campaign(session)


def test_registration_assigns_random_subset_then_intent(session, protector):
    campaign = campaign_of(session)
    p = make_participant(session, protector, campaign, 1, seed=7)
    items = quiz_flow.items_of(session, p)
    kinds = [it.question.kind for it in items]
    per = campaign.content["questions_per_participant"]
    assert kinds[:per] == ["knowledge"] * per
    assert set(kinds[per:]) == {"intent"} and len(kinds) > per
    other = make_participant(session, protector, campaign, 2, seed=8)
    assert [i.question_id for i in quiz_flow.items_of(session, other)][:per] != [
        i.question_id for i in items
    ][:per]


def test_answers_in_order_and_score(session, protector):
    campaign = campaign_of(session)
    p = make_participant(session, protector, campaign, 3)
    items = quiz_flow.items_of(session, p)
    with pytest.raises(quiz_flow.AnswerError, match="按顺序"):
        quiz_flow.record_answer(session, p, 2, [items[1].question.options[0]["key"]])
    expected = 0
    for it in items:
        q = it.question
        key = q.correct[0] if q.correct and it.position % 2 else q.options[-1]["key"]
        if q.correct:
            expected += key in q.correct and len(q.correct) == 1
        quiz_flow.record_answer(session, p, it.position, [key])
    session.refresh(p)
    assert p.status == "completed"
    assert p.score == expected
    # The score's maximum is the number of knowledge questions given, set apart from them.
    per_participant = int(campaign.content.get("questions_per_participant", 5))
    assert p.total == per_participant == sum(it.question.kind == "knowledge" for it in items)
    assert p.intent and p.intent_level


def test_a_sheet_is_found_only_in_its_own_campaign(session, protector):
    campaign = campaign_of(session)
    p = make_participant(session, protector, campaign, 7)
    sheet = quiz_flow.sheet_of(session, campaign.id, p.public_id)
    assert sheet is not None and sheet.total == len(quiz_flow.items_of(session, p))
    assert quiz_flow.sheet_of(session, campaign.id + 1, p.public_id) is None
    assert quiz_flow.sheet_of(session, campaign.id, "no-such-entry") is None


def test_double_tap_is_harmless_but_changes_refused(session, protector):
    campaign = campaign_of(session)
    p = make_participant(session, protector, campaign, 4)
    first = quiz_flow.items_of(session, p)[0]
    keys = [o["key"] for o in first.question.options]
    quiz_flow.record_answer(session, p, 1, [keys[0]])
    quiz_flow.record_answer(session, p, 1, [keys[0]])
    with pytest.raises(quiz_flow.AnswerError, match="不能修改"):
        quiz_flow.record_answer(session, p, 1, [keys[1]])
    answered = session.scalar(
        select(func.count())
        .select_from(QuizItem)
        .where(QuizItem.participant_id == p.id, QuizItem.answer.is_not(None))
    )
    assert answered == 1


def test_a_tap_that_lost_the_race_still_moves_on_to_the_next_question(session, protector):
    """Two taps read the sheet before either stored: the one that stores nothing returns
    a sheet whose next question is question 2, the page its reply shows, not question 1
    again."""
    campaign = campaign_of(session)
    p = make_participant(session, protector, campaign, 18)
    read_by_both = quiz_flow.sheet_of_participant(session, p.id)
    bank = quiz_flow.question_bank(session, campaign.id)
    first = quiz_flow.items_of(session, p)[0]
    key = first.question.options[0]["key"]
    stored = quiz_flow.answer_on_sheet(session, campaign, bank, read_by_both, 1, [key])
    late = quiz_flow.answer_on_sheet(session, campaign, bank, read_by_both, 1, [key])
    assert stored.next.position == late.next.position == 2
    with pytest.raises(quiz_flow.AnswerError, match="不能修改"):
        other = first.question.options[1]["key"]
        quiz_flow.answer_on_sheet(session, campaign, bank, read_by_both, 1, [other])


def test_invalid_choices_refused(session, protector):
    campaign = campaign_of(session)
    p = make_participant(session, protector, campaign, 5)
    with pytest.raises(quiz_flow.AnswerError):
        quiz_flow.record_answer(session, p, 1, ["Z"])
    with pytest.raises(quiz_flow.AnswerError, match="单选"):
        quiz_flow.record_answer(session, p, 1, ["A", "B"])
    with pytest.raises(quiz_flow.AnswerError):
        quiz_flow.record_answer(session, p, 1, [])


def test_one_entry_per_id_number(session, protector):
    campaign = campaign_of(session)
    p = make_participant(session, protector, campaign, 6)
    with pytest.raises(quiz_flow.AlreadyRegistered) as info:
        quiz_flow.register(
            session,
            protector,
            campaign,
            registration(6, mobile="13700000000"),
            consent(),
        )
    assert info.value.participant.id == p.id


def test_under_18s_are_refused_by_the_service_too(session, protector):
    """CLI and import callers get the form's rule: 18 on the Beijing date of entry."""
    from datetime import date

    from quiz.age import UNDERAGE_MESSAGE

    campaign = campaign_of(session)
    now = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)  # 2 December 00:00 in Beijing
    campaign.opens_at = now - timedelta(days=1)
    campaign.closes_at = now + timedelta(days=1)
    minor = make_resident_id("420102", birth=date(2008, 12, 3), seq=5)
    with pytest.raises(quiz_flow.FlowError, match="年满18周岁") as info:
        quiz_flow.register(
            session, protector, campaign, registration(5, resident_id=minor), consent(now), now=now
        )
    assert str(info.value) == UNDERAGE_MESSAGE
    assert session.scalar(select(func.count()).select_from(Participant)) == 0
    birthday = make_resident_id("420102", birth=date(2008, 12, 2), seq=6)
    entry = quiz_flow.register(
        session, protector, campaign, registration(6, resident_id=birthday), consent(now), now=now
    )
    assert entry.adult is True


def test_a_conflicting_entry_erased_meanwhile_is_a_clear_refusal(session, protector, monkeypatch):
    """The insert met the ID number's entry, which was gone when looked up: a message to
    submit again, not a crash."""
    campaign = campaign_of(session)
    make_participant(session, protector, campaign, 16)
    monkeypatch.setattr(quiz_flow, "_entry_with_id_hash", lambda *_: None)
    with pytest.raises(quiz_flow.FlowError, match="请重新提交"):
        quiz_flow.register(session, protector, campaign, registration(16), consent())


def test_same_mobile_other_id_is_flagged(session, protector):
    campaign = campaign_of(session)
    a = make_participant(session, protector, campaign, 7, mobile="13611112222")
    b = make_participant(session, protector, campaign, 8, mobile="13611112222")
    assert b.duplicate_mobile
    session.refresh(a)
    session.refresh(b)  # the saved flag, not only the returned object's
    assert a.duplicate_mobile and b.duplicate_mobile
    c = make_participant(session, protector, campaign, 9)
    assert not c.duplicate_mobile


def test_resume_needs_both_id_and_mobile(session, protector):
    campaign = campaign_of(session)
    p = make_participant(session, protector, campaign, 10)
    reg = registration(10)
    found = quiz_flow.resume(session, protector, campaign, reg.resident_id.number, reg.mobile)
    assert found.id == p.id
    with pytest.raises(quiz_flow.NotFound):
        quiz_flow.resume(session, protector, campaign, reg.resident_id.number, "13900000000")


def test_window_closed_refuses_registration_and_answers(session, protector):
    campaign = campaign_of(session)
    p = make_participant(session, protector, campaign, 11)
    later = campaign.closes_at + timedelta(seconds=1)
    with pytest.raises(quiz_flow.Closed):
        quiz_flow.register(session, protector, campaign, registration(12), consent(), now=later)
    with pytest.raises(quiz_flow.Closed):
        quiz_flow.record_answer(session, p, 1, ["A"], now=later)
    early = campaign.opens_at - timedelta(seconds=1)
    with pytest.raises(quiz_flow.NotOpen):
        quiz_flow.register(session, protector, campaign, registration(13), consent(), now=early)
    assert quiz_flow.window_state(campaign, datetime.now(UTC)) == "open"


def test_lead_routed_to_province_branch(session, protector):
    campaign = campaign_of(session)
    p = make_participant(session, protector, campaign, 1)  # 上海市浦东新区
    assert p.province_code == "310000"
    assert p.district_code == "310115"
    assert p.branch is not None and p.branch.name == "上海分公司"


def test_personal_data_stored_encrypted(session, protector):
    campaign = campaign_of(session)
    reg = registration(14)
    p = make_participant(session, protector, campaign, 14)
    assert reg.resident_id.number.encode() not in p.id_enc
    assert protector.decrypt(p.id_enc) == reg.resident_id.number
    assert protector.decrypt(p.mobile_enc) == reg.mobile
    assert p.mobile_masked == reg.mobile[:3] + "****" + reg.mobile[-4:]
    rows = session.scalars(select(Participant)).all()
    assert all(reg.mobile not in (r.mobile_masked or "") for r in rows)


def test_declining_contact_is_recorded_and_keeps_the_entry(session, protector):
    campaign = campaign_of(session)
    p = make_participant(session, protector, campaign, 16)
    for it in quiz_flow.items_of(session, p):
        options = it.question.options
        pick = next(
            (o["key"] for o in options if o["text"] == quiz_flow.OPT_OUT_TEXT), options[0]["key"]
        )
        quiz_flow.record_answer(session, p, it.position, [pick])
    session.refresh(p)
    assert p.status == "completed" and p.contact_opt_out is True
    other = make_participant(session, protector, campaign, 17, complete=True)
    assert other.contact_opt_out is False
