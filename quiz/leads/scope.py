"""Branch scoping of leads: which participants a staff user may see."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select

from quiz.models import Participant, StaffUser

HEAD_OFFICE = ("admin", "analyst")


def scope_leads(stmt: Select[Any], user: StaffUser) -> Select[Any]:
    """Restrict a participant query to what the user may see: branch staff see their branch."""
    if user.role in HEAD_OFFICE:
        return stmt
    if user.branch_id is None:
        return stmt.where(False)  # type: ignore[arg-type]
    return stmt.where(Participant.branch_id == user.branch_id)
