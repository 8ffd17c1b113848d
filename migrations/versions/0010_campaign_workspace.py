"""campaign workspace: kind and status of a campaign, referral links per campaign, the
back office's remembered campaign

campaign.kind (prize_quiz, list_draw, staff_contest, artwork_contest) decides a campaign's
flow; existing campaigns are prize quizzes. campaign.status (draft, published, archived):
existing campaigns were public, so they become 'published'. referral_link.campaign_id ties
a printed link to the campaign it was made for; existing links get the campaign the public
site served (the most recently opened one), which is where /r/<code> led them before.
staff_user.current_campaign_id is the campaign switcher's remembered choice (none yet).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 02:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

KIND_CHECK = "kind IN ('prize_quiz', 'list_draw', 'staff_contest', 'artwork_contest')"
STATUS_CHECK = "status IN ('draft', 'published', 'archived')"


def upgrade() -> None:
    bind = op.get_bind()
    # On SQLite every column goes in with ALTER TABLE ... ADD COLUMN, constraints inline:
    # batch mode would copy and drop `campaign` and `referral_link`, which entries reference,
    # and SQLite (foreign keys on) refuses to drop a table whose rows are referenced.
    op.add_column(
        "campaign",
        sa.Column(
            "kind",
            sa.String(32),
            sa.CheckConstraint(KIND_CHECK, name="kind"),
            nullable=False,
            server_default="prize_quiz",
        ),
    )
    op.add_column(
        "campaign",
        sa.Column(
            "status",
            sa.String(16),
            sa.CheckConstraint(STATUS_CHECK, name="status"),
            nullable=False,
            server_default="published",
        ),
    )
    if bind.dialect.name == "sqlite":
        op.execute(
            "ALTER TABLE referral_link ADD COLUMN campaign_id INTEGER"
            " CONSTRAINT fk_referral_link_campaign_id_campaign REFERENCES campaign (id)"
        )
        op.execute(
            "ALTER TABLE staff_user ADD COLUMN current_campaign_id INTEGER"
            " CONSTRAINT fk_staff_user_current_campaign_id_campaign REFERENCES campaign (id)"
        )
    else:
        # The server defaults only fill existing rows; the model sets the values itself.
        op.alter_column("campaign", "kind", server_default=None)
        op.alter_column("campaign", "status", server_default=None)
        op.add_column("referral_link", sa.Column("campaign_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            op.f("fk_referral_link_campaign_id_campaign"),
            "referral_link",
            "campaign",
            ["campaign_id"],
            ["id"],
        )
        op.add_column("staff_user", sa.Column("current_campaign_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            op.f("fk_staff_user_current_campaign_id_campaign"),
            "staff_user",
            "campaign",
            ["current_campaign_id"],
            ["id"],
        )
    op.create_index(op.f("ix_referral_link_campaign_id"), "referral_link", ["campaign_id"])

    campaign = sa.table("campaign", sa.column("id", sa.Integer), sa.column("opens_at", sa.DateTime))
    link = sa.table("referral_link", sa.column("campaign_id", sa.Integer))
    served = bind.execute(
        sa.select(campaign.c.id).order_by(campaign.c.opens_at.desc(), campaign.c.id.desc()).limit(1)
    ).scalar()
    if served is not None:
        bind.execute(sa.update(link).values(campaign_id=served))


def downgrade() -> None:
    # SQLite: batch mode rebuilds each table without the column; the inline foreign keys
    # reflect without their names and go with their columns.
    sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table("staff_user") as batch:
        if not sqlite:
            batch.drop_constraint(
                batch.f("fk_staff_user_current_campaign_id_campaign"), type_="foreignkey"
            )
        batch.drop_column("current_campaign_id")
    op.drop_index(op.f("ix_referral_link_campaign_id"), table_name="referral_link")
    with op.batch_alter_table("referral_link") as batch:
        if not sqlite:
            batch.drop_constraint(
                batch.f("fk_referral_link_campaign_id_campaign"), type_="foreignkey"
            )
        batch.drop_column("campaign_id")
    with op.batch_alter_table("campaign") as batch:
        batch.drop_constraint(batch.f("ck_campaign_kind"), type_="check")
        batch.drop_constraint(batch.f("ck_campaign_status"), type_="check")
        batch.drop_column("status")
        batch.drop_column("kind")
