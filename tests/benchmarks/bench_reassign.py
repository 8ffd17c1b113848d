"""Benchmark `quiz branches reassign`: set-based UPDATEs per route vs a per-row loop.

    .venv/bin/python tests/benchmarks/bench_reassign.py [--rows 100000] [--url DATABASE_URL]

Without --url it uses a throwaway SQLite file. With a PostgreSQL URL it creates and drops a
scratch database next to the given one. The baseline is the per-row algorithm (one SELECT of
every lead, one UPDATE per lead), measured in the same run on the same data; both runs are
rolled back, and must agree on how many leads move.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert, select, text, update
from sqlalchemy.orm import Session

from quiz.branches.routing import reassign_all
from quiz.branches.service import BranchData, save_branch, seed_default_branches, set_route
from quiz.db import Base, make_engine, normalise_url
from quiz.models import BranchRoute, Campaign, Participant
from quiz.regions import divisions


def row_loop(session: Session) -> int:
    """The baseline: what reassign did before (a Python loop, one UPDATE per lead)."""
    routes = session.scalars(select(BranchRoute)).all()
    default = {r.province_code: r.branch_id for r in routes if r.city_code is None}
    override = {(r.province_code, r.city_code): r.branch_id for r in routes if r.city_code}
    moved = 0
    rows = session.execute(
        select(
            Participant.id, Participant.province_code, Participant.city_code, Participant.branch_id
        )
    ).all()
    for pid, province, city, current in rows:
        if not province or province not in default:
            continue
        target = override.get((province, city)) or default[province]
        values: dict[str, Any] = {"address_branch_id": target}
        if target != current:
            values["branch_id"] = target
            moved += 1
        session.execute(update(Participant).where(Participant.id == pid).values(**values))
    session.flush()
    return moved


def populate(session: Session, rows: int) -> None:
    now = datetime.now(UTC)
    campaign = Campaign(
        slug="bench",
        name="bench",
        opens_at=now,
        closes_at=now,
        draw_at=now,
        content={},
        content_sha256="0" * 64,
    )
    session.add(campaign)
    seed_default_branches(session)
    session.flush()
    routes = {r.province_code: r.branch_id for r in session.scalars(select(BranchRoute))}
    places = [
        (d.parent_code, d.code)
        for d in divisions.all_divisions()
        if d.parent_code in routes and d.level != divisions.PROVINCE
    ]
    rng = random.Random(1)
    batch: list[dict[str, Any]] = []
    for i in range(rows):
        province, city = rng.choice(places)
        batch.append(
            {
                "campaign_id": campaign.id,
                "public_id": f"p{i}",
                "name": "x",
                "name_masked": "x",
                "id_hash": f"h{i}",
                "id_enc": b"x",
                "id_masked": "x",
                "id_last4": "0000",
                "mobile_hash": f"m{i}",
                "mobile_enc": b"x",
                "mobile_masked": "x",
                "address": "x",
                "postal_code": "000000",
                "province_code": province,
                "city_code": city,
                "branch_id": routes[province],
                "address_branch_id": routes[province],
                "consent_rules_version": "v",
                "consent_privacy_version": "v",
                "consent_at": now,
            }
        )
        if len(batch) == 10_000:
            session.execute(insert(Participant), batch)
            batch.clear()
    if batch:
        session.execute(insert(Participant), batch)
    session.commit()


def change_mapping(session: Session) -> None:
    """A realistic edit: city branches for the capitals of three big provinces."""
    for code, name, province, city in (
        ("WH", "武汉中支", "420000", "420100"),
        ("GZ", "广州中支", "440000", "440100"),
        ("CD", "成都中支", "510000", "510100"),
    ):
        branch = save_branch(session, BranchData(code=code, name=name, level="中心支公司"))
        set_route(session, province, city, branch)


def timed(session: Session, fn: Any) -> tuple[int, float]:
    change_mapping(session)
    start = time.perf_counter()
    moved = fn(session)
    elapsed = time.perf_counter() - start
    session.rollback()
    return moved, elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--url", default="")
    args = parser.parse_args()
    scratch = None
    if args.url.startswith(("postgres", "postgresql")):
        admin = create_engine(normalise_url(args.url), isolation_level="AUTOCOMMIT")
        scratch = f"bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{scratch}"'))
        url = normalise_url(args.url).rpartition("/")[0] + f"/{scratch}"
    else:
        url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.sqlite3'}"
    engine = make_engine(url)
    try:
        Base.metadata.create_all(engine)
        with Session(engine) as session:
            t0 = time.perf_counter()
            populate(session, args.rows)
            print(
                f"database: {engine.dialect.name}; {args.rows:,} leads inserted in "
                f"{time.perf_counter() - t0:.1f} s"
            )
            base_moved, base_s = timed(session, row_loop)
            new_moved, new_s = timed(session, reassign_all)
        assert base_moved == new_moved, (base_moved, new_moved)
        print(f"{'method':<28}{'moved':>10}{'seconds':>10}{'leads/s':>14}")
        for name, moved, secs in (
            ("per-row loop (baseline)", base_moved, base_s),
            ("reassign_all (set-based)", new_moved, new_s),
        ):
            print(f"{name:<28}{moved:>10,}{secs:>10.2f}{args.rows / secs:>14,.0f}")
        print(f"speed-up: {base_s / new_s:.1f}x")
    finally:
        engine.dispose()
        if scratch:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
