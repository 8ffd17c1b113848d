"""Alembic migrations: upgrade/downgrade/upgrade on an empty database, and no drift."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from quiz.db import Base, make_engine
from quiz.migrate import downgrade, upgrade


def test_upgrade_downgrade_upgrade_and_no_drift(database_url):
    upgrade(database_url)
    engine = make_engine(database_url)
    assert "participant" in inspect(engine).get_table_names()
    downgrade(database_url, "base")
    assert "participant" not in inspect(engine).get_table_names()
    upgrade(database_url)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, Base.metadata)
    engine.dispose()
    assert diff == [], f"models and migrations differ: {diff}"
