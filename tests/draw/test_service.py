"""The draw service without HTTP: eligibility, freeze, run once, void, verify, look-ups."""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, joinedload

from quiz.campaign.lifecycle import current_campaign
from quiz.db import utcnow
from quiz.draw import service
from quiz.draw.algorithm import draw_v1
from quiz.draw.eligibility import DrawRefused, exclude_participant
from quiz.models import AuditLog, Campaign, Draw, DrawEntrant, Exclusion, Participant, Winner
from tests.factories import make_participant

RANDOMNESS = "03 08 14 22 27 33 + 05"  # as the campaign's randomness_format asks
EXAMPLE = "03 07 12 19 25 31 + 09"  # the campaign file's randomness_example
OTHER_RESULT = "01 02 03 04 05 06 + 07"


@pytest.fixture
def campaign(session: Session) -> Campaign:
    found = current_campaign(session)
    assert found is not None
    return found


def after_close(campaign: Campaign) -> Any:
    return campaign.closes_at + timedelta(hours=1)


def after_draw(draw: Draw) -> Any:
    """A moment after the campaign's draw_at, when the lottery result exists."""
    return draw.campaign.draw_at + timedelta(hours=1)


def set_tiers(session: Session, campaign: Campaign, tiers: list[tuple[str, int, int]]) -> None:
    content = dict(campaign.content)
    content["prizes"] = [
        {"tier": t, "count": c, "prize": f"{t}奖品", "value_yuan": v} for t, c, v in tiers
    ]
    campaign.content = content
    session.flush()


def entrants(session: Session, protector: Any, campaign: Campaign, n: int) -> list[Participant]:
    return [
        make_participant(session, protector, campaign, i, complete=True) for i in range(1, n + 1)
    ]


def frozen(session: Session, protector: Any, campaign: Campaign, n: int) -> Draw:
    entrants(session, protector, campaign, n)
    return service.freeze(session, campaign, operator="tester", now=after_close(campaign))


def audit_actions(session: Session) -> list[str]:
    return list(session.scalars(select(AuditLog.action).order_by(AuditLog.id)))


# --- eligibility and freeze --------------------------------------------------------------


def test_freeze_numbers_entrants_in_completion_order_and_publishes_digest(
    session: Session, protector: Any, campaign: Campaign
) -> None:
    people = entrants(session, protector, campaign, 4)
    # Completion order, not registration order, decides the entry numbers.
    base = campaign.opens_at + timedelta(hours=1)
    for minutes, person in zip((30, 10, 20, 10), people, strict=True):
        person.completed_at = base + timedelta(minutes=minutes)
    session.flush()
    draw = service.freeze(session, campaign, operator="tester", now=after_close(campaign))

    rows = session.execute(
        select(DrawEntrant.entry_no, DrawEntrant.participant_id, DrawEntrant.line)
        .where(DrawEntrant.draw_id == draw.id)
        .order_by(DrawEntrant.entry_no)
    ).all()
    assert [r.participant_id for r in rows] == [
        people[1].id,
        people[3].id,
        people[2].id,
        people[0].id,
    ]
    first = people[1]
    assert rows[0].line == f"1\t{first.name_masked}\t{first.mobile_masked}"
    body = "".join(r.line + "\n" for r in rows).encode()
    assert draw.status == "frozen"
    assert draw.entrant_count == 4
    assert draw.entrant_digest == hashlib.sha256(body).hexdigest()
    assert draw.randomness_source == campaign.content["randomness_source"]
    assert draw.tiers[0]["tier"] == "幸运奖" and draw.tiers[0]["count"] == 8888
    assert b"".join(service.entrant_file_chunks(session, draw)) == body
    assert "draw.freeze" in audit_actions(session)


def test_eligibility_rules(session: Session, protector: Any, campaign: Campaign) -> None:
    ok, unfinished, late, flagged, excluded_row, low = (
        make_participant(session, protector, campaign, i, complete=i != 2) for i in range(1, 7)
    )
    late.completed_at = campaign.closes_at + timedelta(seconds=1)
    flagged.excluded = True
    session.add(Exclusion(campaign_id=campaign.id, id_hash=excluded_row.id_hash, reason="员工"))
    content = dict(campaign.content)
    content["min_score"] = 1
    campaign.content = content
    for person in (ok, unfinished, late, flagged, excluded_row):
        person.score = 3
    low.score = 0
    session.flush()
    draw = service.freeze(session, campaign, now=after_close(campaign))
    frozen_ids = set(
        session.scalars(select(DrawEntrant.participant_id).where(DrawEntrant.draw_id == draw.id))
    )
    assert frozen_ids == {ok.id}


def test_an_entry_not_known_to_be_18_is_not_eligible(
    session: Session, protector: Any, campaign: Campaign
) -> None:
    """Registration refuses under-18s; an entry stored before that rule (its flag set by
    migration 0007 from the birth date it held) or of unknown age stays out of the draw."""
    adult, minor, unknown = entrants(session, protector, campaign, 3)
    minor.adult = False
    unknown.adult = None
    session.flush()
    assert service.count_eligible(session, campaign) == 1
    draw = service.freeze(session, campaign, now=after_close(campaign))
    frozen_ids = set(
        session.scalars(select(DrawEntrant.participant_id).where(DrawEntrant.draw_id == draw.id))
    )
    assert frozen_ids == {adult.id}


def test_registered_before_window_is_not_eligible(
    session: Session, protector: Any, campaign: Campaign
) -> None:
    early, good = entrants(session, protector, campaign, 2)
    early.created_at = campaign.opens_at - timedelta(minutes=1)
    session.flush()
    assert service.count_eligible(session, campaign) == 1
    draw = service.freeze(session, campaign, now=after_close(campaign))
    assert service.entry_numbers_of(session, draw, [good.id]) == [1]
    assert service.entry_numbers_of(session, draw, [early.id]) == []


def test_freeze_refused_before_close_twice_and_with_no_entrants(
    session: Session, protector: Any, campaign: Campaign
) -> None:
    with pytest.raises(DrawRefused, match="N = 0"):
        service.freeze(session, campaign, now=after_close(campaign))
    entrants(session, protector, campaign, 2)
    with pytest.raises(DrawRefused, match="尚未截止"):
        service.freeze(session, campaign, now=campaign.closes_at - timedelta(minutes=1))
    service.freeze(session, campaign, now=after_close(campaign))
    with pytest.raises(DrawRefused, match="已有冻结"):
        service.freeze(session, campaign, now=after_close(campaign))
    assert session.scalar(select(func.count()).select_from(Draw)) == 1


def test_exclusion_is_audited_and_refused_after_freeze(
    session: Session, protector: Any, campaign: Campaign
) -> None:
    staff_member, other = entrants(session, protector, campaign, 2)
    with pytest.raises(DrawRefused, match="原因"):
        exclude_participant(session, campaign, staff_member, "  ")
    exclude_participant(session, campaign, staff_member, "主办方员工", operator="boss")
    assert staff_member.excluded and staff_member.excluded_reason == "主办方员工"
    assert session.scalar(select(Exclusion.reason).where(Exclusion.id_hash == staff_member.id_hash))
    log = session.scalars(select(AuditLog).where(AuditLog.action == "draw.exclude")).one()
    assert log.actor == "boss" and log.detail["reason"] == "主办方员工"
    service.freeze(session, campaign, now=after_close(campaign))
    with pytest.raises(DrawRefused, match="已冻结"):
        exclude_participant(session, campaign, other, "重复报名")


# --- run -----------------------------------------------------------------------------------


def test_run_stores_inputs_and_winners_matching_the_algorithm(
    session: Session, protector: Any, campaign: Campaign
) -> None:
    set_tiers(session, campaign, [("一等奖", 1, 500), ("二等奖", 2, 100), ("三等奖", 3, 20)])
    draw = frozen(session, protector, campaign, 10)
    count = service.run_draw(session, draw, RANDOMNESS, operator="boss", now=after_draw(draw))
    assert count == 6
    assert draw.status == "drawn" and draw.randomness_value == RANDOMNESS
    assert draw.drawn_by == "boss" and draw.drawn_at is not None
    winners = session.scalars(
        select(Winner).where(Winner.draw_id == draw.id).order_by(Winner.rank)
    ).all()
    expected = draw_v1(draw.entrant_digest, RANDOMNESS, 10, 6)
    assert [w.entry_no for w in winners] == expected
    assert [w.tier for w in winners] == ["一等奖", "二等奖", "二等奖", "三等奖", "三等奖", "三等奖"]
    assert [w.value_yuan for w in winners][:2] == [500, 100]
    owner = dict(session.execute(select(DrawEntrant.entry_no, DrawEntrant.participant_id)).all())
    assert all(owner[w.entry_no] == w.participant_id for w in winners)
    assert len({w.participant_id for w in winners}) == 6  # one prize per person
    log = session.scalars(select(AuditLog).where(AuditLog.action == "draw.run")).one()
    assert log.detail["randomness"] == RANDOMNESS
    assert log.detail["entrant_digest"] == draw.entrant_digest
    assert log.detail["algorithm"] == "v1"


def test_run_is_refused_before_draw_at_and_the_override_is_audited(
    session: Session, protector: Any, campaign: Campaign
) -> None:
    """Freezing and running at once succeeded 4 days before draw_at, when the lottery
    result the draw depends on did not exist yet."""
    draw = frozen(session, protector, campaign, 5)
    early = campaign.draw_at - timedelta(days=4)
    with pytest.raises(DrawRefused, match="开奖时间"):
        service.run_draw(session, draw, RANDOMNESS, now=early)
    assert draw.status == "frozen"
    service.run_draw(session, draw, RANDOMNESS, now=early, early_reason="彩票开奖提前到周二")
    log = session.scalars(select(AuditLog).where(AuditLog.action == "draw.run")).one()
    assert log.detail["early_reason"] == "彩票开奖提前到周二"
    assert log.detail["before_draw_at"] == campaign.draw_at.isoformat()


def test_the_campaign_files_example_is_not_a_lottery_result(
    session: Session, protector: Any, campaign: Campaign
) -> None:
    assert campaign.content["randomness_example"] == EXAMPLE
    draw = frozen(session, protector, campaign, 5)
    with pytest.raises(DrawRefused, match="书写示例"):
        service.run_draw(session, draw, EXAMPLE, now=after_draw(draw))
    assert draw.status == "frozen"


def test_fewer_entrants_than_prizes_everyone_wins_in_tier_order(
    session: Session, protector: Any, campaign: Campaign
) -> None:
    set_tiers(session, campaign, [("一等奖", 2, 500), ("二等奖", 5, 100)])
    draw = frozen(session, protector, campaign, 4)
    assert service.run_draw(session, draw, RANDOMNESS, now=after_draw(draw)) == 4
    tiers = session.scalars(select(Winner.tier).order_by(Winner.rank)).all()
    assert tiers == ["一等奖", "一等奖", "二等奖", "二等奖"]
    assert sorted(session.scalars(select(Winner.entry_no))) == [1, 2, 3, 4]


def test_second_run_is_refused_even_from_a_stale_object(
    app: Any, session: Session, protector: Any, campaign: Campaign
) -> None:
    draw = frozen(session, protector, campaign, 3)
    session.commit()
    # What a second operator's process loaded before the first run committed.
    reader = app.extensions["quiz.db"].session(write=False)
    stale = reader.get(Draw, draw.id, options=[joinedload(Draw.campaign)])
    assert stale is not None and stale.status == "frozen"
    reader.close()
    service.run_draw(session, draw, RANDOMNESS, now=after_draw(draw))
    session.commit()
    with pytest.raises(DrawRefused, match="不能重复"):
        service.run_draw(session, draw, OTHER_RESULT, now=after_draw(draw))
    # The stale copy still says 'frozen': the conditional UPDATE is what refuses it.
    second = app.extensions["quiz.db"].session(write=True)
    try:
        with pytest.raises(DrawRefused, match="不能重复"):
            service.run_draw(second, stale, OTHER_RESULT, now=after_draw(draw))
    finally:
        second.rollback()
        second.close()
    assert session.scalar(select(func.count()).select_from(Winner)) == 3
    assert session.scalar(select(Draw.randomness_value)) == RANDOMNESS


@pytest.mark.slow  # one full draw per writing, dozens of them
@pytest.mark.parametrize(
    "written",
    [
        "   ",
        " " + RANDOMNESS,
        RANDOMNESS + " ",
        RANDOMNESS.replace(" ", "  ", 1),
        RANDOMNESS.replace(" ", "\t", 1),
        RANDOMNESS.replace(" ", "\u3000", 1),  # an ideographic space
        RANDOMNESS + "\u200b",  # zero-width space: invisible on the page
        RANDOMNESS.replace("03", "3"),
        RANDOMNESS.replace("03", "０３"),
        RANDOMNESS.replace(" + ", "+"),
        "2027-02-04 双色球 " + RANDOMNESS,
    ],
)
def test_only_the_announced_writing_of_the_result_is_accepted(
    session: Session, protector: Any, campaign: Campaign, written: str
) -> None:
    """Each other writing of the same numbers gives other winners: with a choice of
    writings the operator could choose the winners, and a string the page cannot show
    (edge or doubled spaces, tabs, invisible characters) cannot be replayed outside."""
    draw = frozen(session, protector, campaign, 30)
    assert draw.randomness_format == campaign.content["randomness_format"]
    with pytest.raises(DrawRefused, match="开奖结果"):
        service.run_draw(session, draw, written, now=after_draw(draw))
    assert draw.status == "frozen"
    service.run_draw(session, draw, RANDOMNESS, now=after_draw(draw))
    assert draw.randomness_value == RANDOMNESS


def test_a_draw_frozen_before_formats_existed_uses_its_string_exactly(
    session: Session, protector: Any, campaign: Campaign
) -> None:
    draw = frozen(session, protector, campaign, 30)
    draw.randomness_format = None  # as draws made before the format was recorded
    value = "福彩双色球 ０３ 07+09"  # full-width digits are part of it
    set_tiers(session, campaign, [("幸运奖", 5, 20)])
    draw.tiers = service.tiers_of(campaign)
    session.flush()
    service.run_draw(session, draw, value, now=after_draw(draw))
    got = list(session.scalars(select(Winner.entry_no).order_by(Winner.rank)))
    assert got == draw_v1(draw.entrant_digest, value, 30, 5)
    assert got != draw_v1(draw.entrant_digest, value.replace("０３", "03"), 30, 5)


def test_freeze_needs_the_announced_format_and_deadline_and_refuses_after_it(
    session: Session, protector: Any, campaign: Campaign
) -> None:
    """Once the lottery result can be known, no list may be frozen: a void and a new
    freeze with other exclusions would otherwise choose among outcomes."""
    entrants(session, protector, campaign, 3)
    deadline = datetime.fromisoformat(campaign.content["freeze_deadline"])
    with pytest.raises(DrawRefused, match="已过活动文件规定的名单冻结截止时间"):
        service.freeze(session, campaign, now=deadline + timedelta(seconds=1))
    for missing in ("randomness_format", "freeze_deadline"):
        content = dict(campaign.content)
        content[missing] = None
        campaign.content = content
        session.flush()
        with pytest.raises(DrawRefused, match=missing):
            service.freeze(session, campaign, now=after_close(campaign))
    assert session.scalar(select(func.count()).select_from(Draw)) == 0


def test_a_voided_draws_result_cannot_be_used_again(
    session: Session, protector: Any, campaign: Campaign
) -> None:
    draw = frozen(session, protector, campaign, 6)
    service.run_draw(session, draw, RANDOMNESS, now=after_draw(draw))
    service.void_draw(session, draw, "名单有误", operator="boss")
    exclude_participant(
        session, campaign, session.get(Participant, draw_winner(session, draw)), "员工"
    )
    again = service.freeze(session, campaign, now=after_close(campaign))
    with pytest.raises(DrawRefused, match="已用于已作废的抽奖"):
        service.run_draw(session, again, RANDOMNESS, now=after_draw(again))
    assert again.status == "frozen"
    service.run_draw(
        session, again, OTHER_RESULT, now=after_draw(again)
    )  # a newly announced source's result
    assert again.status == "drawn"


def draw_winner(session: Session, draw: Draw) -> int:
    return session.scalars(select(Winner.participant_id).where(Winner.draw_id == draw.id)).first()


# --- void and verify -----------------------------------------------------------------------


def test_void_keeps_record_and_allows_a_new_freeze(
    session: Session, protector: Any, campaign: Campaign
) -> None:
    draw = frozen(session, protector, campaign, 3)
    service.run_draw(session, draw, RANDOMNESS, now=after_draw(draw))
    with pytest.raises(DrawRefused, match="原因"):
        service.void_draw(session, draw, "")
    service.void_draw(session, draw, "随机数来源公布有误", operator="boss")
    assert draw.status == "voided" and draw.void_reason == "随机数来源公布有误"
    assert session.scalar(select(func.count()).select_from(Winner)) == 3  # kept for the record
    with pytest.raises(DrawRefused, match="已作废"):
        service.run_draw(session, draw, RANDOMNESS, now=after_draw(draw))
    again = service.freeze(session, campaign, now=after_close(campaign))
    assert again.id != draw.id and again.status == "frozen"
    assert service.published_draw(session, campaign) is again
    assert audit_actions(session)[-3:] == ["draw.run", "draw.void", "draw.freeze"]


def test_verify_passes_then_detects_a_tampered_line(
    session: Session, protector: Any, campaign: Campaign
) -> None:
    draw = frozen(session, protector, campaign, 12)
    set_tiers(session, campaign, [("幸运奖", 4, 20)])
    draw.tiers = service.tiers_of(campaign)
    service.run_draw(session, draw, RANDOMNESS, now=after_draw(draw))
    result = service.verify_draw(session, draw)
    assert result.ok, result.problems
    assert result.entrant_count == 12 and result.digest == draw.entrant_digest
    session.execute(
        update(DrawEntrant)
        .where(DrawEntrant.draw_id == draw.id, DrawEntrant.entry_no == 7)
        .values(line="7\t王*五\t139****0007")
    )
    result = service.verify_draw(session, draw)
    assert not result.ok
    assert any("摘要不符" in p for p in result.problems)


def test_verify_detects_a_tampered_winner(
    session: Session, protector: Any, campaign: Campaign
) -> None:
    draw = frozen(session, protector, campaign, 12)
    set_tiers(session, campaign, [("幸运奖", 4, 20)])
    draw.tiers = service.tiers_of(campaign)
    service.run_draw(session, draw, RANDOMNESS, now=after_draw(draw))
    winners = set(session.scalars(select(Winner.entry_no)))
    loser = min(set(range(1, 13)) - winners)
    session.execute(
        update(Winner).where(Winner.draw_id == draw.id, Winner.rank == 2).values(entry_no=loser)
    )
    result = service.verify_draw(session, draw)
    assert not result.ok
    assert any("第 2 名不符" in p for p in result.problems)


@pytest.mark.parametrize(
    ("column", "value", "problem"),
    [
        ("tier", "一等奖", "第 2 名不符"),
        ("prize", "金条", "第 2 名不符"),
        ("value_yuan", 9999, "第 2 名不符"),
        ("participant_id", None, "第 2 名(编号"),
    ],
)
def test_verify_detects_a_prize_or_a_person_changed_after_the_draw(
    session: Session, protector: Any, campaign: Campaign, column: str, value: Any, problem: str
) -> None:
    """The entry number stays, but the prize grows or goes to someone else."""
    draw = frozen(session, protector, campaign, 12)
    set_tiers(session, campaign, [("幸运奖", 4, 20)])
    draw.tiers = service.tiers_of(campaign)
    service.run_draw(session, draw, RANDOMNESS, now=after_draw(draw))
    if column == "participant_id":  # handed to an entrant who did not win
        winning = set(session.scalars(select(Winner.participant_id)))
        value = session.scalars(
            select(Participant.id).where(Participant.id.not_in(winning))
        ).first()
    session.execute(
        update(Winner).where(Winner.draw_id == draw.id, Winner.rank == 2).values({column: value})
    )
    result = service.verify_draw(session, draw)
    assert not result.ok
    assert any(p.startswith(problem) for p in result.problems), result.problems


def test_verify_detects_a_winner_swapped_for_another_person(
    session: Session, protector: Any, campaign: Campaign
) -> None:
    """The digest covers the lines, not who stands behind an entry number: swapping the
    participant of a winning entry (and the winner row with it) must still be caught."""
    draw = frozen(session, protector, campaign, 12)
    set_tiers(session, campaign, [("幸运奖", 4, 20)])
    draw.tiers = service.tiers_of(campaign)
    service.run_draw(session, draw, RANDOMNESS, now=after_draw(draw))
    assert service.verify_draw(session, draw).ok
    winner = session.scalars(
        select(Winner).where(Winner.draw_id == draw.id, Winner.rank == 1)
    ).one()
    accomplice = session.scalars(
        select(DrawEntrant).where(
            DrawEntrant.draw_id == draw.id,
            DrawEntrant.participant_id.not_in(select(Winner.participant_id)),
        )
    ).first()
    real, other, other_no = winner.participant_id, accomplice.participant_id, accomplice.entry_no
    session.execute(
        update(DrawEntrant)
        .where(DrawEntrant.draw_id == draw.id, DrawEntrant.participant_id == real)
        .values(participant_id=other)
    )
    session.execute(
        update(DrawEntrant)
        .where(DrawEntrant.draw_id == draw.id, DrawEntrant.entry_no == other_no)
        .values(participant_id=real)
    )
    session.execute(
        update(Winner)
        .where(Winner.draw_id == draw.id, Winner.rank == 1)
        .values(participant_id=other)
    )
    session.expire_all()
    result = service.verify_draw(session, session.get(Draw, draw.id))
    assert not result.ok
    assert any("奖品却记在" in p for p in result.problems), result.problems


def test_verify_accepts_a_winner_erased_after_the_draw(
    session: Session, protector: Any, campaign: Campaign
) -> None:
    from quiz.privacy.retention import anonymise

    draw = frozen(session, protector, campaign, 12)
    service.run_draw(session, draw, RANDOMNESS, now=after_draw(draw))
    anonymise(session, protector, session.get(Participant, draw_winner(session, draw)))
    session.flush()
    assert service.verify_draw(session, draw).ok


def test_verify_detects_a_changed_entrant_count(
    session: Session, protector: Any, campaign: Campaign
) -> None:
    draw = frozen(session, protector, campaign, 12)
    assert service.verify_draw(session, draw).ok
    draw.entrant_count = 13
    result = service.verify_draw(session, draw)
    assert not result.ok
    assert any(p.startswith("名单人数不符") for p in result.problems)


# --- look-ups, shipping, export ----------------------------------------------------------


def test_lookups_by_mobile_and_id_last4(
    session: Session, protector: Any, campaign: Campaign
) -> None:
    set_tiers(session, campaign, [("幸运奖", 2, 20)])
    people = entrants(session, protector, campaign, 6)
    draw = service.freeze(session, campaign, now=after_close(campaign))
    service.run_draw(session, draw, RANDOMNESS, now=after_draw(draw))
    winner = session.scalars(
        select(Winner).where(Winner.draw_id == draw.id, Winner.rank == 1)
    ).one()
    person = session.get(Participant, winner.participant_id)
    assert person is not None
    mobile = protector.decrypt(person.mobile_enc)
    found = service.participants_by_contact(session, protector, campaign, mobile, person.id_last4)
    assert found == [person.id]
    assert service.prizes_of(session, draw, found)[0].rank == 1
    # A wrong ID ending finds nobody: no hint that the mobile is registered.
    wrong = "0000" if person.id_last4 != "0000" else "1111"
    assert service.participants_by_contact(session, protector, campaign, mobile, wrong) == []
    assert service.normalise_last4("123x") == "123X"
    assert service.normalise_last4("12a4") is None
    others = [p for p in people if p.id != person.id]
    assert service.entry_numbers_of(session, draw, [others[0].id])


def test_shipping_update_and_branch_export_are_formula_safe(
    session: Session, protector: Any, campaign: Campaign
) -> None:
    set_tiers(session, campaign, [("幸运奖", 3, 20)])
    draw = frozen(session, protector, campaign, 5)
    service.run_draw(session, draw, RANDOMNESS, now=after_draw(draw))
    winner = session.scalars(
        select(Winner).where(Winner.draw_id == draw.id, Winner.rank == 1)
    ).one()
    with pytest.raises(DrawRefused, match="快递单号"):
        service.update_shipping(session, winner, "已寄送", "")
    with pytest.raises(DrawRefused, match="状态无效"):
        service.update_shipping(session, winner, "丢了", "SF1")
    service.update_shipping(session, winner, "已寄送", "SF123", operator="branch1")
    assert winner.shipping_status == "已寄送" and winner.shipped_at is not None
    person = session.get(Participant, winner.participant_id)
    assert person is not None
    person.address = '=HYPERLINK("http://x")北京市'
    session.flush()
    text = "".join(
        service.winners_csv(
            session, protector, draw, person.branch_id, all_branches=False, reveal=True
        )
    )
    assert text.startswith("\ufeff排名,")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    mine = [r for r in rows[1:] if r[1] == str(winner.entry_no)]
    assert mine and mine[0][7].startswith("'=HYPERLINK")
    assert mine[0][6] == protector.decrypt(person.mobile_enc)
    assert mine[0][10] == "已寄送" and mine[0][11] == "SF123"
    others = session.scalars(
        select(Participant.branch_id).join(Winner, Winner.participant_id == Participant.id)
    ).all()
    assert len(rows) - 1 == sum(1 for b in others if b == person.branch_id)
    assert service.safe_cell("-1") == "'-1" and service.safe_cell("\t1") == "'\t1"
    assert service.safe_cell("北京") == "北京"


def _wait_until_blocked(observer, thread, timeout: float = 30.0) -> None:
    """Return once `thread` waits on another transaction's write lock: on PostgreSQL a
    backend of this database waits on a Lock; on SQLite the thread sits in the writer
    queue's flock (which the other writer holds until it commits). No fixed sleep."""
    import sys
    import time

    from sqlalchemy import text

    from quiz.db import WriterQueue

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert thread.is_alive(), "the exclusion finished without waiting for the freeze"
        if observer.get_bind().dialect.name == "postgresql":
            waiting = observer.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE wait_event_type = 'Lock' AND datname = current_database()"
                )
            )
            observer.rollback()
            if waiting:
                return
        else:
            frame = sys._current_frames().get(thread.ident)
            if frame is not None and frame.f_code is WriterQueue.acquire.__code__:
                return
        time.sleep(0.005)
    pytest.fail("the exclusion never waited on the freeze's lock")


def test_an_exclusion_racing_a_freeze_waits_for_it_and_is_refused(app, session, protector):
    """Staff exclude someone while another freezes the list: the exclusion must wait for
    the freeze and be refused, not be saved while the person stays in the frozen list
    (PostgreSQL's READ COMMITTED let it through before the campaign row was locked)."""
    import threading

    from tests.draw.test_draw_views import closed_with_entrants

    campaign, people = closed_with_entrants(session, protector, 5, prizes=3)
    target_id = people[2].id
    database = app.extensions["quiz.db"]
    excluder, freezer = database.session(write=True), database.session(write=True)
    their_campaign = excluder.get(Campaign, campaign.id)
    their_person = excluder.get(Participant, target_id)
    excluder.commit()  # the page was loaded; the POST comes later
    draw = service.freeze(
        freezer,
        freezer.get(Campaign, campaign.id),
        operator="y",
        now=utcnow() + timedelta(seconds=1),
    )
    outcome: list[str] = []

    def exclude() -> None:
        try:
            exclude_participant(excluder, their_campaign, their_person, "本公司员工", operator="x")
            excluder.commit()
            outcome.append("excluded")
        except DrawRefused as exc:
            excluder.rollback()
            outcome.append(str(exc))

    thread = threading.Thread(target=exclude)
    thread.start()
    _wait_until_blocked(session, thread)
    freezer.commit()
    thread.join(30)
    excluder.close()
    freezer.close()
    assert outcome and "已冻结" in outcome[0]
    session.expire_all()
    assert session.get(Participant, target_id).excluded is False
    assert session.scalar(
        select(DrawEntrant.entry_no).where(
            DrawEntrant.draw_id == draw.id, DrawEntrant.participant_id == target_id
        )
    )
