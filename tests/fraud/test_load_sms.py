"""Honest participants through a real gunicorn server with sms_verification = "required":
each asks for a code, reads it from the server's log (the console backend's hook, as the
load harness does) and completes the quiz. Marked slow: it starts its own server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from quiz.db import Database
from quiz.models import Participant, SmsCode
from tests.conftest import REDIS_URL
from tests.load.harness import run_async, run_load
from tests.load.server import Server, run_server

pytestmark = pytest.mark.slow

PARTICIPANTS = 40


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    with run_server(
        database_url,
        tmp_path,
        workers=2,
        storage_uri=REDIS_URL or "memory://",
        sms_verification="required",
    ) as running:
        yield running


def test_honest_participants_prove_their_mobiles_and_all_complete(server: Server) -> None:
    report = run_async(
        run_load(server.url, PARTICIPANTS, concurrency=16, deadline=300, sms_log=server.log_path)
    )
    print(report.summary())
    assert report.errors == [] and report.server_errors == 0
    assert report.completed == PARTICIPANTS
    assert len(report.latencies("send_code")) == PARTICIPANTS  # every one asked for a code
    database = Database(server.database_url)
    try:
        with database.transaction(write=False) as session:
            verified = session.scalar(
                select(func.count())
                .select_from(Participant)
                .where(Participant.mobile_verified_at.is_not(None))
            )
            used = session.scalar(
                select(func.count()).select_from(SmsCode).where(SmsCode.used_at.is_not(None))
            )
    finally:
        database.dispose()
    assert verified == PARTICIPANTS and used == PARTICIPANTS
    assert "Traceback" not in server.log()
