"""Load benchmark: the moment a province's staff contest starts (issue #22).

N contestants (default 5,000) sign in within a minute (工号 + invitation code), start their
paper and answer 20 questions each over 20 minutes, at most 64 requests in flight at
once. Time is compressed by --compress (20: the minute of sign-ins takes 3 s and the
20 minutes of answering 60 s; the think time between answers shrinks the same way).

It starts the real site (gunicorn, tests/load/server.py) on SQLite or on the PostgreSQL
server given by --pg, puts N contestants on the demo contest's roster, with a bank and
quotas of 20 questions per paper, and reports: errors (5xx and refused steps), answers
lost (an answer POST the client saw accepted that the database does not hold, or a paper
score that is not the sum of its answers), and p50/p95/p99 of the answer POST.

    .venv/bin/python tests/load/contest_start.py --contestants 5000 --compress 20
    .venv/bin/python tests/load/contest_start.py --pg postgresql+psycopg://postgres@127.0.0.1:55432/postgres

Not collected by pytest (tests/load/ holds scripts).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

import aiohttp

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, func, select, text  # noqa: E402

from quiz.db import Database  # noqa: E402
from quiz.models import Campaign, ContestAnswer, ContestPaper  # noqa: E402
from tests.load.harness import CSRF_RE, forwarded_address, open_pool, percentile  # noqa: E402
from tests.load.server import run_server  # noqa: E402

SLUG = "claims-contest-2026"
QUESTIONS = 20
PAPER_RE = re.compile(r'name="paper" value="(\d+)"')
POSITION_RE = re.compile(r'name="position" value="(\d+)"')
CHOICE_RE = re.compile(r'name="choice" id="[^"]*" value="([^"]+)"')
EXTRA_QUESTIONS = 15  # the demo bank has 15: 30 in all, quotas of 20 per paper


@dataclass
class Outcome:
    staff_no: str
    requests: list[tuple[str, int, float]] = field(default_factory=list)
    accepted: int = 0  # answer POSTs answered with the 302 of a stored answer
    error: str | None = None


class Contestant:
    """One phone: its own cookies over the shared pool, a client address of its own."""

    def __init__(
        self, base: str, http: aiohttp.ClientSession, n: int, gate: asyncio.Semaphore
    ) -> None:
        self.base, self.http, self.gate = base, http, gate
        self.headers = {"X-Forwarded-For": forwarded_address(n + 1)}
        self.cookies: dict[str, str] = {}

    async def call(
        self, out: Outcome, step: str, method: str, path: str, data: dict | list | None = None
    ) -> tuple[int, str]:
        headers = dict(self.headers)
        body = urlencode(data).encode() if data is not None else None
        if body:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        async with self.gate:  # at most --concurrency requests in flight
            started = time.perf_counter()
            async with self.http.request(
                method, self.base + path, data=body, headers=headers, allow_redirects=False
            ) as response:
                page = await response.text()
                for header in response.headers.getall("Set-Cookie", []):
                    for name, morsel in SimpleCookie(header).items():
                        self.cookies[name] = morsel.value
            elapsed = (time.perf_counter() - started) * 1000
        out.requests.append((step, response.status, elapsed))
        return response.status, page


def _csrf(page: str) -> str:
    match = CSRF_RE.search(page)
    if match is None:
        raise RuntimeError("no CSRF token")
    return match.group(1)


async def contestant_flow(
    base: str,
    http: aiohttp.ClientSession,
    gate: asyncio.Semaphore,
    n: int,
    staff_no: str,
    code: str,
    sign_in_at: float,
    think: float,
    rng: random.Random,
) -> Outcome:
    out = Outcome(staff_no)
    phone = Contestant(base, http, n, gate)
    await asyncio.sleep(sign_in_at)
    try:
        status, page = await phone.call(out, "campaign", "GET", "/")
        status, page = await phone.call(
            out,
            "sign_in",
            "POST",
            "/contest/sign-in",
            {"csrf_token": _csrf(page), "staff_no": staff_no, "code": code},
        )
        if status != 302:
            raise RuntimeError(f"sign-in {status}")
        status, page = await phone.call(out, "paper", "GET", "/contest/paper")
        status, _ = await phone.call(
            out, "start", "POST", "/contest/start", {"csrf_token": _csrf(page)}
        )
        if status != 302:
            raise RuntimeError(f"start {status}")
        for _ in range(QUESTIONS):
            status, page = await phone.call(out, "paper", "GET", "/contest/paper")
            paper, position = PAPER_RE.search(page), POSITION_RE.search(page)
            if status != 200 or paper is None or position is None:
                raise RuntimeError(f"question page {status}")
            await asyncio.sleep(rng.uniform(0.5, 1.5) * think)
            choices = CHOICE_RE.findall(page)
            data = [
                ("csrf_token", _csrf(page)),
                ("paper", paper.group(1)),
                ("position", position.group(1)),
                ("choice", rng.choice(choices)),
            ]
            status, _ = await phone.call(out, "answer", "POST", "/contest/answer", data)
            if status != 302:
                raise RuntimeError(f"answer {status}")
            out.accepted += 1
    except (TimeoutError, RuntimeError, aiohttp.ClientError) as exc:
        out.error = str(exc) or type(exc).__name__
    return out


def load_campaign_text(opens: datetime, closes: datetime) -> str:
    """The demo contest with 15 more questions and quotas of 20 a paper."""
    from quiz.campaign.spec import LOCAL_TZ

    source = (ROOT / "quiz" / "data" / "campaign" / "staff-contest.toml").read_text(
        encoding="utf-8"
    )
    for key, when in (
        ("opens_at", opens),
        ("closes_at", closes),
        ("draw_at", closes + timedelta(days=1)),
    ):
        local = when.astimezone(LOCAL_TZ).replace(tzinfo=None, microsecond=0).isoformat()
        source = re.sub(rf"^{key} = .*$", f"{key} = {local}", source, count=1, flags=re.M)
    source = source.replace(
        'quotas = { "理赔流程" = 4, "理赔时效" = 3, "服务规范" = 3 }',
        'quotas = { "理赔流程" = 8, "理赔时效" = 6, "服务规范" = 6 }',
    )
    source = source.replace(
        'quotas = { "理赔流程" = 3, "理赔时效" = 2, "服务规范" = 5 }',
        'quotas = { "理赔流程" = 7, "理赔时效" = 7, "服务规范" = 6 }',
    )
    source = source.replace("questions_per_participant = 10", "questions_per_participant = 20")
    for n in range(EXTRA_QUESTIONS):
        category = ("理赔流程", "理赔时效", "服务规范")[n % 3]
        source += (
            f'\n[[questions]]\nkey = "load{n:02d}"\nkind = "knowledge"\ncategory = "{category}"\n'
            f'text = "压测题目 {n}"\noptions = ["甲", "乙", "丙", "丁"]\ncorrect = "B"\n'
        )
    return source


def prepare(server: object, count: int) -> list[tuple[str, str]]:
    """Load the 20-question contest, put `count` contestants on its roster, issue codes."""
    from quiz.campaign.spec import install_campaign, parse_campaign
    from quiz.contest import roster

    now = datetime.now(UTC)
    database = Database(server.database_url)  # type: ignore[attr-defined]
    protector = server.protector()  # type: ignore[attr-defined]
    with database.transaction() as session:
        campaign = install_campaign(
            session,
            parse_campaign(
                load_campaign_text(now - timedelta(minutes=1), now + timedelta(hours=3))
            ),
        )
        lines = "工号,姓名,机构代码,组别\n" + "".join(
            f"L{n:05d},参赛{n},B{(11, 41, 42, 44)[n % 4]},{('业务员组', '内勤组')[n % 2]}\n"
            for n in range(count)
        )
        report = roster.check_roster(session, campaign, roster.read_roster(lines.encode()))
        assert report.ok, report.problems[:3]
        roster.save_roster(session, campaign, report, protector, locked_check=False)
        issued = roster.issue_invitations(session, campaign, protector)
    database.dispose()
    return [(i.staff_no, i.code) for i in issued]


def verify(database_url: str) -> tuple[int, int]:
    """(answers stored, papers whose score is not the sum of their answers' points)."""
    engine = create_engine(database_url)
    with engine.connect() as conn:
        campaign_id = conn.execute(select(Campaign.id).where(Campaign.slug == SLUG)).scalar_one()
        stored = conn.execute(
            select(func.count())
            .select_from(ContestAnswer)
            .join(ContestPaper, ContestPaper.id == ContestAnswer.paper_id)
            .where(ContestPaper.campaign_id == campaign_id, ContestAnswer.answer.is_not(None))
        ).scalar_one()
        sums = (
            select(
                ContestAnswer.paper_id,
                func.coalesce(func.sum(ContestAnswer.points), 0).label("points"),
            )
            .group_by(ContestAnswer.paper_id)
            .subquery()
        )
        wrong = conn.execute(
            select(func.count())
            .select_from(ContestPaper)
            .join(sums, sums.c.paper_id == ContestPaper.id)
            .where(ContestPaper.campaign_id == campaign_id, ContestPaper.score != sums.c.points)
        ).scalar_one()
    engine.dispose()
    return int(stored), int(wrong)


async def run(
    base: str, codes: list[tuple[str, str]], compress: float, concurrency: int
) -> tuple[list[Outcome], float]:
    rng = random.Random(22)
    sign_in_window = 60 / compress
    think = 20 * 60 / compress / QUESTIONS  # seconds between two answers, on average
    gate = asyncio.Semaphore(concurrency)
    started = time.perf_counter()
    async with open_pool(concurrency) as http:
        outcomes = await asyncio.gather(
            *(
                contestant_flow(
                    base,
                    http,
                    gate,
                    n,
                    staff_no,
                    code,
                    rng.uniform(0, sign_in_window),
                    think,
                    random.Random(n),
                )
                for n, (staff_no, code) in enumerate(codes)
            )
        )
    return list(outcomes), time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contestants", type=int, default=5000)
    parser.add_argument("--compress", type=float, default=20.0, help="time compression factor")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--pg", default="", help="a PostgreSQL URL (a new database is made on it)")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="contest-load-"))
    database_url = f"sqlite:///{workdir / 'quiz.sqlite3'}"
    pg_name = ""
    if args.pg:
        pg_name = f"contest_load_{uuid.uuid4().hex[:8]}"
        admin = create_engine(args.pg, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{pg_name}"'))
        database_url = f"{args.pg.rpartition('/')[0]}/{pg_name}"
    try:
        with run_server(database_url, workdir, workers=args.workers, trusted_proxies=1) as server:
            codes = prepare(server, args.contestants)
            outcomes, elapsed = asyncio.run(
                run(f"{server.url}/c/{SLUG}", codes, args.compress, args.concurrency)
            )
            stored, wrong = verify(database_url)
            log = server.log()
    finally:
        if pg_name:
            with create_engine(args.pg, isolation_level="AUTOCOMMIT").connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))
    statuses = Counter(s for o in outcomes for _, s, _ in o.requests)
    total = sum(statuses.values())
    server_errors = sum(n for s, n in statuses.items() if s >= 500)
    accepted = sum(o.accepted for o in outcomes)
    errors = [f"{o.staff_no}: {o.error}" for o in outcomes if o.error]
    engine_name = "PostgreSQL" if args.pg else "SQLite"
    print(
        f"database: {engine_name}, {args.workers} workers, {args.contestants} contestants, "
        f"compression x{args.compress:g}, concurrency {args.concurrency}"
    )
    print(f"elapsed {elapsed:.1f} s; requests {total} ({total / elapsed:.0f}/s)")
    print(f"statuses {dict(sorted(statuses.items()))}")
    print(f"contestants with an error: {len(errors)}; 5xx: {server_errors}")
    for line in errors[:10]:
        print(f"  {line}")
    lost = max(0, accepted - stored)
    print(f"answers accepted {accepted}, stored {stored}, lost {lost}")
    print(f"papers whose score is not the sum of their answers: {wrong}")
    for step in ("sign_in", "start", "paper", "answer"):
        values = sorted(ms for o in outcomes for s, _, ms in o.requests if s == step)
        if values:
            p50, p95, p99 = (percentile(values, q) for q in (50, 95, 99))
            print(
                f"  {step:<8} n={len(values):<7} p50={p50:7.1f} ms "
                f"p95={p95:7.1f} ms p99={p99:7.1f} ms max={values[-1]:.0f} ms"
            )
    if "Traceback" in log:
        print("server log has tracebacks:", log[log.index("Traceback") :][:2000])
    return 0 if not errors and accepted == stored and not wrong else 1


if __name__ == "__main__":
    raise SystemExit(main())
