"""the contact permission (查看联系电话) and a lead's next-contact date

staff_user.can_call lets branch staff see a lead's mobile and landline (never the ID
number) without the full-data permission; existing accounts start without it.
participant.next_contact_on is the day the branch agreed to call again (Beijing date);
existing leads have none.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 23:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("staff_user") as batch:
        batch.add_column(
            sa.Column("can_call", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("participant") as batch:
        batch.add_column(sa.Column("next_contact_on", sa.Date(), nullable=True))
    # The server default only filled existing rows; the model sets the value itself.
    with op.batch_alter_table("staff_user") as batch:
        batch.alter_column("can_call", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("participant") as batch:
        batch.drop_column("next_contact_on")
    with op.batch_alter_table("staff_user") as batch:
        batch.drop_column("can_call")
