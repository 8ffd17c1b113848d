"""list entrants: drop the indexes on the keyed hashes (import speed)

A million-row list import spent most of its time rewriting the pages of the unique
(import_id, customer_hash) and the (mobile_hash, campaign_id) indexes, whose keys arrive
in random order. Nothing queries list entrants by those hashes but the rare erasure
request, and duplicates of a 客户号 are merged by the import itself.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-02 09:20:00
"""

from __future__ import annotations

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_list_entrant_mobile", table_name="list_entrant")
    with op.batch_alter_table("list_entrant") as batch:
        batch.drop_constraint("uq_list_entrant_import_id_customer_hash", type_="unique")


def downgrade() -> None:
    with op.batch_alter_table("list_entrant") as batch:
        batch.create_unique_constraint(
            "uq_list_entrant_import_id_customer_hash", ["import_id", "customer_hash"]
        )
    op.create_index("ix_list_entrant_mobile", "list_entrant", ["mobile_hash", "campaign_id"])
