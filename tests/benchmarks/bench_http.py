"""HTTP throughput of the real stack against its own ceiling, in one run on one machine.

For each database (SQLite always; PostgreSQL when QUIZ_BENCH_PG_URL is set, in a
fresh database created there) it starts gunicorn with the same settings and
measures, with the same asyncio client and concurrency:

0. the floor (tests/load/baseline_app.py): a bare Flask GET, and a plain form
   POST with one INSERT on the same database, as the issue's reference figures;
1. the ceiling: GET /livez of the site (no database, no template, no session);
2. consent POSTs alone, the site's cheapest write (CSRF form, session cookie, one
   counter UPDATE), as the floor a registration builds on; then registration POSTs
   alone (sessions and CSRF tokens primed beforehand; full validation, address
   routing, encryption, rate limiting on);
3. complete participants per second through the whole flow, answering as the
   question page's script does (the reply to an answer is the next question), and
   again as a browser without JavaScript (POST, redirect, GET per question).

Each line also gives the CPU the whole machine spent per request in that phase (from
/proc/stat: client, gunicorn, Redis and the database together) and the client's share,
so a ratio can be read as a cost: the ceiling's requests are the cheapest this stack
serves on this machine.

Rate limiting runs with the production limits, each simulated participant coming
from its own address through one trusted proxy (as behind nginx); the storage is
Redis when QUIZ_BENCH_REDIS_URL is set, else memory:// (per worker).

    .venv/bin/python tests/benchmarks/bench_http.py
    QUIZ_BENCH_PG_URL=postgresql://postgres@127.0.0.1:55432/postgres \\
    QUIZ_BENCH_REDIS_URL=redis://127.0.0.1:56379/0 .venv/bin/python tests/benchmarks/bench_http.py
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.load.harness import (  # noqa: E402
    Participant,
    forwarded_address,
    identity,
    open_pool,
    percentile,
    run_async,
    run_load,
)
from tests.load.server import run_baseline, run_server  # noqa: E402

PRODUCTION_REGISTER_LIMIT = "30/minute;300/hour"
PRODUCTION_ANSWER_LIMIT = "240/minute"


@contextmanager
def fresh_pg_database(url: str) -> Iterator[str]:
    """A new database on the server of `url`, dropped afterwards."""
    from sqlalchemy import create_engine, text

    from quiz.db import normalise_url

    url = normalise_url(url)
    name = f"quiz_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{url.rpartition('/')[0]}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@dataclass(frozen=True)
class Measured:
    """One timed phase: throughput, sorted latencies (ms), unexpected replies, and the CPU
    the whole machine spent per request (client, gunicorn, Redis, database), of which
    this load-generating process."""

    rate: float
    latencies: list[float]
    failures: int
    machine_ms: float
    client_ms: float


def machine_busy() -> float:
    """CPU seconds this machine's processes have run since boot: user, nice, system, irq
    and softirq (not idle, iowait, or time the hypervisor stole; guest time is in user)."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]]
    user, nice, system, _idle, _iowait, irq, softirq = ticks
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


async def measured(requests: int, work: Awaitable[int], latencies: list[float]) -> Measured:
    """Run `work` (which returns its failure count and appends to `latencies`) and
    measure it."""
    busy, client, started = machine_busy(), time.process_time(), time.perf_counter()
    failures = await work
    elapsed = time.perf_counter() - started
    busy, client = machine_busy() - busy, time.process_time() - client
    return Measured(
        requests / elapsed,
        sorted(latencies),
        failures,
        busy / requests * 1000,
        client / requests * 1000,
    )


async def timed_requests(
    url: str,
    path: str,
    requests: int,
    concurrency: int,
    *,
    form: Callable[[int], dict[str, str]] | None = None,
    expect: int = 200,
) -> Measured:
    """GET `path` (or POST form(n) to it) `requests` times with the harness's client."""
    http = open_pool(concurrency)
    gate = asyncio.Semaphore(concurrency)
    latencies: list[float] = []

    async def one(n: int) -> None:
        async with gate:
            started = time.perf_counter()
            if form is None:
                reply = http.get(f"{url}{path}")
            else:
                reply = http.post(f"{url}{path}", data=form(n), allow_redirects=False)
            async with reply as response:
                await response.read()
                status = response.status
            latencies.append((time.perf_counter() - started) * 1000)
            if status != expect:
                raise RuntimeError(f"{path} -> {status}")

    async def run_all() -> int:
        await asyncio.gather(*(one(n) for n in range(requests)))
        return 0

    result = await measured(requests, run_all(), latencies)
    await http.close()
    return result


async def ceiling(url: str, requests: int, concurrency: int) -> Measured:
    """GET /livez: the site's own stack with no database, template or session."""
    return await timed_requests(url, "/livez", requests, concurrency)


def baseline_form(n: int) -> dict[str, str]:
    """The registration's fields, as plain text for the baseline app."""
    return identity(n, salt=13).form()


async def primed_posts(
    url: str,
    count: int,
    concurrency: int,
    salt: int,
    *,
    prime: Callable[[Participant], Awaitable[str]],
    post: tuple[str, str, Callable[[Participant, str], dict[str, str]]],
) -> Measured:
    """Prime `count` browsers (session cookie and a form's CSRF token each), then time
    one POST from each alone. `post` is the path, the expected redirect and the form."""
    path, location, form = post
    pool = open_pool(concurrency)
    people = [
        Participant(url, pool, identity(n, salt), forwarded_for=forwarded_address(salt * 7 + n))
        for n in range(count)
    ]
    gate = asyncio.Semaphore(concurrency)

    async def primed(p: Participant) -> str:
        async with gate:
            return await prime(p)

    tokens = await asyncio.gather(*(primed(p) for p in people))
    latencies: list[float] = []

    async def one(p: Participant, token: str) -> bool:
        async with gate:
            started = time.perf_counter()
            response = await p.request(path.strip("/"), "POST", path, form(p, token))
            latencies.append((time.perf_counter() - started) * 1000)
            return (response.status_code, response.headers["location"]) != (302, location)

    async def run_all() -> int:
        failed = await asyncio.gather(*(one(p, t) for p, t in zip(people, tokens, strict=True)))
        return sum(failed)

    result = await measured(count, run_all(), latencies)
    await pool.close()
    return result


async def consents(url: str, count: int, concurrency: int, salt: int) -> Measured:
    """The site's cheapest write POST: consent (CSRF form, session cookie, one counter
    UPDATE; no rate limit), each browser having opened the campaign page."""
    return await primed_posts(
        url,
        count,
        concurrency,
        salt,
        prime=Participant.open_campaign,
        post=("/consent", "/register", lambda _p, token: Participant.consent(token)),
    )


async def registrations(url: str, count: int, concurrency: int, salt: int) -> Measured:
    """Registration POSTs alone, each browser having consented and opened the form."""
    return await primed_posts(
        url,
        count,
        concurrency,
        salt,
        prime=Participant.prime,
        post=("/register", "/quiz", Participant.registration),
    )


def line(label: str, m: Measured) -> str:
    return (
        f"{label:<28}{m.rate:8.0f} req/s  p50 {percentile(m.latencies, 50):6.1f} ms"
        f"  p99 {percentile(m.latencies, 99):6.1f} ms  CPU/request {m.machine_ms:5.2f} ms"
        f" (client {m.client_ms:4.2f})"
    )


def bench(label: str, database_url: str, args: argparse.Namespace, storage: str) -> None:
    c = args.concurrency
    with tempfile.TemporaryDirectory() as tmp:
        # The floor: a bare Flask app under the same gunicorn settings, on the same database.
        with run_baseline(database_url, Path(tmp) / "baseline", workers=args.workers) as url:
            run_async(timed_requests(url, "/ping", 200, c))  # warm the workers up
            bare = run_async(timed_requests(url, "/ping", args.ceiling_requests, c))
            plain = run_async(
                timed_requests(url, "/form", args.registrations, c, form=baseline_form, expect=302)
            )
        with run_server(
            database_url,
            Path(tmp) / "site",
            workers=args.workers,
            storage_uri=storage,
            register_limit=PRODUCTION_REGISTER_LIMIT,
            answer_limit=PRODUCTION_ANSWER_LIMIT,
            trusted_proxies=1,
        ) as server:
            run_async(ceiling(server.url, 200, c))  # warm the workers up
            top = run_async(ceiling(server.url, args.ceiling_requests, c))
            # The campaign's own address (/c/<slug>/): where its pages and links lead now.
            site = server.url.rstrip("/") + args.campaign_path
            agreed = run_async(consents(site, args.registrations, c, salt=10))
            reg = run_async(registrations(site, args.registrations, c, salt=11))
            flows = {
                scripted: run_async(
                    run_load(
                        site,
                        args.participants,
                        concurrency=c,
                        deadline=600,
                        salt=12 + scripted,
                        forwarded=True,
                        scripted=scripted,
                    )
                )
                for scripted in (True, False)
            }
            locked = server.log().count("database is locked")
    print(
        f"\n== {label}: {args.workers} gunicorn workers, {c} concurrent clients, "
        f"rate-limit storage {storage.split('://')[0]}"
    )
    print(line("bare Flask GET /ping", bare))
    print(f"{line('plain form POST + 1 INSERT', plain)}  = {plain.rate / bare.rate:5.1%} of bare")
    print(f"{line('ceiling GET /livez', top)}  = {top.rate / bare.rate:5.1%} of bare")
    print(
        f"{line('consent POST', agreed)}  = {agreed.rate / top.rate:5.1%} of ceiling  "
        f"(non-302: {agreed.failures})"
    )
    print(
        f"{line('registration POST', reg)}  = {reg.rate / top.rate:5.1%} of ceiling, "
        f"{reg.rate / plain.rate:5.1%} of plain POST  (non-302: {reg.failures})"
    )
    for scripted, report in flows.items():
        flow_rate = report.completed / report.elapsed
        flow_req = report.requests / report.elapsed
        label_flow = "complete participants" if scripted else "  the same without JavaScript"
        print(
            f"{label_flow:<28}{flow_rate:8.1f} /s     ({report.requests} requests, "
            f"{flow_req:.0f} req/s = {flow_req / top.rate:5.1%} of ceiling; "
            f"p99 {percentile(report.latencies(), 99):.1f} ms; "
            f"errors {len(report.errors)}, 5xx {report.server_errors}, locked {locked})"
        )
    flow = flows[True]
    RESULTS[label] = {
        "ceiling": top.rate,
        "register": reg.rate,
        "flow": flow.completed / flow.elapsed,
    }


RESULTS: dict[str, dict[str, float]] = {}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("-c", "--concurrency", type=int, default=64)
    parser.add_argument("--ceiling-requests", type=int, default=3000)
    parser.add_argument("--registrations", type=int, default=2000)
    parser.add_argument("--participants", type=int, default=1000)
    parser.add_argument(
        "--campaign-path",
        default=None,
        help="where the flow runs (default /c/<slug of the shipped campaign>; '' for /)",
    )
    args = parser.parse_args()
    if args.campaign_path is None:
        from quiz.campaign.spec import default_campaign_path, load_campaign_file

        args.campaign_path = f"/c/{load_campaign_file(default_campaign_path()).slug}"
    storage = os.environ.get("QUIZ_BENCH_REDIS_URL") or "memory://"
    print(f"machine: {os.cpu_count()} CPUs; client and server share them")
    with tempfile.TemporaryDirectory() as tmp:
        bench("SQLite", f"sqlite:///{tmp}/bench.sqlite3", args, storage)
    pg = os.environ.get("QUIZ_BENCH_PG_URL")
    if pg:
        with fresh_pg_database(pg) as url:
            bench("PostgreSQL", url, args, storage)
        s, p = RESULTS["SQLite"], RESULTS["PostgreSQL"]
        print(
            f"\nPostgreSQL / SQLite: registration {p['register'] / s['register']:.2f}, "
            f"complete participants {p['flow'] / s['flow']:.2f}"
        )
    return 0


if __name__ == "__main__":
    # SIGTERM (timeout, kill) unwinds like Ctrl-C, so the server and databases are cleaned up.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    raise SystemExit(main())
