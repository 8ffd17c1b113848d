"""Audit viewer at 100k rows: keyset pages (what /admin/audit does) against OFFSET paging.

Run: .venv/bin/python tests/benchmarks/bench_audit_page.py [ROWS] [DATABASE_URL]
Baseline: the first page without filters, measured in the same run.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select

from quiz.admin.audit_views import PAGE_SIZE
from quiz.db import Base, Database
from quiz.models import AuditLog


def timed(fn: Callable[[], object], repeat: int = 20) -> float:
    """Median milliseconds of fn()."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return sorted(samples)[len(samples) // 2]


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    url = sys.argv[2] if len(sys.argv) > 2 else f"sqlite:///{Path(tempfile.mkdtemp()) / 'a.db'}"
    database = Database(url)
    Base.metadata.create_all(database.engine)
    start = datetime(2024, 8, 8, tzinfo=UTC)
    actions = ["login", "login_failed", "logout", "lead_view", "export"]
    with database.transaction() as session:
        batch = [
            {
                "at": start + timedelta(seconds=i * 30),
                "actor": "rare.user" if i % 5000 == 0 else f"user{i % 200}",
                "action": actions[i % len(actions)],
                "target": f"lead:{i}",
                "detail": {"i": i},
                "ip": "10.0.0.1",
            }
            for i in range(rows)
        ]
        session.execute(insert(AuditLog), batch)
    session = database.session()
    newest_first = select(AuditLog).order_by(AuditLog.id.desc()).limit(PAGE_SIZE + 1)
    deep_id = session.scalars(select(AuditLog.id).order_by(AuditLog.id).offset(PAGE_SIZE)).first()

    def page(stmt: object) -> Callable[[], object]:
        return lambda: session.scalars(stmt).all()  # type: ignore[call-overload]

    cases = {
        "first page (baseline)": newest_first,
        "last page, keyset": newest_first.where(AuditLog.id < deep_id),
        "last page, OFFSET": select(AuditLog)
        .order_by(AuditLog.id.desc())
        .offset(rows - PAGE_SIZE)
        .limit(PAGE_SIZE + 1),
        "rare actor filter": newest_first.where(AuditLog.actor == "rare.user"),
        "action + one day": newest_first.where(
            AuditLog.action == "logout",
            AuditLog.at >= start + timedelta(days=10),
            AuditLog.at < start + timedelta(days=11),
        ),
        "action list (distinct)": select(AuditLog.action).distinct(),
    }
    base = timed(page(cases["first page (baseline)"]))
    print(f"audit rows: {rows}, page size {PAGE_SIZE}, database {database.engine.dialect.name}")
    for name, stmt in cases.items():
        ms = timed(page(stmt))
        print(f"{name:26s} {ms:8.2f} ms   x{ms / base:6.1f} of baseline")
    session.close()
    database.dispose()


if __name__ == "__main__":
    main()
