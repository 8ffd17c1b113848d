"""draws over imported lists, several draws per campaign

list_import records each imported entrant list (file name, digest, figures, who, when);
list_entrant holds its people as participants are held (mobile and address encrypted,
masked forms). draw gains its number within the campaign (existing draws become draw 1),
its own draw time and result example, and the list it froze; draw_entrant and winner
point at either a participant or a list entrant (exactly one).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import quiz.db

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

_ONE = "(participant_id IS NULL) <> (list_entrant_id IS NULL)"


def upgrade() -> None:
    op.create_table(
        "list_import",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("draw_number", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("file_name", sa.String(length=200), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("file_bytes", sa.Integer(), nullable=False),
        sa.Column("rows_read", sa.Integer(), nullable=False),
        sa.Column("rows_accepted", sa.Integer(), nullable=False),
        sa.Column("rows_refused", sa.Integer(), nullable=False),
        sa.Column("duplicates", sa.Integer(), nullable=False),
        sa.Column("imported_by", sa.String(length=64), nullable=False),
        sa.Column("started_at", quiz.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", quiz.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('writing', 'active', 'replaced', 'failed')",
            name=op.f("ck_list_import_status"),
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaign.id"], name=op.f("fk_list_import_campaign_id_campaign")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_list_import")),
    )
    op.create_index("ix_list_import_draw", "list_import", ["campaign_id", "draw_number", "status"])
    op.create_table(
        "list_entrant",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("customer_hash", sa.String(length=64), nullable=False),
        sa.Column("customer_masked", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("name_masked", sa.String(length=100), nullable=False),
        sa.Column("mobile_hash", sa.String(length=64), nullable=False),
        sa.Column("mobile_masked", sa.String(length=16), nullable=False),
        sa.Column("personal_enc", sa.LargeBinary(), nullable=False),
        sa.Column("branch_id", sa.Integer(), nullable=False),
        sa.Column("eligible_on", sa.Date(), nullable=True),
        sa.Column("anonymised_at", quiz.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["branch.id"], name=op.f("fk_list_entrant_branch_id_branch")
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaign.id"], name=op.f("fk_list_entrant_campaign_id_campaign")
        ),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["list_import.id"],
            name=op.f("fk_list_entrant_import_id_list_import"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_list_entrant")),
        sa.UniqueConstraint(
            "import_id", "customer_hash", name=op.f("uq_list_entrant_import_id_customer_hash")
        ),
    )
    op.create_index(op.f("ix_list_entrant_branch_id"), "list_entrant", ["branch_id"])
    op.create_index("ix_list_entrant_order", "list_entrant", ["import_id", "line_no"])
    op.create_index("ix_list_entrant_mobile", "list_entrant", ["mobile_hash", "campaign_id"])

    # Existing draws are each campaign's draw 1 (the server default fills them in).
    with op.batch_alter_table("draw") as batch:
        batch.add_column(
            sa.Column("number", sa.Integer(), server_default=sa.text("1"), nullable=False)
        )
        batch.add_column(sa.Column("draw_at", quiz.db.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("randomness_example", sa.Text(), nullable=True))
        batch.add_column(sa.Column("list_import_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            batch.f("fk_draw_list_import_id_list_import"),
            "list_import",
            ["list_import_id"],
            ["id"],
        )
    for table in ("draw_entrant", "winner"):
        with op.batch_alter_table(table) as batch:
            batch.alter_column("participant_id", existing_type=sa.Integer(), nullable=True)
            batch.add_column(sa.Column("list_entrant_id", sa.Integer(), nullable=True))
            batch.create_foreign_key(
                batch.f(f"fk_{table}_list_entrant_id_list_entrant"),
                "list_entrant",
                ["list_entrant_id"],
                ["id"],
            )
            batch.create_index(batch.f(f"ix_{table}_list_entrant_id"), ["list_entrant_id"])
            batch.create_check_constraint(batch.f(f"ck_{table}_one_entrant"), _ONE)
    with op.batch_alter_table("winner") as batch:
        batch.create_unique_constraint(
            batch.f("uq_winner_draw_id_list_entrant_id"), ["draw_id", "list_entrant_id"]
        )


def downgrade() -> None:
    # Draws over lists cannot go back to a schema where every entry is a participant.
    op.execute("DELETE FROM winner WHERE list_entrant_id IS NOT NULL")
    op.execute("DELETE FROM draw_entrant WHERE list_entrant_id IS NOT NULL")
    op.execute("DELETE FROM draw WHERE list_import_id IS NOT NULL")
    with op.batch_alter_table("winner") as batch:
        batch.drop_constraint(batch.f("uq_winner_draw_id_list_entrant_id"), type_="unique")
    for table in ("draw_entrant", "winner"):
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(batch.f(f"ck_{table}_one_entrant"), type_="check")
            batch.drop_index(batch.f(f"ix_{table}_list_entrant_id"))
            batch.drop_constraint(
                batch.f(f"fk_{table}_list_entrant_id_list_entrant"), type_="foreignkey"
            )
            batch.drop_column("list_entrant_id")
            batch.alter_column("participant_id", existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table("draw") as batch:
        batch.drop_constraint(batch.f("fk_draw_list_import_id_list_import"), type_="foreignkey")
        batch.drop_column("list_import_id")
        batch.drop_column("randomness_example")
        batch.drop_column("draw_at")
        batch.drop_column("number")
    op.drop_index("ix_list_entrant_mobile", table_name="list_entrant")
    op.drop_index("ix_list_entrant_order", table_name="list_entrant")
    op.drop_index(op.f("ix_list_entrant_branch_id"), table_name="list_entrant")
    op.drop_table("list_entrant")
    op.drop_index("ix_list_import_draw", table_name="list_import")
    op.drop_table("list_import")
