"""Session kinds: SQLite writers queue on an flock'd side file (readers never wait on
it); per-statement readers skip the transaction round trips on PostgreSQL."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import IntegrityError

from quiz.db import Database, make_engine
from quiz.privacy.protection import load_or_create_instance_keys


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    db = Database(f"sqlite:///{tmp_path / 'q.sqlite3'}")
    with db.transaction() as session:
        session.execute(text("CREATE TABLE t (v INTEGER)"))
    yield db
    db.dispose()


def lock_file(tmp_path: Path) -> Path:
    return tmp_path / "q.sqlite3-writers.lock"


def try_lock(path: Path) -> bool:
    """Whether another open file could take the writers' lock right now."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def test_writer_waits_for_the_holder_and_runs_when_it_lets_go(
    database: Database, tmp_path: Path
) -> None:
    holder = os.open(lock_file(tmp_path), os.O_RDWR | os.O_CREAT)
    fcntl.flock(holder, fcntl.LOCK_EX)  # another worker is writing
    done = threading.Event()

    def write() -> None:
        with database.transaction() as session:
            session.execute(text("INSERT INTO t VALUES (1)"))
        done.set()

    writer = threading.Thread(target=write)
    writer.start()
    assert not done.wait(0.5), "the writer did not queue behind the holder"
    # Readers are not held up by a queued writer.
    with database.transaction(write=False) as session:
        assert session.execute(text("SELECT count(*) FROM t")).scalar() == 0
    os.close(holder)
    assert done.wait(10)
    writer.join()
    with database.transaction(write=False) as session:
        assert session.execute(text("SELECT count(*) FROM t")).scalar() == 1


def test_lock_is_held_only_inside_a_write_transaction(database: Database, tmp_path: Path) -> None:
    session = database.session(write=True)
    session.execute(text("INSERT INTO t VALUES (1)"))
    assert not try_lock(lock_file(tmp_path))
    session.commit()
    assert try_lock(lock_file(tmp_path))
    session.execute(text("INSERT INTO t VALUES (2)"))
    assert not try_lock(lock_file(tmp_path))
    session.rollback()
    assert try_lock(lock_file(tmp_path))
    session.close()


def test_lock_is_held_until_the_commit_has_run(database: Database, tmp_path: Path) -> None:
    """SQLAlchemy's commit event fires before COMMIT reaches SQLite; a queue released
    there lets the next writer's BEGIN IMMEDIATE meet the unfinished commit and sleep
    in SQLite's busy handler while holding the queue."""
    seen: list[bool] = []
    lock = lock_file(tmp_path)
    event.listen(database.engine, "commit", lambda _conn: seen.append(try_lock(lock)))
    with database.transaction() as session:
        session.execute(text("INSERT INTO t VALUES (1)"))
    assert seen == [False], "the queue was let go before COMMIT"
    assert try_lock(lock_file(tmp_path))


def test_failed_transaction_releases_the_lock(database: Database, tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), database.transaction() as session:
        session.execute(text("INSERT INTO t VALUES (1)"))
        raise RuntimeError("boom")
    assert try_lock(lock_file(tmp_path))
    with database.transaction(write=False) as session:
        assert session.execute(text("SELECT count(*) FROM t")).scalar() == 0


def test_read_sessions_do_not_take_the_lock(database: Database, tmp_path: Path) -> None:
    with database.transaction(write=False) as session:
        session.execute(text("SELECT count(*) FROM t")).scalar()
        assert try_lock(lock_file(tmp_path))


def test_per_statement_reads_hold_no_transaction_on_postgresql(app: Any) -> None:
    """Public GETs read without BEGIN/ROLLBACK on PostgreSQL; a normal reader keeps one."""
    database: Database = app.extensions["quiz.db"]
    if database.is_sqlite:
        pytest.skip("SQLite's deferred BEGIN costs no round trip; nothing to save there")
    query = text("SELECT now()")
    with database.session(per_statement=True) as session:
        first = session.execute(query).scalar()
        time.sleep(0.01)
        assert session.execute(query).scalar() != first  # each statement stood alone
    with database.session() as session:
        first = session.execute(query).scalar()
        time.sleep(0.01)
        assert session.execute(query).scalar() == first  # one transaction, one now()


def test_per_statement_sessions_refuse_to_write(database: Database) -> None:
    with pytest.raises(ValueError):
        database.session(write=True, per_statement=True)


def test_a_failed_statement_does_not_carry_its_values(tmp_path):
    """The 500's log line holds the exception: it must not hold a name or an address."""
    engine = make_engine(f"sqlite:///{tmp_path / 'values.sqlite3'}")
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE entry (address TEXT UNIQUE)")
            conn.execute(text("INSERT INTO entry VALUES (:a)"), {"a": "湖北省武汉市沿江大道100号"})
            with pytest.raises(IntegrityError) as failure:
                conn.execute(
                    text("INSERT INTO entry VALUES (:a)"), {"a": "湖北省武汉市沿江大道100号"}
                )
        assert "INSERT INTO entry" in str(failure.value)
        assert "沿江大道" not in str(failure.value)
    finally:
        engine.dispose()


def test_a_new_database_file_and_its_wal_are_private(tmp_path: Path) -> None:
    """Names, addresses and birth dates are stored in clear: only the owner may read them,
    whatever the umask (022 here, as on most servers)."""
    old = os.umask(0o022)
    try:
        db = Database(f"sqlite:///{tmp_path / 'new.sqlite3'}")
        with db.transaction() as session:
            session.execute(text("CREATE TABLE t (v INTEGER)"))
            session.execute(text("INSERT INTO t VALUES (1)"))
        modes = {
            name: (tmp_path / name).stat().st_mode & 0o777
            for name in ("new.sqlite3", "new.sqlite3-wal", "new.sqlite3-shm")
        }
        db.dispose()
    finally:
        os.umask(old)
    assert modes == {name: 0o600 for name in modes}


def test_an_existing_database_file_keeps_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "kept.sqlite3"
    path.touch(mode=0o640)
    path.chmod(0o640)
    db = Database(f"sqlite:///{path}")
    with db.transaction() as session:
        session.execute(text("CREATE TABLE t (v INTEGER)"))
    db.dispose()
    assert path.stat().st_mode & 0o777 == 0o640


def test_the_instance_folder_is_private(tmp_path: Path) -> None:
    """instance/ (keys, database) was created 0755, and kept so when it already existed."""
    old = os.umask(0o022)
    try:
        load_or_create_instance_keys(str(tmp_path / "instance"))
        existing = tmp_path / "old-instance"
        existing.mkdir(mode=0o755)
        load_or_create_instance_keys(str(existing))
    finally:
        os.umask(old)
    assert (tmp_path / "instance").stat().st_mode & 0o777 == 0o700
    assert existing.stat().st_mode & 0o777 == 0o700
