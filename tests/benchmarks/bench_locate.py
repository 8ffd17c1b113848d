"""Accuracy, bulk speed, import time and memory of the address parser vs. competitors.

Run: .venv/bin/python tests/benchmarks/bench_locate.py [labelled.tsv]
Competitors (cpca_new, cpca, jionlp) are measured in the same run when installed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from quiz.regions import divisions  # noqa: E402
from quiz.regions.divisions import MUNICIPALITIES  # noqa: E402

DEFAULT_SET = ROOT / "tests" / "data" / "addresses" / "labelled.tsv"
Triple = tuple[str, str, str]  # province_code, city_code, district_code ('' when unknown)

# Child process: import + build the matcher + one parse, then report time and RSS.
_PROBE = """
import json, sys, time
def rss():
    for line in open('/proc/self/status'):
        if line.startswith('VmRSS'):
            return int(line.split()[1]) / 1024
{pre}
base = rss()
t = time.perf_counter()
{setup}
first = time.perf_counter() - t
print(json.dumps({{"ready_s": first, "rss_mb": rss(), "delta_mb": rss() - base}}))
"""

_OURS_SETUP = "from quiz.regions.parser import parse_address\nparse_address('广东省深圳市南山区')"


def load(path: Path) -> list[tuple[str, Triple]]:
    """Read address rows with their expected codes."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        address, province, city, district = (line.split("\t") + ["", "", ""])[:4]
        rows.append((address, (province, city, district)))
    return rows


def normalise(code: str | None) -> Triple:
    """Map any 6-digit code to (province, city, district) in this repo's convention."""
    if not code or len(code) < 6:
        return ("", "", "")
    code = code[:6]
    province = code[:2] + "0000"
    if code == province:
        return (province, province if province in MUNICIPALITIES else "", "")
    if province in MUNICIPALITIES:
        return (province, province, code)
    prefecture = code[:4] + "00"
    if divisions.get(prefecture) is not None:
        return (province, prefecture, "" if code == prefecture else code)
    return (province, code, "")  # county-level city directly under the province


def score(name: str, predict: Callable[[list[str]], list[Triple]], rows, passes: int) -> dict:
    """Accuracy on the labelled rows and throughput over `passes` bulk passes."""
    texts = [r[0] for r in rows]
    predicted = predict(texts)
    start = time.perf_counter()
    for _ in range(passes):
        predict(texts)
    rate = passes * len(texts) / (time.perf_counter() - start)
    n = len(rows)
    prov = sum(p[0] == e[0] for p, (_, e) in zip(predicted, rows, strict=True))
    city = sum(p[:2] == e[:2] for p, (_, e) in zip(predicted, rows, strict=True))
    with_district = [(p, e) for p, (_, e) in zip(predicted, rows, strict=True) if e[2]]
    dist = sum(p == e for p, e in with_district)
    return {
        "parser": name,
        "province_%": 100 * prov / n,
        "city_%": 100 * city / n,
        "district_%": 100 * dist / max(1, len(with_district)),
        "addr_per_s": rate,
        "misses": [
            (t, p, e) for t, p, (_, e) in zip(texts, predicted, rows, strict=True) if p[:2] != e[:2]
        ],
    }


def probe(setup: str, pre: str = "") -> dict:
    """Import time and resident memory in a fresh interpreter (`pre` runs before timing)."""
    out = subprocess.run(
        [sys.executable, "-c", _PROBE.format(setup=setup, pre=pre)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def ours() -> Callable[[list[str]], list[Triple]]:
    """This repo's parser."""
    from quiz.regions.parser import parse_address

    def run(texts: list[str]) -> list[Triple]:
        result = []
        for text in texts:
            loc = parse_address(text)
            result.append((loc.province_code or "", loc.city_code or "", loc.district_code or ""))
        return result

    return run


def cpca_like(module_name: str) -> Callable[[list[str]], list[Triple]]:
    """cpca and its forks: DataFrame with an adcode column."""
    module = __import__(module_name)

    def run(texts: list[str]) -> list[Triple]:
        frame = module.transform(texts)
        return [normalise(code) for code in frame["adcode"].fillna("").astype(str)]

    return run


def jionlp_parser() -> Callable[[list[str]], list[Triple]]:
    """jionlp.parse_location: names only, mapped back to codes via our table."""
    import jionlp

    names = {(d.name, d.parent_code): d.code for d in divisions.all_divisions()}
    provinces = {d.name: d.code for d in divisions.provinces()}

    def run(texts: list[str]) -> list[Triple]:
        out = []
        for text in texts:
            r = jionlp.parse_location(text)
            p = provinces.get(r.get("province") or "", "")
            c = names.get((r.get("city") or "", p), "")
            d = names.get((r.get("county") or "", c or p), "")
            out.append(normalise(d or c or p))
        return out

    return run


def main() -> None:
    """Print a side-by-side table for every parser available."""
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_SET
    rows = load(path)
    print(f"labelled set: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    print(f"rows: {len(rows)}")
    contenders: list[tuple[str, Callable, str, int]] = [("quiz.regions", ours, _OURS_SETUP, 10)]
    for module, setup in (("cpca_new", "import cpca_new"), ("cpca", "import cpca")):
        contenders.append((module, lambda m=module: cpca_like(m), setup, 3))
    contenders.append(("jionlp", jionlp_parser, "import jionlp", 0))
    header = f"{'parser':<14}{'prov %':>8}{'city %':>8}{'dist %':>8}{'addr/s':>10}"
    print(header + f"{'ready s':>9}{'RSS MB':>8}{'+MB':>7}")
    results = []
    for name, factory, setup, passes in contenders:
        try:
            predict = factory()
        except ImportError:
            print(f"{name:<14}not installed, skipped")
            continue
        result = score(name, predict, rows, passes or 1)
        result |= probe(setup, pre="import quiz" if name == "quiz.regions" else "")
        results.append(result)
        print(
            f"{name:<14}{result['province_%']:>8.2f}{result['city_%']:>8.2f}"
            f"{result['district_%']:>8.2f}{result['addr_per_s']:>10,.0f}"
            f"{result['ready_s']:>9.3f}{result['rss_mb']:>8.1f}{result['delta_mb']:>7.1f}"
        )
    # quiz/__init__.py imports Flask and SQLAlchemy; the parser's own cost is measured
    # after that package import, the whole fresh-process cost is shown for reference.
    own = probe(_OURS_SETUP, pre="import quiz")
    total = probe(_OURS_SETUP)
    print(
        f"\nquiz.regions parser alone: ready {own['ready_s']:.3f} s, +{own['delta_mb']:.1f} MB RSS;"
        f" fresh process incl. the quiz package: {total['ready_s']:.3f} s, {total['rss_mb']:.1f} MB"
    )
    misses = results[0]["misses"]
    print(f"\nquiz.regions city misses: {len(misses)} (first 15)")
    for text, got, expected in misses[:15]:
        print(f"  {text}\tgot={got}\texpected={expected}")


if __name__ == "__main__":
    main()
