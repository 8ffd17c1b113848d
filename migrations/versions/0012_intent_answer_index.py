"""the dashboard's counters: intent answers, branch/status, province, score per day

intent_count: entries per campaign, question, option, branch and Beijing day of
registration; branch_count, province_count and score_count: entries per branch, quiz
status and follow-up status, per province, and per score (completed), each per day.
The dashboard reads these few thousand rows instead of every entry (and every entry's
JSON answers). The app keeps them up to date in the transactions that change an entry
(quiz/engine/entry_counts.py, intent_counts.py); this migration fills them from the
entries already there.

Revision ID: 0012
Revises: 0011
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
down_revision = "0011"
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
        sa.Column("question_key", sa.String(length=32), nullable=False),
        sa.Column("branch_id", sa.Integer(), nullable=False),
        sa.Column("option", sa.Text(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaign.id"],
            name=op.f("fk_intent_count_campaign_id_campaign"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "campaign_id",
            "question_key",
            "branch_id",
            "option",
            "day",
            name=op.f("pk_intent_count"),
        ),
        sqlite_with_rowid=False,
    )
    _entry_counters()
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


def _counter_table(name: str, *columns: sa.Column[Any]) -> None:
    op.create_table(
        name,
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        *columns,
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaign.id"],
            name=op.f(f"fk_{name}_campaign_id_campaign"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "campaign_id", *(c.name for c in columns), "day", name=op.f(f"pk_{name}")
        ),
        sqlite_with_rowid=False,
    )


def _entry_counters() -> None:
    """Create branch_count, province_count and score_count and count every entry in
    them: one GROUP BY each (the same rule as entry_counts.keys)."""
    _counter_table(
        "branch_count",
        sa.Column("branch_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("follow_up_status", sa.String(length=8), nullable=False),
    )
    _counter_table(
        "province_count", sa.Column("province_code", sa.String(length=6), nullable=False)
    )
    _counter_table("score_count", sa.Column("score", sa.Integer(), nullable=False))
    p = sa.table(
        "participant",
        sa.column("campaign_id", sa.Integer()),
        sa.column("branch_id", sa.Integer()),
        sa.column("status", sa.String()),
        sa.column("follow_up_status", sa.String()),
        sa.column("province_code", sa.String()),
        sa.column("score", sa.Integer()),
        sa.column("created_at", sa.DateTime()),
    )
    day: Any
    if op.get_bind().dialect.name == "postgresql":
        day = sa.cast(sa.func.timezone("Asia/Shanghai", p.c.created_at), sa.Date)
    else:  # SQLite keeps UTC as text; China has no daylight saving
        day = sa.func.date(p.c.created_at, sa.literal_column("'+8 hours'"))
    n = sa.func.count()
    branch = sa.func.coalesce(p.c.branch_id, 0)
    province = sa.func.coalesce(p.c.province_code, "")
    fills = (
        ("branch_count", [branch, p.c.status, p.c.follow_up_status], None),
        ("province_count", [province], None),
        ("score_count", [p.c.score], p.c.status == "completed"),
    )
    for name, keys, where in fills:
        target = sa.table(name, *(sa.column(c) for c in _COLUMNS[name]))
        query = sa.select(p.c.campaign_id, *keys, day, n).group_by(p.c.campaign_id, *keys, day)
        if where is not None:
            query = query.where(where)
        op.execute(target.insert().from_select(_COLUMNS[name], query))


_COLUMNS = {
    "branch_count": ["campaign_id", "branch_id", "status", "follow_up_status", "day", "count"],
    "province_count": ["campaign_id", "province_code", "day", "count"],
    "score_count": ["campaign_id", "score", "day", "count"],
}


def downgrade() -> None:
    for name in ("score_count", "province_count", "branch_count", "intent_count"):
        op.drop_table(name)
