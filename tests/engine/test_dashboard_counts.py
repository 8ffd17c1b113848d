"""The dashboard's counters (entries per branch/status, province, score; intent answers)
stay equal to a recount of the entries: on registration, completion, every follow-up and
every change of branch or province, and with many writers at once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from sqlalchemy import func, select

from quiz.branches.routing import AddressInput, assign_lead, place_lead, reassign_all
from quiz.branches.service import BranchData, save_branch, set_route
from quiz.campaign.lifecycle import current_campaign
from quiz.db import Database
from quiz.engine import entry_counts, intent_counts
from quiz.engine.intent_counts import ANSWERED, NO_BRANCH
from quiz.engine.sheets import record_answer
from quiz.entry.signup import items_of
from quiz.models import Branch, IntentCount
from quiz.reports import stats
from tests.factories import make_participant

MARS = AddressInput(free_text="火星基地一号楼")  # no division in it: no branch


def _branch(session, code: str) -> Branch:
    return session.scalars(select(Branch).where(Branch.code == code)).one()


def _exact(session, campaign_id: int) -> None:
    assert +intent_counts.stored(session, campaign_id) == intent_counts.recounted(
        session, campaign_id
    )
    assert entry_counts.stored(session, campaign_id) == entry_counts.recounted(session, campaign_id)


def _answer_all(session, participant, picks: dict[str, list[int]]) -> None:
    """Answer every question: the option indexes given per intent key, else the first."""
    for item in items_of(session, participant):
        q = item.question
        chosen = [q.options[i]["key"] for i in picks.get(q.key, [0])]
        record_answer(session, participant, item.position, chosen)


def test_completing_an_entry_counts_each_option_and_the_question_once(session, protector):
    campaign = current_campaign(session)
    lead = make_participant(session, protector, campaign, 6)  # 北京
    assert intent_counts.stored(session, campaign.id) == {}  # registered: nothing yet
    _answer_all(session, lead, {"i01-products": [0, 1], "i02-budget": [3]})
    session.flush()
    day = lead.created_at.astimezone(intent_counts.CHINA).date()
    bj = _branch(session, "B11").id
    got = intent_counts.stored(session, campaign.id)
    assert got[(campaign.id, day, bj, "i01-products", ANSWERED)] == 1
    assert got[(campaign.id, day, bj, "i01-products", "重疾险")] == 1
    assert got[(campaign.id, day, bj, "i01-products", "医疗险")] == 1
    assert got[(campaign.id, day, bj, "i02-budget", "3万元以上")] == 1
    # Each question: one answered row, plus one per option chosen (two for products).
    assert sum(got.values()) == 3 + 2 + 2
    _exact(session, campaign.id)

    questions = stats.intent_by_question(session, campaign.id)
    products = questions[0]
    assert products.answered == 1 and products.counts["重疾险"] == 1
    assert products.counts["寿险"] == 0  # every option listed, zeros included
    assert products.by_branch == {
        "北京分公司": {o: int(o in ("重疾险", "医疗险")) for o in products.options}
    }


def test_a_window_counts_the_beijing_days_it_covers(session, protector):
    campaign = current_campaign(session)
    lead = make_participant(session, protector, campaign, 6, complete=True)
    lead.created_at = datetime(2026, 11, 1, 17, 30, tzinfo=UTC)  # 11-02 in Beijing
    session.flush()
    intent_counts.rebuild(session, campaign.id)
    china = intent_counts.CHINA
    on = stats.Window(datetime(2026, 11, 2, tzinfo=china), datetime(2026, 11, 3, tzinfo=china))
    before = stats.Window(None, datetime(2026, 11, 2, tzinfo=china))
    assert [q.answered for q in stats.intent_by_question(session, campaign.id, on)] == [1, 1, 1]
    assert [q.answered for q in stats.intent_by_question(session, campaign.id, before)] == [
        0,
        0,
        0,
    ]


def test_every_change_of_branch_moves_the_counts(session, protector):
    campaign = current_campaign(session)
    nowhere = make_participant(session, protector, campaign, 1, address=MARS, complete=True)
    waiting = make_participant(session, protector, campaign, 7, address=MARS)  # not completed
    wuhan = make_participant(session, protector, campaign, 2, complete=True)  # 湖北武汉
    session.flush()
    keys = intent_counts.stored(session, campaign.id)
    assert {k[2] for k in keys} == {NO_BRANCH, _branch(session, "B42").id}
    _exact(session, campaign.id)

    place_lead(session, nowhere, "420000", "429004", actor=None)
    assign_lead(session, waiting, _branch(session, "B31"), actor=None)
    session.flush()
    _exact(session, campaign.id)
    assert NO_BRANCH not in {
        k[2] for k, n in intent_counts.stored(session, campaign.id).items() if n
    }

    wh = save_branch(session, BranchData(code="WH", name="武汉中支", level="中心支公司"))
    set_route(session, "420000", "420100", wh)
    assert reassign_all(session) == 1
    session.refresh(wuhan)
    assert wuhan.branch_id == wh.id
    _exact(session, campaign.id)
    by_branch = stats.intent_by_question(session, campaign.id)[0].by_branch
    assert set(by_branch) == {"湖北分公司", "武汉中支"}

    # The waiting lead completes at its hand-assigned branch.
    _answer_all(session, waiting, {})
    session.flush()
    _exact(session, campaign.id)
    assert "上海分公司" in stats.intent_by_question(session, campaign.id)[0].by_branch


def test_many_writers_at_once_lose_no_count(app, session, protector):
    """Eight sessions complete entries of one branch and day at the same time: they all
    add to the same counter rows, and every increment is there."""
    campaign = current_campaign(session)
    leads = [make_participant(session, protector, campaign, 6 * (n + 1)) for n in range(16)]
    session.commit()
    ids = [p.id for p in leads]
    database: Database = app.extensions["quiz.db"]
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def worker(mine: list[int]) -> None:
        try:
            start.wait()
            for pid in mine:
                with database.transaction() as s:
                    from quiz.models import Participant

                    _answer_all(s, s.get(Participant, pid), {"i01-products": [0, 2]})
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(ids[i::8],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    session.expire_all()
    _exact(session, campaign.id)
    total = session.scalar(
        select(func.sum(IntentCount.count)).where(
            IntentCount.question_key == "i01-products", IntentCount.option == "重疾险"
        )
    )
    assert total == 16


def test_follow_ups_move_the_branch_counts_and_the_dashboard_shows_them(session, protector):
    from quiz.leads import service as leads
    from tests.factories import make_staff

    campaign = current_campaign(session)
    made = [make_participant(session, protector, campaign, n, complete=n != 12) for n in (6, 12)]
    user = make_staff(session, "ho")
    _exact(session, campaign.id)
    leads.record_follow_up(session, user, made[0], "已联系")
    leads.record_follow_up(session, user, made[0], "已成交")
    assert leads.bulk_follow_up(session, user, [p.id for p in made], "已拜访") == 2
    session.flush()
    _exact(session, campaign.id)
    board = stats.dashboard(session, campaign.id)
    (beijing,) = board.branches
    assert (beijing.entries, beijing.completed) == (2, 1)
    assert beijing.by_status["已拜访"] == 2 and beijing.by_status["已成交"] == 0
    assert board.follow_up["待联系"] == 0 and board.scores and sum(n for _, n in board.scores) == 1
    assert dict(board.provinces) == {"北京市": 2}


def test_two_staff_changing_one_lead_at_once_leave_it_counted_once(app, session, protector):
    """Each reads the lead FOR UPDATE before moving its counters: the second moves it from
    the status the first left, not from the one both loaded."""
    from quiz.leads import service as leads
    from quiz.models import Participant
    from tests.factories import make_staff

    campaign = current_campaign(session)
    lead = make_participant(session, protector, campaign, 6, complete=True)
    users = [make_staff(session, f"ho{n}") for n in range(6)]
    session.commit()
    database: Database = app.extensions["quiz.db"]
    errors: list[BaseException] = []
    start = threading.Barrier(len(users))

    def worker(user_id: int, status: str) -> None:
        try:
            start.wait()
            with database.transaction() as s:
                from quiz.models import StaffUser

                leads.record_follow_up(
                    s, s.get(StaffUser, user_id), s.get(Participant, lead.id), status
                )
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    statuses = ["已联系", "已拜访", "已成交", "无效", "已联系", "已拜访"]
    threads = [
        threading.Thread(target=worker, args=(u.id, st))
        for u, st in zip(users, statuses, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    session.expire_all()
    _exact(session, campaign.id)
    assert sum(b.entries for b in stats.by_branch(session, campaign.id)) == 1


def test_a_lead_loaded_before_another_change_is_still_written_and_counted(app, session, protector):
    """A staff member's page loaded the lead while it was 已联系; a colleague then saved
    已拜访; the first now saves 已联系 again. The lead must end 已联系, as its counters say
    (the ORM saw "已联系" = "已联系" and wrote nothing, while the counters moved)."""
    from quiz.leads import service as leads
    from quiz.models import Participant, StaffUser
    from tests.factories import make_staff

    campaign = current_campaign(session)
    lead = make_participant(session, protector, campaign, 7, complete=True)
    first, second = make_staff(session, "ho-first"), make_staff(session, "ho-second")
    session.commit()
    database: Database = app.extensions["quiz.db"]
    with database.transaction() as s:
        colleague, same = s.get(StaffUser, second.id), s.get(Participant, lead.id)
        leads.record_follow_up(s, colleague, same, "已联系")
    page = database.session(write=True)  # the first member's request, its lead loaded
    try:
        stale = page.get(Participant, lead.id)
        me = page.get(StaffUser, first.id)
        assert stale.follow_up_status == "已联系"
        page.commit()
        with database.transaction() as s:  # the colleague's save in between
            leads.record_follow_up(
                s, s.get(StaffUser, second.id), s.get(Participant, lead.id), "已拜访"
            )
        leads.record_follow_up(page, me, stale, "已联系")
        page.commit()
    finally:
        page.close()
    session.expire_all()
    assert session.get(Participant, lead.id).follow_up_status == "已联系"
    _exact(session, campaign.id)
