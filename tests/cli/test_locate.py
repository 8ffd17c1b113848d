"""`quiz locate`: stdin addresses -> TSV with the live branch mapping, in-process and as a
subprocess of the installed `quiz` script."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import event

from quiz.branches.service import BranchData, save_branch, set_route
from quiz.cli.branches import locate_command
from tests.conftest import KEYS

INPUT = (
    "\ufeff湖北省仙桃市干河街道仙桃大道1号\r\n"
    "\n"
    "  北京市朝阳区建国路88号  \n"
    "火星基地一号楼\n"
    "湖北省武汉市江岸区沿江大道100号"  # no final newline
)


def test_locate_rows_codes_and_live_mapping(runner, session):
    xt = save_branch(session, BranchData(code="XT", name="仙桃支公司", level="支公司"))
    set_route(session, "420000", "429004", xt)
    session.commit()
    result = runner.invoke(locate_command, ["--header"], input=INPUT.encode())
    assert result.exit_code == 0, result.output
    assert result.output.split("\n") == [
        "address\tprovince\tcity\tdistrict\tdivision_code\tbranch_code",
        "湖北省仙桃市干河街道仙桃大道1号\t湖北省\t仙桃市\t\t429004\tXT",
        "\t\t\t\t\t",  # an empty line stays an (empty) row: output line N answers input N
        "北京市朝阳区建国路88号\t北京市\t北京市\t朝阳区\t110105\tB11",
        "火星基地一号楼\t\t\t\t\t",
        "湖北省武汉市江岸区沿江大道100号\t湖北省\t武汉市\t江岸区\t420102\tB42",
        "",
    ]


def test_locate_has_no_header_by_default_and_queries_once(runner, app):
    engine = app.extensions["quiz.db"].engine
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    lines = "广东省深圳市南山区科技园路1号\n" * 2000
    result = runner.invoke(locate_command, [], input=lines.encode())
    assert result.exit_code == 0
    rows = result.output.splitlines()
    assert len(rows) == 2000 and rows[0].endswith("\t440305\tB44")
    # The mapping is loaded once, whatever the number of lines.
    assert len([s for s in statements if "branch_route" in s]) == 1


def quiz_script() -> str:
    script = Path(sys.executable).parent / "quiz"
    assert script.exists(), "install the project (pip install -e .) to get the quiz script"
    return str(script)


@pytest.mark.slow  # real processes: `quiz setup`, then `quiz locate` (about 30 s)
def test_locate_as_a_subprocess_after_quiz_setup(database_url, tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "QUIZ_ENV": "development",
        **KEYS,
    }
    setup = subprocess.run(  # noqa: S603
        [quiz_script(), "setup"], env=env, capture_output=True, text=True, timeout=120
    )
    assert setup.returncode == 0, setup.stderr
    done = subprocess.run(  # noqa: S603
        [quiz_script(), "locate"],
        env=env,
        input=INPUT.encode(),
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode()
    rows = done.stdout.decode("utf-8").split("\n")
    assert rows[0] == "湖北省仙桃市干河街道仙桃大道1号\t湖北省\t仙桃市\t\t429004\tB42"
    assert rows[1] == "\t\t\t\t\t"
    assert rows[3] == "火星基地一号楼\t\t\t\t\t"
    assert len(rows) == 6 and rows[-1] == ""
