"""fraud defence: SMS verification codes and the verified mobile of an entry

sms_code keeps one row per code sent: the keyed hash of the code (never the code), its
expiry, attempts and use; the rows also count sends for the per-mobile, per-client and
per-campaign limits. participant.mobile_verified_at records the SMS proof; a partial
unique index allows one verified entry per mobile per campaign. Existing entries have
none (they were made before the campaign asked).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 02:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from quiz.db import UTCDateTime

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sms_code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("mobile_hash", sa.String(length=64), nullable=False),
        sa.Column("client_hash", sa.String(length=64), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=True),
        sa.Column("failed", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaign.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_sms_code_mobile", "sms_code", ["campaign_id", "mobile_hash", "created_at"])
    op.create_index("ix_sms_code_client", "sms_code", ["campaign_id", "client_hash", "created_at"])
    op.create_index("ix_sms_code_campaign", "sms_code", ["campaign_id", "created_at"])
    with op.batch_alter_table("participant") as batch:
        batch.add_column(sa.Column("mobile_verified_at", UTCDateTime(), nullable=True))
    op.create_index(
        "uq_participant_verified_mobile",
        "participant",
        ["campaign_id", "mobile_hash"],
        unique=True,
        sqlite_where=sa.text("mobile_verified_at IS NOT NULL"),
        postgresql_where=sa.text("mobile_verified_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_participant_verified_mobile", table_name="participant")
    with op.batch_alter_table("participant") as batch:
        batch.drop_column("mobile_verified_at")
    op.drop_index("ix_sms_code_campaign", table_name="sms_code")
    op.drop_index("ix_sms_code_client", table_name="sms_code")
    op.drop_index("ix_sms_code_mobile", table_name="sms_code")
    op.drop_table("sms_code")
