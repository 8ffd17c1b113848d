"""Importing a generated entrant list into a list draw while the quiz takes registrations.

Starts the real site under gunicorn (tests/load/server.py, the quiz campaign open),
loads the example list draw (its window moved to the past, the freeze deadline ahead),
writes a CSV of ROWS fictitious customers and runs `quiz draw import-entrants --yes` as
a process of its own, timing it (wall seconds, rows/s) and reading its peak RSS from the
kernel (wait4). Meanwhile new participants register on the quiz one after another
through the public flow; their POST /register latencies are printed.

With --end-to-end it then freezes, runs the draw with a result in the declared format,
and checks that `quiz draw winners`, the checker served at /c/<slug>/draw/verify_draw.py
and `quiz draw replay` name exactly the same winners (issue 21's Must show).

    .venv/bin/python tests/benchmarks/bench_list_import.py --rows 1000000
    .venv/bin/python tests/benchmarks/bench_list_import.py --rows 100000 --end-to-end
    .venv/bin/python tests/benchmarks/bench_list_import.py --pg postgresql+psycopg://postgres@127.0.0.1:55432/postgres
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from quiz.clock import CHINA  # noqa: E402
from quiz.draw import demo  # noqa: E402
from tests.load.harness import csrf_in, identity  # noqa: E402
from tests.load.server import database_for, quiz_command, run_server  # noqa: E402

EXAMPLE = ROOT / "quiz" / "data" / "campaign" / "reinstatement-draw.toml"
SLUG = "reinstatement-draw-2027"
QUIZ_SLUG = "insurance-quiz-2026"
RANDOMNESS = "05 11 16 23 28 32 + 07"


def moved_example(workdir: Path) -> Path:
    """The shipped list draw, closed two days ago, drawn just now, freeze deadline ahead."""
    now = datetime.now(UTC)
    text = EXAMPLE.read_text("utf-8")
    for key, moment in (
        ("opens_at", now - timedelta(days=90)),
        ("closes_at", now - timedelta(days=2)),
        ("draw_at", now - timedelta(minutes=5)),
        ("freeze_deadline", now + timedelta(days=1)),
    ):
        local = moment.astimezone(CHINA).strftime("%Y-%m-%dT%H:%M:%S")
        text = re.sub(rf"(?m)^{key} = .*$", f"{key} = {local}", text)
    path = workdir / "reinstatement-draw.toml"
    path.write_text(text, "utf-8")
    return path


def quiz(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(  # noqa: S603 - our own CLI
        [*quiz_command(), *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"quiz {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def register(url: str, n: int) -> tuple[int, float]:
    """One new participant through the quiz's public flow (under /c/<slug>/, since the
    site now has two campaigns); POST /register's status and time."""
    base = f"/c/{QUIZ_SLUG}"
    with httpx.Client(base_url=url, timeout=60) as client:
        token = csrf_in(client.get(f"{base}/").text, f"{base}/")
        consent = {"agree_rules": "y", "agree_sensitive": "y", "csrf_token": token}
        client.post(f"{base}/consent", data=consent)
        token = csrf_in(client.get(f"{base}/register").text, f"{base}/register")
        started = time.perf_counter()
        form = {"csrf_token": token, **identity(n, 11).form()}
        resp = client.post(f"{base}/register", data=form)
        return resp.status_code, time.perf_counter() - started


def _tree_memory_kib(pid: int) -> tuple[int, int]:
    """Memory of a process and its children now, in KiB: (PSS, RSS) summed. PSS shares
    each page among the processes mapping it (the memory the import really takes); RSS
    counts a shared page once per process (an upper bound)."""
    pids = [pid]
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            pids += [int(c) for c in (task / "children").read_text().split()]
    except OSError:
        return 0, 0
    pss = rss = 0
    for one in pids:
        try:
            rollup = Path(f"/proc/{one}/smaps_rollup").read_text()
        except OSError:
            continue
        for name, value in re.findall(r"^(Pss|Rss):\s+(\d+) kB", rollup, re.M):
            if name == "Pss":
                pss += int(value)
            else:
                rss += int(value)
    return pss, rss


def timed_import(env: dict[str, str], listed: Path) -> tuple[float, int, str]:
    """Run the import as its own process: wall seconds, memory in KiB (peak PSS and RSS
    of the import and its helper together, sampled every 0.2 s, and wait4's ru_maxrss),
    its output."""
    started = time.perf_counter()
    process = subprocess.Popen(  # noqa: S603 - our own CLI
        [*quiz_command(), "draw", "import-entrants", str(listed), "--campaign", SLUG, "--yes"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(process.stdout or []))
    reader.start()
    peak = [0, 0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.2):
            pss, rss = _tree_memory_kib(process.pid)
            peak[0], peak[1] = max(peak[0], pss), max(peak[1], rss)

    sampler = threading.Thread(target=sample)
    sampler.start()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    reader.join()
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError("import failed:\n" + "".join(output))
    return seconds, (peak[0], peak[1], usage.ru_maxrss), "".join(output)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--end-to-end", action="store_true")
    parser.add_argument(
        "--pace", type=float, default=0.5, help="seconds from one registration to the next"
    )
    parser.add_argument("--pg", default="", help="a PostgreSQL server URL (a new database)")
    parser.add_argument(
        "--baseline", type=int, default=30, help="registrations timed before the import"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        with (
            database_for(workdir, args.pg) as url,
            run_server(url, workdir, workers=args.workers) as server,
        ):
            print(f"database: {'PostgreSQL' if args.pg else 'SQLite'}")
            env = {**server.env}
            quiz(env, "campaign", "load", str(moved_example(workdir)))
            now = datetime.now(CHINA).date()
            started = time.perf_counter()
            listed = demo.write_list(
                workdir / "list.csv",
                args.rows,
                [f"B{code}" for code in ("11", "31", "44", "42", "51")],
                now - timedelta(days=80),
                now - timedelta(days=3),
            )
            print(
                f"generated {args.rows:,} rows, {listed.stat().st_size / 1_048_576:.1f} MB, "
                f"in {time.perf_counter() - started:.1f} s"
            )
            # The baseline, in the same run: registrations with no import going on.
            quiet = [register(server.url, 1_000_000 + n) for n in range(args.baseline)]
            latencies: list[float] = []
            statuses: list[int] = []
            result: dict[str, object] = {}

            def run_import() -> None:
                result["figures"] = timed_import(env, listed)

            importer = threading.Thread(target=run_import)
            importer.start()
            n = 0
            while importer.is_alive():
                began = time.perf_counter()
                status, seconds = register(server.url, n)
                statuses.append(status)
                latencies.append(seconds)
                n += 1
                # A steady stream of visitors (--pace s between registrations; 0: flat out).
                time.sleep(max(0.0, args.pace - (time.perf_counter() - began)))
            importer.join()
            seconds, (pss, rss, maxrss), output = result["figures"]  # type: ignore[misc]
            print(next(line for line in output.splitlines() if line.startswith("共读取")))
            print(
                f"import: {seconds:.1f} s wall, {args.rows / seconds:,.0f} rows/s; memory of "
                f"the import and its helper process together: peak PSS {pss / 1024:.0f} MB, "
                f"peak RSS {rss / 1024:.0f} MB (shared pages counted twice); largest single "
                f"process (wait4 ru_maxrss) {maxrss / 1024:.0f} MB"
            )
            baseline = _latency_line("POST /register, no import (baseline)", quiet)
            during = _latency_line(
                "POST /register while importing", list(zip(statuses, latencies, strict=False))
            )
            print(baseline[0])
            print(during[0])
            if baseline[1] and during[1]:
                print(f"median while importing / baseline median: {during[1] / baseline[1]:.2f}x")
            if args.end_to_end:
                end_to_end(env, server.url, workdir)
    return 0


def _latency_line(label: str, timed: list[tuple[int, float]]) -> tuple[str, float]:
    """A printed line of n, median, p95, max and statuses; and the median in seconds."""
    if not timed:
        return f"{label}: none", 0.0
    ordered = sorted(seconds for _, seconds in timed)
    p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)]
    median = statistics.median(ordered)
    return (
        f"{label}: n={len(ordered)} median={median * 1000:.0f} ms p95={p95 * 1000:.0f} ms "
        f"max={ordered[-1] * 1000:.0f} ms statuses={sorted({status for status, _ in timed})}"
    ), median


def end_to_end(env: dict[str, str], url: str, workdir: Path) -> None:
    """Freeze, run, and compare the winners from the three sources."""
    for step in (
        ("draw", "freeze", "--campaign", SLUG),
        ("draw", "run", RANDOMNESS, "--campaign", SLUG, "--yes"),
    ):
        started = time.perf_counter()
        out = quiz(env, *step)
        took = time.perf_counter() - started
        print(f"quiz {' '.join(step)}: {took:.1f} s; {out.strip().splitlines()[0]}")
    printed = quiz(env, "draw", "winners", "--campaign", SLUG)
    winners = [line.split("\t")[1] for line in printed.splitlines()[1:]]
    entrants = workdir / "entrants.txt"
    quiz(env, "draw", "export-entrants", str(entrants), "--campaign", SLUG)
    program = httpx.get(f"{url}/c/{SLUG}/draw/verify_draw.py", timeout=30)
    (workdir / "verify_draw.py").write_bytes(program.content)
    checked = subprocess.run(  # noqa: S603 - the published checker, run with this interpreter
        [sys.executable, "-I", "verify_draw.py", "entrants.txt", RANDOMNESS, str(len(winners))],
        cwd=workdir,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    replayed = quiz(
        env, "draw", "replay", str(entrants), RANDOMNESS, "--winners", str(len(winners))
    ).split()
    print(f"winners printed by quiz draw winners: {len(winners)}; first five {winners[:5]}")
    print(f"verify_draw.py (served by the site) agrees: {checked == winners}")
    print(f"quiz draw replay agrees: {replayed == winners}")
    if not (checked == winners and replayed == winners):
        raise SystemExit("MISMATCH")


if __name__ == "__main__":
    raise SystemExit(main())
