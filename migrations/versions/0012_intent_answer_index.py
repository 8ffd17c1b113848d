"""intent answers counted per campaign, day, branch, question and option (intent_count)

The dashboard's per-question charts and branch x answer tables read these counters
instead of every entry's JSON answers. The app keeps them up to date when an entry
completes or a lead changes branch (quiz/engine/intent_counts.py); this migration fills
them from the entries already completed.

Revision ID: 0012
Revises: 0009
Create Date: 2026-12-02 02:50:00
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0009"
branch_labels = None
depends_on = None

CHINA = ZoneInfo("Asia/Shanghai")
_BATCH = 10_000


def _day(created_at: datetime) -> date:
    if created_at.tzinfo is None:  # SQLite keeps UTC without an offset
        created_at = created_at.replace(tzinfo=UTC)
    return created_at.astimezone(CHINA).date()


def upgrade() -> None:
    counts = op.create_table(
        "intent_count",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("branch_id", sa.Integer(), nullable=False),
        sa.Column("question_key", sa.String(length=32), nullable=False),
        sa.Column("option", sa.Text(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaign.id"],
            name=op.f("fk_intent_count_campaign_id_campaign"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "campaign_id",
            "day",
            "branch_id",
            "question_key",
            "option",
            name=op.f("pk_intent_count"),
        ),
    )
    # Backfill from the completed entries (the same rule as intent_counts.entry_keys).
    participant = sa.table(
        "participant",
        sa.column("campaign_id", sa.Integer()),
        sa.column("created_at", sa.DateTime()),
        sa.column("branch_id", sa.Integer()),
        sa.column("intent", sa.JSON()),
        sa.column("status", sa.String()),
    )
    conn = op.get_bind()
    total: Counter[tuple[Any, ...]] = Counter()
    # yield_per on the statement, not the connection: on a connection it would stay on
    # and make alembic's own UPDATE of alembic_version a server-side cursor too.
    rows = conn.execute(
        sa.select(
            participant.c.campaign_id,
            participant.c.created_at,
            participant.c.branch_id,
            participant.c.intent,
        )
        .where(participant.c.status == "completed", participant.c.intent.is_not(None))
        .execution_options(yield_per=_BATCH)
    )
    for campaign_id, created_at, branch_id, intent in rows:
        if not intent:
            continue
        day = _day(created_at)
        branch = branch_id if branch_id is not None else 0
        for question, picked in intent.items():
            options = picked if isinstance(picked, list) else [picked]
            if not options:
                continue
            total[(campaign_id, day, branch, str(question), "")] += 1
            for option in options:
                total[(campaign_id, day, branch, str(question), str(option))] += 1
    names = ("campaign_id", "day", "branch_id", "question_key", "option")
    values = [{**dict(zip(names, key, strict=True)), "count": n} for key, n in total.items()]
    for start in range(0, len(values), _BATCH):
        op.bulk_insert(counts, values[start : start + _BATCH])


def downgrade() -> None:
    op.drop_table("intent_count")
