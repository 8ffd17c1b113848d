"""Benchmark draw_v1 (sparse Fisher-Yates) against a naive full-list draw.

Run: ``.venv/bin/python tests/benchmarks/bench_draw_algorithm.py [--with-file]`` (pytest does
not collect it).
Each measurement runs in a fresh subprocess so ru_maxrss reflects that implementation alone.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))  # so `quiz.draw` imports without installing the project

from quiz.draw.algorithm import (  # noqa: E402
    EntrantFileDigest,
    RandomStream,
    derive_seed,
    draw_v1,
    read_entrant_file,
)

K = 8_888
SIZES = (1_000_000, 5_000_000)
RANDOMNESS = "2026-10-09 福利彩票双色球 03 07 12 19 25 31 + 09"
DIGEST = hashlib.sha256(b"benchmark").hexdigest()


def naive_draw(digest_hex: str, randomness: str, n: int, k: int) -> list[int]:
    """Full-list partial Fisher-Yates: the obvious O(N)-memory implementation."""
    stream = RandomStream(derive_seed(digest_hex, randomness))
    a = list(range(1, n + 1))
    for j in range(min(k, n)):
        r = stream.uniform(n - j)
        a[j], a[j + r] = a[j + r], a[j]
    return a[: min(k, n)]


IMPLEMENTATIONS = {"sparse draw_v1": draw_v1, "naive full list": naive_draw}


def measure(name: str, n: int) -> dict[str, float | str]:
    """Time one draw, then re-run it under tracemalloc; report peak and process max RSS."""
    func = IMPLEMENTATIONS[name]
    started = time.perf_counter()
    winners = func(DIGEST, RANDOMNESS, n, K)
    elapsed = time.perf_counter() - started
    tracemalloc.start()
    func(DIGEST, RANDOMNESS, n, K)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # ru_maxrss is KiB on Linux (bytes on macOS); this benchmark targets Linux hosts.
    maxrss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    fingerprint = hashlib.sha256("\n".join(map(str, winners)).encode()).hexdigest()[:16]
    return {
        "name": name,
        "n": n,
        "seconds": elapsed,
        "peak_mib": peak / 2**20,
        "maxrss_mib": maxrss_kib / 1024,
        "winners_sha256": fingerprint,
    }


def measure_file(n: int) -> None:
    """Time writing and strictly validating an N-line entrant file (what replay does first)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "entrants.tsv"
        started = time.perf_counter()
        with path.open("wb") as fh:
            builder = EntrantFileDigest(fh)
            for i in range(1, n + 1):
                builder.add(i, "张*三", f"138****{i % 10000:04d}")
        written = time.perf_counter() - started
        started = time.perf_counter()
        info = read_entrant_file(path)
        validated = time.perf_counter() - started
        # Separate pass: tracemalloc slows Python loops ~10x, and streaming keeps the peak
        # independent of N, so measuring it once at the smallest size is enough.
        peak_text = "n/a"
        if n == SIZES[0]:
            tracemalloc.start()
            read_entrant_file(path)
            peak_text = f"{tracemalloc.get_traced_memory()[1] / 2**20:.1f} MiB"
            tracemalloc.stop()
        assert info.n == n and info.digest == builder.hexdigest()
        size = path.stat().st_size / 2**20
        print(
            f"entrant file N = {n:,} ({size:.0f} MiB): write+hash {written:.1f} s, "
            f"read_entrant_file {validated:.1f} s, tracemalloc peak {peak_text}"
        )


def main() -> None:
    """Run every (implementation, N) pair in its own process and print a table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--child", nargs=2, metavar=("NAME", "N"), help=argparse.SUPPRESS)
    parser.add_argument(
        "--with-file", action="store_true", help="also time writing/validating entrant files"
    )
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child[0], int(args.child[1]))))
        return
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"K = {K:,}; interpreter baseline max RSS ≈ {baseline:.1f} MiB (this process)")
    header = f"{'implementation':<17} {'N':>10} {'time (s)':>9} {'tracemalloc peak':>17}"
    print(f"{header} {'max RSS':>10}  winners sha256")
    for n in SIZES:
        fingerprints = set()
        for name in IMPLEMENTATIONS:
            out = subprocess.run(  # noqa: S603 - fixed argv built from our own constants
                [sys.executable, __file__, "--child", name, str(n)],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            row = json.loads(out)
            fingerprints.add(row["winners_sha256"])
            print(
                f"{row['name']:<17} {n:>10,} {row['seconds']:>9.4f} "
                f"{row['peak_mib']:>13.2f} MiB {row['maxrss_mib']:>6.1f} MiB  "
                f"{row['winners_sha256']}"
            )
        assert len(fingerprints) == 1, "implementations disagree"
    if args.with_file:
        for n in SIZES:
            measure_file(n)


if __name__ == "__main__":
    main()
