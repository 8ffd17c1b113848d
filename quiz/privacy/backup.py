"""Consistent copies of the live SQLite database with SQLite's online backup API.

A plain file copy of a WAL database taken while the site writes can miss the
-wal file or catch pages mid-write; the backup API copies one consistent
snapshot (in WAL mode writers keep going meanwhile).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from quiz.db import SQLITE_BUSY_TIMEOUT_MS, normalise_url
from quiz.privacy.protection import private_dir


class BackupError(Exception):
    """The backup cannot be made (wrong backend, target exists, copy damaged)."""


@dataclass(frozen=True)
class BackupResult:
    """Where the copy went and what it holds."""

    path: Path
    size: int
    pages: int
    integrity: str


def sqlite_path(url: str) -> Path:
    """The database file of a SQLite URL; BackupError for any other backend."""
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        raise BackupError(
            f"{parsed.get_backend_name()} database: use the server's own tool instead, e.g. "
            '`pg_dump --format=custom --file=quiz.dump "$DATABASE_URL"` '
            "(restore with `pg_restore --clean --dbname=...`)"
        )
    if not parsed.database or parsed.database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(parsed.database)


def backup_sqlite(url: str, target: Path, *, overwrite: bool = False) -> BackupResult:
    """Copy the database at `url` to `target` (mode 0600) and check the copy's integrity."""
    source_path = sqlite_path(url)
    if not source_path.exists():
        raise BackupError(f"{source_path} does not exist")
    target = Path(target)
    if target.exists() and not overwrite:
        raise BackupError(f"{target} exists; choose a new name or pass --overwrite")
    if target.resolve() == source_path.resolve():
        raise BackupError("the backup cannot overwrite the live database")
    partial = target.with_name(target.name + ".partial")
    try:
        private_dir(target.parent)
        partial.unlink(missing_ok=True)
        integrity, pages = _copy(source_path, partial)
        if integrity != "ok":
            raise BackupError(f"integrity check of the copy failed: {integrity}")
        os.replace(partial, target)
    except (OSError, sqlite3.Error) as exc:
        _discard(partial)
        # A full disk, an unwritable folder, a damaged source: say so, leave no half copy.
        raise BackupError(f"backup to {target} failed: {exc}") from exc
    except BaseException:
        _discard(partial)
        raise
    return BackupResult(path=target, size=target.stat().st_size, pages=pages, integrity=integrity)


def _discard(partial: Path) -> None:
    with contextlib.suppress(OSError):
        partial.unlink(missing_ok=True)


def _copy(source_path: Path, partial: Path) -> tuple[str, int]:
    """Copy into `partial`, created 0600; returns the copy's integrity check and pages."""
    # The copy holds encrypted personal data and names: owner-only from the start.
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    # Not mode=ro: a read-only handle cannot open a WAL database whose -shm is gone.
    source = sqlite3.connect(source_path, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
    dest = sqlite3.connect(partial)
    try:
        # pages=-1: one step under one read transaction, hence one consistent snapshot.
        source.backup(dest, pages=-1)
        # A self-contained single file: no -wal needed to open the copy.
        dest.execute("PRAGMA journal_mode = DELETE")
        integrity = str(dest.execute("PRAGMA integrity_check").fetchone()[0])
        pages = int(dest.execute("PRAGMA page_count").fetchone()[0])
    finally:
        dest.close()
        source.close()
    return integrity, pages
