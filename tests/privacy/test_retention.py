"""Retention purge and deletion requests: personal data goes, statistics stay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from quiz.cli.privacy import participant_delete, purge_command
from quiz.entry.signup import find_by_identity
from quiz.models import AuditLog, Campaign, Draw, FollowUp, Participant, Winner
from quiz.privacy.retention import PendingPrize, delete_person, find_person, purge
from tests.factories import make_mobile, make_participant, make_resident_id

NOW = datetime.now(UTC)


def _campaign(session) -> Campaign:
    return session.scalars(select(Campaign)).one()


def _draw(session, campaign, status="drawn") -> Draw:
    draw = Draw(
        campaign_id=campaign.id,
        status=status,
        entrant_count=10,
        entrant_digest="0" * 64,
        randomness_source="test",
        tiers=[],
        frozen_by="t",
    )
    session.add(draw)
    session.flush()
    return draw


def _win(session, draw, participant, rank, status="待寄送") -> Winner:
    winner = Winner(
        draw_id=draw.id,
        rank=rank,
        entry_no=rank,
        participant_id=participant.id,
        tier="幸运奖",
        prize="礼品",
        value_yuan=20,
        shipping_status=status,
        tracking_no="SF123456789",
    )
    session.add(winner)
    session.flush()
    return winner


@pytest.fixture
def people(session, protector):
    """Six participants (mixed places, scores, follow-ups) and winners in two draws."""
    campaign = _campaign(session)
    ps = [make_participant(session, protector, campaign, n, complete=n % 3 != 0) for n in range(6)]
    for p in ps:
        session.add(FollowUp(participant_id=p.id, status="已联系", note=f"客户说下午打电话 {p.id}"))
    ps[0].landline_enc = protector.encrypt("010-12345678")
    drawn, voided = _draw(session, campaign), _draw(session, campaign, "voided")
    _win(session, drawn, ps[1], 1, "已签收")
    _win(session, drawn, ps[2], 2, "已寄送")
    _win(session, voided, ps[3], 1, "待寄送")  # a voided draw's winner is not a winner
    session.commit()
    return campaign, ps


def stats(session) -> dict[str, object]:
    """The figures a dashboard shows, by province, branch, status, intent, follow-up."""
    out: dict[str, object] = {}
    for col in (
        Participant.province_code,
        Participant.city_code,
        Participant.branch_id,
        Participant.status,
        Participant.intent_level,
        Participant.follow_up_status,
        Participant.channel_id,
    ):
        rows = session.execute(select(col, func.count()).group_by(col).order_by(col)).all()
        out[col.key] = [tuple(r) for r in rows]
    out["score"] = session.scalar(select(func.sum(Participant.score)))
    out["total"] = session.scalar(select(func.count()).select_from(Participant))
    out["follow_ups"] = session.scalar(select(func.count()).select_from(FollowUp))
    return out


def days_after_draw(campaign: Campaign, days: int) -> datetime:
    return campaign.draw_at + timedelta(days=days)


def test_nothing_is_purged_during_the_follow_up_period(session, protector, people):
    campaign, _ = people
    report = purge(session, protector, now=days_after_draw(campaign, 179))
    assert report.anonymised == 0
    assert session.scalar(select(func.count()).where(Participant.anonymised_at.is_not(None))) == 0


def test_follow_up_period_over_anonymises_non_winners_only(session, protector, people):
    campaign, ps = people
    report = purge(session, protector, now=days_after_draw(campaign, 181))
    session.commit()
    # ps[3] won only in a voided draw: an ordinary non-winner.
    assert sorted(report.participant_ids) == sorted(p.id for p in (ps[0], ps[3], ps[4], ps[5]))
    for p in ps:
        session.refresh(p)
    assert ps[1].anonymised_at is None and ps[2].anonymised_at is None
    assert ps[1].name == "张小三" and protector.decrypt(ps[1].mobile_enc) == make_mobile(1)


def test_anonymised_row_keeps_no_personal_data(session, protector, people):
    campaign, ps = people
    target = ps[0]
    rid = protector.decrypt(target.id_enc)
    purge(session, protector, now=days_after_draw(campaign, 181))
    session.commit()
    session.refresh(target)
    assert target.name == "已匿名" and target.name_masked == "*"
    assert protector.decrypt(target.id_enc) == ""
    assert protector.decrypt(target.mobile_enc) == ""
    assert protector.decrypt(target.landline_enc) == ""
    assert target.consent_ip is None
    assert target.mobile_masked == "*" * 11 and set(target.id_masked) == {"*"}
    assert target.address == "北京市"  # province + city text only; no district, no street
    assert target.postal_code == "1000**"
    assert target.id_hash.startswith("anon-") and target.mobile_hash.startswith("anon-")
    assert target.anonymised_at is not None
    notes = session.scalars(select(FollowUp.note).where(FollowUp.participant_id == target.id))
    assert list(notes) == [""]
    # Nobody finds the entry by the old numbers any more, and the person may register anew.
    assert find_by_identity(session, protector, campaign, rid) is None
    assert find_person(session, protector, id_number=rid) == []


def test_statistics_add_up_identically_before_and_after(session, protector, people):
    campaign, _ = people
    before = stats(session)
    purge(session, protector, now=days_after_draw(campaign, 10_000))
    session.commit()
    assert session.scalar(select(func.count()).where(Participant.anonymised_at.is_not(None))) == 5
    assert stats(session) == before


def test_winners_are_kept_until_their_prize_is_received(session, protector, people):
    campaign, ps = people
    purge(session, protector, now=days_after_draw(campaign, 181))
    report = purge(session, protector, now=days_after_draw(campaign, 731))
    assert report.participant_ids == [ps[1].id]  # 已签收
    assert report.winners == 1 and report.winners_pending == 1  # ps[2]: 已寄送
    session.refresh(ps[2])
    assert ps[2].anonymised_at is None
    tracking = session.scalar(select(Winner.tracking_no).where(Winner.participant_id == ps[1].id))
    assert tracking is None


def test_dry_run_counts_without_changing(session, protector, people):
    campaign, _ = people
    report = purge(session, protector, now=days_after_draw(campaign, 731), dry_run=True)
    assert (report.non_winners, report.winners, report.winners_pending) == (4, 1, 1)
    session.commit()
    assert session.scalar(select(func.count()).where(Participant.anonymised_at.is_not(None))) == 0


def test_purge_in_batches_covers_everyone(session, protector, people):
    campaign, _ = people
    when = days_after_draw(campaign, 181)
    sizes = []
    while (report := purge(session, protector, now=when, limit=3)).anonymised:
        sizes.append(report.anonymised)
        session.commit()
    assert sizes == [3, 1]


def _cli_campaign_after(session, campaign, days):
    campaign.draw_at = NOW - timedelta(days=days)
    session.commit()


def test_purge_command_dry_run_then_real_run_is_audited(app, session, people):
    campaign, _ = people
    _cli_campaign_after(session, campaign, 200)
    runner = app.test_cli_runner()
    result = runner.invoke(purge_command, ["--dry-run"])
    assert result.exit_code == 0, result.output
    assert "would anonymise 4 non-winner(s) and 0 winner(s)" in result.output
    assert session.scalar(select(func.count()).select_from(AuditLog)) == 0
    session.rollback()  # the test's write session would hold SQLite's write lock
    result = runner.invoke(purge_command, ["--batch-size", "3"])
    assert result.exit_code == 0, result.output
    assert "anonymised 4 non-winner(s) and 0 winner(s)" in result.output
    entries = session.scalars(select(AuditLog).where(AuditLog.action == "retention.purge")).all()
    assert [e.detail["non_winners"] for e in entries] == [3, 1]
    assert all(e.actor.startswith("cli:") for e in entries)


def test_deletion_request_by_id_number_anonymises_now_and_is_audited(app, session, people):
    _, ps = people
    rid = make_resident_id("330106", seq=4)  # ps[4]: factories.PLACES[4]
    result = app.test_cli_runner().invoke(participant_delete, ["--id-number", rid])
    assert result.exit_code == 0, result.output
    session.expire_all()
    assert session.get(Participant, ps[4].id).name == "已匿名"
    assert session.get(Participant, ps[5].id).name == "张小三"
    entry = session.scalars(select(AuditLog).where(AuditLog.action == "participant.delete")).one()
    assert entry.target == f"participant:{ps[4].id}" and entry.actor.startswith("cli:")
    assert rid not in str(entry.detail)


def test_deletion_request_by_mobile_and_last4(app, session, protector, people):
    _, ps = people
    last4 = ps[5].id_last4
    runner = app.test_cli_runner()
    wrong = runner.invoke(participant_delete, ["--mobile", make_mobile(5), "--last4", "000X"])
    assert wrong.exit_code != 0 and "no participant" in wrong.output
    result = runner.invoke(participant_delete, ["--mobile", make_mobile(5), "--last4", last4])
    assert result.exit_code == 0, result.output
    session.expire_all()
    assert session.get(Participant, ps[5].id).anonymised_at is not None


def test_pending_winner_needs_force(app, session, protector, people):
    _, ps = people
    runner = app.test_cli_runner()
    rid = protector.decrypt(ps[2].id_enc)
    result = runner.invoke(participant_delete, ["--id-number", rid])
    assert result.exit_code != 0
    assert "warning" in result.output and "--force" in result.output
    session.expire_all()
    assert session.get(Participant, ps[2].id).anonymised_at is None
    session.rollback()
    result = runner.invoke(participant_delete, ["--id-number", rid, "--force"])
    assert result.exit_code == 0, result.output
    session.expire_all()
    assert session.get(Participant, ps[2].id).anonymised_at is not None
    entry = session.scalars(select(AuditLog).where(AuditLog.action == "participant.delete")).one()
    assert entry.detail["forced"] is True


def test_delete_service_refuses_pending_prize_without_force(session, protector, people):
    _, ps = people
    with pytest.raises(PendingPrize):
        delete_person(session, protector, [ps[2]])
    # A received prize or a voided draw's "win" is no obstacle.
    assert delete_person(session, protector, [ps[1], ps[3]]) == [ps[1], ps[3]]


@pytest.mark.parametrize(
    "typed",
    ["{m}", "+86 {m}", "{a}-{b}-{c}", " {m} ", "{wide}"],
)
def test_find_person_by_mobile_as_the_person_writes_it(session, protector, people, typed):
    """An erasure request quotes the mobile as people write it; registration stored its
    11 digits, so the look-up normalises the same way instead of answering "not found"."""
    _, ps = people
    target = ps[2]
    m = protector.decrypt(target.mobile_enc)
    wide = m.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    mobile = typed.format(m=m, a=m[:3], b=m[3:7], c=m[7:], wide=wide)
    found = find_person(session, protector, mobile=mobile, last4=target.id_last4.lower())
    assert [p.id for p in found] == [target.id]
