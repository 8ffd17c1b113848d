"""Shared fixtures: an app on a fresh database per test (SQLite file, or PostgreSQL
when QUIZ_TEST_DATABASE_URL is set), its client, CLI runner and a session."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from hypothesis import settings
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from quiz import create_app
from quiz.db import Base, Database
from quiz.privacy.protection import new_keys
from tests.factories import install_test_campaign

KEYS = new_keys()
PG_URL = os.environ.get("QUIZ_TEST_DATABASE_URL", "")
REDIS_URL = os.environ.get("QUIZ_TEST_REDIS_URL", "")

if "MUTANT_UNDER_TEST" in os.environ:
    # The mutation check (tests/mutation/score.py) runs tests many times over on a loaded
    # machine: no per-example deadline (a slow example is not a kill) and the same
    # examples on every run, so a mutant is not killed or spared by chance.
    settings.register_profile("mutmut", deadline=None, derandomize=True, database=None)
    settings.load_profile("mutmut")


def _pg_database(name: str) -> str:
    """Create a throwaway PostgreSQL database and return its URL."""
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    base, _, _ = PG_URL.rpartition("/")
    return f"{base}/{name}"


def _drop_pg_database(name: str) -> None:
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """An empty database for one test."""
    if PG_URL:
        name = f"quiz_test_{uuid.uuid4().hex[:12]}"
        yield _pg_database(name)
        _drop_pg_database(name)
    else:
        yield f"sqlite:///{tmp_path / 'quiz.sqlite3'}"


def make_app(database_url: str, instance: Path, **overrides: Any) -> Flask:
    config: dict[str, Any] = {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "SECRET_KEY": KEYS["SECRET_KEY"],
        "QUIZ_DATA_KEY": KEYS["QUIZ_DATA_KEY"],
        "QUIZ_HASH_KEY": KEYS["QUIZ_HASH_KEY"],
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_STORAGE_URI": REDIS_URL or "memory://",
        "RATELIMIT_ENABLED": False,
        # Each app its own key space: with Redis (the PostgreSQL half of CI) every xdist
        # worker shares one server, and the bot check's counters live there too.
        "RATELIMIT_KEY_PREFIX": f"test-{uuid.uuid4().hex[:10]}",
        # Tests change the campaign between requests; the cache has its own tests.
        "QUIZ_CAMPAIGN_CACHE_SECONDS": 0,
        # Visits are written at once (batching has its own test).
        "QUIZ_VISIT_FLUSH_SECONDS": 0,
        # Queued tasks run inside the call that enqueues them; tests/tasks/ runs a real
        # consumer on SQLite and Redis storage.
        "QUIZ_QUEUE_URL": "immediate",
    }
    config.update(overrides)
    app = create_app(config)
    app.instance_path = str(instance)
    return app


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """The app with its schema created from the models and the test campaign loaded."""
    application = make_app(database_url, tmp_path / "instance")
    database: Database = application.extensions["quiz.db"]
    Base.metadata.create_all(database.engine)
    with database.transaction() as session:
        install_test_campaign(session)
    yield application
    database.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    """A write session on the app's database; tests commit when they need to."""
    database: Database = app.extensions["quiz.db"]
    s = database.session(write=True)
    yield s
    s.rollback()
    s.close()


@pytest.fixture
def protector(app: Flask) -> Any:
    return app.extensions["quiz.protector"]


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where tests leave screenshots and reports that CI keeps."""
    path = Path(os.environ.get("QUIZ_ARTIFACTS", "test-artifacts"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


__all__ = ["make_app", "utc", "shutil"]
