"""The review queue (风控审核): risk clusters, bulk exclusion with a reason, undo.

Exclusions go through the draw's own mechanism (quiz.draw.eligibility.exclude_participant:
the entry's flag and an Exclusion row on its ID-number hash), so the frozen entrant list
is what is drawn and the v1 algorithm is untouched. Each bulk action is a `risk_action`
row and can be undone as a whole until the list is frozen. The campaign file's rule
`[draw] one_winner_per_address` is applied the same way, just before the freeze.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, delete, func, select
from sqlalchemy.orm import Session

from quiz.db import utcnow
from quiz.draw.eligibility import DrawRefused, active_draw, eligible_query, exclude_participant
from quiz.fraud.signals import SIGNALS, address_key
from quiz.models import Campaign, Exclusion, Participant, RiskAction, RiskSignal, StaffUser
from quiz.staff import audit
from quiz.text_safety import strip_invisible

ADDRESS_RULE_REASON = "同一邮寄地址限一人获奖"
MAX_REASON = 200


@dataclass(frozen=True)
class Cluster:
    """Entries sharing one signal's key."""

    signal: str
    cluster_key: str
    detail: str
    entries: int
    excluded: int

    @property
    def label(self) -> str:
        return SIGNALS.get(self.signal, self.signal)


def clusters(session: Session, campaign: Campaign, signal: str | None = None) -> list[Cluster]:
    """The campaign's clusters, largest first (one query over the signal index)."""
    stmt = (
        select(
            RiskSignal.signal,
            RiskSignal.cluster_key,
            func.min(RiskSignal.detail),
            func.count(),
            func.coalesce(func.sum(case((Participant.excluded.is_(True), 1), else_=0)), 0),
        )
        .join(Participant, Participant.id == RiskSignal.participant_id)
        .where(RiskSignal.campaign_id == campaign.id)
        .group_by(RiskSignal.signal, RiskSignal.cluster_key)
        .order_by(func.count().desc(), RiskSignal.signal, RiskSignal.cluster_key)
    )
    if signal:
        stmt = stmt.where(RiskSignal.signal == signal)
    return [Cluster(s, k, d, int(n), int(x)) for s, k, d, n, x in session.execute(stmt)]


def cluster_entries(
    session: Session, campaign: Campaign, signal: str, cluster_key: str
) -> list[Participant]:
    """The entries of one cluster, in registration order."""
    return list(
        session.scalars(
            select(Participant)
            .join(RiskSignal, RiskSignal.participant_id == Participant.id)
            .where(
                RiskSignal.campaign_id == campaign.id,
                RiskSignal.signal == signal,
                RiskSignal.cluster_key == cluster_key,
            )
            .order_by(Participant.created_at, Participant.id)
        )
    )


def flagged_entries(session: Session, campaign: Campaign) -> int:
    """How many entries have at least one signal."""
    return int(
        session.scalar(
            select(func.count(func.distinct(RiskSignal.participant_id))).where(
                RiskSignal.campaign_id == campaign.id
            )
        )
        or 0
    )


def _clean_reason(reason: str) -> str:
    reason = " ".join(strip_invisible(reason or "").split())
    if not reason:
        raise DrawRefused("请填写排除原因。")
    if len(reason) > MAX_REASON:
        raise DrawRefused(f"排除原因不能超过{MAX_REASON}个字。")
    return reason


def _refuse_if_frozen(session: Session, campaign: Campaign) -> None:
    # The lock freeze takes (as exclude_participant): no exclusion slips past a freeze.
    session.execute(select(Campaign.id).where(Campaign.id == campaign.id).with_for_update())
    if active_draw(session, campaign) is not None:
        raise DrawRefused("抽奖名单已冻结,不能再排除或恢复参与者;如确需调整,请先作废本次抽奖。")


def exclude_cluster(
    session: Session,
    campaign: Campaign,
    signal: str,
    cluster_key: str,
    reason: str,
    actor: StaffUser | None,
    *,
    ip: str | None = None,
) -> RiskAction:
    """Exclude every entry of a cluster not yet excluded, as one undoable action."""
    reason = _clean_reason(reason)
    _refuse_if_frozen(session, campaign)
    entries = [
        p
        for p in cluster_entries(session, campaign, signal, cluster_key)
        if not p.excluded and p.anonymised_at is None
    ]
    if not entries:
        raise DrawRefused("该组参与者已全部排除,无需再操作。")
    return _exclude(session, campaign, signal, cluster_key, reason, entries, actor, ip=ip)


def _exclude(
    session: Session,
    campaign: Campaign,
    signal: str,
    cluster_key: str,
    reason: str,
    entries: list[Participant],
    actor: StaffUser | None,
    *,
    ip: str | None = None,
    operator: str | None = None,
) -> RiskAction:
    for participant in entries:
        exclude_participant(session, campaign, participant, reason, actor, ip=ip, operator=operator)
    name = operator or (actor.username if actor is not None else "")
    action = RiskAction(
        campaign_id=campaign.id,
        signal=signal,
        cluster_key=cluster_key,
        reason=reason,
        participant_ids=[p.id for p in entries],
        actor=name,
        created_at=utcnow(),
    )
    session.add(action)
    session.flush()
    audit.record(
        session,
        actor,
        "risk.exclude",
        f"risk_action:{action.id}",
        {
            "campaign": campaign.slug,
            "signal": signal,
            "entries": len(entries),
            "reason": reason,
        },
        ip,
        actor_name=operator,
        campaign_id=campaign.id,
    )
    return action


def actions(session: Session, campaign: Campaign) -> list[RiskAction]:
    """The campaign's bulk exclusions, newest first."""
    return list(
        session.scalars(
            select(RiskAction)
            .where(RiskAction.campaign_id == campaign.id)
            .order_by(RiskAction.id.desc())
        )
    )


def undo(
    session: Session,
    campaign: Campaign,
    action_id: int,
    actor: StaffUser | None,
    *,
    ip: str | None = None,
) -> int:
    """Take back a bulk exclusion before the freeze; returns the entries restored (those
    still excluded for that action's reason: a later, other exclusion stands)."""
    _refuse_if_frozen(session, campaign)
    action = session.get(RiskAction, action_id)
    if action is None or action.campaign_id != campaign.id:
        raise DrawRefused("找不到该排除操作。")
    if action.undone_at is not None:
        raise DrawRefused("该排除操作已经撤销。")
    restored = 0
    for participant in session.scalars(
        select(Participant).where(Participant.id.in_(action.participant_ids))
    ):
        if not participant.excluded or participant.excluded_reason != action.reason:
            continue
        participant.excluded = False
        participant.excluded_reason = None
        session.execute(
            delete(Exclusion).where(
                Exclusion.campaign_id == campaign.id,
                Exclusion.id_hash == participant.id_hash,
                Exclusion.reason == action.reason,
            )
        )
        restored += 1
    action.undone_at = utcnow()
    action.undone_by = actor.username if actor is not None else ""
    session.flush()
    audit.record(
        session,
        actor,
        "risk.undo",
        f"risk_action:{action.id}",
        {"campaign": campaign.slug, "signal": action.signal, "entries": restored},
        ip,
        campaign_id=campaign.id,
    )
    return restored


def one_winner_per_address(campaign: Campaign) -> bool:
    """Whether the campaign file says 同一邮寄地址限一人获奖 ([draw] one_winner_per_address)."""
    return bool((campaign.content or {}).get("one_winner_per_address"))


def apply_address_rule(
    session: Session,
    campaign: Campaign,
    actor: StaffUser | None = None,
    *,
    operator: str | None = None,
    ip: str | None = None,
) -> int:
    """Before the freeze: of the eligible entries mailing to one address (division code +
    folded street), keep the first completed and exclude the others with the rule as the
    reason. Returns how many were excluded (0 when the campaign has no such rule)."""
    extra = address_rule_extra(session, campaign)
    if not extra:
        return 0
    entries = list(session.scalars(select(Participant).where(Participant.id.in_(extra))))
    _exclude(
        session,
        campaign,
        "address_rule",
        "address_rule",
        ADDRESS_RULE_REASON,
        entries,
        actor,
        ip=ip,
        operator=operator,
    )
    return len(entries)


def address_rule_extra(session: Session, campaign: Campaign) -> list[int]:
    """The eligible entries the address rule would exclude at a freeze now (the second and
    later completed entry to one address), none when the campaign has no such rule."""
    if not one_winner_per_address(campaign):
        return []
    eligible = eligible_query(campaign).subquery()
    rows = session.execute(
        select(Participant.id, Participant.address, Participant.division_code)
        .join(eligible, eligible.c.id == Participant.id)
        .order_by(Participant.completed_at, Participant.id)
    ).all()
    seen: set[str] = set()
    extra: list[int] = []
    for pid, address, division in rows:
        key = address_key(address, division)
        if key in seen:
            extra.append(pid)
        else:
            seen.add(key)
    return extra


def exclusion_counts(session: Session, campaign: Campaign) -> list[tuple[str, int]]:
    """How many entries are excluded from the draw, by reason (the draw page and the
    notary record state them)."""
    rows = session.execute(
        select(Participant.excluded_reason, func.count())
        .where(Participant.campaign_id == campaign.id, Participant.excluded.is_(True))
        .group_by(Participant.excluded_reason)
        .order_by(func.count().desc(), Participant.excluded_reason)
    ).all()
    return [(reason or "未注明", int(n)) for reason, n in rows]


def report_rows(session: Session, campaign: Campaign) -> list[tuple[str, str, int, int]]:
    """(signal, masked cluster key, entries, excluded) per cluster: `quiz risk report`."""
    return [(c.signal, c.detail, c.entries, c.excluded) for c in clusters(session, campaign)]


def last_action_at(session: Session, campaign: Campaign) -> datetime | None:
    """When the latest bulk action was taken (for the page's summary)."""
    return session.scalar(
        select(func.max(RiskAction.created_at)).where(RiskAction.campaign_id == campaign.id)
    )
