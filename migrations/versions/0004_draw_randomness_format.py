"""the draw keeps the randomness format announced in the campaign file when it froze

The campaign file can be loaded again later; the format the result had to match is
part of the draw's record, so it is copied at the freeze like the randomness source.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("draw") as batch:
        batch.add_column(sa.Column("randomness_format", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("draw") as batch:
        batch.drop_column("randomness_format")
