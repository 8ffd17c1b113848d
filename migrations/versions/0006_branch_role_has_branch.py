"""A branch account has a branch

Branch staff see only their branch's leads; an account of role 'branch' without a
branch has nothing to be scoped to (the scope now fails closed and shows it nothing).
A check constraint keeps such accounts from being active. Existing ones, which only
direct SQL could have made (account forms and `quiz staff create` require a branch), are
deactivated, their sessions ended (session_version bumped), and each is reported in the
audit log (action user_deactivate, detail reason no_branch) and the migration's log, so
an admin can give it a branch and reactivate it on 账户管理.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 23:20:00
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import quiz.db

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

CHECK = "role <> 'branch' OR branch_id IS NOT NULL OR NOT active"
log = logging.getLogger("alembic.runtime.migration")


def upgrade() -> None:
    staff = sa.table(
        "staff_user",
        sa.column("id", sa.Integer),
        sa.column("username", sa.String),
        sa.column("role", sa.String),
        sa.column("branch_id", sa.Integer),
        sa.column("active", sa.Boolean),
        sa.column("session_version", sa.Integer),
    )
    audit = sa.table(
        "audit_log",
        sa.column("at", quiz.db.UTCDateTime()),
        sa.column("actor", sa.String),
        sa.column("action", sa.String),
        sa.column("target", sa.String),
        sa.column("detail", sa.JSON),
    )
    bind = op.get_bind()
    orphans = bind.execute(
        sa.select(staff.c.id, staff.c.username).where(
            staff.c.role == "branch", staff.c.branch_id.is_(None), staff.c.active.is_(True)
        )
    ).all()
    for user_id, username in orphans:
        log.warning("deactivating branch account %s: it has no branch", username)
        bind.execute(
            sa.update(staff)
            .where(staff.c.id == user_id)
            .values(active=False, session_version=staff.c.session_version + 1)
        )
        bind.execute(
            sa.insert(audit).values(
                at=datetime.now(UTC),
                actor="migration 0006",
                action="user_deactivate",
                target=f"user:{username}",
                detail={"reason": "no_branch", "before": {"active": True}},
            )
        )
    with op.batch_alter_table("staff_user", schema=None) as batch_op:
        batch_op.create_check_constraint("branch_role_has_branch", CHECK)


def downgrade() -> None:
    with op.batch_alter_table("staff_user", schema=None) as batch_op:
        batch_op.drop_constraint("branch_role_has_branch", type_="check")
