"""Database engine, sessions and the declarative base.

SQLite is the embedded default: every connection gets WAL, a busy timeout and
foreign keys, and write transactions start with BEGIN IMMEDIATE so that two
writers queue instead of failing with "database is locked" when a deferred
transaction tries to upgrade its lock.

Writers of a file database also queue on an flock'd side file before BEGIN
IMMEDIATE. SQLite's own busy handler polls with sleeps of up to 100 ms, so
under a burst a writer often sleeps long after the lock was released; the
kernel wakes an flock waiter the moment the holder lets go (once its COMMIT has
run, see QueuedConnection). The busy timeout stays as the safety net for
writers outside this process tree (a shell, a nested session in one thread).
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Engine, MetaData, create_engine, event, make_url
from sqlalchemy.engine import Connection
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SQLITE_BUSY_TIMEOUT_MS = 30_000


class Base(DeclarativeBase):
    """Declarative base with a constraint naming convention Alembic can diff."""

    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    """Now, timezone-aware in UTC."""
    return datetime.now(UTC)


def normalise_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs given in the common short forms."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Autocommit at the driver level; SQLAlchemy's "begin" hook emits BEGIN itself.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


class WriterQueue:
    """An exclusive flock on `<database>-writers.lock`, taken per write transaction.

    Each pooled connection opens the file itself (flock belongs to the open file,
    so two connections exclude each other even within a process). A thread that
    already holds it through another connection does not wait on itself: its
    nested writer falls back to SQLite's busy timeout, as without the queue.
    """

    INFO_KEY = "quiz_writer_lock"

    def __init__(self, path: str) -> None:
        self.path = path
        self._local = threading.local()

    def acquire(self, info: dict[Any, Any]) -> None:
        if info.get(self.INFO_KEY) is not None or getattr(self._local, "held", 0):
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        info[self.INFO_KEY] = fd
        self._local.held = getattr(self._local, "held", 0) + 1

    def release(self, info: dict[Any, Any]) -> None:
        fd = info.pop(self.INFO_KEY, None)
        if fd is None:
            return
        self._local.held = max(0, getattr(self._local, "held", 1) - 1)
        os.close(fd)  # closing the file drops the flock


_QUEUES: dict[str, WriterQueue] = {}
_QUEUES_LOCK = threading.Lock()


def sqlite_file(url: str) -> str | None:
    """The file of a SQLite URL; None for an in-memory or URI-named database."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return database


def writer_queue(url: str) -> WriterQueue | None:
    """The process's queue for a file database (shared by its engines); None in memory."""
    database = sqlite_file(url)
    if database is None:
        return None
    path = os.path.abspath(f"{database}-writers.lock")
    with _QUEUES_LOCK:
        return _QUEUES.setdefault(path, WriterQueue(path))


class QueuedConnection(sqlite3.Connection):
    """A DBAPI connection that leaves the writer queue only once COMMIT or ROLLBACK has
    run. SQLAlchemy's commit event fires before the DBAPI commit: releasing there let
    the next writer's BEGIN IMMEDIATE meet the unfinished commit and sleep in SQLite's
    busy handler while holding the queue, stalling every writer behind it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue: WriterQueue | None = None
        self.writer_lock: dict[str, int] = {}

    def _let_go(self) -> None:
        if self.queue is not None and not self.in_transaction:
            self.queue.release(self.writer_lock)

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self._let_go()  # kept if COMMIT failed: the rollback that follows releases it

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._let_go()

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self.queue is not None:
                self.queue.release(self.writer_lock)


def _install_sqlite_events(engine: Engine, queue: WriterQueue | None) -> None:
    def on_connect(dbapi_connection: Any, record: Any) -> None:
        _sqlite_on_connect(dbapi_connection, record)
        if queue is not None:
            dbapi_connection.queue = queue

    def on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        lock = None
        if mode == "IMMEDIATE" and queue is not None:
            lock = conn.connection.dbapi_connection.writer_lock  # type: ignore[union-attr]
            queue.acquire(lock)
        try:
            conn.exec_driver_sql(f"BEGIN {mode}")
        except BaseException:
            if lock is not None:
                queue.release(lock)  # type: ignore[union-attr]
            raise

    event.listen(engine, "connect", on_connect)
    event.listen(engine, "begin", on_begin)


def create_private_file(url: str) -> None:
    """Create a new SQLite database file readable by its owner alone.

    It holds names, addresses and birth dates; SQLite would create it under the umask
    (usually world-readable). Its -wal and -shm files take the database file's mode.
    An existing file keeps the mode its operator gave it."""
    database = sqlite_file(url)
    if database is None:
        return
    try:
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600))
    except FileExistsError:
        pass
    except OSError:
        return  # a missing folder: let SQLite report it when it connects


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine with the per-connection settings this app relies on."""
    url = normalise_url(url)
    # A failed statement's exception (logged with the 500) must not carry its values:
    # a registration's are a name, an address and encrypted identity numbers.
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        create_private_file(url)
        queue = writer_queue(url)
        connect_args: dict[str, Any] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        if queue is not None:
            connect_args["factory"] = QueuedConnection
        engine = create_engine(url, connect_args=connect_args, **kwargs)
        _install_sqlite_events(engine, queue)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 5)
    kwargs.setdefault("max_overflow", 10)
    return create_engine(url, **kwargs)


class Database:
    """Per-process engines and session factories.

    Engines are created lazily and re-created after a fork, so a gunicorn
    master that preloads the app never shares pooled connections with workers.
    """

    def __init__(self, url: str) -> None:
        self.url = normalise_url(url)
        self._pid: int | None = None
        self._engine: Engine | None = None
        self._read: sessionmaker[Session] | None = None
        self._write: sessionmaker[Session] | None = None
        self._statements: sessionmaker[Session] | None = None

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    def _ensure(self) -> None:
        if self._engine is not None and self._pid == os.getpid():
            return
        if self._engine is not None:
            # Inherited through fork: drop the parent's connections without closing them.
            self._engine.dispose(close=False)
        self._engine = make_engine(self.url)
        self._pid = os.getpid()
        writer = self._engine.execution_options(sqlite_begin="IMMEDIATE")
        self._read = sessionmaker(bind=self._engine, expire_on_commit=False)
        self._write = sessionmaker(bind=writer, expire_on_commit=False)
        # PostgreSQL reads outside a transaction: READ COMMITTED gives each statement its
        # own snapshot anyway, and BEGIN plus ROLLBACK were two of a page's round trips.
        # SQLite's deferred BEGIN costs no round trip, so it keeps the plain reader.
        statements = (
            self._engine
            if self.is_sqlite
            else self._engine.execution_options(isolation_level="AUTOCOMMIT")
        )
        self._statements = sessionmaker(bind=statements, expire_on_commit=False)

    @property
    def engine(self) -> Engine:
        self._ensure()
        assert self._engine is not None
        return self._engine

    def session(self, write: bool = False, *, per_statement: bool = False) -> Session:
        """A new session; write sessions take SQLite's write lock at BEGIN.

        `per_statement` reads need no snapshot across statements and may not write
        (on PostgreSQL each statement commits on its own; server-side cursors fail).
        """
        self._ensure()
        if per_statement and write:
            raise ValueError("a per-statement session is for reads only")
        factory = self._statements if per_statement else self._write if write else self._read
        assert factory is not None
        return factory()

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[Session]:
        """A session that commits on success and rolls back on error (for CLI and jobs)."""
        session = self.session(write=write)
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
        self._engine = None
