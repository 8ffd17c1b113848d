"""Judging: blind, never one's own branch, trimmed mean and the tie rule, audited decisions."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from quiz.artwork import judging
from quiz.artwork.judging import JudgingError, trimmed_mean
from quiz.campaign.artwork_settings import ArtworkSettings
from quiz.models import AuditLog, Branch, Campaign
from tests.artwork.conftest import make_agent, make_work
from tests.factories import make_staff


def branch_id(session: Session, code: str) -> int:
    return session.scalars(select(Branch.id).where(Branch.code == code)).one()


@pytest.fixture
def judges_settings(settings: ArtworkSettings) -> ArtworkSettings:
    names = ("j_bj", "j_sh", "j_ho1", "j_ho2", "j_ho3")
    return dataclasses.replace(settings, regional_judges=names, final_judges=names)


def test_trimmed_mean_drops_highest_and_lowest_from_five_judges() -> None:
    assert trimmed_mean([10, 1, 5, 6, 7]) == Fraction(18, 3)
    assert trimmed_mean([10, 1, 5, 6]) == Fraction(22, 4)  # four judges: nothing dropped
    assert trimmed_mean([]) is None


def test_a_judge_sees_no_identity_and_never_their_own_branch(
    session: Session, protector, contest: Campaign, judges_settings: ArtworkSettings, store
) -> None:
    bj_agent, sh_agent = make_agent(session, "B11", "BJ1"), make_agent(session, "B31", "SH1")
    bj_work = make_work(session, protector, contest, bj_agent, store, 1, stage="selected")
    sh_work = make_work(session, protector, contest, sh_agent, store, 2, stage="selected")
    j_bj = make_staff(session, "j_bj", "branch", branch_id=branch_id(session, "B11"))

    seen = judging.works_for_judge(session, contest, j_bj, "复评")

    assert [w.work_id for w in seen] == [sh_work.id]
    # What the page gets holds a number, a group and a picture key: nothing else.
    assert {f.name for f in dataclasses.fields(seen[0])} == {
        "work_id",
        "number",
        "group",
        "image_key",
        "my_score",
    }
    assert seen[0].number == f"{sh_work.child_id:05d}"
    with pytest.raises(JudgingError, match="不评本机构"):
        judging.record_score(session, contest, judges_settings, j_bj, bj_work.id, "复评", 9)
    judging.record_score(session, contest, judges_settings, j_bj, sh_work.id, "复评", 9)
    assert judging.progress(session, contest, j_bj, "复评") == (1, 1)

    outsider = make_staff(session, "not_a_judge", "analyst")
    with pytest.raises(JudgingError, match="不是本次活动复评的评委"):
        judging.record_score(session, contest, judges_settings, outsider, sh_work.id, "复评", 5)
    head = make_staff(session, "j_ho1", "analyst")
    for bad in (0, 11):
        with pytest.raises(JudgingError, match="1至10"):
            judging.record_score(session, contest, judges_settings, head, sh_work.id, "复评", bad)


def test_the_ranking_follows_the_trimmed_mean_then_the_tie_rule(
    session: Session, protector, contest: Campaign, judges_settings: ArtworkSettings, store
) -> None:
    agent = make_agent(session, "B11", "BJ1")
    a, b, c, d = (
        make_work(session, protector, contest, agent, store, n, stage="selected")
        for n in range(1, 5)
    )
    judges = [make_staff(session, f"j_ho{i}", "analyst") for i in (1, 2, 3)]
    judges += [make_staff(session, "j_sh", "branch", branch_id=branch_id(session, "B31"))]
    judges += [make_staff(session, "j_bj", "analyst")]  # head office despite the name
    sheet = {
        # plain mean 6.6, trimmed (drop 10 and 1) 7.0
        a: [10, 1, 7, 7, 7],
        # plain mean 7.4 would win untrimmed; trimmed (drop 10, 6) 7.0: tie with a, and
        # the plain mean breaks it: b before a
        b: [10, 6, 7, 7, 7],
        # trimmed 8.0 : first
        c: [8, 8, 8, 8, 8],
        # same trimmed and plain mean as a, same high-score counts: the smaller number first
        d: [10, 1, 7, 7, 7],
    }
    for work, scores in sheet.items():
        for judge, score in zip(judges, scores, strict=True):
            judging.record_score(session, contest, judges_settings, judge, work.id, "复评", score)

    ranked = judging.ranking(session, contest, "复评", a.age_group)

    assert [r.work.id for r in ranked] == [c.id, b.id, a.id, d.id]
    assert [r.mean for r in ranked] == [8, 7, 7, 7]
    assert ranked[0].rank == 1

    finalists = judging.advance_to_final(
        session,
        contest,
        dataclasses.replace(judges_settings, finalists=3),
        judges[0],
        a.age_group,
    )
    assert [r.work.id for r in finalists] == [c.id, b.id, a.id]
    assert d.stage == "selected"
    with pytest.raises(JudgingError, match="复评已结束"):
        judging.record_score(session, contest, judges_settings, judges[0], d.id, "复评", 10)

    for work, scores in ((c, [9, 9]), (b, [6, 6]), (a, [8, 8])):
        for judge, score in zip(judges, scores, strict=False):
            judging.record_score(session, contest, judges_settings, judge, work.id, "终评", score)
    few_awards = dataclasses.replace(judges_settings, awards=(("一等奖", 1), ("二等奖", 1)))
    awarded = judging.confirm_awards(session, contest, few_awards, judges[0], a.age_group)
    assert [(r.work.id, r.work.award) for r in awarded] == [(c.id, "一等奖"), (a.id, "二等奖")]
    assert b.award is None
    actions = session.scalars(select(AuditLog.action)).all()
    assert actions.count("artwork.score") == 20 + 6
    assert {"artwork.advance", "artwork.awards"} <= set(actions)


def test_branch_selection_respects_the_quota_per_group(
    session: Session, protector, contest: Campaign, settings: ArtworkSettings, store
) -> None:
    agent = make_agent(session, "B11", "BJ1")
    works = [make_work(session, protector, contest, agent, store, n) for n in range(1, 4)]
    staff = make_staff(session, "bj", "branch", branch_id=agent.branch_id)
    tight = dataclasses.replace(settings, branch_quota=2)
    with pytest.raises(JudgingError, match="超过每组2幅"):
        judging.select_for_review(
            session, contest, tight, staff, [w.id for w in works], agent.branch_id
        )
    assert (
        judging.select_for_review(
            session, contest, tight, staff, [works[0].id, works[2].id], agent.branch_id
        )
        == 2
    )
    assert [w.stage for w in works] == ["selected", "entered", "selected"]
