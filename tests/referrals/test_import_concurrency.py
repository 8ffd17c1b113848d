"""A 100,000-row agents import from the web page does not stall registrations.

One agents upload used to hold SQLite's write lock in a single transaction until
gunicorn killed the worker after 30 s; a visitor's page took 27 s meanwhile. Real
gunicorn workers, the real upload page and the public registration flow
(tests/benchmarks/bench_web_import.py prints the same figures).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.benchmarks.bench_web_import import measure

pytestmark = pytest.mark.slow

ROWS = int(os.environ.get("QUIZ_IMPORT_ROWS", "100000"))


def test_registrations_complete_within_a_second_while_agents_are_imported(tmp_path: Path):
    figures = measure(f"sqlite:///{tmp_path / 'quiz.sqlite3'}", tmp_path, rows=ROWS)
    print(figures.summary())
    assert figures.status == "done"
    assert figures.during_writes, "no registration ran while chunks were being written"
    assert set(figures.register_status) == {302}
    assert max(figures.latencies) < 1.0, figures.summary()
    assert max(figures.consents) < 1.0, figures.summary()
