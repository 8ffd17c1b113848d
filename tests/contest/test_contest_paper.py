"""The timed paper and the ranking, as services (no HTTP)."""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from quiz.contest import paper, ranking, roster
from quiz.engine.bank import question_bank
from quiz.models import ContestAnswer, Contestant
from tests.contest.conftest import running_contest

STARTED = timedelta(minutes=5)


@pytest.fixture
def running(session, protector):
    """The demo contest with its roster, open since 5 minutes, ending in 2 hours."""
    return running_contest(session, protector, STARTED)


def _who(session, staff_no):
    return session.scalars(select(Contestant).where(Contestant.staff_no == staff_no)).one()


def _correct_answers(session, bank, view):
    return {it.position: bank.by_id[it.question_id].correct for it in view.items}


def test_points_for_each_question_type():
    assert paper.points_for(["A"], ["A"], False, "partial", 10) == 10
    assert paper.points_for(["A"], ["B"], False, "partial", 10) == 0
    # 多选: all or nothing, or a share of the right options when no wrong one is picked.
    assert paper.points_for(["A", "B", "C"], ["A", "B", "C"], True, "all_or_nothing", 10) == 10
    assert paper.points_for(["A", "B", "C"], ["A", "B"], True, "all_or_nothing", 10) == 0
    assert paper.points_for(["A", "B", "C"], ["A", "B"], True, "partial", 10) == 6
    assert paper.points_for(["A", "B", "C"], ["A", "D"], True, "partial", 10) == 0
    assert paper.points_for(["A", "B"], ["A"], True, "partial", 10) == 5


def test_paper_follows_the_group_quotas_and_its_own_order(session, running):
    bank = question_bank(session, running.id)
    sales = paper.start_paper(session, running, bank, _who(session, "YW0001"))
    office = paper.start_paper(session, running, bank, _who(session, "NQ0001"))
    for view, quotas in (
        (sales, {"理赔流程": 4, "理赔时效": 3, "服务规范": 3}),
        (office, {"理赔流程": 3, "理赔时效": 2, "服务规范": 5}),
    ):
        got = Counter(bank.by_id[it.question_id].category for it in view.items)
        assert dict(got) == quotas
        assert view.max_score == 100
        assert view.deadline_at - view.started_at == timedelta(minutes=20)
    types = {paper.question_type(bank.by_id[q]) for q in bank.knowledge}
    assert types == {"单选", "多选", "判断"}
    # Option orders are per paper: over many papers a question's order varies.
    orders = set()
    for n in range(12):
        rng = random.Random(n)
        ids = paper.draw_questions(bank, {"理赔流程": 6}, rng)
        assert sorted(ids) == sorted(
            q for q in bank.knowledge if bank.by_id[q].category == "理赔流程"
        )
    rows = session.scalars(select(ContestAnswer.option_order)).all()
    orders = {tuple(o) for o in rows if len(o) == 4}
    assert len(orders) > 1


def test_one_attempt_in_order_and_scored(session, running):
    bank = question_bank(session, running.id)
    who = _who(session, "YW0001")
    view = paper.start_paper(session, running, bank, who)
    again = paper.start_paper(session, running, bank, who)
    assert again.id == view.id  # one attempt: the same paper
    correct = _correct_answers(session, bank, view)
    with pytest.raises(paper.ContestError, match="请按顺序答题"):
        paper.answer(session, running, bank, who, view.id, 2, correct[2])
    view = paper.answer(session, running, bank, who, view.id, 1, correct[1])
    assert view.score == 10 and view.answered == 1
    # A double tap is harmless, a changed answer refused.
    paper.answer(session, running, bank, who, view.id, 1, correct[1])
    q1 = bank.by_id[view.items[0].question_id]
    wrong = [k for k in (o["key"] for o in q1.options) if k not in correct[1]][:1]
    with pytest.raises(paper.ContestError, match="不能修改"):
        paper.answer(session, running, bank, who, view.id, 1, wrong)
    for pos in range(2, len(view.items) + 1):
        view = paper.answer(session, running, bank, who, view.id, pos, correct[pos])
    assert view.closed and view.score == 100 and view.submitted_at is not None


def test_the_view_an_answer_returns_is_the_paper_as_stored(session, running):
    # answer() builds the page after an answer from what it read and wrote, without a
    # second read: it must show exactly what a fresh read of the paper shows.
    bank = question_bank(session, running.id)
    who = _who(session, "NQ0001")
    view = paper.start_paper(session, running, bank, who)
    correct = _correct_answers(session, bank, view)
    for pos in range(1, len(view.items) + 1):
        question = bank.by_id[view.items[pos - 1].question_id]
        wrong = [o["key"] for o in question.options if o["key"] not in correct[pos]][:1]
        view = paper.answer(
            session, running, bank, who, view.id, pos, wrong if pos % 3 else correct[pos]
        )
        session.flush()
        session.expire_all()
        fresh = paper.paper_of(session, who.id, now=view.now)
        assert fresh == view, pos
    assert view.closed and 0 < view.score < view.max_score


def test_answer_after_the_deadline_is_not_counted(session, running):
    bank = question_bank(session, running.id)
    who = _who(session, "NQ0002")
    start = paper.utcnow()
    view = paper.start_paper(session, running, bank, who, now=start)
    correct = _correct_answers(session, bank, view)
    paper.answer(
        session, running, bank, who, view.id, 1, correct[1], now=start + timedelta(minutes=1)
    )
    late = start + timedelta(minutes=20, seconds=1)
    with pytest.raises(paper.TimeUp, match="本题答案未计入"):
        paper.answer(session, running, bank, who, view.id, 2, correct[2], now=late)
    closed = paper.paper_of(session, who.id, now=late)
    assert closed is not None and closed.closed and closed.score == 10
    assert closed.finished_at == view.deadline_at
    assert closed.items[1].answer is None


def test_another_contestants_paper_is_refused(session, running):
    bank = question_bank(session, running.id)
    mine = paper.start_paper(session, running, bank, _who(session, "YW0001"))
    other = _who(session, "YW0002")
    with pytest.raises(paper.NotYourPaper) as refused:
        paper.answer(session, running, bank, other, mine.id, 1, ["A"])
    assert refused.value.status == 403


def test_invitation_code_works_once_and_a_new_sign_in_ends_the_old_session(
    session, running, protector
):
    [invite] = roster.issue_invitations(session, running, protector, staff_nos=["YW0003"])
    with pytest.raises(paper.ContestError, match="不在本次竞赛"):
        paper.sign_in_with_invite(session, protector, running, "NOBODY", invite.code)
    with pytest.raises(paper.ContestError, match="邀请码不正确"):
        paper.sign_in_with_invite(session, protector, running, "YW0003", "WRONG234")
    who, first = paper.sign_in_with_invite(
        session, protector, running, "YW0003", invite.code.lower()
    )
    assert paper.signed_in(session, running.id, who.id, first) is who
    with pytest.raises(paper.ContestError, match="已使用"):
        paper.sign_in_with_invite(session, protector, running, "YW0003", invite.code)
    [again] = roster.issue_invitations(session, running, protector, staff_nos=["YW0003"])
    _, second = paper.sign_in_with_invite(session, protector, running, "YW0003", again.code)
    assert paper.signed_in(session, running.id, who.id, first) is None  # signed out
    assert paper.signed_in(session, running.id, who.id, second) is who


def test_sign_in_and_answers_refused_outside_the_contest(session, running, protector):
    [invite] = roster.issue_invitations(session, running, protector, staff_nos=["YW0004"])
    with pytest.raises(paper.ContestClosed, match="竞赛已结束"):
        paper.sign_in_with_invite(
            session, protector, running, "YW0004", invite.code, now=running.closes_at
        )
    with pytest.raises(paper.ContestClosed, match="尚未开始"):
        paper.sign_in_with_invite(
            session, protector, running, "YW0004", invite.code, now=running.opens_at - STARTED
        )


def _finish(session, campaign, bank, who, start, right, seconds, *, submit=True):
    view = paper.start_paper(session, campaign, bank, who, now=start)
    correct = _correct_answers(session, bank, view)
    at = start
    for pos in range(1, len(view.items) + 1):
        at = start + timedelta(seconds=seconds * pos / len(view.items))
        pick = correct[pos] if pos <= right else ["Z"]
        if pick == ["Z"]:
            q = bank.by_id[view.items[pos - 1].question_id]
            pick = [next(o["key"] for o in q.options if o["key"] not in correct[pos])]
        paper.answer(session, campaign, bank, who, view.id, pos, pick, now=at)
    return at


def test_ranking_by_score_then_time_then_submit_and_awards(session, running):
    bank = question_bank(session, running.id)
    t0 = running.opens_at + timedelta(minutes=1)
    _finish(session, running, bank, _who(session, "YW0001"), t0, 8, 300)
    _finish(session, running, bank, _who(session, "YW0002"), t0, 10, 600)
    _finish(session, running, bank, _who(session, "YW0003"), t0, 8, 200)  # same score, faster
    _finish(session, running, bank, _who(session, "YW0004"), t0 + timedelta(seconds=5), 8, 200)
    end = running.closes_at + timedelta(seconds=1)
    ranked = ranking.ranking(session, running, now=end)
    order = [(r.staff_no, r.score, r.award) for r in ranked["sales"]]
    assert order == [
        ("YW0002", 100, "一等奖"),
        ("YW0003", 80, "二等奖"),
        ("YW0004", 80, "二等奖"),  # same score and time, submitted 5 s later
        ("YW0001", 80, "二等奖"),
    ]
    tables = ranking.branch_table(session, running, ranked, final=True)
    sales = {b.branch_code: b for b in tables["sales"]}
    # B41: 2 of 2 took part (100 %), B42: 2 of 2, B11: 0 of 1.
    assert sales["B41"].rate == 1.0 and sales["B11"].rate == 0.0
    assert sales["B11"].rank == 3 and not sales["B11"].award
    assert sales["B41"].average == 90.0
    assert [b.branch_code for b in tables["sales"]][:2] == ["B41", "B42"]
    tsv = ranking.results_tsv_rows(running, ranked)
    assert tsv[0] == ("业务员组", "1", "YW0002", "李娜", "B41", "100", "600.0")


def test_scoreboard_freezes_before_the_end(session, running):
    bank = question_bank(session, running.id)
    freeze_at = running.closes_at - timedelta(minutes=60)
    early = _finish(
        session, running, bank, _who(session, "NQ0001"), freeze_at - timedelta(minutes=30), 5, 60
    )
    _finish(
        session, running, bank, _who(session, "NQ0002"), freeze_at + timedelta(minutes=1), 10, 60
    )
    during = freeze_at + timedelta(minutes=10)
    board = ranking.board_at(running, during)
    assert board.state == "frozen"
    frozen = ranking.ranking(session, running, now=during)
    assert [r.staff_no for r in frozen["office"]] == ["NQ0001"]
    assert all(r.award is None for r in frozen["office"])
    final = ranking.ranking(session, running, now=running.closes_at)
    assert [r.staff_no for r in final["office"]] == ["NQ0002", "NQ0001"]
    assert early < freeze_at
