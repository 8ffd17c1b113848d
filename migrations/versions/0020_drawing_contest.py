"""children's drawing contest: invitations, families, children, works, judges' scores

Five new tables for the kind artwork_contest (quiz.artwork); nothing existing changes.
The guardian's name and mobile and the child's name and school are stored encrypted;
the birth date is not stored (only the age and group on the contest's reference date).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02 05:47:40
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import quiz.db

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "artwork_invitation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("branch_id", sa.Integer(), nullable=False),
        sa.Column("created_at", quiz.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("used_at", quiz.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agent.id"], name=op.f("fk_artwork_invitation_agent_id_agent")
        ),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["branch.id"], name=op.f("fk_artwork_invitation_branch_id_branch")
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaign.id"],
            name=op.f("fk_artwork_invitation_campaign_id_campaign"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_artwork_invitation")),
        sa.UniqueConstraint("code", name=op.f("uq_artwork_invitation_code")),
    )
    with op.batch_alter_table("artwork_invitation", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_artwork_invitation_agent_id"), ["agent_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_artwork_invitation_campaign_id"), ["campaign_id"], unique=False
        )

    op.create_table(
        "artwork_family",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("invitation_id", sa.Integer(), nullable=False),
        sa.Column("branch_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("guardian_enc", sa.LargeBinary(), nullable=False),
        sa.Column("guardian_masked", sa.String(length=32), nullable=False),
        sa.Column("mobile_enc", sa.LargeBinary(), nullable=False),
        sa.Column("mobile_hash", sa.String(length=64), nullable=False),
        sa.Column("mobile_masked", sa.String(length=16), nullable=False),
        sa.Column("relation", sa.String(length=8), nullable=False),
        sa.Column("consent_version", sa.String(length=64), nullable=False),
        sa.Column("consent_child_at", quiz.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("consent_licence_at", quiz.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("consent_publish", sa.Boolean(), nullable=False),
        sa.Column("consent_ip", sa.String(length=64), nullable=True),
        sa.Column("created_at", quiz.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("anonymised_at", quiz.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agent.id"], name=op.f("fk_artwork_family_agent_id_agent")
        ),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["branch.id"], name=op.f("fk_artwork_family_branch_id_branch")
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaign.id"], name=op.f("fk_artwork_family_campaign_id_campaign")
        ),
        sa.ForeignKeyConstraint(
            ["invitation_id"],
            ["artwork_invitation.id"],
            name=op.f("fk_artwork_family_invitation_id_artwork_invitation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_artwork_family")),
        sa.UniqueConstraint("invitation_id", name=op.f("uq_artwork_family_invitation_id")),
        sa.UniqueConstraint("public_id", name=op.f("uq_artwork_family_public_id")),
    )
    with op.batch_alter_table("artwork_family", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_artwork_family_agent_id"), ["agent_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_artwork_family_branch_id"), ["branch_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_artwork_family_campaign_id"), ["campaign_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_artwork_family_mobile_hash"), ["mobile_hash"], unique=False
        )

    op.create_table(
        "artwork_child",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("family_id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("name_enc", sa.LargeBinary(), nullable=False),
        sa.Column("name_masked", sa.String(length=32), nullable=False),
        sa.Column("age", sa.Integer(), nullable=False),
        sa.Column("age_group", sa.String(length=16), nullable=False),
        sa.Column("school_enc", sa.LargeBinary(), nullable=True),
        sa.Column("checked_in_at", quiz.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("checked_in_by", sa.String(length=64), nullable=True),
        sa.Column("created_at", quiz.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaign.id"], name=op.f("fk_artwork_child_campaign_id_campaign")
        ),
        sa.ForeignKeyConstraint(
            ["family_id"],
            ["artwork_family.id"],
            name=op.f("fk_artwork_child_family_id_artwork_family"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_artwork_child")),
    )
    with op.batch_alter_table("artwork_child", schema=None) as batch_op:
        batch_op.create_index(
            "ix_artwork_child_campaign_group", ["campaign_id", "age_group"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_artwork_child_family_id"), ["family_id"], unique=False)

    op.create_table(
        "artwork_work",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("child_id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("branch_id", sa.Integer(), nullable=False),
        sa.Column("age_group", sa.String(length=16), nullable=False),
        sa.Column("image_key", sa.String(length=32), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("uploaded_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", quiz.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("award", sa.String(length=16), nullable=True),
        sa.Column("award_rank", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "stage IN ('entered', 'selected', 'finalist', 'awarded')",
            name=op.f("ck_artwork_work_stage"),
        ),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["branch.id"], name=op.f("fk_artwork_work_branch_id_branch")
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaign.id"], name=op.f("fk_artwork_work_campaign_id_campaign")
        ),
        sa.ForeignKeyConstraint(
            ["child_id"],
            ["artwork_child.id"],
            name=op.f("fk_artwork_work_child_id_artwork_child"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_artwork_work")),
        sa.UniqueConstraint("child_id", name=op.f("uq_artwork_work_child_id")),
    )
    with op.batch_alter_table("artwork_work", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_artwork_work_branch_id"), ["branch_id"], unique=False)
        batch_op.create_index(
            "ix_artwork_work_campaign_group_stage",
            ["campaign_id", "age_group", "stage"],
            unique=False,
        )

    op.create_table(
        "artwork_score",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("work_id", sa.Integer(), nullable=False),
        sa.Column("round", sa.String(length=8), nullable=False),
        sa.Column("judge_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("created_at", quiz.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("score BETWEEN 1 AND 10", name=op.f("ck_artwork_score_score")),
        sa.ForeignKeyConstraint(
            ["judge_id"], ["staff_user.id"], name=op.f("fk_artwork_score_judge_id_staff_user")
        ),
        sa.ForeignKeyConstraint(
            ["work_id"],
            ["artwork_work.id"],
            name=op.f("fk_artwork_score_work_id_artwork_work"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_artwork_score")),
        sa.UniqueConstraint(
            "work_id", "round", "judge_id", name=op.f("uq_artwork_score_work_id_round_judge_id")
        ),
    )
    with op.batch_alter_table("artwork_score", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_artwork_score_judge_id"), ["judge_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("artwork_score", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_artwork_score_judge_id"))

    op.drop_table("artwork_score")
    with op.batch_alter_table("artwork_work", schema=None) as batch_op:
        batch_op.drop_index("ix_artwork_work_campaign_group_stage")
        batch_op.drop_index(batch_op.f("ix_artwork_work_branch_id"))

    op.drop_table("artwork_work")
    with op.batch_alter_table("artwork_child", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_artwork_child_family_id"))
        batch_op.drop_index("ix_artwork_child_campaign_group")

    op.drop_table("artwork_child")
    with op.batch_alter_table("artwork_family", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_artwork_family_mobile_hash"))
        batch_op.drop_index(batch_op.f("ix_artwork_family_campaign_id"))
        batch_op.drop_index(batch_op.f("ix_artwork_family_branch_id"))
        batch_op.drop_index(batch_op.f("ix_artwork_family_agent_id"))

    op.drop_table("artwork_family")
    with op.batch_alter_table("artwork_invitation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_artwork_invitation_campaign_id"))
        batch_op.drop_index(batch_op.f("ix_artwork_invitation_agent_id"))

    op.drop_table("artwork_invitation")
