"""Dashboard aggregates and charts."""

from __future__ import annotations

from datetime import UTC, date, datetime

from quiz.campaign.lifecycle import current_campaign
from quiz.engine import entry_counts
from quiz.leads import service as leads
from quiz.models import DailyCounter
from quiz.reports import charts, stats
from tests.factories import make_participant, make_staff


def test_dashboard_figures(session, protector):
    campaign = current_campaign(session)
    bj1 = make_participant(session, protector, campaign, 6, complete=True)
    bj2 = make_participant(session, protector, campaign, 12)
    sh = make_participant(session, protector, campaign, 1, complete=True)
    # 17:30 UTC is already the next day in Beijing.
    bj1.created_at = datetime(2026, 11, 1, 17, 30, tzinfo=UTC)
    bj2.created_at = datetime(2026, 11, 1, 15, 59, tzinfo=UTC)
    sh.created_at = datetime(2026, 11, 4, 3, 0, tzinfo=UTC)  # 11-03 had no entry
    campaign.opens_at = datetime(2026, 10, 31, 16, 0, tzinfo=UTC)  # 11-01 00:00 in Beijing
    session.add_all(
        [
            DailyCounter(day=date(2026, 11, 1), metric="visit", count=40),
            DailyCounter(day=date(2026, 11, 2), metric="visit", count=60),
            DailyCounter(day=date(2026, 11, 1), metric="consent", count=10),
            # An earlier campaign's traffic: not this campaign's funnel.
            DailyCounter(day=date(2026, 10, 31), metric="visit", count=500),
            DailyCounter(day=date(2024, 5, 1), metric="consent", count=50),
        ]
    )
    user = make_staff(session, "ho")
    leads.record_follow_up(session, user, bj1, "已成交", "签单")
    leads.record_follow_up(session, user, sh, "已联系")
    session.flush()
    entry_counts.rebuild(session, campaign.id)  # the dates were changed behind the app's back

    board = stats.dashboard(session, campaign.id)
    assert (board.visits, board.consents, board.entries, board.completed) == (100, 10, 3, 2)
    assert board.completion_rate == 2 / 3
    assert board.per_day == [
        (date(2026, 11, 1), 1),
        (date(2026, 11, 2), 1),
        (date(2026, 11, 3), 0),  # a quiet day stays on the chart's calendar axis
        (date(2026, 11, 4), 1),
    ]
    assert dict(board.provinces) == {"北京市": 2, "上海市": 1}
    by_name = {b.name: b for b in board.branches}
    assert by_name["北京分公司"].entries == 2 and by_name["北京分公司"].won == 1
    assert by_name["北京分公司"].conversion == 0.5
    assert by_name["上海分公司"].followed == 1 and by_name["上海分公司"].won == 0
    assert board.follow_up == {"待联系": 1, "已联系": 1, "已拜访": 0, "已成交": 1, "无效": 0}
    assert sum(n for _, n in board.scores) == 2
    # Every intent question, from the counters its entries' completion wrote.
    assert [q.answered for q in board.questions] == [2, 2, 2]
    first = board.questions[0]
    assert sum(first.counts.values()) == 2 and set(first.by_branch) == {"北京分公司", "上海分公司"}
    assert board.branches[0].name == "北京分公司"  # largest first


def test_unassigned_leads_have_their_own_line(session, protector):
    campaign = current_campaign(session)
    lead = make_participant(session, protector, campaign, 1)
    lead.branch_id = None
    session.flush()
    entry_counts.rebuild(session, campaign.id)  # the branch was changed behind the app's back
    board = stats.dashboard(session, campaign.id)
    assert [(b.name, b.entries) for b in board.branches] == [(stats.UNASSIGNED, 1)]


def test_empty_dashboard(session):
    board = stats.dashboard(session, None)
    assert board.entries == 0 and board.completion_rate == 0.0 and board.branches == []


def test_charts_are_accessible_and_escape_labels():
    svg = str(charts.hbar_chart("各省", [("<b>北京</b>", 12), ("上海", 3)], unit="人"))
    assert 'role="img"' in svg and "<title" in svg and "<desc" in svg
    assert "&lt;b&gt;北京&lt;/b&gt;" in svg and "<b>" not in svg
    assert "12人" in svg and "3人" in svg
    assert svg.count("<rect") == 2
    col = str(charts.column_chart("每日", [("11/1", 5), ("11/2", 0)]))
    assert 'role="img"' in col and "11/1" in col
    assert "暂无数据" in str(charts.hbar_chart("空", []))


def test_per_day_keeps_quiet_days_too(session, protector):
    """Days without an entry between the first and the last are on the axis as zeros."""
    campaign = current_campaign(session)
    first = make_participant(session, protector, campaign, 1)
    last = make_participant(session, protector, campaign, 2)
    first.created_at = datetime(2026, 3, 1, 4, tzinfo=UTC)
    last.created_at = datetime(2026, 3, 5, 4, tzinfo=UTC)
    session.flush()
    entry_counts.rebuild(session, campaign.id)  # the dates were changed behind the app's back
    assert stats.per_day(session, campaign.id) == [
        (date(2026, 3, 1), 1),
        (date(2026, 3, 2), 0),
        (date(2026, 3, 3), 0),
        (date(2026, 3, 4), 0),
        (date(2026, 3, 5), 1),
    ]
