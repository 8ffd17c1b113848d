"""Participant birth date replaced by an 18+ flag

id_masked keeps digits 1-6 and 15-18 of the ID number and birth_date held digits 7-14
in plaintext: together they gave back the whole number without any key. The birth date
served one purpose, the age rule (年满18周岁 on the Beijing date of entry, quiz.age),
so an entry now keeps only the answer: `adult`. Existing rows get it from their birth
date and entry time; a row without a birth date that was not anonymised has it from
its decrypted ID number when the keys are at hand (`quiz db upgrade` passes them).
Anonymised rows, whose birth date was already erased, stay NULL (unknown: not drawn).

On SQLite the column is dropped with secure_delete on, so the freed pages are zeroed,
and quiz.migrate truncates the -wal afterwards. On PostgreSQL the dropped values stay
in the table's files until rewritten: run `VACUUM FULL participant` after upgrading
(README, 个人信息). Backups made before this revision still hold the birth dates.

The downgrade brings the column back, filled from the decrypted ID numbers when the
keys are at hand.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 23:30:00
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa
from alembic import context, op
from stdnum.cn import ric

from quiz.db import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BATCH = 1000
ADULT_AGE = 18
BEIJING = timezone(timedelta(hours=8))

participant = sa.table(
    "participant",
    sa.column("id", sa.Integer),
    sa.column("id_enc", sa.LargeBinary),
    sa.column("birth_date", sa.Date),
    sa.column("created_at", UTCDateTime()),
    sa.column("anonymised_at", UTCDateTime()),
    sa.column("adult", sa.Boolean),
)


def _protector() -> Any:
    return context.config.attributes.get("protector")


def _birth_from_id(protector: Any, token: bytes | None) -> date | None:
    """The birth date in an encrypted ID number (None without keys or a number)."""
    if protector is None or not token:
        return None
    number = protector.decrypt(token)
    try:
        return ric.get_birth_date(number) if number else None
    except ValueError:
        return None


def _adult(birth: date, entered: datetime) -> bool:
    # The rule of quiz.age as it stood at this revision, copied so that later changes to
    # the module do not change what this migration did.
    day = entered.astimezone(BEIJING).date()
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day)) >= ADULT_AGE


def _batches(*columns: Any) -> Any:
    bind = op.get_bind()
    last = 0
    while True:
        rows = bind.execute(
            sa.select(participant.c.id, *columns)
            .where(participant.c.id > last)
            .order_by(participant.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def _secure_delete() -> None:
    # Pages freed by the table copy below are zeroed rather than left in the file.
    if op.get_bind().dialect.name == "sqlite":
        op.execute("PRAGMA secure_delete = ON")


def upgrade() -> None:
    with op.batch_alter_table("participant") as batch:
        batch.add_column(sa.Column("adult", sa.Boolean(), nullable=True))
    protector = _protector()
    bind = op.get_bind()
    set_adult = (
        sa.update(participant)
        .where(participant.c.id == sa.bindparam("row_id"))
        .values(adult=sa.bindparam("value"))
    )
    columns = (
        participant.c.birth_date,
        participant.c.created_at,
        participant.c.anonymised_at,
        participant.c.id_enc,
    )
    for rows in _batches(*columns):
        values = []
        for row_id, birth, created, anonymised, id_enc in rows:
            if birth is None and anonymised is None:
                birth = _birth_from_id(protector, id_enc)
            if birth is not None and created is not None:
                values.append({"row_id": row_id, "value": _adult(birth, created)})
        if values:
            bind.execute(set_adult, values)
    # Overwritten first: a dropped column's values would otherwise stay in the rows
    # PostgreSQL keeps until it rewrites them.
    bind.execute(sa.update(participant).values(birth_date=None))
    _secure_delete()
    with op.batch_alter_table("participant") as batch:
        batch.drop_column("birth_date")


def downgrade() -> None:
    with op.batch_alter_table("participant") as batch:
        batch.add_column(sa.Column("birth_date", sa.Date(), nullable=True))
    protector = _protector()
    if protector is not None:
        bind = op.get_bind()
        set_birth = (
            sa.update(participant)
            .where(participant.c.id == sa.bindparam("row_id"))
            .values(birth_date=sa.bindparam("value"))
        )
        for rows in _batches(participant.c.id_enc):
            values = [
                {"row_id": row_id, "value": birth}
                for row_id, id_enc in rows
                if (birth := _birth_from_id(protector, id_enc)) is not None
            ]
            if values:
                bind.execute(set_birth, values)
    with op.batch_alter_table("participant") as batch:
        batch.drop_column("adult")
