"""Tests for the `replay` CLI and for the stand-alone verification snippet in the README."""

from __future__ import annotations

import ast
import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import quiz.draw
from quiz.draw.algorithm import EntrantFileDigest, draw_v1
from quiz.draw.replay import replay, replay_command

REPO_ROOT = Path(__file__).resolve().parents[2]
DRAW_DIR = Path(quiz.draw.__file__).resolve().parent
RANDOMNESS = "2026-10-09 福利彩票双色球 03 07 12 19 25 31 + 09"
NAMES = ["张*三", "李*四", "王*五", "赵*六", "钱*七", "孙*八", "周*九", "吴*十", "郑*明", "冯*华"]
DIGEST = "67db7a6e5e768e926f7f0fcadf6d2411826e7c298be3cd5038deb95b1b404765"


@pytest.fixture
def example_file(tmp_path: Path) -> Path:
    """The README worked-example entrant file (N = 10)."""
    path = tmp_path / "entrants.tsv"
    with path.open("wb") as fh:
        builder = EntrantFileDigest(fh)
        for i, name in enumerate(NAMES, start=1):
            builder.add(i, name, f"138****{i:04d}")
    assert builder.hexdigest() == DIGEST
    return path


def make_file(tmp_path: Path, n: int) -> Path:
    """Write a synthetic entrant file with n entrants."""
    path = tmp_path / f"entrants_{n}.tsv"
    with path.open("wb") as fh:
        builder = EntrantFileDigest(fh)
        for i in range(1, n + 1):
            builder.add(i, f"{NAMES[i % 10][0]}*{NAMES[i % 7][2]}", f"139****{i % 10000:04d}")
    return path


def subprocess_env() -> dict[str, str]:
    """Environment that makes the repo importable and argv/stdout UTF-8."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env["PYTHONUTF8"] = "1"
    return env


# ---------------------------------------------------------------------------------------
# CliRunner
# ---------------------------------------------------------------------------------------


def test_cli_worked_example(example_file: Path) -> None:
    """Prints the winners one per line, in draw order, and nothing else on stdout."""
    result = CliRunner().invoke(replay_command, [str(example_file), RANDOMNESS, "--winners", "3"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "10\n4\n3\n"


def test_cli_details_go_to_stderr(example_file: Path) -> None:
    """--details adds digest and seed on stderr without changing stdout."""
    args = [str(example_file), RANDOMNESS, "--winners", "3", "--details"]
    result = CliRunner().invoke(replay_command, args)
    assert result.exit_code == 0, result.output
    assert result.stdout == "10\n4\n3\n"
    assert f"entrant digest: {DIGEST}" in result.stderr
    assert "seed: 16437164c4146fa554adc7a2ed8a02da8f79b8c46cd02ba24a024c1f9cda4cef" in result.stderr
    assert "entrants: 10" in result.stderr


def test_cli_more_prizes_than_entrants(example_file: Path) -> None:
    """N < K: every entrant is printed once."""
    result = CliRunner().invoke(
        replay_command, [str(example_file), RANDOMNESS, "--winners", "8888"]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.split() == ["10", "4", "3", "5", "1", "7", "6", "8", "2", "9"]


def test_cli_zero_winners(example_file: Path) -> None:
    """K = 0 prints nothing."""
    result = CliRunner().invoke(replay_command, [str(example_file), RANDOMNESS, "--winners", "0"])
    assert result.exit_code == 0
    assert result.stdout == ""


def test_cli_randomness_starting_with_dash(example_file: Path) -> None:
    """`--` lets a randomness string start with a dash; it is used verbatim."""
    args = ["--winners", "3", "--", str(example_file), "-7 福"]
    result = CliRunner().invoke(replay_command, args)
    assert result.exit_code == 0, result.output
    assert result.stdout.split() == [str(w) for w in draw_v1(DIGEST, "-7 福", 10, 3)]


def test_cli_invalid_file_reports_line(tmp_path: Path, example_file: Path) -> None:
    """A malformed file fails with exit code 1 and a line-precise message."""
    bad = tmp_path / "bad.tsv"
    bad.write_bytes(example_file.read_bytes() + b"12\tx\ty\n")
    result = CliRunner().invoke(replay_command, [str(bad), RANDOMNESS, "--winners", "3"])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "line 11" in result.stderr and "out of sequence" in result.stderr


def test_cli_empty_file_refused(tmp_path: Path) -> None:
    """N = 0 is refused with a clear error."""
    empty = tmp_path / "empty.tsv"
    empty.write_bytes(b"")
    result = CliRunner().invoke(replay_command, [str(empty), RANDOMNESS, "--winners", "3"])
    assert result.exit_code == 1
    assert "no entrants" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["missing.tsv", "x", "--winners", "3"],  # file does not exist
        ["{file}", "x"],  # --winners is required
        ["{file}", "x", "--winners", "-1"],  # negative K
        ["{file}", "x", "--winners", "three"],  # not an integer
        ["{file}", "--winners", "3"],  # randomness missing
    ],
)
def test_cli_usage_errors(example_file: Path, args: list[str]) -> None:
    """Usage errors exit with code 2."""
    args = [a.replace("{file}", str(example_file)) for a in args]
    result = CliRunner().invoke(replay_command, args)
    assert result.exit_code == 2, result.output


def test_cli_unencodable_randomness(example_file: Path) -> None:
    """A randomness string with lone surrogates (undecodable argv) is refused, not crashed on."""
    result = CliRunner().invoke(replay_command, [str(example_file), "a\udcff", "--winners", "3"])
    assert result.exit_code == 1
    assert "UTF-8" in result.stderr


def test_replay_function(tmp_path: Path) -> None:
    """The plain function equals draw_v1 over the file's digest and count."""
    path = make_file(tmp_path, 500)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert replay(path, "福 x", 40) == draw_v1(digest, "福 x", 500, 40)


def test_command_name() -> None:
    """The command can be attached to a `draw` group as `replay`."""
    assert replay_command.name == "replay"


# ---------------------------------------------------------------------------------------
# Subprocesses
# ---------------------------------------------------------------------------------------


def test_python_m_replay(example_file: Path) -> None:
    """`python -m quiz.draw.replay FILE RANDOMNESS --winners K` works from a shell."""
    proc = subprocess.run(
        [sys.executable, "-m", "quiz.draw.replay", str(example_file), RANDOMNESS, "--winners", "3"],
        capture_output=True,
        cwd=REPO_ROOT,
        env=subprocess_env(),
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout == b"10\n4\n3\n"


def test_python_m_replay_error_exit_code(tmp_path: Path) -> None:
    """Validation errors give exit code 1 and a message on stderr."""
    bad = tmp_path / "bad.tsv"
    bad.write_bytes(b"1\tx\ty\r\n")
    proc = subprocess.run(
        [sys.executable, "-m", "quiz.draw.replay", str(bad), "x", "--winners", "3"],
        capture_output=True,
        cwd=REPO_ROOT,
        env=subprocess_env(),
        timeout=120,
        check=False,
    )
    assert proc.returncode == 1
    assert b"line 1" in proc.stderr and b"CR" in proc.stderr


def readme_snippet() -> str:
    """Extract the Python verification snippet from README_SECTION.md."""
    text = (DRAW_DIR / "README_SECTION.md").read_text("utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    assert len(blocks) == 1
    return blocks[0]


def test_readme_snippet_is_short_and_hashlib_only() -> None:
    """The public snippet stays small and imports nothing beyond hashlib and sys."""
    snippet = readme_snippet()
    imported = {
        alias.name
        for node in ast.walk(ast.parse(snippet))
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert imported == {"hashlib", "sys"}
    assert len(snippet.strip().splitlines()) <= 30


@pytest.mark.parametrize(
    ("n", "k", "randomness"),
    [(10, 3, RANDOMNESS), (10, 50, RANDOMNESS), (1, 1, "x"), (3000, 300, " 福 利\t彩票 ")],
)
def test_readme_snippet_agrees(tmp_path: Path, n: int, k: int, randomness: str) -> None:
    """The README snippet, run in an isolated interpreter, reproduces draw_v1 exactly."""
    script = tmp_path / "verify_draw.py"
    script.write_text(readme_snippet(), "utf-8")
    path = make_file(tmp_path, n)
    proc = subprocess.run(
        [sys.executable, "-I", str(script), str(path), randomness, str(k)],  # -I: no repo imports
        capture_output=True,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONUTF8": "1"},
    )
    assert proc.returncode == 0, proc.stderr.decode()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert proc.stdout.decode().split() == [str(w) for w in draw_v1(digest, randomness, n, k)]
    assert digest in proc.stderr.decode()


# ---------------------------------------------------------------------------------------
# Dependency hygiene
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("module", ["__init__.py", "algorithm.py", "replay.py"])
def test_draw_modules_import_only_stdlib_and_click(module: str) -> None:
    """The draw core must stay free of Flask, SQLAlchemy and the rest of the app."""
    tree = ast.parse((DRAW_DIR / module).read_text("utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            ok = top in sys.stdlib_module_names or top == "click" or name.startswith("quiz.draw")
            assert ok, f"{module} imports {name}"
