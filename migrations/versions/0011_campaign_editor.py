"""the browser campaign editor: question categories, shown option order, text versions

question.category is a free label for grouping the bank in the editor (none for
existing questions). quiz_item.option_order keeps the order in which a participant was
shown a question's options, stored with the answer (none for answers given before
shuffling). campaign_text_version records each version of a campaign's rules and privacy
notice with its date.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 02:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from quiz.db import UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("question") as batch:
        batch.add_column(sa.Column("category", sa.String(32), nullable=True))
    with op.batch_alter_table("quiz_item") as batch:
        batch.add_column(sa.Column("option_order", sa.JSON(), nullable=True))
    op.create_table(
        "campaign_text_version",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "campaign_id",
            sa.Integer(),
            sa.ForeignKey("campaign.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("texts", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.UniqueConstraint("campaign_id", "kind", "version"),
    )
    op.create_index(
        "ix_campaign_text_version_campaign_id", "campaign_text_version", ["campaign_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_campaign_text_version_campaign_id", "campaign_text_version")
    op.drop_table("campaign_text_version")
    with op.batch_alter_table("quiz_item") as batch:
        batch.drop_column("option_order")
    with op.batch_alter_table("question") as batch:
        batch.drop_column("category")
