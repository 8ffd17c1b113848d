"""Benchmark: lead exports and dashboard aggregates on a large SQLite database.

    .venv/bin/python tests/benchmarks/bench_exports.py --rows 1000000

Generates N leads (~30 branches) straight into SQLite with executemany, then runs
each export in a fresh subprocess and prints seconds, rows/s and peak resident
memory (ru_maxrss), against a baseline in the same run (raw csv.writer over a
sqlite3 cursor), plus the time of the dashboard's aggregate queries.
Goals: peak < 100 MB; CSV >= 150,000 rows/s; XLSX >= 10,000 rows/s; dashboard < 1 s.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英"
INTENTS = ["重疾险", "医疗险", "意外险", "寿险", "年金/养老险", "教育金", "暂无需求"]
BUDGETS = ["3000元以下", "3000-10000元", "1万-3万元", "3万元以上", "暂未考虑"]
TIMES = ["工作日白天(9:00-18:00)", "工作日晚上(18:00-21:00)", "周末及节假日"]
STATUSES = ["待联系"] * 6 + ["已联系", "已拜访", "已成交", "无效"]


def peak_mb() -> float:
    """This process's peak resident memory.

    VmHWM, not ru_maxrss: Linux carries the parent's high-water mark into ru_maxrss across
    fork+exec, so a child of the (large) generator would report the generator's peak.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def generate(path: Path, rows: int) -> int:
    """Schema from the models, the shipped campaign (its questions) and branches via the ORM,
    leads via executemany with the participant indexes dropped and rebuilt after the load
    (keeping some twenty indexes up to date row by row made 1M rows take most of an hour),
    and the intent counters added up while the rows are made."""
    import dataclasses
    from collections import Counter
    from zoneinfo import ZoneInfo

    from sqlalchemy import select
    from sqlalchemy.schema import CreateIndex

    from quiz.branches.service import seed_default_branches
    from quiz.campaign.spec import default_campaign_path, install_campaign, load_campaign_file
    from quiz.db import Base, Database
    from quiz.models import BranchRoute, Participant
    from quiz.privacy.protection import Protector, new_keys
    from quiz.regions import divisions

    database = Database(f"sqlite:///{path}")
    Base.metadata.create_all(database.engine)
    now = datetime.now(UTC)
    spec = load_campaign_file(default_campaign_path())
    with database.transaction() as session:
        campaign = install_campaign(
            session,
            dataclasses.replace(
                spec,
                opens_at=now - timedelta(days=60),
                closes_at=now + timedelta(days=30),
                draw_at=now + timedelta(days=40),
                freeze_deadline=now + timedelta(days=35),
            ),
        )
        seed_default_branches(session)
        session.flush()
        campaign_id = campaign.id
        routes = dict(
            session.execute(select(BranchRoute.province_code, BranchRoute.branch_id)).all()
        )
    indexes = [
        str(CreateIndex(ix).compile(database.engine)) for ix in Participant.__table__.indexes
    ]
    database.dispose()

    keys = new_keys()
    protector = Protector([keys["QUIZ_DATA_KEY"]], keys["QUIZ_HASH_KEY"])
    rng = random.Random(20261101)
    counties = [
        d
        for d in divisions.all_divisions()
        if d.level == 3 and d.code[:2] not in ("71", "81", "82")
    ]
    # A pool of real ciphertexts reused across rows: same sizes as production, no 2M encryptions.
    id_tokens = [protector.encrypt(f"1101051985061500{i:02d}") for i in range(64)]
    mobile_tokens = [protector.encrypt(f"139{i:08d}") for i in range(64)]
    start = now - timedelta(days=55)
    china = ZoneInfo("Asia/Shanghai")
    counts: Counter[tuple[object, ...]] = Counter()
    columns = (
        "campaign_id, public_id, status, name, name_masked, id_hash, id_enc, id_masked, id_last4,"
        " mobile_hash, mobile_enc, mobile_masked, landline_enc, duplicate_mobile, address,"
        " postal_code, postal_mismatch, province_code, city_code, district_code, division_code,"
        " branch_id, referral_flagged, score, total, intent, intent_level,"
        " consent_rules_version, consent_privacy_version, consent_sensitive, consent_at,"
        " consent_ip, follow_up_status, contact_opt_out, excluded, created_at, completed_at"
    )
    sql = (
        f"INSERT INTO participant ({columns}) VALUES ({', '.join('?' * (columns.count(',') + 1))})"
    )
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -400000")  # 400 MB for the index builds' sorts
    for ix in Participant.__table__.indexes:
        conn.execute(f"DROP INDEX {ix.name}")
    # Entries arrive in time order (ids grow with created_at), as they do on the site.
    seconds = sorted(rng.randrange(55 * 86400) for _ in range(rows))

    def batch(lo: int, hi: int) -> list[tuple[object, ...]]:
        out = []
        for i in range(lo, hi):
            county = counties[rng.randrange(len(counties))]
            province = county.code[:2] + "0000"
            city = county.parent_code or province
            name = rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)
            created = start + timedelta(seconds=seconds[i])
            done = rng.random() < 0.8
            level = rng.choice(INTENTS) if done else None
            branch = routes.get(province)
            intent = None
            if done:
                answers = {
                    "i01-products": [level],
                    "i02-budget": [rng.choice(BUDGETS)],
                    "i03-contact-time": [rng.choice(TIMES)],
                }
                intent = json.dumps(answers, ensure_ascii=False)
                day = created.astimezone(china).date()
                for question, picked in answers.items():
                    counts[(campaign_id, day, branch or 0, question, "")] += 1
                    for option in picked:
                        counts[(campaign_id, day, branch or 0, question, option)] += 1
            ts = created.strftime("%Y-%m-%d %H:%M:%S.%f")
            mobile = f"1{rng.randrange(30, 99)}{i:08d}"
            out.append(
                (
                    campaign_id,
                    f"p{i:012d}",
                    "completed" if done else "registered",
                    name,
                    name[0] + "*" + name[-1],
                    f"{i:064x}",
                    id_tokens[i % 64],
                    f"{county.code}********{i % 10000:04d}",
                    f"{i % 10000:04d}",
                    f"m{i:063x}",
                    mobile_tokens[i % 64],
                    mobile[:3] + "****" + mobile[-4:],
                    mobile_tokens[i % 64] if i % 7 == 0 else None,
                    i % 97 == 0,
                    f"{county.name}人民路{rng.randrange(1, 999)}号{rng.randrange(1, 30)}栋",
                    f"{rng.randrange(100000, 999999)}",
                    False,
                    province,
                    city,
                    county.code,
                    county.code,
                    branch,
                    False,
                    rng.randrange(0, 6) if done else 0,
                    5,
                    intent,
                    level,
                    "2026-11-01",
                    "2026-11-01",
                    True,
                    ts,
                    "203.0.113.9",
                    rng.choice(STATUSES),
                    False,
                    False,
                    ts,
                    ts if done else None,
                )
            )
        return out

    step = 100_000
    for lo in range(0, rows, step):
        conn.executemany(sql, batch(lo, min(rows, lo + step)))
    conn.executemany(
        "INSERT INTO intent_count (campaign_id, day, branch_id, question_key, option, count)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [(*key[:1], key[1].isoformat(), *key[2:], n) for key, n in counts.items()],  # type: ignore[union-attr]
    )
    # The branch, province and score counters: one GROUP BY each, as migration 0012 does.
    day = "date(created_at, '+8 hours')"
    conn.execute(
        "INSERT INTO branch_count SELECT campaign_id, COALESCE(branch_id, 0), status,"
        f" follow_up_status, {day}, count(*) FROM participant GROUP BY 1, 2, 3, 4, 5"
    )
    conn.execute(
        "INSERT INTO province_count SELECT campaign_id, COALESCE(province_code, ''),"
        f" {day}, count(*) FROM participant GROUP BY 1, 2, 3"
    )
    conn.execute(
        f"INSERT INTO score_count SELECT campaign_id, score, {day}, count(*)"
        " FROM participant WHERE status = 'completed' GROUP BY 1, 2, 3"
    )
    conn.commit()
    for create in indexes:
        conn.execute(create)
    conn.commit()
    conn.execute("ANALYZE")
    conn.close()
    return campaign_id


def worker(kind: str, path: Path, out_dir: Path) -> dict[str, float]:
    """One measured run (in its own process so ru_maxrss is this run's peak)."""
    from quiz.db import Database
    from quiz.leads import export_jobs, exports
    from quiz.leads.service import LeadFilters
    from quiz.models import StaffUser

    user = StaffUser(username="bench", role="admin", can_reveal=False, branch_id=None)
    database = Database(f"sqlite:///{path}")
    started = time.perf_counter()
    rows = 0
    if kind == "baseline":
        conn = sqlite3.connect(path)
        with open(out_dir / "baseline.csv", "w", newline="", encoding="utf-8-sig") as fh:
            writer = csv.writer(fh)
            cursor = conn.execute(
                "SELECT id, name_masked, id_masked, mobile_masked, address, postal_code,"
                " province_code, city_code, district_code, branch_id, status, score, total,"
                " intent_level, intent, follow_up_status, duplicate_mobile, created_at"
                " FROM participant ORDER BY id"
            )
            for row in cursor:
                writer.writerow(row)
                rows += 1
    elif kind in ("csv", "csv-zip"):
        session = database.session()
        ctx = exports.context_for(session, False, None)
        filters = LeadFilters()
        target = out_dir / ("all.zip" if kind == "csv-zip" else "all.csv")
        with open(target, "wb") as fh:
            if kind == "csv":
                for chunk in exports.csv_bytes(exports.iter_rows(session, user, filters, ctx)):
                    fh.write(chunk)
            else:
                parts = exports.plan_parts(session, user, filters, "all")
                for chunk in exports.zip_csv_bytes(
                    parts, lambda part: exports.iter_rows(session, user, part.filters, ctx)
                ):
                    fh.write(chunk)
        rows = sum(p.rows for p in exports.plan_parts(session, user, filters, "all"))
        session.close()
    elif kind in ("xlsx", "xlsx-zip"):
        # The background job's own builder, minus the progress writes' database.
        export_jobs._progress = lambda *_a: None  # type: ignore[assignment]
        scope = "all" if kind == "xlsx-zip" else "branch"
        final = out_dir / f"all.{'zip' if scope == 'all' else 'xlsx'}"
        rows = export_jobs._build(
            database,
            None,
            user,
            False,
            scope,
            LeadFilters(),
            final,
            0,  # type: ignore[arg-type]
        )
    elif kind == "dashboard":
        from quiz.reports import stats

        timings, cpu = [], []
        for _ in range(4):
            session = database.session()
            t, c = time.perf_counter(), time.process_time()
            board = stats.dashboard(session, 1)
            timings.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
            session.close()
        page, page_cpu = dashboard_page(path)
        return {
            "cold": timings[0],
            "warm": min(timings[1:]),
            # CPU time: on a shared, loaded machine the wall time mostly measures the others.
            "warm_cpu": min(cpu[1:]),
            "load": os.getloadavg()[0],
            "entries": board.entries,
            "questions": len(board.questions),
            "answered": sum(q.answered for q in board.questions),
            "page": page,
            "page_cpu": page_cpu,
            "peak_mb": peak_mb(),
        }
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows": rows, "rows_per_s": rows / seconds, "peak_mb": peak_mb()}


def dashboard_page(path: Path) -> tuple[float, float]:
    """Seconds for the whole /admin/ page (queries, charts, template), head office signed in:
    the best of three after a first request."""
    from quiz import create_app
    from quiz.models import StaffUser
    from tests.conftest import KEYS

    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{path}",
            **KEYS,
            "RATELIMIT_ENABLED": False,
            "RATELIMIT_STORAGE_URI": "memory://",
        }
    )
    database = app.extensions["quiz.db"]
    with database.transaction() as session:
        user = session.query(StaffUser).filter_by(username="bench").one_or_none()
        if user is None:
            user = StaffUser(username="bench", role="admin", password_hash="!")
            session.add(user)
            session.flush()
        staff = {"id": user.id, "ver": user.session_version, "totp_ok": True}
    client = app.test_client()
    with client.session_transaction() as sess:
        sess["staff"] = staff
    timings, cpu = [], []
    for _ in range(4):
        t, c = time.perf_counter(), time.process_time()
        response = client.get("/admin/")
        timings.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
        assert response.status_code == 200, response.status_code
        assert "投保意向" in response.get_data(as_text=True)
    database.dispose()
    return min(timings[1:]), min(cpu[1:])


def run(kind: str, path: Path, out_dir: Path) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, __file__, "--worker", kind, "--db", str(path), "--out", str(out_dir)],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--worker", default=None)
    parser.add_argument("--skip", default="", help="comma-separated runs to skip (e.g. xlsx)")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.db, args.out)))
        return

    tmp = Path(tempfile.mkdtemp(prefix="bench_exports_"))
    path = args.db or tmp / "bench.sqlite3"
    if not path.exists():
        t = time.perf_counter()
        generate(path, args.rows)
        print(
            f"generated {args.rows:,} leads in {time.perf_counter() - t:.1f} s "
            f"({path.stat().st_size / 1e6:.0f} MB) at {path}"
        )
    skip = set(filter(None, args.skip.split(",")))
    base = run("baseline", path, tmp)
    print(f"{'run':<34}{'seconds':>9}{'rows/s':>12}{'peak MB':>9}{'vs baseline':>13}")

    def line(label: str, r: dict[str, float]) -> None:
        print(
            f"{label:<34}{r['seconds']:>9.1f}{r['rows_per_s']:>12,.0f}{r['peak_mb']:>9.0f}"
            f"{r['rows_per_s'] / base['rows_per_s']:>12.2f}x"
        )

    line("baseline csv.writer over sqlite3", base)
    for kind, label in (
        ("csv", "CSV, all leads, one file"),
        ("csv-zip", "CSV, ZIP of one file per branch"),
        ("xlsx-zip", "XLSX, ZIP of one file per branch"),
    ):
        if kind.split("-")[0] in skip or kind in skip:
            continue
        line(label, run(kind, path, tmp))
    dash = run("dashboard", path, tmp)
    print(
        f"dashboard aggregates over {int(dash['entries']):,} entries: "
        f"cold {dash['cold']:.2f} s, warm {dash['warm']:.2f} s (CPU {dash['warm_cpu']:.2f} s) "
        f"(goal < 1 s); {int(dash['questions'])} intent questions, "
        f"{int(dash['answered']):,} answers; whole /admin/ page {dash['page']:.2f} s "
        f"(CPU {dash['page_cpu']:.2f} s); load average {dash['load']:.1f}"
    )
    for f in tmp.glob("all.*"):
        f.unlink()
    if args.db is None:
        print(f"database kept at {path} (delete it when done)")
    os.sync()


if __name__ == "__main__":
    main()
