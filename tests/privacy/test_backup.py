"""Online backups of the SQLite database: consistent while the site writes, and usable."""

from __future__ import annotations

import sqlite3
import stat
import threading

import pytest
from sqlalchemy import func, select

from quiz.cli.privacy import backup_command
from quiz.models import AuditLog, Campaign, Participant
from quiz.privacy.backup import BackupError, backup_sqlite, sqlite_path
from tests.conftest import PG_URL, make_app
from tests.factories import make_participant

sqlite_only = pytest.mark.skipif(bool(PG_URL), reason="SQLite backups; PostgreSQL uses pg_dump")


def test_postgresql_is_refused_with_a_pg_dump_hint():
    with pytest.raises(BackupError, match="pg_dump"):
        sqlite_path("postgresql://postgres@127.0.0.1:5432/quiz")
    with pytest.raises(BackupError, match="in-memory"):
        sqlite_path("sqlite://")


@pytest.mark.skipif(not PG_URL, reason="needs QUIZ_TEST_DATABASE_URL")
def test_backup_command_on_postgresql_says_use_pg_dump(runner, tmp_path):
    result = runner.invoke(backup_command, [str(tmp_path / "copy.sqlite3")])
    assert result.exit_code == 1 and "pg_dump" in result.output


@pytest.mark.slow  # a writer thread runs during the backup (real time)
@sqlite_only
def test_backup_while_writes_run_is_consistent_and_opens_with_the_app(
    app, session, protector, tmp_path
):
    campaign = session.scalars(select(Campaign)).one()
    for n in range(30):
        make_participant(session, protector, campaign, n, complete=True)
    # Bulk so that the copy takes long enough for writes to land meanwhile.
    session.add_all(
        AuditLog(actor="seed", action="seed", detail={"pad": "x" * 400}) for _ in range(5000)
    )
    session.commit()
    database = app.extensions["quiz.db"]
    stop = threading.Event()
    written = [0]
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            while not stop.is_set():
                with database.transaction() as s:
                    s.add(AuditLog(actor="writer", action="tick", detail={"n": written[0]}))
                written[0] += 1
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while written[0] < 20:
            stop.wait(0.005)
        before = written[0]
        copies = [backup_sqlite(database.url, tmp_path / f"copy{i}.sqlite3") for i in range(3)]
        during = written[0]
    finally:
        stop.set()
        thread.join()
    assert not errors, errors
    assert during > before  # writes went on while the copies were taken
    for copy in copies:
        conn = sqlite3.connect(copy.path)
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        ticks = conn.execute("SELECT count(*) FROM audit_log WHERE action='tick'").fetchone()[0]
        conn.close()
        assert 20 <= ticks <= written[0]
        assert stat.S_IMODE(copy.path.stat().st_mode) == 0o600
        assert not copy.path.with_name(copy.path.name + "-wal").exists()
        # The copy is a working database for the app: restore = point DATABASE_URL at it.
        restored = make_app(f"sqlite:///{copy.path}", tmp_path / "restored")
        with restored.extensions["quiz.db"].transaction(write=False) as s:
            assert s.scalar(select(func.count()).select_from(Participant)) == 30
        client = restored.test_client()
        assert client.get("/", follow_redirects=True).status_code == 200
        restored.extensions["quiz.db"].dispose()


@sqlite_only
def test_backup_command_writes_audits_and_refuses_to_overwrite(app, runner, session, tmp_path):
    target = tmp_path / "backups" / "quiz-2027-02-10.sqlite3"
    result = runner.invoke(backup_command, [str(target)])
    assert result.exit_code == 0, result.output
    assert "integrity ok" in result.output and target.exists()
    entry = session.scalars(select(AuditLog).where(AuditLog.action == "database.backup")).one()
    assert entry.actor.startswith("cli:") and entry.target == str(target)
    session.rollback()
    again = runner.invoke(backup_command, [str(target)])
    assert again.exit_code == 1 and "exists" in again.output
    assert runner.invoke(backup_command, [str(target), "--overwrite"]).exit_code == 0
    live = sqlite_path(app.extensions["quiz.db"].url)
    refused = runner.invoke(backup_command, [str(live), "--overwrite"])
    assert refused.exit_code == 1 and "live database" in refused.output


def test_a_damaged_source_is_a_message_and_leaves_no_partial_copy(tmp_path):
    source = tmp_path / "live.sqlite3"
    source.write_bytes(b"not a database, a disk error's leftovers" * 100)
    target = tmp_path / "backups" / "copy.sqlite3"
    with pytest.raises(BackupError, match="backup to .* failed: file is not a database"):
        backup_sqlite(f"sqlite:///{source}", target)
    assert list((tmp_path / "backups").iterdir()) == []


@sqlite_only
def test_an_unwritable_target_is_a_message_from_the_command(app, runner, tmp_path):
    """A path whose folder cannot be made (here: a file stands in its place) exits 1 with
    the reason, as a full disk does, instead of a traceback."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    result = runner.invoke(backup_command, [str(blocker / "copy.sqlite3")])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "failed" in result.output and "copy.sqlite3" in result.output
