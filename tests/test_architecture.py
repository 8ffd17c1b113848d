"""The layout rules that import-linter cannot see, and the contracts themselves.

import-linter (pyproject.toml, run by .ci/run) keeps every import pointing down. It sees
modules, not names: `from flask import request` is an import of `flask`. This test reads
every module and allows the request globals only where a request is being handled.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUIZ = ROOT / "quiz"
REQUEST_GLOBALS = {"request", "session", "g"}
# Views, request plumbing and the extension hooks that key rate limits on the client.
MAY_READ_THE_REQUEST = (
    "quiz/public/",
    "quiz/admin/",
    "quiz/web/",
    "quiz/server/",
    "quiz/extensions.py",
)


def request_globals_imported(source: str) -> set[str]:
    """Names of flask's request globals that `source` imports (`import flask` counts)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module == "flask":
            found |= {a.name for a in node.names} & REQUEST_GLOBALS
        elif isinstance(node, ast.Import) and any(a.name == "flask" for a in node.names):
            found.add("flask")
    return found


def test_the_checker_sees_each_way_of_importing_the_request() -> None:
    assert request_globals_imported("from flask import request") == {"request"}
    assert request_globals_imported("def f():\n    from flask import g, session") == {
        "g",
        "session",
    }
    assert request_globals_imported("import flask") == {"flask"}
    assert request_globals_imported("from flask import current_app") == set()


def test_only_views_and_request_plumbing_read_the_request() -> None:
    offenders = {}
    for path in sorted(QUIZ.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith(MAY_READ_THE_REQUEST):
            continue
        names = request_globals_imported(path.read_text("utf-8"))
        if names:
            offenders[rel] = sorted(names)
    assert offenders == {}, "services take plain values; read the request in the view"


def test_at_most_eight_modules_sit_flat_in_the_package() -> None:
    flat = sorted(p.name for p in QUIZ.glob("*.py") if p.name != "__init__.py")
    assert len(flat) <= 8, flat


def test_import_contracts_hold() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:]
