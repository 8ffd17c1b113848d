"""Leads owned by named agents through the follow-up window.

A branch manager assigns leads of the branch to its agents (the referral agents' roster):
one by one, a chosen set (the leads list's filter), or round-robin among chosen agents. A
referred lead starts owned by its referring agent. The first contact is due
`follow_up_days` (the campaign's [race] table, 7 by default) after assignment; a lead not
contacted by then, and not closed, is overdue. Attempts change the lead's follow-up status
(entry_counts.move first, so the dashboard's counters stay exact) and reach the CRM.
"""

from __future__ import annotations

import hmac
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import cycle

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from quiz import outbox
from quiz.clock import CHINA
from quiz.db import utcnow
from quiz.engine import entry_counts
from quiz.models import (
    FOLLOW_UP_STATUSES,
    Agent,
    Branch,
    Campaign,
    ContactAttempt,
    LeadOwner,
    Participant,
    StaffUser,
)

DEFAULT_FOLLOW_UP_DAYS = 7
CLOSED = ("已成交", "无效")
WON = "已成交"
NOTE_MAX = 500


class OwnerError(Exception):
    """A refused assignment or attempt; str(exc) is the Chinese message."""


def follow_up_days(campaign: Campaign) -> int:
    race = (campaign.content or {}).get("race") or {}
    return int(race.get("follow_up_days", DEFAULT_FOLLOW_UP_DAYS))


def beijing_day(moment: datetime) -> date:
    return moment.astimezone(CHINA).date()


def _branch_scope(user: StaffUser) -> int | None:
    """None: head office (every branch); else the branch user's own branch."""
    if user.role in ("admin", "analyst"):
        return None
    if user.branch_id is None:
        raise OwnerError("您的账户未关联机构,无法分配线索。")
    return user.branch_id


def agents_of(session: Session, branch_id: int) -> list[Agent]:
    return list(
        session.scalars(select(Agent).where(Agent.branch_id == branch_id).order_by(Agent.code))
    )


def _set_owner(
    session: Session,
    participant: Participant,
    agent: Agent,
    now: datetime,
    days: int,
    source: str,
) -> LeadOwner:
    owner = session.get(LeadOwner, participant.id)
    due = beijing_day(now) + timedelta(days=days)
    if owner is None:
        owner = LeadOwner(participant_id=participant.id, agent_id=agent.id)
        session.add(owner)
    elif owner.agent_id == agent.id:
        return owner
    owner.agent_id, owner.assigned_at, owner.due_on = agent.id, now, due
    owner.contacted_at, owner.source = None, source
    outbox.record(
        session,
        participant.campaign_id,
        participant.id,
        outbox.LEAD_ASSIGNED,
        {"agent": agent.code, "agent_name": agent.name, "due_on": due.isoformat()},
        now=now,
    )
    return owner


def assign(
    session: Session,
    manager: StaffUser,
    lead_ids: Sequence[int],
    agent_ids: Sequence[int],
    *,
    now: datetime | None = None,
) -> Counter[int]:
    """Give the leads to the agents in turn (one agent: all to that agent; several:
    round-robin in lead id order). Every lead and agent must be of the manager's branch,
    and each lead is given to an agent of the lead's own branch. Returns leads per agent."""
    now = now or utcnow()
    if not lead_ids:
        raise OwnerError("请先选择线索。")
    if not agent_ids:
        raise OwnerError("请至少选择一位业务人员。")
    scope = _branch_scope(manager)
    agents = list(
        session.scalars(select(Agent).where(Agent.id.in_(list(agent_ids))).order_by(Agent.code))
    )
    if len(agents) != len(set(agent_ids)):
        raise OwnerError("所选业务人员不存在。")
    branch_ids = {a.branch_id for a in agents}
    if len(branch_ids) != 1 or (scope is not None and branch_ids != {scope}):
        raise OwnerError("只能分配给本机构的业务人员(一次选择同一机构的人员)。")
    leads = list(
        session.scalars(
            select(Participant).where(Participant.id.in_(list(lead_ids))).order_by(Participant.id)
        )
    )
    branch_id = branch_ids.pop()
    if len(leads) != len(set(lead_ids)) or any(p.branch_id != branch_id for p in leads):
        raise OwnerError("只能分配本机构的线索。")
    days = {p.campaign_id: follow_up_days(p.campaign) for p in leads}
    given: Counter[int] = Counter()
    for participant, agent in zip(leads, cycle(agents), strict=False):
        _set_owner(session, participant, agent, now, days[participant.campaign_id], "manager")
        given[agent.id] += 1
    session.flush()
    return given


def adopt_referred(session: Session, participant: Participant, now: datetime | None = None) -> None:
    """A referred lead starts owned by its referring agent (call when it is saved)."""
    if participant.agent_id is None:
        return
    agent = session.get(Agent, participant.agent_id)
    if agent is None or agent.branch_id != participant.branch_id:
        return  # routed to another branch by address: that branch's manager assigns it
    _set_owner(
        session,
        participant,
        agent,
        now or utcnow(),
        follow_up_days(participant.campaign),
        "referral",
    )


def owned_leads(
    session: Session, agent_id: int, *, open_only: bool = True
) -> list[tuple[Participant, LeadOwner]]:
    """An agent's leads, the overdue and soonest due first."""
    stmt = (
        select(Participant, LeadOwner)
        .join(LeadOwner, LeadOwner.participant_id == Participant.id)
        .where(LeadOwner.agent_id == agent_id)
        .order_by(LeadOwner.contacted_at.is_not(None), LeadOwner.due_on, Participant.id)
    )
    if open_only:
        stmt = stmt.where(Participant.follow_up_status.not_in(CLOSED))
    return [(p, o) for p, o in session.execute(stmt).all()]


def record_attempt(
    session: Session,
    agent: Agent,
    participant: Participant,
    outcome: str,
    note: str = "",
    *,
    now: datetime | None = None,
) -> ContactAttempt:
    """An attempt by the lead's owner; its outcome becomes the lead's follow-up status."""
    now = now or utcnow()
    owner = session.get(LeadOwner, participant.id)
    if owner is None or owner.agent_id != agent.id:
        raise OwnerError("这条线索不归您跟进。")
    if outcome not in FOLLOW_UP_STATUSES or outcome == "待联系":
        raise OwnerError("请选择联系结果。")
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise OwnerError(f"备注不能超过{NOTE_MAX}个字。")
    # The dashboard's counters move with the status, in this transaction (entry_counts).
    entry_counts.move(session, Participant.id == participant.id, follow_up_status=outcome)
    participant.follow_up_status = outcome
    attempt = ContactAttempt(
        participant_id=participant.id, agent_id=agent.id, outcome=outcome, note=note, created_at=now
    )
    session.add(attempt)
    if owner.contacted_at is None:
        owner.contacted_at = now
    outbox.record(
        session,
        participant.campaign_id,
        participant.id,
        outbox.LEAD_FOLLOW_UP,
        {"status": outcome, "note": note, "agent": agent.code},
        now=now,
    )
    session.flush()
    return attempt


def overdue(
    session: Session,
    today: date,
    *,
    campaign_id: int | None = None,
    branch_id: int | None = None,
    agent_id: int | None = None,
) -> list[tuple[Participant, LeadOwner]]:
    """Owned leads past their deadline with no contact attempt, not closed."""
    stmt = (
        select(Participant, LeadOwner)
        .join(LeadOwner, LeadOwner.participant_id == Participant.id)
        .where(
            LeadOwner.contacted_at.is_(None),
            LeadOwner.due_on < today,
            Participant.follow_up_status.not_in(CLOSED),
        )
        .order_by(LeadOwner.due_on, Participant.id)
    )
    if campaign_id is not None:
        stmt = stmt.where(Participant.campaign_id == campaign_id)
    if branch_id is not None:
        stmt = stmt.where(Participant.branch_id == branch_id)
    if agent_id is not None:
        stmt = stmt.where(LeadOwner.agent_id == agent_id)
    return [(p, o) for p, o in session.execute(stmt).all()]


@dataclass
class OwnerFigures:
    """Owned leads, contacted, won (已成交) and overdue: per branch or per agent."""

    key: int
    label: str
    owned: int = 0
    contacted: int = 0
    won: int = 0
    overdue: int = 0

    @property
    def conversion(self) -> float:
        return 0.0 if not self.owned else 100.0 * self.won / self.owned


def figures(
    session: Session, campaign_id: int, today: date, *, branch_id: int | None = None
) -> tuple[list[OwnerFigures], list[OwnerFigures]]:
    """Head office's view: (per branch, per agent), from one grouped query."""
    late = (LeadOwner.contacted_at.is_(None)) & (LeadOwner.due_on < today)
    stmt = (
        select(
            Agent.branch_id,
            Agent.id,
            Agent.name,
            Agent.code,
            Participant.follow_up_status,
            func.count(),
            func.sum(case((LeadOwner.contacted_at.is_not(None), 1), else_=0)),
            func.sum(case((late, 1), else_=0)),
        )
        .join(LeadOwner, LeadOwner.agent_id == Agent.id)
        .join(Participant, Participant.id == LeadOwner.participant_id)
        .where(Participant.campaign_id == campaign_id)
        .group_by(Agent.branch_id, Agent.id, Agent.name, Agent.code, Participant.follow_up_status)
    )
    if branch_id is not None:
        stmt = stmt.where(Agent.branch_id == branch_id)
    names = dict(session.execute(select(Branch.id, Branch.name)).all())
    by_branch: dict[int, OwnerFigures] = {}
    by_agent: dict[int, OwnerFigures] = {}
    for b_id, a_id, a_name, a_code, status, n, contacted, late_n in session.execute(stmt):
        for table, key, label in (
            (by_branch, b_id, names.get(b_id, "")),
            (by_agent, a_id, f"{a_name}({a_code})"),
        ):
            row = table.setdefault(key, OwnerFigures(key, label))
            row.owned += n
            row.contacted += int(contacted or 0)
            row.won += n if status == WON else 0
            row.overdue += int(late_n or 0) if status not in CLOSED else 0
    return (
        sorted(by_branch.values(), key=lambda r: (-r.overdue, r.label)),
        sorted(by_agent.values(), key=lambda r: (-r.overdue, r.label)),
    )


# ---- the agent's personal link -------------------------------------------------------

HashFn = Callable[[str, str], str]  # Protector.lookup_hash


def agent_token(lookup_hash: HashFn, agent_id: int) -> str:
    """The code in an agent's personal link /a/<token>: the id and a keyed MAC of it,
    so a link cannot be guessed or changed into another agent's (rotating the hash key
    revokes every link)."""
    return f"{agent_id}-{lookup_hash('agent-link', str(agent_id))[:24]}"


def agent_from_token(session: Session, lookup_hash: HashFn, token: str) -> Agent | None:
    if not token.isascii() or len(token) > 64:  # compare_digest refuses non-ASCII text
        return None
    head, _, _ = token.partition("-")
    if not head.isdigit() or len(head) > 10:
        return None
    agent_id = int(head)
    if not hmac.compare_digest(agent_token(lookup_hash, agent_id), token):
        return None
    return session.get(Agent, agent_id)


def unowned_lead_ids(
    session: Session, branch_id: int, campaign_id: int, limit: int | None = None
) -> list[int]:
    """Open leads of the branch nobody owns yet, oldest first (the bulk assignment)."""
    stmt = (
        select(Participant.id)
        .outerjoin(LeadOwner, LeadOwner.participant_id == Participant.id)
        .where(
            Participant.branch_id == branch_id,
            Participant.campaign_id == campaign_id,
            Participant.follow_up_status.not_in(CLOSED),
            Participant.contact_opt_out.is_(False),
            LeadOwner.participant_id.is_(None),
        )
        .order_by(Participant.id)
    )
    if limit:
        stmt = stmt.limit(limit)
    return list(session.scalars(stmt))
