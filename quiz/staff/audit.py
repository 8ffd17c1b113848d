"""Append-only audit log of staff actions."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from quiz.models import AuditLog, StaffUser


def record(
    session: Session,
    actor: StaffUser | None,
    action: str,
    target: str = "",
    detail: dict[str, Any] | None = None,
    ip: str | None = None,
    *,
    actor_name: str | None = None,
    campaign_id: int | None = None,
) -> AuditLog:
    """Add one audit entry in the caller's transaction (flush, no commit). Its campaign is
    `campaign_id`, else the one the actor works on in the back office (the switcher's)."""
    entry = AuditLog(
        actor_id=actor.id if actor else None,
        actor=actor_name or (actor.username if actor else ""),
        action=action,
        target=target[:200],
        detail=detail or {},
        ip=ip,
        campaign_id=campaign_id or (actor.current_campaign_id if actor else None),
    )
    session.add(entry)
    session.flush()
    return entry
