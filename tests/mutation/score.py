"""Mutation score per module group (README "Mutation check").

Runs mutmut once per group, each in its own copy of the project under
``mutants/groups/<group>/`` (git-ignored), with only that group's tests as the runner,
and prints one line per group::

    module  killed/total  score  equivalents

``total`` excludes the equivalent mutants listed in ``tests/mutation/equivalents.toml``
(file:line, the mutation and why no test can tell it apart). Every other mutant that is
not killed counts against the score, including "no tests" and "suspicious" ones, and is
printed below the table with its diff.

Usage (from the project root; not part of CI's time budget):

    nice -n 10 .venv/bin/python tests/mutation/score.py              # every group
    nice -n 10 .venv/bin/python tests/mutation/score.py identity parser
    .venv/bin/python tests/mutation/score.py --report-only           # the last results

Results are kept per group: a second run re-tests only the mutants not killed yet (after
adding tests). After changing one of the mutated files, run its group with ``--fresh``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GROUPS_DIR = ROOT / "mutants" / "groups"
EQUIVALENTS = Path(__file__).with_name("equivalents.toml")
MUTMUT = Path(sys.executable).with_name("mutmut")
# What a test run needs besides quiz/ and tests/ (templates, the campaign file's
# neighbours, migrations for the database fixtures).
COPIED = ["quiz", "tests", "migrations", "templates", "static", "README.md", "wsgi.py"]
# Status names as mutmut 3 stores them (exit code of the test run per mutant).
KILLED_CODES = {1, 3, -24, 24, 36, 152, 255}  # failed, pytest error, or timed out


@dataclass(frozen=True)
class Group:
    files: tuple[str, ...]
    # Mutant name globs: the functions mutated (mutmut names them quiz.mod.x_func__mutmut_N).
    names: tuple[str, ...]
    tests: tuple[str, ...]
    # Wall-clock budgets: the mutation run is slow by design (trampolines, a loaded
    # machine), so a time limit there fails the clean run rather than a mutant.
    deselect: tuple[str, ...] = ()


GROUPS: dict[str, Group] = {
    "identity": Group(
        files=("quiz/identity.py",),
        names=("quiz.identity.*",),
        tests=("tests/test_identity.py",),
    ),
    "draw": Group(
        files=("quiz/draw/algorithm.py",),
        names=("quiz.draw.algorithm.*",),
        tests=("tests/draw/test_algorithm.py",),
        deselect=("tests/draw/test_algorithm.py::test_large_draw_is_fast_and_small",),
    ),
    "parser": Group(
        files=("quiz/regions/parser.py",),
        names=("quiz.regions.parser.*",),
        tests=("tests/regions/test_parser.py", "tests/regions/test_locate.py"),
    ),
    # The scoring functions only: the rest of engine/ is storage plumbing tested by behaviour.
    "scoring": Group(
        files=("quiz/engine/sheets.py", "quiz/engine/bank.py"),
        names=(
            "quiz.engine.sheets.x_answer_on_sheet*",
            "quiz.engine.sheets.x__with_answer*",
            "quiz.engine.sheets.x__finish*",
            "quiz.engine.sheets.x_outcome_of*",
            "quiz.engine.bank.x_choose_questions*",
        ),
        tests=("tests/entry/test_signup.py", "tests/public/test_entry_views.py"),
    ),
    # The exports' formula neutraliser and the invisible-character rule every typed text
    # passes through before it can reach an export.
    "neutraliser": Group(
        files=("quiz/leads/exports.py", "quiz/text_safety.py"),
        names=(
            "quiz.leads.exports.x_neutralise*",
            "quiz.leads.exports.x__neutralised*",
            "quiz.text_safety.*",
        ),
        tests=("tests/leads/test_exports.py", "tests/test_text_safety.py"),
    ),
    "access": Group(
        files=("quiz/admin/access.py", "quiz/leads/scope.py"),
        names=("quiz.admin.access.*", "quiz.leads.scope.*"),
        tests=(
            "tests/admin/test_access_map.py",
            "tests/admin/test_leads.py",
            "tests/admin/test_lead_contact.py",
        ),
    ),
}


def load_equivalents() -> dict[str, dict[str, str]]:
    data = tomllib.loads(EQUIVALENTS.read_text("utf-8"))
    return {entry["mutant"]: entry for entry in data.get("equivalent", [])}


def _toml_value(value: object) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(value)  # str, bool and int are written the same in TOML and JSON


def group_pyproject(group: Group) -> str:
    """The project's pyproject.toml with [tool.mutmut] narrowed to one group."""
    text = (ROOT / "pyproject.toml").read_text("utf-8")
    settings = dict(tomllib.loads(text)["tool"]["mutmut"])
    settings["only_mutate"] = list(group.files)
    settings["pytest_add_cli_args_test_selection"] = list(group.tests)
    for test in group.deselect:
        settings["pytest_add_cli_args"] = [
            *settings.get("pytest_add_cli_args", []),
            "--deselect",
            test,
        ]
    start = text.index("[tool.mutmut]")
    end = text.find("\n[", start + 1)
    section = "[tool.mutmut]\n" + "".join(f"{k} = {_toml_value(v)}\n" for k, v in settings.items())
    return text[:start] + section + ("\n" + text[end + 1 :] if end != -1 else "")


def prepare(name: str, group: Group, fresh: bool) -> Path:
    work = GROUPS_DIR / name
    if fresh and work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "mutants", ".hypothesis")
    for item in COPIED:
        source, target = ROOT / item, work / item
        if target.is_dir():
            shutil.rmtree(target)
        if source.is_dir():
            shutil.copytree(source, target, ignore=ignore)
        else:
            shutil.copy2(source, target)
    (work / "pyproject.toml").write_text(group_pyproject(group), "utf-8")
    return work


def run(work: Path, group: Group, children: int, names: list[str]) -> int:
    env = dict(os.environ)
    env.pop("QUIZ_TEST_DATABASE_URL", None)  # SQLite: one database file per test, no server
    command = [str(MUTMUT), "run", "--max-children", str(children), *names]
    return subprocess.run(command, cwd=work, env=env, check=False).returncode


def exit_codes(work: Path, group: Group) -> dict[str, int | None]:
    codes: dict[str, int | None] = {}
    for file in group.files:
        meta = work / "mutants" / (file + ".meta")
        if meta.exists():
            codes.update(json.loads(meta.read_text("utf-8"))["exit_code_by_key"])
    return {k: v for k, v in codes.items() if any(fnmatchcase(k, n) for n in group.names)}


def show(work: Path, mutant: str) -> str:
    result = subprocess.run(
        [str(MUTMUT), "show", mutant], cwd=work, capture_output=True, text=True, check=False
    )
    return result.stdout.strip()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("groups", nargs="*", metavar="GROUP", help=", ".join(GROUPS))
    parser.add_argument("--max-children", type=int, default=2)
    parser.add_argument("--fresh", action="store_true", help="discard a group's earlier results")
    parser.add_argument("--report-only", action="store_true", help="print the last results")
    parser.add_argument("--quiet", action="store_true", help="no diffs of the survivors")
    parser.add_argument(
        "--list-equivalents", action="store_true", help="print the equivalent mutants and why"
    )
    args = parser.parse_args()
    names = args.groups or list(GROUPS)
    unknown = [n for n in names if n not in GROUPS]
    if unknown:
        parser.error(f"unknown group(s) {', '.join(unknown)}; known: {', '.join(GROUPS)}")
    equivalents = load_equivalents()

    rows, survivors, failed = [], [], False
    for name in names:
        group = GROUPS[name]
        work = GROUPS_DIR / name
        if not args.report_only:
            work = prepare(name, group, args.fresh)
            # mutmut re-runs every mutant it is given by name, cached or not: after a first
            # run, name only those not killed yet (tests are added, so kills stand).
            earlier = exit_codes(work, group)
            todo = [m for m, c in earlier.items() if c not in KILLED_CODES and m not in equivalents]
            names_to_run = sorted(todo) if earlier else list(group.names)
            if names_to_run and run(work, group, args.max_children, names_to_run) != 0:
                print(f"mutmut run failed for {name}", file=sys.stderr)
                failed = True
        codes = exit_codes(work, group)
        equivalent = [m for m in codes if m in equivalents]
        judged = {m: c for m, c in codes.items() if m not in equivalents}
        killed = sum(1 for c in judged.values() if c in KILLED_CODES)
        not_run = sum(1 for c in judged.values() if c is None)
        score = f"{100 * killed / len(judged):.1f} %" if judged else "-"
        killed_equivalents = [m for m in equivalent if codes[m] in KILLED_CODES]
        rows.append((name, f"{killed}/{len(judged)}", score, str(len(equivalent)), not_run))
        survivors += [(name, m, c) for m, c in sorted(judged.items()) if c not in KILLED_CODES]
        for m in killed_equivalents:
            print(f"note: {m} is listed as equivalent but a test kills it: drop it from the list")

    print(f"\n{'module':<12} {'killed/total':>13} {'score':>8} {'equivalents':>12}")
    for name, ratio, score, eq, not_run in rows:
        extra = f"  ({not_run} not run yet)" if not_run else ""
        print(f"{name:<12} {ratio:>13} {score:>8} {eq:>12}{extra}")
    if args.list_equivalents:
        for entry in equivalents.values():
            print(
                f"\n{entry['where']}  {entry['mutation']}\n    {entry['why']}  ({entry['mutant']})"
            )
    if survivors:
        print(f"\n{len(survivors)} not killed (exit 0 survived, 5/33 no tests, None not run):")
        for name, mutant, code in survivors:
            print(f"\n--- [{name}] {mutant} (exit {code})")
            if not args.quiet:
                print(show(GROUPS_DIR / name, mutant))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
