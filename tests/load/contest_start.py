"""Load benchmark: the moment a province's staff contest starts (issue #22).

N contestants (default 5,000) sign in within a minute (工号 + invitation code), start their
paper and answer 20 questions each over 20 minutes, at most 64 requests in flight at
once. Each answer is posted as the paper page's script posts it (quiz-answer.js): one
request, whose reply is the next question. The paper's time limit is the contest's 20
minutes, so each contestant's answers are paced to end within it: a contestant takes
80-95 % of the limit (a random share), the gaps between answers vary from 0.5 to 1.5
times the mean, and each answer is due at a fixed offset from the paper's start (a slow
reply does not push later answers past the deadline). Time is compressed by --compress
(20: the minute of sign-ins takes 3 s and each paper about 53 s; the time limit itself
stays 20 minutes).

It starts the real site (gunicorn, tests/load/server.py) on SQLite or on the PostgreSQL
server given by --pg, puts N contestants on the demo contest's roster, with a bank and
quotas of 20 questions per paper, and reports: contestants signed in, answers sent and
accepted, errors by status (any reply a step does not expect, and client-side failures
such as timeouts), answers lost (an answer the client saw accepted that the database
does not hold with the choice sent, or a paper score that is not the sum of its
answers), p50/p95/p99 of the answer POST and p50/p99 of the sign-in burst. Exit status
1 on any error or lost answer.

    .venv/bin/python tests/load/contest_start.py --contestants 5000 --compress 1
    .venv/bin/python tests/load/contest_start.py --pg postgresql+psycopg://postgres@127.0.0.1:55432/postgres
    .venv/bin/python tests/load/contest_start.py --ratelimit-storage redis://127.0.0.1:6379/0

With several workers production keeps rate-limit counts in Redis (quiz serve refuses
memory:// there); memory:// here gives each worker its own counts and, in the limits
library, a thread that rescans every client's window every 10 ms, a cost that grows
with the number of contestants.

Not collected by pytest (tests/load/ holds scripts).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import sys
import tempfile
import time
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

from sqlalchemy import create_engine, func, select  # noqa: E402

from quiz.db import Database  # noqa: E402
from quiz.models import Campaign, ContestAnswer, ContestPaper  # noqa: E402
from quiz.public import ANSWERED_BY_SCRIPT  # noqa: E402
from tests.load.harness import CSRF_RE, forwarded_address, open_pool, percentile  # noqa: E402
from tests.load.server import database_for, run_server  # noqa: E402

SLUG = "claims-contest-2026"
QUESTIONS = 20
PAPER_RE = re.compile(r'name="paper" value="(\d+)"')
POSITION_RE = re.compile(r'name="position" value="(\d+)"')
CHOICE_RE = re.compile(r'name="choice" id="[^"]*" value="([^"]+)"')
SCRIPT = {ANSWERED_BY_SCRIPT: "1"}
EXTRA_QUESTIONS = 15  # the demo bank has 15: 30 in all, quotas of 20 per paper
TIME_LIMIT_MINUTES = 20  # the demo contest's own limit, set explicitly below
PACE = (0.80, 0.95)  # a contestant's paper takes this share of the time limit
# The status each step expects; anything else is an error (status 0: no reply at all).
# An answer is posted as static/js/quiz-answer.js posts it (ANSWERED_BY_SCRIPT): the reply
# is the next question (or the closed paper) itself, 200, one request per answer.
EXPECTED = {"campaign": 200, "sign_in": 302, "paper": 200, "start": 302, "answer": 200}


@dataclass
class Outcome:
    staff_no: str
    requests: list[tuple[str, int, float]] = field(default_factory=list)
    # Answers the server accepted (200, the next page): (paper id, position, choice key).
    accepted: list[tuple[int, int, str]] = field(default_factory=list)
    sent: int = 0  # answer POSTs sent, whatever came back
    signed_in_at: float | None = None  # seconds from the start of the run
    error: str | None = None
    failures: Counter[str] = field(default_factory=Counter)  # "step status" -> count
    # Milliseconds each request waited for one of the --concurrency slots before it was
    # sent (not in its latency above): a queue here means the site could not keep up.
    queued: list[float] = field(default_factory=list)
    late: list[float] = field(default_factory=list)  # seconds each answer left after its due time


class Contestant:
    """One phone: its own cookies over the shared pool, a client address of its own."""

    def __init__(
        self, base: str, http: aiohttp.ClientSession, n: int, gate: asyncio.Semaphore
    ) -> None:
        self.base, self.http, self.gate = base, http, gate
        self.headers = {"X-Forwarded-For": forwarded_address(n + 1)}
        self.cookies: dict[str, str] = {}
        self.sent_at = 0.0  # when the last request got its slot and was sent

    async def call(
        self,
        out: Outcome,
        step: str,
        method: str,
        path: str,
        data: dict | list | None = None,
        extra: dict[str, str] | None = None,
    ) -> tuple[int, str]:
        headers = {**self.headers, **(extra or {})}
        body = urlencode(data).encode() if data is not None else None
        if body:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        asked = time.perf_counter()
        async with self.gate:  # at most --concurrency requests in flight
            started = time.perf_counter()
            out.queued.append((started - asked) * 1000)
            self.sent_at = started
            try:
                async with self.http.request(
                    method, self.base + path, data=body, headers=headers, allow_redirects=False
                ) as response:
                    page = await response.text()
                    for header in response.headers.getall("Set-Cookie", []):
                        for name, morsel in SimpleCookie(header).items():
                            self.cookies[name] = morsel.value
            except (TimeoutError, aiohttp.ClientError) as exc:
                out.requests.append((step, 0, (time.perf_counter() - started) * 1000))
                out.failures[f"{step} {type(exc).__name__}"] += 1
                raise
            elapsed = (time.perf_counter() - started) * 1000
        out.requests.append((step, response.status, elapsed))
        if response.status != EXPECTED[step]:
            out.failures[f"{step} {response.status}"] += 1
        return response.status, page


def _csrf(page: str) -> str:
    match = CSRF_RE.search(page)
    if match is None:
        raise RuntimeError("no CSRF token")
    return match.group(1)


def answer_offsets(rng: random.Random, span: float) -> list[float]:
    """When each of the QUESTIONS answers is due, in seconds from the paper's start: gaps
    of 0.5-1.5 times the mean, the last answer exactly at `span`."""
    gaps = [rng.uniform(0.5, 1.5) for _ in range(QUESTIONS)]
    total, offsets, elapsed = sum(gaps), [], 0.0
    for gap in gaps:
        elapsed += gap
        offsets.append(span * elapsed / total)
    return offsets


async def contestant_flow(
    base: str,
    http: aiohttp.ClientSession,
    gate: asyncio.Semaphore,
    n: int,
    staff_no: str,
    code: str,
    sign_in_at: float,
    paper_seconds: float,
    rng: random.Random,
    t0: float,
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
        out.signed_in_at = time.perf_counter() - t0
        status, page = await phone.call(out, "paper", "GET", "/contest/paper")
        status, _ = await phone.call(
            out, "start", "POST", "/contest/start", {"csrf_token": _csrf(page)}
        )
        if status != 302:
            raise RuntimeError(f"start {status}")
        started = time.perf_counter()  # the server's deadline began a little earlier
        status, page = await phone.call(out, "paper", "GET", "/contest/paper")
        for due in answer_offsets(rng, paper_seconds):
            paper, position = PAPER_RE.search(page), POSITION_RE.search(page)
            if status != 200 or paper is None or position is None:
                raise RuntimeError(f"question page {status}")
            await asyncio.sleep(max(0.0, started + due - time.perf_counter()))
            choice = rng.choice(CHOICE_RE.findall(page))
            data = [
                ("csrf_token", _csrf(page)),
                ("paper", paper.group(1)),
                ("position", position.group(1)),
                ("choice", choice),
            ]
            out.sent += 1
            status, page = await phone.call(out, "answer", "POST", "/contest/paper", data, SCRIPT)
            out.late.append(max(0.0, phone.sent_at - (started + due)))
            if status != 200:
                raise RuntimeError(f"answer {status}")
            out.accepted.append((int(paper.group(1)), int(position.group(1)), choice))
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
    source, limits = re.subn(
        r"^time_limit_minutes = .*$",
        f"time_limit_minutes = {TIME_LIMIT_MINUTES}",
        source,
        count=1,
        flags=re.M,
    )
    assert limits == 1, "staff-contest.toml has no time_limit_minutes"
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


@dataclass(frozen=True)
class Stored:
    """What the database holds after the run."""

    answers: dict[tuple[int, int], list[str]]  # (paper id, position) -> choices
    papers: int
    wrong_scores: int  # papers whose score is not the sum of their answers' points


def verify(database_url: str) -> Stored:
    """Every answered question of the contest's papers, and the papers' score check."""
    engine = create_engine(database_url)
    with engine.connect() as conn:
        campaign_id = conn.execute(select(Campaign.id).where(Campaign.slug == SLUG)).scalar_one()
        answers = {
            (int(paper_id), int(position)): list(choices)
            for paper_id, position, choices in conn.execute(
                select(ContestAnswer.paper_id, ContestAnswer.position, ContestAnswer.answer)
                .join(ContestPaper, ContestPaper.id == ContestAnswer.paper_id)
                .where(ContestPaper.campaign_id == campaign_id, ContestAnswer.answer.is_not(None))
            )
        }
        papers = conn.execute(
            select(func.count())
            .select_from(ContestPaper)
            .where(ContestPaper.campaign_id == campaign_id)
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
    return Stored(answers, int(papers), int(wrong))


async def run(
    base: str, codes: list[tuple[str, str]], compress: float, concurrency: int
) -> tuple[list[Outcome], float]:
    rng = random.Random(22)
    sign_in_window = 60 / compress
    limit = TIME_LIMIT_MINUTES * 60 / compress
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
                    rng.uniform(*PACE) * limit,
                    random.Random(n),
                    started,
                )
                for n, (staff_no, code) in enumerate(codes)
            )
        )
    return list(outcomes), time.perf_counter() - started


def _percentiles(values: list[float], qs: tuple[int, ...]) -> str:
    ordered = sorted(values)
    if not ordered:
        return "n=0"
    return " ".join(f"p{q}={percentile(ordered, q):.1f} ms" for q in qs) + (
        f" max={ordered[-1]:.1f} ms n={len(ordered)}"
    )


def report(
    outcomes: list[Outcome], stored: Stored, log: str, elapsed: float, contestants: int
) -> bool:
    """Print the figures; True when there was no error and no answer was lost."""
    statuses = Counter(s for o in outcomes for _, s, _ in o.requests)
    total = sum(statuses.values())
    failures: Counter[str] = Counter()
    for o in outcomes:
        failures.update(o.failures)
    flow_errors = [f"{o.staff_no}: {o.error}" for o in outcomes if o.error]
    accepted = {
        (paper, position): choice for o in outcomes for paper, position, choice in o.accepted
    }
    accepted_count = sum(len(o.accepted) for o in outcomes)
    lost = sum(1 for key, choice in accepted.items() if stored.answers.get(key) != [choice])
    unconfirmed = len(set(stored.answers) - set(accepted))
    signed_in = [o.signed_in_at for o in outcomes if o.signed_in_at is not None]
    log_problems = {
        marker: log.count(marker)
        for marker in ("Traceback", "database is locked", "WORKER TIMEOUT")
    }

    print(f"elapsed {elapsed:.1f} s; requests {total} ({total / elapsed:.0f}/s)")
    print(f"statuses {dict(sorted(statuses.items()))}")
    window = f" (first {min(signed_in):.1f} s, last {max(signed_in):.1f} s)" if signed_in else ""
    print(f"contestants signed in: {len(signed_in)} of {contestants}{window}")
    print(f"papers in the database: {stored.papers}")
    print(
        f"answers sent: {sum(o.sent for o in outcomes)}; accepted: {accepted_count} "
        f"(expected {contestants * QUESTIONS})"
    )
    print(f"errors: {sum(failures.values())} by status {dict(sorted(failures.items()))}")
    print(f"contestants stopped by an error: {len(flow_errors)}")
    for line in flow_errors[:10]:
        print(f"  {line}")
    print(
        f"answers lost: {lost} (accepted answers the database does not hold with the choice "
        f"sent; {len(stored.answers)} stored, {unconfirmed} stored without an accepted reply)"
    )
    print(f"papers whose score is not the sum of their answers: {stored.wrong_scores}")
    print(f"server log: {', '.join(f'{k}: {v}' for k, v in log_problems.items())}")
    answer_ms = [ms for o in outcomes for step, s, ms in o.requests if step == "answer" and s]
    sign_in_ms = [ms for o in outcomes for step, s, ms in o.requests if step == "sign_in" and s]
    print(f"answer POST: {_percentiles(answer_ms, (50, 95, 99))}")
    print(f"sign-in burst, sign-in POST: {_percentiles(sign_in_ms, (50, 99))}")
    queued = [ms for o in outcomes for ms in o.queued]
    print(f"client queue before a free slot (all requests): {_percentiles(queued, (50, 99))}")
    late = sorted(s for o in outcomes for s in o.late)
    if late:
        print(
            f"answers sent after their due time: {sum(1 for s in late if s > 1)} by more than "
            f"1 s, {sum(1 for s in late if s > 30)} by more than 30 s "
            f"(p99 {percentile(late, 99):.1f} s, max {late[-1]:.1f} s)"
        )
    for step in ("campaign", "paper", "start"):
        values = [ms for o in outcomes for name, s, ms in o.requests if name == step and s]
        print(f"  {step:<8} {_percentiles(values, (50, 95, 99))}")
    if log_problems["Traceback"]:
        print("first traceback:", log[log.index("Traceback") :][:2000])
    return (
        not failures
        and not flow_errors
        and accepted_count == len(accepted) == contestants * QUESTIONS
        and not lost
        and not unconfirmed
        and not stored.wrong_scores
        and not any(log_problems.values())
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contestants", type=int, default=5000)
    parser.add_argument("--compress", type=float, default=20.0, help="time compression factor")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--pg", default="", help="a PostgreSQL URL (a new database is made on it)")
    parser.add_argument(
        "--ratelimit-storage",
        default=os.environ.get("RATELIMIT_STORAGE_URI") or "memory://",
        help="the site's rate-limit storage (redis://…, as production with several workers "
        "must use; memory:// keeps counts per worker)",
    )
    args = parser.parse_args(argv)
    engine_name = "PostgreSQL" if args.pg else "SQLite"
    print(
        f"database: {engine_name}, {args.workers} workers, {args.contestants} contestants, "
        f"compression x{args.compress:g}, concurrency {args.concurrency}, "
        f"rate limits in {args.ratelimit_storage.partition('://')[0]}; "
        f"load average at start {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    with (
        tempfile.TemporaryDirectory(prefix="contest-load-") as tmp,
        database_for(Path(tmp), args.pg) as database_url,
        run_server(
            database_url,
            Path(tmp),
            workers=args.workers,
            trusted_proxies=1,
            storage_uri=args.ratelimit_storage,
        ) as server,
    ):
        prepared = time.perf_counter()
        codes = prepare(server, args.contestants)
        print(
            f"roster of {len(codes)} with invitation codes ready in "
            f"{time.perf_counter() - prepared:.1f} s",
            flush=True,
        )
        outcomes, elapsed = asyncio.run(
            run(f"{server.url}/c/{SLUG}", codes, args.compress, args.concurrency)
        )
        stored = verify(database_url)
        log = server.log()
    ok = report(outcomes, stored, log, elapsed, args.contestants)
    print(f"load average at end {os.getloadavg()[0]:.2f}; {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
