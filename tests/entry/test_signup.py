"""The participant's path through the services, without HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from quiz.campaign.lifecycle import Closed, FlowError, NotOpen, current_campaign, window_state
from quiz.engine.bank import choose_questions, question_bank
from quiz.engine.sheets import (
    OPT_OUT_TEXT,
    AnswerError,
    answer_on_sheet,
    outcome_of,
    record_answer,
    sheet_of,
    sheet_of_participant,
)
from quiz.entry import signup
from quiz.entry.signup import AlreadyRegistered, NotFound, items_of, register, resume
from quiz.models import Participant, Question, QuizItem
from tests.factories import consent, make_participant, make_resident_id, registration


def campaign_of(session):
    return current_campaign(session)


def test_registration_assigns_random_subset_then_intent(session, protector):
    campaign = campaign_of(session)
    p = make_participant(session, protector, campaign, 1, seed=7)
    items = items_of(session, p)
    kinds = [it.question.kind for it in items]
    per = campaign.content["questions_per_participant"]
    assert kinds[:per] == ["knowledge"] * per
    assert set(kinds[per:]) == {"intent"} and len(kinds) > per
    other = make_participant(session, protector, campaign, 2, seed=8)
    assert [i.question_id for i in items_of(session, other)][:per] != [
        i.question_id for i in items
    ][:per]


def test_answers_in_order_and_score(session, protector):
    campaign = campaign_of(session)
    p = make_participant(session, protector, campaign, 3)
    items = items_of(session, p)
    with pytest.raises(AnswerError, match="按顺序"):
        record_answer(session, p, 2, [items[1].question.options[0]["key"]])
    expected = 0
    for it in items:
        q = it.question
        key = q.correct[0] if q.correct and it.position % 2 else q.options[-1]["key"]
        if q.correct:
            expected += key in q.correct and len(q.correct) == 1
        record_answer(session, p, it.position, [key])
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
    sheet = sheet_of(session, campaign.id, p.public_id)
    assert sheet is not None and sheet.total == len(items_of(session, p))
    assert sheet_of(session, campaign.id + 1, p.public_id) is None
    assert sheet_of(session, campaign.id, "no-such-entry") is None


def test_double_tap_is_harmless_but_changes_refused(session, protector):
    campaign = campaign_of(session)
    p = make_participant(session, protector, campaign, 4)
    first = items_of(session, p)[0]
    keys = [o["key"] for o in first.question.options]
    record_answer(session, p, 1, [keys[0]])
    record_answer(session, p, 1, [keys[0]])
    with pytest.raises(AnswerError, match="不能修改"):
        record_answer(session, p, 1, [keys[1]])
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
    read_by_both = sheet_of_participant(session, p.id)
    bank = question_bank(session, campaign.id)
    first = items_of(session, p)[0]
    key = first.question.options[0]["key"]
    stored = answer_on_sheet(session, campaign, bank, read_by_both, 1, [key])
    late = answer_on_sheet(session, campaign, bank, read_by_both, 1, [key])
    assert stored.next.position == late.next.position == 2
    with pytest.raises(AnswerError, match="不能修改"):
        other = first.question.options[1]["key"]
        answer_on_sheet(session, campaign, bank, read_by_both, 1, [other])


def test_invalid_choices_refused(session, protector):
    campaign = campaign_of(session)
    p = make_participant(session, protector, campaign, 5)
    with pytest.raises(AnswerError):
        record_answer(session, p, 1, ["Z"])
    with pytest.raises(AnswerError, match="单选"):
        record_answer(session, p, 1, ["A", "B"])
    with pytest.raises(AnswerError):
        record_answer(session, p, 1, [])


def test_one_entry_per_id_number(session, protector):
    campaign = campaign_of(session)
    p = make_participant(session, protector, campaign, 6)
    with pytest.raises(AlreadyRegistered) as info:
        register(
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

    from quiz.entry.age import UNDERAGE_MESSAGE

    campaign = campaign_of(session)
    now = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)  # 2 December 00:00 in Beijing
    campaign.opens_at = now - timedelta(days=1)
    campaign.closes_at = now + timedelta(days=1)
    minor = make_resident_id("420102", birth=date(2008, 12, 3), seq=5)
    with pytest.raises(FlowError, match="年满18周岁") as info:
        register(
            session, protector, campaign, registration(5, resident_id=minor), consent(now), now=now
        )
    assert str(info.value) == UNDERAGE_MESSAGE
    assert session.scalar(select(func.count()).select_from(Participant)) == 0
    birthday = make_resident_id("420102", birth=date(2008, 12, 2), seq=6)
    entry = register(
        session, protector, campaign, registration(6, resident_id=birthday), consent(now), now=now
    )
    assert entry.adult is True


def test_a_conflicting_entry_erased_meanwhile_is_a_clear_refusal(session, protector, monkeypatch):
    """The insert met the ID number's entry, which was gone when looked up: a message to
    submit again, not a crash."""
    campaign = campaign_of(session)
    make_participant(session, protector, campaign, 16)
    monkeypatch.setattr(signup, "_entry_with_id_hash", lambda *_: None)
    with pytest.raises(FlowError, match="请重新提交"):
        register(session, protector, campaign, registration(16), consent())


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
    found = resume(session, protector, campaign, reg.resident_id.number, reg.mobile)
    assert found.id == p.id
    with pytest.raises(NotFound):
        resume(session, protector, campaign, reg.resident_id.number, "13900000000")


def test_window_closed_refuses_registration_and_answers(session, protector):
    campaign = campaign_of(session)
    p = make_participant(session, protector, campaign, 11)
    later = campaign.closes_at + timedelta(seconds=1)
    with pytest.raises(Closed):
        register(session, protector, campaign, registration(12), consent(), now=later)
    with pytest.raises(Closed):
        record_answer(session, p, 1, ["A"], now=later)
    early = campaign.opens_at - timedelta(seconds=1)
    with pytest.raises(NotOpen):
        register(session, protector, campaign, registration(13), consent(), now=early)
    assert window_state(campaign, datetime.now(UTC)) == "open"


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
    for it in items_of(session, p):
        options = it.question.options
        pick = next((o["key"] for o in options if o["text"] == OPT_OUT_TEXT), options[0]["key"])
        record_answer(session, p, it.position, [pick])
    session.refresh(p)
    assert p.status == "completed" and p.contact_opt_out is True
    other = make_participant(session, protector, campaign, 17, complete=True)
    assert other.contact_opt_out is False


# Scoring: multi-select questions, every option, empty answers, the score's maximum.


def _multi_select_first_question(session, participant, correct):
    """Make the participant's first question a multi-select one with these right keys."""
    from quiz.models import Question

    first = items_of(session, participant)[0]
    question = session.get(Question, first.question_id)
    question.multiple, question.correct = True, correct
    session.flush()
    return question


def _finish_with_wrong_answers(session, participant):
    """Answer every remaining question with an option that is never right (or intent)."""
    for it in items_of(session, participant, fresh=True):
        if it.answer is not None:
            continue
        q = it.question
        wrong = next((o["key"] for o in q.options if o["key"] not in (q.correct or [])), None)
        record_answer(session, participant, it.position, [wrong])


@pytest.mark.parametrize(
    ("answer", "right"),
    [
        (["A", "C"], True),
        (["C", "A"], True),  # the order of the ticked boxes does not matter
        (["C", "A", "C"], True),  # nor a key sent twice
        (["A"], False),  # half right is wrong
        (["A", "B", "C"], False),  # ticking every option is not a way to score
    ],
)
def test_multi_select_is_scored_as_a_set(session, protector, answer, right):
    campaign = campaign_of(session)
    p = make_participant(session, protector, campaign, 11)
    question = _multi_select_first_question(session, p, ["A", "C"])
    assert [o["key"] for o in question.options] == ["A", "B", "C"]
    sheet = record_answer(session, p, 1, answer)
    assert sheet.items[0].answer == sorted(set(answer))
    assert sheet.items[0].is_correct is right
    assert sheet.next is not None and sheet.next.position == 2
    _finish_with_wrong_answers(session, p)
    session.refresh(p)
    assert p.status == "completed" and p.score == int(right)


def test_a_multi_select_double_tap_in_another_order_is_the_same_answer(session, protector):
    campaign = campaign_of(session)
    p = make_participant(session, protector, campaign, 12)
    _multi_select_first_question(session, p, ["A", "C"])
    record_answer(session, p, 1, ["A", "C"])
    assert record_answer(session, p, 1, ["C", "A"]).items[0].answer == ["A", "C"]
    with pytest.raises(AnswerError) as refused:
        record_answer(session, p, 1, ["A"])
    assert str(refused.value) == "本题已作答,答案不能修改。"


@pytest.mark.parametrize(
    ("position", "choices", "message"),
    [
        (1, [], "请选择一个答案。"),  # an empty multi-select POST, as a script can send
        (1, ["A", "Z"], "所选答案无效,请重新选择。"),
        (99, ["A"], "题目不存在,请返回继续答题。"),
        (2, ["A"], "请按顺序答题。"),
    ],
)
def test_refused_answers_say_why_and_store_nothing(session, protector, position, choices, message):
    campaign = campaign_of(session)
    p = make_participant(session, protector, campaign, 13)
    _multi_select_first_question(session, p, ["A", "C"])
    with pytest.raises(AnswerError) as refused:
        record_answer(session, p, position, choices)
    assert str(refused.value) == message
    assert all(it.answer is None for it in items_of(session, p, fresh=True))


def test_single_choice_refuses_two_answers_in_full(session, protector):
    p = make_participant(session, protector, campaign_of(session), 14)
    with pytest.raises(AnswerError) as refused:
        record_answer(session, p, 1, ["A", "B"])
    assert str(refused.value) == "本题为单选题,请只选择一个答案。"


@pytest.mark.parametrize("per", [1, 3, 1000])
def test_questions_per_participant_sets_the_count_and_the_maximum(session, protector, per):
    import random

    campaign = campaign_of(session)
    campaign.content = {**campaign.content, "questions_per_participant": per}
    session.flush()
    bank = question_bank(session, campaign.id)
    ids, total = choose_questions(session, campaign, rng=random.Random(3), bank=bank)
    expected = min(per, len(bank.knowledge))
    assert total == expected
    assert len(set(ids[:expected])) == expected and set(ids[:expected]) <= set(bank.knowledge)
    assert ids[expected:] == list(bank.intent)
    p = make_participant(session, protector, campaign, 15, complete=True)
    session.refresh(p)
    assert p.total == expected
    assert sum(it.question.kind == "knowledge" for it in items_of(session, p)) == expected


def test_score_counts_right_answers_and_intent_is_kept_as_labels(session, protector):
    campaign = campaign_of(session)
    p = make_participant(session, protector, campaign, 16)
    right = 0
    for it in items_of(session, p):
        q = it.question
        if q.kind == "knowledge":
            key = (
                q.correct[0]
                if it.position in (1, 3)
                else next(o["key"] for o in q.options if o["key"] not in q.correct)
            )
            right += it.position in (1, 3)
            sheet = record_answer(session, p, it.position, [key])
        else:
            keys = (
                [q.options[1]["key"], q.options[0]["key"]] if q.multiple else [q.options[1]["key"]]
            )
            sheet = record_answer(session, p, it.position, keys)
    assert sheet.status == "completed" and sheet.next is None
    session.refresh(p)
    assert p.score == right == 2
    bank = question_bank(session, campaign.id)
    intents = [bank.by_id[i] for i in bank.intent]
    assert p.intent == {
        q.key: [o["text"] for o in q.options[:2]] if q.multiple else [q.options[1]["text"]]
        for q in intents
    }
    # The level is the first intent question's first ticked option, in key order.
    assert p.intent_level == intents[0].options[0]["text"][:32]
    outcome = outcome_of(session, sheet, bank)
    assert (outcome.score, outcome.total) == (2, p.total)
    assert [q.id for _it, q in outcome.reviews] == [it.question_id for it in sheet.items]
    assert outcome.mobile_masked == p.mobile_masked


def test_no_outcome_while_questions_remain(session, protector):
    campaign = campaign_of(session)
    p = make_participant(session, protector, campaign, 17)
    sheet = record_answer(session, p, 1, ["A"])
    assert sheet.status != "completed"
    assert outcome_of(session, sheet, question_bank(session, campaign.id)) is None


def test_an_entry_without_intent_questions_completes_with_contact_allowed(session, protector):
    campaign = campaign_of(session)
    session.execute(
        update(Question)
        .where(Question.campaign_id == campaign.id, Question.kind == "intent")
        .values(active=False)
    )
    p = make_participant(session, protector, campaign, 18, complete=True)
    session.refresh(p)
    assert p.status == "completed"
    assert p.intent == {} and p.intent_level is None
    # Nobody declined contact: False, not unknown (the back office filters on it).
    assert p.contact_opt_out is False


def test_the_intent_level_keeps_the_first_32_characters_of_the_option(session, protector):
    campaign = campaign_of(session)
    first = session.get(Question, question_bank(session, campaign.id).intent[0])
    first.options = [
        {**option, "text": "很" * 40} if i == 0 else option
        for i, option in enumerate(first.options)
    ]
    session.flush()
    p = make_participant(session, protector, campaign, 20, complete=True)  # first options
    session.refresh(p)
    assert p.intent_level == "很" * 32  # the column's width
