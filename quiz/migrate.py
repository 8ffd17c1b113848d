"""Alembic, driven from code so the project needs no alembic.ini at the top level."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config

from quiz.db import make_engine, sqlite_file

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(database_url: str, protector: Any = None) -> Config:
    """An Alembic config pointing at migrations/ and the given database. `protector`
    (quiz.privacy.protection.Protector) is for revisions that must decrypt stored data (0007)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    cfg.attributes["protector"] = protector
    return cfg


def upgrade(database_url: str, revision: str = "head", protector: Any = None) -> None:
    command.upgrade(alembic_config(database_url, protector), revision)
    _empty_wal(database_url)


def downgrade(database_url: str, revision: str, protector: Any = None) -> None:
    command.downgrade(alembic_config(database_url, protector), revision)
    _empty_wal(database_url)


def _empty_wal(database_url: str) -> None:
    """SQLite: copy the -wal into the database and truncate it. A revision that removes
    data (0007 dropped the birth dates) zeroes the freed pages (secure_delete), but the
    -wal would keep older frames holding the data until they happen to be overwritten."""
    if not database_url.startswith("sqlite") or sqlite_file(database_url) is None:
        return
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        engine.dispose()
