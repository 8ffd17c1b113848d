"""fraud defence: risk keys and signals of each entry, bulk exclusions of the review queue

risk_key holds what the signals compare (keyed hashes of the folded mailing address, the
device cookie, the ID number's region + birth date; the client network), one row per entry
and kind; risk_signal the reasons an entry is doubted, grouped by cluster; risk_action one
bulk exclusion of the review queue, so it can be undone as a whole before the freeze.
Existing entries get keys and signals from `quiz risk recompute`.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from quiz.db import UTCDateTime

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "risk_key",
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaign.id"],
            name=op.f("fk_risk_key_campaign_id_campaign"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participant.id"],
            name=op.f("fk_risk_key_participant_id_participant"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("participant_id", "kind", name=op.f("pk_risk_key")),
    )
    op.create_index("ix_risk_key_lookup", "risk_key", ["campaign_id", "kind", "key", "created_at"])
    op.create_table(
        "risk_signal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("signal", sa.String(length=16), nullable=False),
        sa.Column("cluster_key", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaign.id"],
            name=op.f("fk_risk_signal_campaign_id_campaign"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participant.id"],
            name=op.f("fk_risk_signal_participant_id_participant"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_signal")),
        sa.UniqueConstraint(
            "participant_id", "signal", name=op.f("uq_risk_signal_participant_id_signal")
        ),
    )
    op.create_index(
        "ix_risk_signal_cluster", "risk_signal", ["campaign_id", "signal", "cluster_key"]
    )
    op.create_table(
        "risk_action",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("signal", sa.String(length=16), nullable=False),
        sa.Column("cluster_key", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("participant_ids", sa.JSON(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("undone_at", UTCDateTime(), nullable=True),
        sa.Column("undone_by", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaign.id"], name=op.f("fk_risk_action_campaign_id_campaign")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_action")),
    )
    op.create_index(op.f("ix_risk_action_campaign_id"), "risk_action", ["campaign_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_risk_action_campaign_id"), table_name="risk_action")
    op.drop_table("risk_action")
    op.drop_index("ix_risk_signal_cluster", table_name="risk_signal")
    op.drop_table("risk_signal")
    op.drop_index("ix_risk_key_lookup", table_name="risk_key")
    op.drop_table("risk_key")
