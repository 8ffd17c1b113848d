"""The review queue's services: bulk exclusion through the draw's exclusions, undo before
the freeze, the one-winner-per-address rule, the counts the draw record states."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from quiz.branches.routing import AddressInput
from quiz.draw import service
from quiz.draw.eligibility import DrawRefused
from quiz.fraud import review, signals
from quiz.models import AuditLog, Campaign, DrawEntrant, Exclusion, Participant
from tests.factories import install_test_campaign, make_participant, make_staff

FLAT = "湖北省武汉市江岸区沿江大道100号"


def _cluster(
    session: Session, protector: Any, campaign: Campaign, count: int, *, first: int = 1
) -> list[Participant]:
    people = [
        make_participant(
            session, protector, campaign, n, complete=True, address=AddressInput(free_text=FLAT)
        )
        for n in range(first, first + count)
    ]
    signals.recompute(session, protector, campaign)
    return people


def _address_cluster(session: Session, campaign: Campaign) -> review.Cluster:
    return next(c for c in review.clusters(session, campaign) if c.signal == "address")


def test_one_bulk_action_excludes_the_cluster_from_the_draw(
    session: Session, protector: Any
) -> None:
    campaign = install_test_campaign(session)
    admin = make_staff(session)
    people = _cluster(session, protector, campaign, 5)
    honest = make_participant(session, protector, campaign, 20, complete=True)
    before = service.count_eligible(session, campaign)
    cluster = _address_cluster(session, campaign)
    assert (cluster.entries, cluster.excluded, cluster.detail) == (
        5,
        0,
        "湖北省武汉市江岸区沿江***",
    )
    action = review.exclude_cluster(
        session, campaign, "address", cluster.cluster_key, " 批量注册 同一地址 ", admin
    )
    assert sorted(action.participant_ids) == sorted(p.id for p in people)
    assert service.count_eligible(session, campaign) == before - 5
    assert not honest.excluded
    # The draw's own mechanism: the flag and a row on the ID-number hash.
    assert session.scalar(select(func.count()).select_from(Exclusion)) == 5
    assert {p.excluded_reason for p in people} == {"批量注册 同一地址"}
    assert _address_cluster(session, campaign).excluded == 5
    assert review.exclusion_counts(session, campaign) == [("批量注册 同一地址", 5)]
    logged = session.scalars(select(AuditLog).where(AuditLog.action == "risk.exclude")).one()
    assert logged.actor == admin.username and logged.detail["entries"] == 5
    # A second bulk action on the same cluster has nothing left to exclude.
    with pytest.raises(DrawRefused, match="已全部排除"):
        review.exclude_cluster(session, campaign, "address", cluster.cluster_key, "再次", admin)


def test_a_reason_is_required(session: Session, protector: Any) -> None:
    campaign = install_test_campaign(session)
    _cluster(session, protector, campaign, 4)
    key = _address_cluster(session, campaign).cluster_key
    for reason, message in (("  ", "请填写排除原因"), ("长" * 201, "不能超过200个字")):
        with pytest.raises(DrawRefused, match=message):
            review.exclude_cluster(session, campaign, "address", key, reason, None)
    assert session.scalar(select(func.count()).select_from(Exclusion)) == 0


def test_undo_restores_the_action_but_not_other_exclusions(
    session: Session, protector: Any
) -> None:
    campaign = install_test_campaign(session)
    admin = make_staff(session)
    people = _cluster(session, protector, campaign, 4)
    before = service.count_eligible(session, campaign)
    key = _address_cluster(session, campaign).cluster_key
    action = review.exclude_cluster(session, campaign, "address", key, "同一地址", admin)
    # One of them is then excluded for another reason by hand: that one stands.
    from quiz.draw.eligibility import exclude_participant

    exclude_participant(session, campaign, people[0], "员工", admin)
    assert review.undo(session, campaign, action.id, admin) == 3
    assert service.count_eligible(session, campaign) == before - 1
    assert people[0].excluded and people[0].excluded_reason == "员工"
    assert session.scalar(select(func.count()).select_from(Exclusion)) == 1
    assert action.undone_by == admin.username
    assert (
        session.scalars(select(AuditLog.detail).where(AuditLog.action == "risk.undo")).one()[
            "entries"
        ]
        == 3
    )
    with pytest.raises(DrawRefused, match="已经撤销"):
        review.undo(session, campaign, action.id, admin)


def test_nothing_changes_once_the_list_is_frozen(session: Session, protector: Any) -> None:
    campaign = install_test_campaign(session)
    admin = make_staff(session)
    _cluster(session, protector, campaign, 4)
    key = _address_cluster(session, campaign).cluster_key
    action = review.exclude_cluster(session, campaign, "address", key, "同一地址", admin)
    make_participant(
        session,
        protector,
        campaign,
        30,
        complete=True,
        address=AddressInput(free_text="广东省广州市天河区天河路385号"),
    )
    signals.recompute(session, protector, campaign)
    service.freeze(session, campaign, admin, now=campaign.closes_at + timedelta(hours=1))
    with pytest.raises(DrawRefused, match="已冻结"):
        review.undo(session, campaign, action.id, admin)
    with pytest.raises(DrawRefused, match="已冻结"):
        review.exclude_cluster(session, campaign, "segment", "170", "号段", admin)


def test_one_winner_per_address_keeps_the_first_completed(session: Session, protector: Any) -> None:
    campaign = install_test_campaign(session, one_winner_per_address=True)
    people = _cluster(session, protector, campaign, 3)
    # The same flat written another way still counts as the same address.
    people.append(
        make_participant(
            session,
            protector,
            campaign,
            9,
            complete=True,
            address=AddressInput(free_text="武汉市江岸区 沿江大道１００号"),
        )
    )
    other = make_participant(session, protector, campaign, 10, complete=True)
    draw = service.freeze(
        session, campaign, operator="tester", now=campaign.closes_at + timedelta(hours=1)
    )
    assert draw.entrant_count == 2
    drawn = set(session.scalars(select(DrawEntrant.participant_id)))
    assert drawn == {people[0].id, other.id}
    assert review.exclusion_counts(session, campaign) == [(review.ADDRESS_RULE_REASON, 3)]


def test_without_the_rule_every_address_stays(session: Session, protector: Any) -> None:
    campaign = install_test_campaign(session)
    _cluster(session, protector, campaign, 3)
    assert review.apply_address_rule(session, campaign) == 0
    assert service.count_eligible(session, campaign) == 3
