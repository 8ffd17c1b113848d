"""Benchmark the draw service (run_draw) against a naive ORDER BY random() on the same database.

Run: ``.venv/bin/python tests/benchmarks/bench_draw.py [--sizes 1000000 5000000] [--keep DIR]``
(pytest does not collect it). For each N it builds a SQLite database with N completed entries
already frozen (Draw + DrawEntrant rows, written with executemany), then measures, each in a
fresh subprocess so ru_maxrss is that measurement's alone:

* the real service function ``quiz.draw.service.run_draw`` for K = 8,888 (reads the entrants
  it needs, runs the v1 algorithm, writes the Winner rows, commits);
* the naive ``SELECT participant_id FROM draw_entrant ORDER BY random() LIMIT 8888``;

and prints both times, peak memory (tracemalloc and ru_maxrss) and the ratio. Goal at
N = 5,000,000: run_draw <= 3x the naive query's time and <= 100 MB peak. At N = 1,000,000 the
entries are frozen by the real ``service.freeze`` (timed, for information); at 5,000,000 the
DrawEntrant rows are generated directly to keep the build short.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

K = 8_888
RANDOMNESS = "03 08 14 22 27 33 + 05"  # in the default campaign's randomness_format
OPENS = datetime(2026, 11, 1, tzinfo=UTC)
CLOSES = datetime(2027, 1, 31, 15, 59, 59, tzinfo=UTC)
DRAWN = CLOSES + timedelta(days=11)  # after the campaign's draw_at
BATCH = 50_000


def _sa_time(value: datetime) -> str:
    """How SQLAlchemy's SQLite DateTime stores a UTC datetime."""
    return value.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def _default(column: Any) -> Any:
    """A filler value for a NOT NULL participant column this benchmark does not care about."""
    kind = type(column.type).__name__
    if "Bool" in kind:
        return 0
    if "Int" in kind:
        return 0
    if "Binary" in kind:
        return b"x"
    if "DateTime" in kind:
        return _sa_time(OPENS)
    if kind == "Date":
        return "1985-06-15"
    if kind == "JSON":
        return "null"
    return "x"


def build(path: Path, n: int, *, freeze_directly: bool) -> None:
    """Schema, a closed campaign, n completed participants and (optionally) the frozen list."""
    from sqlalchemy.orm import Session

    from quiz.campaign.spec import default_campaign_path, install_campaign, load_campaign_file
    from quiz.db import Base, make_engine
    from quiz.draw.algorithm import EntrantFileDigest
    from quiz.draw.service import tiers_of

    engine = make_engine(f"sqlite:///{path}")
    Base.metadata.create_all(engine)
    spec = dataclasses.replace(
        load_campaign_file(default_campaign_path()),
        opens_at=OPENS,
        closes_at=CLOSES,
        draw_at=CLOSES + timedelta(days=10),
        freeze_deadline=CLOSES + timedelta(days=3),
    )
    with Session(engine) as session:
        campaign = install_campaign(session, spec)
        session.commit()
        campaign_id = campaign.id
        tiers = tiers_of(campaign)
        source = campaign.content["randomness_source"]
    table = Base.metadata.tables["participant"]
    engine.dispose()

    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = OFF")
    conn.execute("PRAGMA synchronous = OFF")
    if freeze_directly:
        # The draw only reads participant by primary key: secondary indexes just slow the build.
        for index in table.indexes:
            conn.execute(f'DROP INDEX IF EXISTS "{index.name}"')
    fixed = {c.name: _default(c) for c in table.columns if not c.nullable and not c.primary_key}
    fixed.update(campaign_id=campaign_id, status="completed", excluded=0, adult=1, score=5, total=5)
    per_row = (
        "id",
        "public_id",
        "id_hash",
        "mobile_hash",
        "name_masked",
        "mobile_masked",
        "created_at",
        "completed_at",
    )
    names = [*per_row, *(k for k in fixed if k not in per_row)]
    constant = tuple(fixed[k] for k in names[len(per_row) :])
    sql = f"INSERT INTO participant ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"  # noqa: S608
    started = time.perf_counter()
    conn.execute("BEGIN")
    for start in range(1, n + 1, BATCH):
        rows = []
        for i in range(start, min(start + BATCH, n + 1)):
            created = OPENS + timedelta(seconds=i % 7_000_000)
            rows.append(
                (
                    i,
                    f"p{i}",
                    f"h{i}",
                    f"m{i}",
                    "张*三",
                    f"139****{i % 10_000:04d}",
                    _sa_time(created),
                    _sa_time(created + timedelta(seconds=90)),
                    *constant,
                )
            )
        conn.executemany(sql, rows)
    conn.execute("COMMIT")
    print(
        f"  {n:,} participants inserted in {time.perf_counter() - started:.1f} s", file=sys.stderr
    )
    if freeze_directly:
        started = time.perf_counter()
        conn.execute("BEGIN")
        digest = EntrantFileDigest()
        cur = conn.execute(
            "INSERT INTO draw (campaign_id, status, entrant_count, entrant_digest, "
            "randomness_source, algorithm, tiers, frozen_at, frozen_by) "
            "VALUES (?, 'frozen', 0, '', ?, 'v1', ?, ?, 'bench')",
            (
                campaign_id,
                source,
                json.dumps(tiers, ensure_ascii=False),
                _sa_time(CLOSES + timedelta(hours=1)),
            ),
        )
        draw_id = cur.lastrowid
        # Entry numbers follow (completed_at, id): here that is simply the id order. Read in
        # keyset pages on the writing connection (a second connection's shared lock would
        # block this one's writes when its page cache spills).
        select = (
            "SELECT id, name_masked, mobile_masked FROM participant WHERE id > ? "
            "ORDER BY id LIMIT ?"
        )
        last = 0
        while page := conn.execute(select, (last, BATCH)).fetchall():
            rows = []
            for pid, name, mobile in page:
                line = digest.add(digest.n + 1, name, mobile)
                rows.append((draw_id, digest.n, pid, line[:-1].decode()))
            conn.executemany("INSERT INTO draw_entrant VALUES (?, ?, ?, ?)", rows)
            last = page[-1][0]
        conn.execute(
            "UPDATE draw SET entrant_count = ?, entrant_digest = ? WHERE id = ?",
            (digest.n, digest.hexdigest(), draw_id),
        )
        conn.execute("COMMIT")
        print(
            f"  {n:,} entrants frozen directly in {time.perf_counter() - started:.1f} s",
            file=sys.stderr,
        )
    conn.execute("ANALYZE")
    conn.close()


# --- measurements, each in a fresh subprocess -------------------------------------------------


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def measure_freeze(path: str) -> dict[str, Any]:
    from sqlalchemy.orm import Session

    from quiz.db import make_engine
    from quiz.draw import service
    from quiz.models import Campaign

    engine = make_engine(f"sqlite:///{path}")
    base_rss = _rss_mb()
    with Session(engine) as session:
        campaign = session.query(Campaign).one()
        started = time.perf_counter()
        draw = service.freeze(session, campaign, operator="bench", now=CLOSES + timedelta(hours=1))
        session.commit()
        elapsed = time.perf_counter() - started
        return {
            "seconds": elapsed,
            "rss_mb": _rss_mb(),
            "base_rss_mb": base_rss,
            "n": draw.entrant_count,
            "digest": draw.entrant_digest,
        }


def _reset(session: Any, draw_id: int) -> None:
    from sqlalchemy import delete, update

    from quiz.models import AuditLog, Draw, Winner

    session.execute(delete(Winner).where(Winner.draw_id == draw_id))
    session.execute(delete(AuditLog).where(AuditLog.action == "draw.run"))
    session.execute(
        update(Draw)
        .where(Draw.id == draw_id)
        .values(status="frozen", randomness_value=None, drawn_at=None, drawn_by=None)
    )
    session.commit()


def measure_draw(path: str) -> dict[str, Any]:
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from quiz.db import make_engine
    from quiz.draw import service
    from quiz.models import Draw, Winner

    engine = make_engine(f"sqlite:///{path}").execution_options(sqlite_begin="IMMEDIATE")
    base_rss = _rss_mb()
    with Session(engine) as session:
        draw_id = session.scalars(select(Draw.id).where(Draw.status != "voided")).one()
        session.commit()
        times = []
        for _ in range(3):
            draw = session.get(Draw, draw_id)
            assert draw is not None
            started = time.perf_counter()
            count = service.run_draw(session, draw, RANDOMNESS, operator="bench", now=DRAWN)
            session.commit()
            times.append(time.perf_counter() - started)
            stored = session.scalar(select(func.count()).select_from(Winner))
            _reset(session, draw_id)
        session.expire_all()
        draw = session.get(Draw, draw_id)
        assert draw is not None
        tracemalloc.start()
        service.run_draw(session, draw, RANDOMNESS, operator="bench", now=DRAWN)
        session.commit()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        _reset(session, draw_id)
    return {
        "seconds": min(times),
        "all_seconds": times,
        "tracemalloc_mb": peak / 2**20,
        "rss_mb": _rss_mb(),
        "base_rss_mb": base_rss,
        "winners": count,
        "stored": stored,
    }


def measure_naive(path: str) -> dict[str, Any]:
    from sqlalchemy import text

    from quiz.db import make_engine

    engine = make_engine(f"sqlite:///{path}")
    base_rss = _rss_mb()
    query = text(f"SELECT participant_id FROM draw_entrant ORDER BY random() LIMIT {K}")  # noqa: S608
    times = []
    with engine.connect() as conn:
        for _ in range(3):
            started = time.perf_counter()
            rows = conn.execute(query).all()
            times.append(time.perf_counter() - started)
        tracemalloc.start()
        conn.execute(query).all()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return {
        "seconds": min(times),
        "all_seconds": times,
        "tracemalloc_mb": peak / 2**20,
        "rss_mb": _rss_mb(),
        "base_rss_mb": base_rss,
        "winners": len(rows),
    }


def build_child(path: str, n: str, direct: str) -> dict[str, Any]:
    build(Path(path), int(n), freeze_directly=direct == "1")
    return {}


MEASURES = {
    "freeze": measure_freeze,
    "draw": measure_draw,
    "naive": measure_naive,
    "build": build_child,
}


def run_child(kind: str, *args: object) -> dict[str, Any]:
    """Run one step in a fresh interpreter and return the JSON it prints last."""
    # The build runs in a child too: Linux carries a parent's peak RSS into the ru_maxrss of
    # the children it forks, so the parent must stay small for the children's figures.
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, *map(str, args)],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 5_000_000])
    parser.add_argument(
        "--direct", action="store_true", help="generate the frozen list directly at every size"
    )
    parser.add_argument("--keep", type=Path, help="keep the databases in this folder")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        print(json.dumps(MEASURES[kind](*rest)))
        return

    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-draw-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"draw benchmark: K = {K:,}, randomness {RANDOMNESS!r}, databases in {folder}")
    results = []
    try:
        for n in args.sizes:
            path = folder / f"draw-{n}.sqlite3"
            path.unlink(missing_ok=True)
            direct = n > 1_000_000 or args.direct
            print(
                f"N = {n:,}: building ({'entrants generated' if direct else 'real freeze'})",
                flush=True,
            )
            run_child("build", path, n, int(direct))
            if not direct:
                freeze = run_child("freeze", path)
                print(
                    f"  service.freeze: {freeze['seconds']:.1f} s for {freeze['n']:,} entrants "
                    f"({freeze['n'] / freeze['seconds']:,.0f}/s), max RSS "
                    f"{freeze['rss_mb']:.0f} MB (after imports {freeze['base_rss_mb']:.0f} MB)",
                    flush=True,
                )
            size_mb = path.stat().st_size / 2**20
            naive = run_child("naive", path)
            draw = run_child("draw", path)
            assert draw["winners"] == draw["stored"] == K and naive["winners"] == K
            ratio = draw["seconds"] / naive["seconds"]
            results.append((n, draw, naive, ratio))
            print(f"  database {size_mb:,.0f} MB")
            for label, r in (("service.run_draw", draw), ("naive ORDER BY random()", naive)):
                runs = ", ".join(f"{s:.3f}" for s in r["all_seconds"])
                print(
                    f"  {label:<24} best {r['seconds']:.3f} s (runs {runs}); tracemalloc peak "
                    f"{r['tracemalloc_mb']:.1f} MB; max RSS {r['rss_mb']:.0f} MB "
                    f"(after imports {r['base_rss_mb']:.0f} MB)",
                    flush=True,
                )
            print(f"  ratio run_draw / naive = {ratio:.3f}", flush=True)
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    print("\nsummary (goal at 5,000,000: ratio <= 3 and peak <= 100 MB)")
    for n, draw, _naive, ratio in results:
        peak = max(draw["tracemalloc_mb"], draw["rss_mb"])
        ok = ratio <= 3 and peak <= 100
        print(
            f"  N = {n:>9,}: ratio {ratio:.3f}, run_draw max RSS {draw['rss_mb']:.0f} MB, "
            f"tracemalloc {draw['tracemalloc_mb']:.1f} MB -> {'OK' if ok else 'MISSED'}"
        )


if __name__ == "__main__":
    main()
