"""Real `quiz worker` processes for the task-queue tests (tests/tasks, tests/webhooks)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from quiz.tasks.queue import TaskQueue
from quiz.web.queue import task_queue
from tests.conftest import KEYS, REDIS_URL

QUIZ = Path(sys.executable).parent / "quiz"
STORAGES = [
    "sqlite",
    pytest.param(
        "redis", marks=pytest.mark.skipif(not REDIS_URL, reason="QUIZ_TEST_REDIS_URL not set")
    ),
]


def use_queue(app: Flask, storage: str, tmp: Path) -> TaskQueue:
    """Point the test app at a real queue (SQLite file or Redis), named for this test only."""
    url = REDIS_URL if storage == "redis" else f"sqlite:///{tmp / 'queue.sqlite3'}"
    app.config["QUIZ_QUEUE_URL"] = url
    app.config["QUIZ_QUEUE_NAME"] = f"quiz-test-{uuid.uuid4().hex[:10]}"
    app.extensions.pop("quiz.queue", None)
    return task_queue(app)


@contextmanager
def worker(app: Flask, log: Path, **env: str) -> Iterator[subprocess.Popen[bytes]]:
    """`quiz worker` on the app's database and queue; killed (SIGKILL) on the way out."""
    environment = {
        **os.environ,
        "DATABASE_URL": str(app.config["DATABASE_URL"]),
        "SECRET_KEY": KEYS["SECRET_KEY"],
        "QUIZ_DATA_KEY": KEYS["QUIZ_DATA_KEY"],
        "QUIZ_HASH_KEY": KEYS["QUIZ_HASH_KEY"],
        "QUIZ_QUEUE_URL": str(app.config["QUIZ_QUEUE_URL"]),
        "QUIZ_QUEUE_NAME": str(app.config["QUIZ_QUEUE_NAME"]),
        **env,
    }
    with log.open("ab") as out:
        process = subprocess.Popen(
            [str(QUIZ), "worker", "--threads", "2"],
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


def wait_for(check: Callable[[], Any], timeout: float = 30, what: str = "") -> Any:
    """Poll `check` until it returns something true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what or check}")
