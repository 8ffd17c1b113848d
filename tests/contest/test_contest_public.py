"""The contest on the phone, through HTTP: sign-in refusals in Chinese with 4xx, the paper,
another contestant's paper, answers after the deadline, one live session."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from quiz.contest import paper, roster
from quiz.engine.bank import question_bank
from quiz.models import ContestPaper
from quiz.public import ANSWERED_BY_SCRIPT
from tests.contest.conftest import running_contest


@pytest.fixture
def running(session, protector):
    campaign = running_contest(session, protector)
    session.commit()
    return campaign


def _codes(session, campaign, protector, *nos):
    issued = roster.issue_invitations(session, campaign, protector, staff_nos=list(nos))
    session.commit()
    return {i.staff_no: i.code for i in issued}


def _sign_in(client, slug, staff_no, code):
    return client.post(f"/c/{slug}/contest/sign-in", data={"staff_no": staff_no, "code": code})


def test_sign_in_page_is_the_campaign_page(client, running):
    page = client.get(f"/c/{running.slug}/?no=YW0001&code=ABCDEFGH")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "登录并进入答题" in text and 'value="YW0001"' in text
    # Staff are asked for no ID number, address or marketing consent: two fields only.
    assert text.count("<input") == 2  # 工号, 邀请码 (no CSRF token: it is off in tests)
    assert "不需要身份证号码" in text


def test_bad_sign_ins_answer_chinese_4xx(client, session, running, protector):
    codes = _codes(session, running, protector, "YW0001")
    slug = running.slug
    unknown = _sign_in(client, slug, "NOBODY", codes["YW0001"])
    assert unknown.status_code == 422 and "不在本次竞赛的参赛名单中" in unknown.get_data(
        as_text=True
    )
    wrong = _sign_in(client, slug, "YW0001", "WRONG234")
    assert wrong.status_code == 422 and "邀请码不正确" in wrong.get_data(as_text=True)
    ok = _sign_in(client, slug, "YW0001", codes["YW0001"])
    assert ok.status_code == 302 and ok.headers["Location"].endswith("/contest/paper")
    other = client.application.test_client()
    reused = _sign_in(other, slug, "YW0001", codes["YW0001"])
    assert reused.status_code == 422 and "已使用" in reused.get_data(as_text=True)


def test_paper_flow_one_session_and_foreign_paper(client, session, running, protector):
    codes = _codes(session, running, protector, "YW0001", "NQ0001")
    slug = running.slug
    _sign_in(client, slug, "YW0001", codes["YW0001"])
    start = client.get(f"/c/{slug}/contest/paper")
    assert "开始答题" in start.get_data(as_text=True)
    assert client.post(f"/c/{slug}/contest/start").status_code == 302
    page = client.get(f"/c/{slug}/contest/paper").get_data(as_text=True)
    assert "第 1 题 / 共 10 题" in page and "剩余时间" in page
    mine = session.scalars(select(ContestPaper)).one()
    bank = question_bank(session, running.id)
    session.expire_all()
    view = paper.paper_of(session, mine.contestant_id)
    first = bank.by_id[view.items[0].question_id]
    session.commit()  # the test's write session must not hold SQLite's lock
    answered = client.post(
        f"/c/{slug}/contest/paper",
        data={"paper": mine.id, "position": 1, "choice": first.correct},
    )
    assert answered.status_code == 302
    # Another contestant posting to this paper: 403, nothing stored.
    other = client.application.test_client()
    _sign_in(other, slug, "NQ0001", codes["NQ0001"])
    foreign = other.post(
        f"/c/{slug}/contest/paper", data={"paper": mine.id, "position": 2, "choice": "A"}
    )
    assert foreign.status_code == 403 and "这不是您的答卷" in foreign.get_data(as_text=True)
    session.expire_all()
    assert paper.paper_of(session, mine.contestant_id).answered == 1
    session.commit()
    # The same contestant signs in on a second phone: it continues, the first is signed out.
    [again] = roster.issue_invitations(session, running, protector, staff_nos=["YW0001"])
    session.commit()
    phone2 = client.application.test_client()
    _sign_in(phone2, slug, "YW0001", again.code)
    assert "第 2 题" in phone2.get(f"/c/{slug}/contest/paper").get_data(as_text=True)
    old = client.get(f"/c/{slug}/contest/paper", follow_redirects=True)
    assert "本设备已退出" in old.get_data(as_text=True)


def test_the_pages_script_gets_the_next_question_in_one_request(
    client, session, running, protector
):
    # With ANSWERED_BY_SCRIPT (quiz-answer.js) an answer's reply is the next question
    # itself, then the closed paper with its score: no redirect and no second GET.
    codes = _codes(session, running, protector, "YW0001")
    slug = running.slug
    _sign_in(client, slug, "YW0001", codes["YW0001"])
    client.post(f"/c/{slug}/contest/start")
    mine = session.scalars(select(ContestPaper)).one()
    bank = question_bank(session, running.id)
    view = paper.paper_of(session, mine.contestant_id)
    session.commit()
    total = len(view.items)
    for item in view.items:
        right = bank.by_id[item.question_id].correct
        form = MultiDict([("paper", mine.id), ("position", item.position)])
        form.setlist("choice", right)
        reply = client.post(
            f"/c/{slug}/contest/paper", data=form, headers={ANSWERED_BY_SCRIPT: "1"}
        )
        text = reply.get_data(as_text=True)
        assert reply.status_code == 200 and "Location" not in reply.headers
        if item.position < total:
            assert f"第 {item.position + 1} 题 / 共 {total} 题" in text
    assert "已交卷" in text and f"<strong>{10 * total}</strong> / {10 * total} 分" in text
    session.expire_all()
    assert paper.paper_of(session, mine.contestant_id).score == 10 * total


def test_answer_after_the_deadline_is_refused_409(client, session, running, protector):
    codes = _codes(session, running, protector, "NQ0002")
    slug = running.slug
    _sign_in(client, slug, "NQ0002", codes["NQ0002"])
    client.post(f"/c/{slug}/contest/start")
    mine = session.scalars(select(ContestPaper)).one()
    mine.deadline_at = paper.utcnow() - timedelta(seconds=1)
    session.commit()
    late = client.post(
        f"/c/{slug}/contest/paper", data={"paper": mine.id, "position": 1, "choice": "A"}
    )
    text = late.get_data(as_text=True)
    assert late.status_code == 409 and "本题答案未计入成绩" in text and "已交卷" in text
    session.expire_all()
    assert paper.paper_of(session, mine.contestant_id).answered == 0


def test_contest_routes_404_for_a_prize_quiz(client, app):
    assert client.get("/contest/paper").status_code == 404
    assert client.post("/contest/sign-in", data={"staff_no": "A", "code": "B"}).status_code == 404


def test_a_question_added_after_this_worker_read_the_bank_is_answered_and_shown(
    database_url, tmp_path
):
    """Another worker drew a paper with a question added to the bank moments ago; this
    worker's cached bank lacks it: the answer and the page read the bank again, no 500."""
    from quiz.db import Base
    from quiz.models import ContestAnswer, Question
    from tests.conftest import make_app
    from tests.factories import install_test_campaign

    app = make_app(database_url, tmp_path / "instance", QUIZ_CAMPAIGN_CACHE_SECONDS=3600)
    database = app.extensions["quiz.db"]
    Base.metadata.create_all(database.engine)
    protector = app.extensions["quiz.protector"]

    def add_question_at(position: int, key: str) -> tuple[int, list[str]]:
        """A new question, put at `position` of the paper as another worker would draw it
        (this worker's cache, read before, does not have it)."""
        with database.transaction() as s:
            first = s.scalars(select(Question).where(Question.campaign_id == campaign_id)).first()
            added = Question(
                campaign_id=campaign_id,
                key=key,
                kind="knowledge",
                multiple=False,
                position=900 + position,
                text=f"刚刚加入题库的第 {position} 题?",
                options=first.options,
                correct=first.correct,
                category=first.category,
                active=True,
            )
            s.add(added)
            s.flush()
            item = s.scalars(select(ContestAnswer).where(ContestAnswer.position == position)).one()
            item.question_id = added.id
            item.option_order = [o["key"] for o in first.options]
            return item.paper_id, list(first.correct)

    try:
        with database.transaction() as s:
            install_test_campaign(s)
            campaign = running_contest(s, protector)
            slug, campaign_id = campaign.slug, campaign.id
            [issued] = roster.issue_invitations(s, campaign, protector, staff_nos=["YW0001"])
        client = app.test_client()
        assert _sign_in(client, slug, "YW0001", issued.code).status_code == 302
        assert client.post(f"/c/{slug}/contest/start").status_code == 302  # bank now cached
        paper_id, correct = add_question_at(1, "added-1")
        answered = client.post(
            f"/c/{slug}/contest/paper", data={"paper": paper_id, "position": 1, "choice": correct}
        )
        assert answered.status_code == 302, answered.get_data(as_text=True)[:2000]
        add_question_at(2, "added-2")
        page = client.get(f"/c/{slug}/contest/paper")
        assert page.status_code == 200
        assert "刚刚加入题库的第 2 题" in page.get_data(as_text=True)
    finally:
        database.dispose()
