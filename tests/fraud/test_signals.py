"""Risk signals: which entries share an address, device, network or ID run, and why."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from quiz.branches.routing import AddressInput
from quiz.fraud import signals
from quiz.models import Participant, QuizItem, RiskKey, RiskSignal
from quiz.privacy.retention import anonymise
from tests.factories import install_test_campaign, make_participant, make_resident_id

NOW = datetime.now(UTC)
LIMITS = signals.Limits()


def _entry(
    session: Session,
    protector: Any,
    campaign: Any,
    n: int,
    *,
    address: str | None = None,
    ip: str | None = None,
    device: str | None = None,
    mobile: str | None = None,
    rid: str | None = None,
    at: datetime | None = None,
) -> Participant:
    kw: dict[str, Any] = {}
    if address:
        kw["address"] = AddressInput(free_text=address)
    if mobile:
        kw["mobile"] = mobile
    # Every entry its own region + birth date unless the test gives the ID number.
    number = rid or make_resident_id("110105", birth=date(1960, 1, 1) + timedelta(days=n), seq=n)
    participant = make_participant(session, protector, campaign, n, resident_id=number, **kw)
    if at is not None:
        participant.created_at = at
        session.flush()
    signals.record_entry(
        session,
        protector,
        participant,
        signals.EntryFacts(
            mobile=mobile or f"139{n:08d}",
            resident_id=number,
            birth_date=date(int(number[6:10]), int(number[10:12]), int(number[12:14])),
            device_cookie=device,
            ip=ip or f"10.{n // 250}.{n % 250}.1",
        ),
        LIMITS,
        now=at,
    )
    return participant


def _flagged(session: Session, signal: str) -> dict[int, str]:
    return dict(
        session.execute(
            select(RiskSignal.participant_id, RiskSignal.cluster_key).where(
                RiskSignal.signal == signal
            )
        ).all()
    )


def test_one_flat_written_several_ways_is_one_address() -> None:
    key = signals.address_key("湖北省武汉市江岸区沿江大道100号", "420102")
    assert signals.address_key("武汉市 江岸区 沿江大道１００号", "420102") == key
    assert signals.address_key("湖北武汉江岸区沿江大道一〇〇号", "420102") == key
    assert signals.address_key("湖北省武汉市江岸区沿江大道102号", "420102") != key
    # The same street text in another district is another flat.
    assert signals.address_key("沿江大道100号", "420103") != key
    assert signals.address_label("湖北省武汉市江岸区沿江大道100号", "420102") == (
        "湖北省武汉市江岸区沿江***"
    )


def test_more_than_three_entries_to_one_address_form_a_cluster(
    session: Session, protector: Any
) -> None:
    campaign = install_test_campaign(session)
    flat = "湖北省武汉市江岸区沿江大道100号"
    first = [_entry(session, protector, campaign, n, address=flat) for n in range(1, 4)]
    assert _flagged(session, "address") == {}  # three is the limit, not a cluster yet
    fourth = _entry(session, protector, campaign, 4, address="武汉市江岸区沿江大道１００号")
    fifth = _entry(session, protector, campaign, 5, address=flat)
    other = _entry(session, protector, campaign, 6, address="湖北省武汉市江岸区沿江大道102号")
    flagged = _flagged(session, "address")
    assert set(flagged) == {p.id for p in [*first, fourth, fifth]}
    assert len(set(flagged.values())) == 1 and other.id not in flagged
    detail = session.scalar(select(RiskSignal.detail).where(RiskSignal.signal == "address"))
    assert detail == "湖北省武汉市江岸区沿江***"  # masked: no house number


def test_the_campaign_file_sets_the_address_limit(session: Session, protector: Any) -> None:
    campaign = install_test_campaign(session)
    campaign.content = {**campaign.content, "risk_address_limit": 10}
    assert signals.limits_of(campaign).address == 10
    campaign.content = {**campaign.content, "risk_address_limit": None}
    assert signals.limits_of(campaign).address == 3


def test_one_device_flags_only_entries_close_in_time(session: Session, protector: Any) -> None:
    campaign = install_test_campaign(session)
    spread = [
        _entry(session, protector, campaign, n, device="dev-a", at=NOW - timedelta(hours=n))
        for n in range(1, 5)
    ]
    assert _flagged(session, "device") == {}  # one an hour: a shared family phone
    burst = [
        _entry(session, protector, campaign, n, device="dev-b", at=NOW + timedelta(seconds=n))
        for n in range(10, 14)
    ]
    assert set(_flagged(session, "device")) == {p.id for p in burst}
    assert spread


def test_one_network_v4_and_v6(session: Session, protector: Any) -> None:
    campaign = install_test_campaign(session)
    v4 = [_entry(session, protector, campaign, n, ip=f"203.0.113.{n}") for n in range(1, 7)]
    v6 = [_entry(session, protector, campaign, n, ip=f"2001:db8:1:2::{n:x}") for n in range(20, 26)]
    lone = _entry(session, protector, campaign, 30, ip="198.51.100.7")
    flagged = _flagged(session, "network")
    assert set(flagged) == {p.id for p in [*v4, *v6]}
    assert {flagged[v4[0].id], flagged[v6[0].id]} == {"203.0.113.0/24", "2001:db8:1:2::/64"}
    assert lone.id not in flagged
    details = set(session.scalars(select(RiskSignal.detail).where(RiskSignal.signal == "network")))
    assert details == {"203.0.*.0/24", "2001:db8:*::/64"}


def test_virtual_operator_mobiles(session: Session, protector: Any) -> None:
    campaign = install_test_campaign(session)
    mvno = _entry(session, protector, campaign, 1, mobile="17012345678")
    _entry(session, protector, campaign, 2, mobile="13912345678")
    assert _flagged(session, "segment") == {mvno.id: "170"}
    assert signals.segment_of("16512345678") == "165"
    assert signals.segment_of("13912345678") is None


def test_id_numbers_sharing_region_and_birth_date(session: Session, protector: Any) -> None:
    campaign = install_test_campaign(session)
    born = date(1990, 3, 4)
    run = [
        _entry(session, protector, campaign, n, rid=make_resident_id("420102", birth=born, seq=n))
        for n in range(1, 5)
    ]
    _entry(session, protector, campaign, 9, rid=make_resident_id("420103", birth=born, seq=9))
    assert set(_flagged(session, "idrun")) == {p.id for p in run}
    # The key is keyed: neither the birth date nor the region is stored in the clear.
    keys = session.scalars(select(RiskKey.key).where(RiskKey.kind == "idrun")).all()
    assert not any("1990" in k or "420102" in k for k in keys)


def test_answers_faster_than_a_person_reads(session: Session, protector: Any) -> None:
    campaign = install_test_campaign(session)
    start = datetime(2026, 12, 1, tzinfo=UTC)
    assert signals.seconds_per_question(start, [start + timedelta(seconds=2)] * 5) == 0.4
    assert signals.seconds_per_question(start, [start + timedelta(seconds=30), None]) == 30
    assert signals.seconds_per_question(start, [None]) is None
    bot = make_participant(session, protector, campaign, 1, complete=True)
    assert signals.check_answer_speed(session, bot, LIMITS)
    person = make_participant(session, protector, campaign, 2, complete=True)
    session.execute(
        update(QuizItem)
        .where(QuizItem.participant_id == person.id)
        .values(answered_at=person.created_at + timedelta(minutes=2))
    )
    assert not signals.check_answer_speed(session, person, LIMITS)
    assert set(_flagged(session, "fast")) == {bot.id}


def test_recompute_finds_what_registration_found(session: Session, protector: Any) -> None:
    campaign = install_test_campaign(session)
    flat = "湖北省武汉市江岸区沿江大道100号"
    for n in range(1, 7):
        _entry(session, protector, campaign, n, address=flat, ip=f"203.0.113.{n}", device="d")
    _entry(session, protector, campaign, 7, mobile="17112345678")
    before = set(
        session.execute(
            select(RiskSignal.participant_id, RiskSignal.signal, RiskSignal.cluster_key)
        )
    )
    session.execute(RiskSignal.__table__.delete())
    flagged = signals.recompute(session, protector, campaign)
    after = set(
        session.execute(
            select(RiskSignal.participant_id, RiskSignal.signal, RiskSignal.cluster_key)
        )
    )
    assert after == before and flagged == 7
    assert {s for _, s, _ in after} == {"address", "network", "device", "segment"}


def test_recompute_gives_older_entries_keys_and_folds_in_referral_bursts(
    session: Session, protector: Any
) -> None:
    campaign = install_test_campaign(session)
    flat = "湖北省武汉市江岸区沿江大道100号"
    old = [
        make_participant(session, protector, campaign, n, address=AddressInput(free_text=flat))
        for n in range(1, 5)
    ]
    session.execute(
        update(Participant).where(Participant.id == old[0].id).values(referral_flagged=True)
    )
    assert session.scalar(select(func.count()).select_from(RiskKey)) == 0
    signals.recompute(session, protector, campaign)
    assert set(_flagged(session, "address")) == {p.id for p in old}
    assert (
        session.scalar(select(func.count()).select_from(RiskKey).where(RiskKey.kind == "address"))
        == 4
    )
    # No referral link on the entry: the flag alone does not make a cluster.
    assert _flagged(session, "referral") == {}


def test_erasure_removes_keys_and_signals(session: Session, protector: Any) -> None:
    campaign = install_test_campaign(session)
    p = _entry(session, protector, campaign, 1, mobile="17012345678")
    anonymise(session, protector, p)
    assert session.scalar(select(func.count()).select_from(RiskKey)) == 0
    assert session.scalar(select(func.count()).select_from(RiskSignal)) == 0


def test_registration_through_the_form_records_the_keys(client: Any, session: Session) -> None:
    client.post("/consent", data={"agree_rules": "y", "agree_sensitive": "y"})
    client.get("/register")
    device = client.get_cookie(signals.DEVICE_COOKIE)
    assert device is not None and len(device.value) >= 20
    assert device.http_only
    form = {
        "name": "李四",
        "resident_id": make_resident_id("420102", seq=31),
        "address": "湖北省武汉市江岸区沿江大道100号",
        "postal_code": "430014",
        "mobile": "17012345678",
    }
    assert client.post("/register", data=form).status_code == 302
    kinds = dict(session.execute(select(RiskKey.kind, RiskKey.key)).all())
    assert set(kinds) == {"address", "device", "network", "idrun"}
    assert kinds["device"] == signals.device_key(device.value)
    assert _flagged(session, "segment") != {}
