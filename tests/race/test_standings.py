"""The race's rules: ranking with ties, rewards only at target, milestone status on given
dates, and an imported metric replacing the site's own count."""

from __future__ import annotations

from datetime import date

import pytest

from quiz.campaign.lifecycle import current_campaign
from quiz.campaign.race_spec import check_race
from quiz.models import Branch, BranchCount, MetricFigure
from quiz.race import service as race

RACE = {
    "metric": "registrations",
    "follow_up_days": 7,
    "targets": {"R1": 100, "R2": 50, "R3": 200, "R4": 100, "R5": 40},
    "groups": [
        {"name": "A组", "branches": ["R1", "R2", "R3", "R4"], "rewards": [3000, 2000, 1000]},
        {"name": "B组", "branches": ["R5", "R6"], "rewards": [1500]},
    ],
    "milestones": [
        {"date": "2026-11-30", "percent": 30, "label": "推广阶段"},
        {"date": "2026-12-31", "percent": 70, "label": "持续推进阶段"},
        {"date": "2027-01-31", "percent": 100, "label": "完美收官阶段"},
    ],
}


@pytest.fixture
def setup(session):
    campaign = current_campaign(session)
    campaign.content = {**campaign.content, "race": RACE}
    branches = {}
    for code in ("R1", "R2", "R3", "R4", "R5", "R6"):
        branches[code] = Branch(code=code, name=f"{code}分公司")
        session.add(branches[code])
    session.flush()
    return campaign, branches


def _count(session, campaign, branch, n, day=date(2026, 11, 20), status="registered"):
    session.add(
        BranchCount(
            campaign_id=campaign.id,
            branch_id=branch.id,
            status=status,
            follow_up_status="待联系",
            day=day,
            count=n,
        )
    )
    session.flush()


def _rows(groups, name):
    return {r.code: r for r in next(g for g in groups if g.name == name).rows}


def test_equal_rates_share_a_rank_and_the_next_rank_is_skipped(session, setup):
    campaign, b = setup
    _count(session, campaign, b["R1"], 50)  # 50 %
    _count(session, campaign, b["R2"], 25)  # 50 %: tied with R1 though fewer people
    _count(session, campaign, b["R3"], 120)  # 60 %
    _count(session, campaign, b["R4"], 10)  # 10 %
    rows = race.standings(session, campaign, date(2026, 11, 20))[0].rows
    assert [(r.code, r.rank) for r in rows] == [("R3", 1), ("R1", 2), ("R2", 2), ("R4", 4)]
    assert rows[1].rate == rows[2].rate == 50.0


def test_a_reward_is_paid_only_at_or_above_target(session, setup):
    campaign, b = setup
    _count(session, campaign, b["R1"], 100)  # exactly at target: 100 %
    _count(session, campaign, b["R2"], 49)  # 98 %: second, but short of target
    _count(session, campaign, b["R3"], 20)
    _count(session, campaign, b["R5"], 39)  # alone in B组, first, one short
    groups = race.standings(session, campaign, date(2027, 1, 31))
    a = _rows(groups, "A组")
    assert (a["R1"].rank, a["R1"].reward) == (1, 3000)
    assert (a["R2"].rank, a["R2"].reward) == (2, None)  # the 2000 is not paid
    assert a["R3"].reward is None and a["R4"].reward is None
    b_group = _rows(groups, "B组")
    assert (b_group["R5"].rank, b_group["R5"].reward) == (1, None)
    assert b_group["R6"].rank is None  # no target: listed, never ranked
    _count(session, campaign, b["R5"], 1, day=date(2027, 1, 2))
    b_group = _rows(race.standings(session, campaign, date(2027, 1, 31)), "B组")
    assert b_group["R5"].reward == 1500


@pytest.mark.parametrize(
    ("today", "due", "on_track_r1"),
    [
        (date(2026, 11, 15), 30, True),  # before the first milestone: 30 % is due
        (date(2026, 11, 30), 30, True),  # its last day still asks 30 %
        (date(2026, 12, 1), 70, False),  # next day: 70 % due, R1 has 35 %
        (date(2027, 2, 10), 100, False),  # after the last one: still 100 %
    ],
)
def test_milestone_status_on_given_dates(session, setup, today, due, on_track_r1):
    campaign, b = setup
    _count(session, campaign, b["R1"], 35, day=date(2026, 11, 10))
    _count(session, campaign, b["R4"], 29, day=date(2026, 11, 10))  # 29 %: short of 30 %
    group = race.standings(session, campaign, today)[0]
    rows = {r.code: r for r in group.rows}
    assert group.milestone.percent == due
    assert rows["R1"].on_track is on_track_r1
    assert rows["R4"].on_track is False
    assert rows["R1"].milestone_line == f"应达 {due} %, 实际 35 %"
    assert rows["R1"].due_count == due  # target 100


def test_counts_are_taken_up_to_the_given_day(session, setup):
    campaign, b = setup
    _count(session, campaign, b["R1"], 10, day=date(2026, 11, 10))
    _count(session, campaign, b["R1"], 5, day=date(2026, 11, 11))
    assert race.counts_by_branch(session, campaign.id, "registrations", date(2026, 11, 10)) == {
        b["R1"].id: 10
    }
    assert race.counts_by_branch(session, campaign.id, "registrations")[b["R1"].id] == 15


def test_an_imported_metric_replaces_the_sites_own_count(session, setup):
    campaign, b = setup
    _count(session, campaign, b["R1"], 90)  # the site's registrations: ignored now
    campaign.content = {**campaign.content, "race": {**RACE, "metric": "imported:网上注册"}}
    for day, n in ((date(2026, 11, 1), 7), (date(2026, 11, 2), 5)):
        session.add(
            MetricFigure(
                campaign_id=campaign.id,
                metric="网上注册",
                branch_id=b["R1"].id,
                day=day,
                quantity=n,
            )
        )
    session.add(
        MetricFigure(
            campaign_id=campaign.id, metric="复效", branch_id=b["R1"].id, day=day, quantity=99
        )
    )
    session.flush()
    rows = _rows(race.standings(session, campaign, date(2026, 11, 30)), "A组")
    assert rows["R1"].count == 12  # 7 + 5 of 网上注册; neither the 90 nor the 99 复效
    completed = {**RACE, "metric": "completed"}
    _count(session, campaign, b["R1"], 4, status="completed")
    config = race.RaceConfig.of(campaign)
    assert config.metric_label == "网上注册"
    campaign.content = {**campaign.content, "race": completed}
    rows = _rows(race.standings(session, campaign, date(2026, 11, 30)), "A组")
    assert rows["R1"].count == 4


def test_without_groups_branches_with_targets_split_into_a_b_c(session, setup):
    campaign, _ = setup
    campaign.content = {**campaign.content, "race": {**RACE, "groups": []}}
    groups = race.standings(session, campaign, date(2026, 11, 30))
    assert [(g.name, [r.code for r in g.rows]) for g in groups] == [
        ("A组", ["R1", "R3"]),  # the two largest targets (100, 200); nobody counted yet: by code
        ("B组", ["R2", "R4"]),
        ("C组", ["R5"]),
    ]


def test_the_race_table_is_checked():
    problems = []
    data = {
        "race": {
            "metric": "clicks",
            "targets": {"GD": 0},
            "groups": [{"name": "A组", "branches": ["GD"]}, {"name": "B组", "branches": ["GD"]}],
            "milestones": [
                {"date": date(2026, 12, 31), "percent": 70},
                {"date": date(2026, 11, 30), "percent": 30},
            ],
        }
    }
    check_race(data, lambda path, message: problems.append((path, message)))
    paths = [p for p, _ in problems]
    assert ("race", "metric") in paths
    assert ("race", "targets", "GD") in paths
    assert ("race", "groups", 1, "branches") in paths  # GD in two groups
    assert ("race", "milestones", 1) in paths  # out of order
    assert check_race({}, lambda *_: None) is None
