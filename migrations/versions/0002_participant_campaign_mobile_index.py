"""participant: index (campaign_id, mobile_hash) instead of (mobile_hash)

Lookups of one mobile within a campaign (the same-mobile flag of every registration,
the draw's entry check) were planned by SQLite on an index led by campaign_id alone,
reading every entry of the campaign. With both columns in one index they read the
entries of that mobile only. On PostgreSQL the index is built CONCURRENTLY, so a
running campaign keeps taking registrations while it builds.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 08:40:00
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _swap(drop: str, create: str, columns: list[str]) -> None:
    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            # A failed concurrent build leaves an INVALID index: drop it, build afresh.
            op.drop_index(create, "participant", postgresql_concurrently=True, if_exists=True)
            op.create_index(create, "participant", columns, postgresql_concurrently=True)
            op.drop_index(drop, "participant", postgresql_concurrently=True, if_exists=True)
    else:
        op.create_index(create, "participant", columns)
        op.drop_index(drop, "participant")


def upgrade() -> None:
    _swap(
        "ix_participant_mobile_hash",
        "ix_participant_campaign_mobile",
        ["campaign_id", "mobile_hash"],
    )


def downgrade() -> None:
    _swap("ix_participant_campaign_mobile", "ix_participant_mobile_hash", ["mobile_hash"])
