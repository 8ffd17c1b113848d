"""campaign workspace: the campaign an audit entry was made in

audit_log.campaign_id is the campaign the staff member was working on (the back office's
switcher) when the action was taken, so the audit viewer can filter by campaign. Entries
made before have none: they show under every campaign's "all" view only.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 04:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # SQLite: ADD COLUMN with the foreign key inline (batch mode would copy the table).
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "ALTER TABLE audit_log ADD COLUMN campaign_id INTEGER"
            " CONSTRAINT fk_audit_log_campaign_id_campaign REFERENCES campaign (id)"
        )
    else:
        op.add_column("audit_log", sa.Column("campaign_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            op.f("fk_audit_log_campaign_id_campaign"),
            "audit_log",
            "campaign",
            ["campaign_id"],
            ["id"],
        )
    op.create_index(op.f("ix_audit_log_campaign_id"), "audit_log", ["campaign_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_audit_log_campaign_id"), table_name="audit_log")
    sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table("audit_log") as batch:
        if not sqlite:
            batch.drop_constraint(batch.f("fk_audit_log_campaign_id_campaign"), type_="foreignkey")
        batch.drop_column("campaign_id")
