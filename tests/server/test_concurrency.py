"""Concurrent participants against gunicorn with 4 workers: nothing lost, nothing doubled.

Runs on a fresh SQLite file, or on a fresh PostgreSQL database when
QUIZ_TEST_DATABASE_URL is set (Redis as rate-limit storage when QUIZ_TEST_REDIS_URL
is). QUIZ_LOAD_PARTICIPANTS sets the size of the main run (300 by default).
"""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from quiz.db import Database
from quiz.models import Participant, QuizItem
from tests.conftest import PG_URL, REDIS_URL, _drop_pg_database, _pg_database
from tests.load.harness import (
    DUPLICATE_ID_MESSAGE,
    Progress,
    Reply,
    Report,
    campaign_address,
    identity,
    open_pool,
    run_async,
    run_load,
)
from tests.load.harness import (
    Participant as Browser,
)
from tests.load.server import Server, run_server

pytestmark = pytest.mark.slow

PARTICIPANTS = int(os.environ.get("QUIZ_LOAD_PARTICIPANTS", "300"))
CONCURRENCY = 64
WORKERS = 4


@pytest.fixture(scope="module")
def database_url_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh database for this module's servers."""
    if PG_URL:
        name = f"quiz_load_{uuid.uuid4().hex[:12]}"
        yield _pg_database(name)
        _drop_pg_database(name)
    else:
        yield f"sqlite:///{tmp_path_factory.mktemp('load') / 'quiz.sqlite3'}"


@pytest.fixture(scope="module")
def server(database_url_module: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with run_server(
        database_url_module,
        tmp_path_factory.mktemp("gunicorn"),
        workers=WORKERS,
        storage_uri=REDIS_URL or "memory://",
    ) as running:
        yield running


def entries(server: Server, report: Report) -> dict[str, Participant]:
    """The server's stored entries of this run's participants, by resident ID number."""
    protector = server.protector()
    by_hash = {
        protector.lookup_hash("rid", o.who.resident_id): o.who.resident_id for o in report.outcomes
    }
    database = Database(server.database_url)
    try:
        with database.transaction(write=False) as session:
            rows = session.scalars(
                select(Participant).where(Participant.id_hash.in_(list(by_hash)))
            ).all()
            return {by_hash[p.id_hash]: p for p in rows}
    finally:
        database.dispose()


def answered_positions(server: Server, participant_ids: list[int]) -> dict[int, set[int]]:
    database = Database(server.database_url)
    try:
        with database.transaction(write=False) as session:
            rows = session.execute(
                select(QuizItem.participant_id, QuizItem.position).where(
                    QuizItem.participant_id.in_(participant_ids), QuizItem.answer.is_not(None)
                )
            ).all()
    finally:
        database.dispose()
    out: dict[int, set[int]] = {}
    for pid, position in rows:
        out.setdefault(pid, set()).add(position)
    return out


def assert_clean_log(server: Server) -> None:
    log = server.log()
    assert "database is locked" not in log
    assert "Traceback" not in log and "unhandled error" not in log


def test_concurrent_participants_all_complete(server: Server) -> None:
    report = run_async(
        run_load(server.url, PARTICIPANTS, concurrency=CONCURRENCY, deadline=600, salt=1)
    )
    print(report.summary())
    assert report.errors == []
    assert report.server_errors == 0
    assert report.completed == PARTICIPANTS
    stored = entries(server, report)
    assert len(stored) == PARTICIPANTS
    assert all(p.status == "completed" for p in stored.values())
    assert_clean_log(server)


def test_double_taps_create_no_duplicates(server: Server) -> None:
    """The register POST and the first answer POST each sent twice at once."""
    report = run_async(
        run_load(server.url, 24, concurrency=24, deadline=300, salt=2, double_tap_every=1)
    )
    assert report.errors == []
    assert report.server_errors == 0
    stored = entries(server, report)
    assert len(stored) == 24 and all(p.status == "completed" for p in stored.values())
    database = Database(server.database_url)
    try:
        with database.transaction(write=False) as session:
            ids = [p.id for p in stored.values()]
            items = session.execute(
                select(QuizItem.participant_id, func.count(), func.count(QuizItem.answer))
                .where(QuizItem.participant_id.in_(ids))
                .group_by(QuizItem.participant_id)
            ).all()
    finally:
        database.dispose()
    # Every question has exactly one item and one answer: the second tap added nothing.
    assert all(total == answered for _, total, answered in items)
    assert len(items) == 24
    assert_clean_log(server)


def test_same_id_number_released_together(server: Server) -> None:
    """20 primed browsers post the same ID number at once: one entry, 19 clear refusals."""
    who = identity(0, salt=3)

    async def scenario() -> list[Reply]:
        http = open_pool(20)
        try:
            base = await campaign_address(http, server.url)
            browsers = [Browser(base, http, who) for _ in range(20)]
            tokens = await asyncio.gather(*(b.prime() for b in browsers))
            return list(
                await asyncio.gather(
                    *(
                        b.request("register", "POST", "/register", b.registration(t))
                        for b, t in zip(browsers, tokens, strict=True)
                    )
                )
            )
        finally:
            await http.close()

    replies = run_async(scenario())
    statuses = sorted(r.status_code for r in replies)
    assert statuses == [302] + [409] * 19
    assert all(DUPLICATE_ID_MESSAGE in r.text for r in replies if r.status_code == 409)
    protector = server.protector()
    database = Database(server.database_url)
    try:
        with database.transaction(write=False) as session:
            count = session.scalar(
                select(func.count())
                .select_from(Participant)
                .where(Participant.id_hash == protector.lookup_hash("rid", who.resident_id))
            )
    finally:
        database.dispose()
    assert count == 1
    assert_clean_log(server)


def test_killed_worker_loses_no_acknowledged_write(
    database_url_module: str, tmp_path: Path
) -> None:
    """SIGKILL one worker mid-run: every 302 the clients saw is in the database."""
    participants = max(120, PARTICIPANTS // 2)
    with run_server(
        database_url_module, tmp_path, workers=WORKERS, storage_uri=REDIS_URL or "memory://"
    ) as server:
        progress = Progress()

        async def scenario() -> tuple[Report, int]:
            load = asyncio.create_task(
                run_load(
                    server.url,
                    participants,
                    concurrency=CONCURRENCY,
                    deadline=600,
                    salt=4,
                    progress=progress,
                )
            )
            while progress.registered < participants // 4 and not load.done():
                await asyncio.sleep(0.02)
            victim = server.worker_pids()[0]
            os.kill(victim, signal.SIGKILL)
            return await load, victim

        report, victim = run_async(scenario())
        assert victim not in server.worker_pids()  # the master replaced it
        stored = entries(server, report)
        answers = answered_positions(server, [p.id for p in stored.values()])
        registered = [o for o in report.outcomes if o.registered]
        # Most participants were untouched by the kill; only in-flight requests may fail.
        assert len(registered) >= participants * 0.8
        for outcome in registered:
            entry = stored.get(outcome.who.resident_id)
            assert entry is not None, f"acknowledged registration #{outcome.who.n} lost"
            assert set(outcome.answered) <= answers.get(entry.id, set()), (
                f"acknowledged answer of #{outcome.who.n} lost"
            )
        assert report.server_errors == 0
        assert "database is locked" not in server.log()
