"""two-person control over the draw

draw gains the first entry of the lottery result (its SHA-256 only), who entered and who
confirmed it and when, the channel of the run and of the void ("web" or "console") and
the witnesses' names. draw_void_request holds void requests waiting for a second account;
draw_staff the accounts a campaign names to operate and to confirm its draws.
Existing drawn or voided draws get their channel from the operator: "cli:..." was the
server console, anything else the web (one person, before this control).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 02:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import quiz.db

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("draw") as batch:
        batch.add_column(sa.Column("entry_digest", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("entered_by", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("entered_at", quiz.db.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("confirmed_by", sa.String(length=64), nullable=True))
        batch.add_column(
            sa.Column("confirmed_at", quiz.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("run_channel", sa.String(length=8), nullable=True))
        batch.add_column(sa.Column("void_channel", sa.String(length=8), nullable=True))
        batch.add_column(sa.Column("notary_name", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("supervisor_name", sa.String(length=100), nullable=True))
    op.execute(
        "UPDATE draw SET run_channel = CASE WHEN drawn_by LIKE 'cli:%' THEN 'console' "
        "ELSE 'web' END WHERE drawn_at IS NOT NULL"
    )
    op.execute(
        "UPDATE draw SET void_channel = CASE WHEN voided_by LIKE 'cli:%' THEN 'console' "
        "ELSE 'web' END WHERE voided_at IS NOT NULL"
    )
    op.create_table(
        "draw_void_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("draw_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("requested_at", quiz.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", quiz.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", quiz.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'refused', 'closed')",
            name=op.f("ck_draw_void_request_status"),
        ),
        sa.ForeignKeyConstraint(
            ["draw_id"],
            ["draw.id"],
            name=op.f("fk_draw_void_request_draw_id_draw"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_draw_void_request")),
    )
    with op.batch_alter_table("draw_void_request") as batch:
        batch.create_index(batch.f("ix_draw_void_request_draw_id"), ["draw_id"], unique=False)
    op.create_table(
        "draw_staff",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("duty", sa.String(length=8), nullable=False),
        sa.CheckConstraint("duty IN ('operate', 'confirm')", name=op.f("ck_draw_staff_duty")),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaign.id"],
            name=op.f("fk_draw_staff_campaign_id_campaign"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff_user.id"],
            name=op.f("fk_draw_staff_staff_id_staff_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("campaign_id", "staff_id", "duty", name=op.f("pk_draw_staff")),
    )


def downgrade() -> None:
    op.drop_table("draw_staff")
    with op.batch_alter_table("draw_void_request") as batch:
        batch.drop_index(batch.f("ix_draw_void_request_draw_id"))
    op.drop_table("draw_void_request")
    with op.batch_alter_table("draw") as batch:
        for column in (
            "supervisor_name",
            "notary_name",
            "void_channel",
            "run_channel",
            "confirmed_at",
            "confirmed_by",
            "entered_at",
            "entered_by",
            "entry_digest",
        ):
            batch.drop_column(column)
