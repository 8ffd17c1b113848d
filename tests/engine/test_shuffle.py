"""Option order per participant: stable for the entrant, different across entrants."""

from __future__ import annotations

from quiz.engine.shuffle import letter_spread, option_order, shown_options

KEYS = ["A", "B", "C", "D"]


def test_the_order_is_stable_for_one_entrant_and_question():
    assert option_order("p1", "k01", KEYS) == option_order("p1", "k01", KEYS)
    assert sorted(option_order("p1", "k01", KEYS)) == KEYS


def test_entrants_see_different_orders_and_the_first_shown_option_varies():
    firsts = {option_order(f"p{n}", "k01", KEYS)[0] for n in range(200)}
    assert firsts == set(KEYS)
    orders = {tuple(option_order("p1", f"k{n}", KEYS)) for n in range(50)}
    assert len(orders) > 5


def test_shown_options_are_lettered_by_position_and_keep_their_key():
    options = [{"key": k, "text": f"选项{k}"} for k in KEYS]
    shown = shown_options("p9", "k01", options)
    assert [o["letter"] for o in shown] == KEYS
    assert all(o["text"] == f"选项{o['key']}" for o in shown)
    assert [o["key"] for o in shown] == option_order("p9", "k01", KEYS)


def test_letter_spread_flags_only_a_majority():
    assert letter_spread(["A"] * 20 + ["B"] * 5) == ("A", 20)
    assert letter_spread(["A", "B", "C", "A"]) is None
    assert letter_spread([]) is None


def test_the_shown_order_is_stored_with_the_answer(session, protector):
    from quiz.engine.bank import question_bank
    from quiz.engine.sheets import answer_on_sheet, sheet_of_participant
    from quiz.models import QuizItem
    from tests.factories import install_test_campaign, make_participant

    campaign = install_test_campaign(session)
    participant = make_participant(session, protector, campaign)
    bank = question_bank(session, campaign.id)
    sheet = sheet_of_participant(session, participant.id)
    item = sheet.next
    question = bank.by_id[item.question_id]
    keys = [o["key"] for o in question.options]
    answer_on_sheet(
        session, campaign, bank, sheet, item.position, [keys[0]], shown_to=participant.public_id
    )
    stored = session.get(QuizItem, item.id)
    session.refresh(stored)
    assert stored.option_order == option_order(participant.public_id, question.key, keys)
    assert stored.answer == [keys[0]]  # the answer names the option by its key, not by place
