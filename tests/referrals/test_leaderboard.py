"""The branch leaderboard: ranks with ties, 达成率, tiers, sums that match the dashboard, export."""

from __future__ import annotations

import csv
import dataclasses
import io
import random
import warnings
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from quiz.branches.routing import AddressInput
from quiz.campaign.lifecycle import current_campaign
from quiz.engine.sheets import record_answer
from quiz.entry.signup import items_of, register
from quiz.models import Branch, Participant, ReferralLink
from quiz.referrals import leaderboard
from quiz.referrals import links as referrals
from quiz.reports import stats
from tests.factories import consent, registration


def test_competition_ranks_share_a_rank_on_ties():
    assert leaderboard.competition_ranks([5, 9, 5, None, 1]) == [2, 1, 2, None, 4]
    assert leaderboard.competition_ranks([]) == []


def _generate(session, protector, campaign, n: int) -> None:
    """n entries: some referred (a few flagged), some unassigned, some completed, over days."""
    referrals.import_agents(
        session, referrals.parse_agents_csv("机构代码,业务员代码,姓名\nB11,A1,甲\nB44,G1,乙\n")
    )
    referrals.create_channel(session, "sms", "短信")
    links = session.scalars(select(ReferralLink)).all()
    rng = random.Random(7)
    start = datetime.now(UTC) - timedelta(hours=2)
    for i in range(n):
        link = rng.choice([*links, None, None])
        ref = None
        if link is not None:
            ref = {
                "link_id": link.id,
                "agent_id": link.agent_id,
                "channel_id": link.channel_id,
                "branch_id": link.branch_id,
                "rule": "address",
            }
        kw = {"address": AddressInput(free_text="火星基地幸福路1号")} if i % 9 == 0 else {}
        p = register(
            session,
            protector,
            campaign,
            registration(100 + i, **kw),
            dataclasses.replace(consent(), ip="10.0.0.1" if i % 4 else f"10.1.0.{i}"),
            now=start + timedelta(minutes=i),
            referral=ref,
        )
        if i % 3 == 0:
            for item in items_of(session, p):
                record_answer(session, p, item.position, [item.question.options[0]["key"]])
    session.flush()


def test_leaderboard_figures_add_up_to_the_dashboard_totals(session, protector):
    campaign = current_campaign(session)
    _generate(session, protector, campaign, 60)
    session.expire_all()
    totals = leaderboard.totals(session, campaign)
    assert totals.registrations == 60 and totals.completions == 20
    assert totals.flagged_registrations > 0  # the shared-IP bursts
    for basis in leaderboard.BASES:
        rows = leaderboard.branch_board(session, campaign, basis=basis)
        assert any(r.branch_id is None for r in rows)  # the unassigned addresses
        assert sum(r.counts.registrations for r in rows) == totals.registrations
        assert sum(r.counts.completions for r in rows) == totals.completions
        assert sum(r.counts.flagged_registrations for r in rows) == totals.flagged_registrations
    sources = leaderboard.source_board(session, campaign)
    assert sum(s.counts.registrations for s in sources) == totals.registrations
    assert sum(s.counts.completions for s in sources) == totals.completions
    trend = leaderboard.daily_trend(session, campaign)
    assert sum(r for _, r, _ in trend) == totals.registrations
    assert sum(c for _, _, c in trend) == totals.completions
    agents = leaderboard.agent_board(session, campaign)
    referred = session.scalars(select(Participant.id).where(Participant.agent_id.isnot(None)))
    assert sum(a.counts.registrations for a in agents) == len(referred.all())

    with warnings.catch_warnings():  # quiz.reports.stats uses Result.tuples(), deprecated in SA 2.1
        warnings.simplefilter("ignore", DeprecationWarning)
        board = stats.dashboard(session, campaign.id)
    assert (board.entries, board.completed) == (totals.registrations, totals.completions)
    by_branch = {b.branch_id: (b.entries, b.completed) for b in board.branches}
    for r in leaderboard.branch_board(session, campaign):
        if r.counts.registrations:
            assert by_branch[r.branch_id] == (r.counts.registrations, r.counts.completions)


def _entries(session, protector, campaign, branch_code_counts: dict[str, int]) -> None:
    places = {
        "B11": "北京市朝阳区建国路88号",
        "B31": "上海市浦东新区张江路100号",
        "B42": "湖北省武汉市江岸区沿江大道100号",
    }
    n = 0
    for code, count in branch_code_counts.items():
        for _ in range(count):
            n += 1
            register(
                session,
                protector,
                campaign,
                registration(n, address=AddressInput(free_text=places[code])),
                consent(),
            )
    session.flush()


def test_rate_rank_tiers_and_ties(session, protector):
    campaign = current_campaign(session)
    targets = {"B11": 4, "B31": 2, "B42": 4}
    for code, target in targets.items():
        session.execute(update(Branch).where(Branch.code == code).values(target=target))
    _entries(session, protector, campaign, {"B11": 2, "B31": 2, "B42": 4})
    rows = {r.code: r for r in leaderboard.branch_board(session, campaign)}
    # B31 2/2 and B42 4/4 tie at 100% for first; B11 2/4 is third.
    assert (rows["B31"].rank, rows["B42"].rank, rows["B11"].rank) == (1, 1, 3)
    assert rows["B31"].tier == rows["B42"].tier == "第一名"
    assert rows["B11"].tier == "第三名" and rows["B11"].rate == 0.5
    assert rows["B42"].reached and not rows["B11"].reached
    assert rows["B12"].rank is None  # no target: not ranked on 达成率
    by_count = {r.code: r for r in leaderboard.branch_board(session, campaign, order="count")}
    assert by_count["B42"].rank == 1 and by_count["B42"].tier == "第一名"
    # Flagged entries drop out of the "valid" basis only.
    session.execute(
        update(Participant)
        .where(Participant.branch_id == rows["B42"].branch_id)
        .values(referral_flagged=True)
    )
    valid = {r.code: r for r in leaderboard.branch_board(session, campaign, basis="valid")}
    everything = {r.code: r for r in leaderboard.branch_board(session, campaign, basis="all")}
    assert valid["B42"].rate == 0 and everything["B42"].rate == 1


def test_export_is_bom_utf8_and_formula_safe(session, protector):
    campaign = current_campaign(session)
    session.execute(
        update(Branch).where(Branch.code == "B11").values(name="=HYPERLINK(1)", target=3)
    )
    _entries(session, protector, campaign, {"B11": 1})
    body = leaderboard.csv_bytes(
        leaderboard.export_lines(leaderboard.branch_board(session, campaign))
    )
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0][:3] == ["排名", "奖励", "机构代码"]
    line = next(r for r in rows if r[2] == "B11")
    assert line[3] == "'=HYPERLINK(1)"
    assert line[0] == "1" and line[5] == "1" and line[7] == "33.3%"
