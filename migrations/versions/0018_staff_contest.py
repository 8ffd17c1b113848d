"""staff knowledge contest: roster, papers and answers (kind staff_contest)

contestant is a contest's roster (工号, 姓名, 机构, 组别, optional mobile): no ID number or
address. contest_paper is one contestant's single attempt with its deadline and score,
independent of participant; contest_answer holds its questions, the option order shown
and the answers.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from quiz.db import UTCDateTime

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "contestant",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("staff_no", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("branch_id", sa.Integer(), nullable=False),
        sa.Column("group_code", sa.String(length=16), nullable=False),
        sa.Column("mobile_enc", sa.LargeBinary(), nullable=True),
        sa.Column("mobile_masked", sa.String(length=16), nullable=True),
        sa.Column("invite_hash", sa.String(length=64), nullable=True),
        sa.Column("session_token", sa.String(length=64), nullable=True),
        sa.Column("signed_in_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaign.id"],
            name=op.f("fk_contestant_campaign_id_campaign"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["branch.id"], name=op.f("fk_contestant_branch_id_branch")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contestant")),
        sa.UniqueConstraint(
            "campaign_id", "staff_no", name=op.f("uq_contestant_campaign_id_staff_no")
        ),
    )
    op.create_index(
        "ix_contestant_branch", "contestant", ["campaign_id", "branch_id", "group_code"]
    )
    op.create_table(
        "contest_paper",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("contestant_id", sa.Integer(), nullable=False),
        sa.Column("group_code", sa.String(length=16), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("deadline_at", UTCDateTime(), nullable=False),
        sa.Column("submitted_at", UTCDateTime(), nullable=True),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("max_score", sa.Integer(), nullable=False),
        sa.Column("visibility_changes", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaign.id"],
            name=op.f("fk_contest_paper_campaign_id_campaign"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contestant_id"],
            ["contestant.id"],
            name=op.f("fk_contest_paper_contestant_id_contestant"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contest_paper")),
        sa.UniqueConstraint("contestant_id", name=op.f("uq_contest_paper_contestant_id")),
    )
    op.create_index(
        "ix_contest_paper_rank", "contest_paper", ["campaign_id", "group_code", "score"]
    )
    op.create_table(
        "contest_answer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("paper_id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("option_order", sa.JSON(), nullable=False),
        sa.Column("answer", sa.JSON(), nullable=True),
        sa.Column("points", sa.Integer(), nullable=True),
        sa.Column("answered_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["paper_id"],
            ["contest_paper.id"],
            name=op.f("fk_contest_answer_paper_id_contest_paper"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["question_id"], ["question.id"], name=op.f("fk_contest_answer_question_id_question")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contest_answer")),
        sa.UniqueConstraint(
            "paper_id", "position", name=op.f("uq_contest_answer_paper_id_position")
        ),
        sa.UniqueConstraint(
            "paper_id", "question_id", name=op.f("uq_contest_answer_paper_id_question_id")
        ),
    )
    op.create_index(op.f("ix_contest_answer_question_id"), "contest_answer", ["question_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_contest_answer_question_id"), table_name="contest_answer")
    op.drop_table("contest_answer")
    op.drop_index("ix_contest_paper_rank", table_name="contest_paper")
    op.drop_table("contest_paper")
    op.drop_index("ix_contestant_branch", table_name="contestant")
    op.drop_table("contestant")
