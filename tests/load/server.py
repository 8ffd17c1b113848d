"""Start the real site under gunicorn on a free loopback port, for load tests and benchmarks.

`quiz setup` migrates the database and loads the shipped campaign; its window is
then moved so that it is open now. Rate limits are set from the arguments (high
by default, since every simulated participant comes from 127.0.0.1 unless the
harness sends a forwarded address through one trusted proxy).
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from quiz.privacy.protection import Protector, new_keys, split_keys  # noqa: E402

HIGH_LIMIT = "1000000/minute"


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM when the process that started us dies."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG: no orphaned gunicorn after a crash
    except OSError:
        pass


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def quiz_command() -> list[str]:
    """The `quiz` console script of this interpreter's venv, or `python -m quiz.cli`."""
    script = Path(sys.executable).parent / "quiz"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from quiz.cli import main; main()"]


@dataclass
class Server:
    """A running gunicorn master and what a test needs to inspect it."""

    url: str
    database_url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    env: dict[str, str]
    keys: dict[str, str] = field(default_factory=dict)

    def protector(self) -> Protector:
        """The server's own keys, to look participants up by ID number."""
        return Protector(split_keys(self.keys["QUIZ_DATA_KEY"]), self.keys["QUIZ_HASH_KEY"])

    def worker_pids(self) -> list[int]:
        """Pids of the master's live child processes (the workers)."""
        pids = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.process.pid and fields[0] != "Z":
                pids.append(int(stat.parent.name))
        return sorted(pids)

    def log(self) -> str:
        """Everything gunicorn and the app wrote so far (access log, errors, app lines)."""
        return self.log_path.read_text(errors="replace")


def campaign_open_now(database_url: str, sms_verification: str | None = None) -> None:
    """Move the loaded campaign's window so that it takes entries now; with
    `sms_verification`, set the campaign file's setting of that name ("off", "required")."""
    from sqlalchemy import select, update

    from quiz.db import Database
    from quiz.models import Campaign

    now = datetime.now(UTC)
    database = Database(database_url)
    with database.transaction() as session:
        session.execute(
            update(Campaign).values(
                opens_at=now - timedelta(days=1),
                closes_at=now + timedelta(days=30),
                draw_at=now + timedelta(days=40),
            )
        )
        for campaign in session.scalars(select(Campaign)):
            # The load harness and the attack script do not solve the demo's proof-of-work
            # challenge (a browser's worker does): they measure the rest of the flow.
            campaign.content = {**campaign.content, "bot_challenge": "off"}
            if sms_verification is not None:
                campaign.content = {**campaign.content, "sms_verification": sms_verification}
    database.dispose()


def wait_healthy(
    url: str, process: subprocess.Popen[bytes], timeout: float = 90.0, path: str = "/healthz"
) -> None:
    """Poll `path` until it answers 200; fail early if gunicorn exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}")
        try:
            if httpx.get(f"{url}{path}", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url}{path} did not answer within {timeout:.0f} s")


@contextmanager
def gunicorn(
    cwd: Path,
    app_spec: str,
    env: dict[str, str],
    log_path: Path,
    workers: int,
    health_path: str = "/healthz",
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Serve `app_spec` with the site's gunicorn.conf.py on env's QUIZ_BIND until exit;
    ready once `health_path` answers 200."""
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                str(ROOT / "quiz" / "server" / "gunicorn.conf.py"),
                "-w",
                str(workers),
                app_spec,
            ],
            cwd=cwd,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,  # only a prctl call runs in the child
        )
    url = f"http://{env['QUIZ_BIND']}"
    try:
        wait_healthy(url, process, path=health_path)
        yield url, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextmanager
def run_baseline(database_url: str, workdir: Path, *, workers: int = 4) -> Iterator[str]:
    """Serve tests/load/baseline_app.py on `database_url` with the same gunicorn settings."""
    from tests.load.baseline_app import create_tables

    workdir.mkdir(parents=True, exist_ok=True)
    create_tables(database_url)
    env = {
        **os.environ,
        "BASELINE_DATABASE_URL": database_url,
        "QUIZ_BIND": f"127.0.0.1:{free_port()}",
        "PYTHONUNBUFFERED": "1",
    }
    app_spec = "tests.load.baseline_app:app"
    log_path = workdir / "baseline.log"
    with gunicorn(ROOT, app_spec, env, log_path, workers, health_path="/ping") as (url, _):
        yield url


@contextmanager
def run_server(
    database_url: str,
    workdir: Path,
    *,
    workers: int = 4,
    storage_uri: str = "memory://",
    register_limit: str = HIGH_LIMIT,
    answer_limit: str = HIGH_LIMIT,
    trusted_proxies: int = 0,
    extra_env: dict[str, str] | None = None,
    sms_verification: str = "off",
) -> Iterator[Server]:
    """Set the site up on `database_url`, serve it with gunicorn, stop it afterwards.

    `sms_verification`: "off" (the default here, for the tests of other things) or
    "required" as the demo campaign ships; the codes go to the log (console backend),
    where the harness reads them (harness.LogCodes)."""
    workdir.mkdir(parents=True, exist_ok=True)
    keys = new_keys()
    port = free_port()
    env = {
        **os.environ,
        **keys,
        "QUIZ_ENV": "development",
        "DATABASE_URL": database_url,
        "RATELIMIT_STORAGE_URI": storage_uri,
        # Servers of parallel test runs may share one Redis: each counts on its own.
        "RATELIMIT_KEY_PREFIX": f"test-{uuid.uuid4().hex[:10]}",
        "QUIZ_REGISTER_LIMIT": register_limit,
        "QUIZ_ANSWER_LIMIT": answer_limit,
        "QUIZ_LOGIN_LIMIT": HIGH_LIMIT,
        "TRUSTED_PROXIES": str(trusted_proxies),
        "WEB_CONCURRENCY": str(workers),
        "QUIZ_BIND": f"127.0.0.1:{port}",
        "QUIZ_LOG_LEVEL": "WARNING",  # the access log already has a line per request
        "PYTHONUNBUFFERED": "1",
        # Every simulated person asks for their SMS code from this machine.
        "QUIZ_SMS_BACKEND": "console",
        "QUIZ_SMS_CLIENT_DAY_LIMIT": "10000000",
        "QUIZ_SMS_CAMPAIGN_DAY_BUDGET": "10000000",
        # The shipped prize quiz alone, named explicitly so that `quiz setup` loads no
        # other kind's demo: / then leads straight to it, as the harness expects.
        "QUIZ_CAMPAIGN_FILE": str(ROOT / "quiz" / "data" / "campaign" / "default.toml"),
        # Background jobs (agent imports, exports) run on this site's own queue, consumed
        # by the `quiz worker` started below, as `quiz serve` does.
        "QUIZ_QUEUE_URL": f"sqlite:///{workdir / 'queue.sqlite3'}",
        **(extra_env or {}),
    }
    setup = subprocess.run(
        [*quiz_command(), "setup"], cwd=ROOT, env=env, capture_output=True, timeout=120
    )
    if setup.returncode != 0:
        raise RuntimeError(f"quiz setup failed:\n{setup.stdout.decode()}{setup.stderr.decode()}")
    campaign_open_now(database_url, sms_verification)
    with (workdir / "worker.log").open("ab") as worker_log:
        worker = subprocess.Popen(
            [*quiz_command(), "worker"], cwd=ROOT, env=env, stdout=worker_log, stderr=worker_log
        )
    try:
        with gunicorn(ROOT, "wsgi:app", env, workdir / "gunicorn.log", workers) as (url, process):
            yield Server(url, database_url, process, workdir / "gunicorn.log", env, keys)
    finally:
        worker.kill()
        worker.wait()


@contextmanager
def database_for(workdir: Path, pg: str = "") -> Iterator[str]:
    """A fresh database URL for one run: SQLite in `workdir`, or with `pg` (a PostgreSQL
    server's URL) a new database on that server, dropped afterwards."""
    if not pg:
        yield f"sqlite:///{workdir / 'quiz.sqlite3'}"
        return
    import uuid

    from sqlalchemy import create_engine, text

    name = f"quiz_load_{uuid.uuid4().hex[:8]}"
    admin = create_engine(pg, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield f"{pg.rpartition('/')[0]}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
