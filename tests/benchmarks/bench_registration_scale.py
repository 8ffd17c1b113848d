"""A registration's database work as the campaign grows, against the same on an empty one.

    .venv/bin/python tests/benchmarks/bench_registration_scale.py              # SQLite
    .venv/bin/python tests/benchmarks/bench_registration_scale.py --sizes 0,100000 \\
        --database-url postgresql://postgres@127.0.0.1:55432/postgres

For each size it fills a fresh database with that many entries of the campaign, then
times registrations through quiz_flow (the entry, its questions, the same-mobile flag,
the commit: what the web view holds SQLite's write lock for) one after another. The
baseline, in the same run, is the same on an empty campaign. A registration should cost
the same at a million entries as at none: each of its statements finds its rows by an
index, never by reading the campaign. It also prints SQLite's plan of the flag.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, insert, text  # noqa: E402

from quiz.campaign.lifecycle import current_campaign  # noqa: E402
from quiz.db import Base, Database, normalise_url, utcnow  # noqa: E402
from quiz.entry.signup import _FLAG_SAME_MOBILE, register  # noqa: E402
from quiz.models import Participant  # noqa: E402
from quiz.privacy.protection import Protector, new_keys  # noqa: E402
from tests.factories import consent, install_test_campaign, registration  # noqa: E402

CHUNK = 20_000


def fill(db: Database, campaign_id: int, n: int) -> float:
    """Insert n entries of the campaign; returns seconds taken."""
    started = time.perf_counter()
    now = utcnow()
    with db.engine.begin() as conn:
        for first in range(0, n, CHUNK):
            conn.execute(
                insert(Participant),
                [
                    {
                        "campaign_id": campaign_id,
                        "public_id": f"seed{i}",
                        "name": "x",
                        "name_masked": "x",
                        "id_hash": f"seed{i}",
                        "id_enc": b"",
                        "id_masked": "",
                        "id_last4": "",
                        "mobile_hash": f"seed{i}",
                        "mobile_enc": b"",
                        "mobile_masked": "",
                        "address": "",
                        "postal_code": "",
                        "province_code": "42",
                        "consent_rules_version": "",
                        "consent_privacy_version": "",
                        "consent_at": now,
                        "created_at": now,
                    }
                    for i in range(first, min(n, first + CHUNK))
                ],
            )
    return time.perf_counter() - started


def measure(url: str, size: int, count: int) -> float:
    """Milliseconds per registration, each in its own write transaction."""
    db = Database(url)
    Base.metadata.create_all(db.engine)
    keys = new_keys()
    protector = Protector([keys["QUIZ_DATA_KEY"]], keys["QUIZ_HASH_KEY"])
    with db.transaction() as session:
        campaign = install_test_campaign(session)
        campaign_id = campaign.id
    seconds = fill(db, campaign_id, size)
    if db.is_sqlite:
        with db.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    people = [registration(n) for n in range(1, count + 1)]
    with db.transaction(write=False) as session:
        campaign = current_campaign(session)
        session.expunge(campaign)  # type: ignore[arg-type]
    elapsed = 0.0
    for reg in people:
        session = db.session(write=True)
        started = time.perf_counter()
        register(session, protector, campaign, reg, consent())  # type: ignore[arg-type]
        session.commit()
        elapsed += time.perf_counter() - started
        session.close()
    if db.is_sqlite and size:
        with db.engine.connect() as conn:
            sql = str(_FLAG_SAME_MOBILE.compile(dialect=db.engine.dialect))
            params = (1, 1, "m", 1, "m", 1)[: sql.count("?")]
            plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params)
            print("  plan of the same-mobile flag:", "; ".join(row[3] for row in plan))
    db.dispose()
    print(f"  {size:>9,} entries filled in {seconds:5.1f} s")
    return elapsed / count * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="0,100000,1000000")
    parser.add_argument("-n", "--registrations", type=int, default=300)
    parser.add_argument("--database-url", help="a PostgreSQL server (a database is made)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    results: dict[int, float] = {}
    for size in sizes:
        if args.database_url:
            admin_url = normalise_url(args.database_url)
            name = f"quiz_bench_{uuid.uuid4().hex[:10]}"
            admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            try:
                results[size] = measure(
                    f"{admin_url.rpartition('/')[0]}/{name}", size, args.registrations
                )
            finally:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()
        else:
            with tempfile.TemporaryDirectory() as tmp:
                results[size] = measure(f"sqlite:///{tmp}/scale.db", size, args.registrations)
    base = results[sizes[0]]
    print(f"\n{'entries in the campaign':>24}  ms per registration  vs {sizes[0]:,} entries")
    for size, ms in results.items():
        print(f"{size:>24,}  {ms:19.2f}  {ms / base:9.2f}x")


if __name__ == "__main__":
    main()
