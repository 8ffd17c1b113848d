"""End to end from the command line (issue 21's Must show, at 2,000 rows in the suite):
load the example list draw, import a generated list, freeze, run, and find the same
winners in `quiz draw winners`, the published checker and `quiz draw replay`."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from quiz.cli.campaign import campaign_group
from quiz.cli.draw import draw_group
from quiz.clock import CHINA
from quiz.draw import demo
from quiz.models import Branch, Campaign, Draw, ListImport

EXAMPLE = Path(__file__).parents[2] / "quiz" / "data" / "campaign" / "reinstatement-draw.toml"
SLUG = "reinstatement-draw-2027"
RANDOMNESS = "05 11 16 23 28 32 + 07"  # written as the file's randomness_format asks


def moved_example(tmp_path: Path, now: datetime) -> Path:
    """The shipped file with its window in the past, the draw time just passed and the
    freeze deadline ahead (times in the file are Beijing local times)."""

    def local(moment: datetime) -> str:
        return moment.astimezone(CHINA).strftime("%Y-%m-%dT%H:%M:%S")

    text = EXAMPLE.read_text("utf-8")
    for key, moment in (
        ("opens_at", now - timedelta(days=90)),
        ("closes_at", now - timedelta(days=2)),
        ("draw_at", now - timedelta(minutes=5)),
        ("freeze_deadline", now + timedelta(days=1)),
    ):
        text, n = re.subn(rf"(?m)^{key} = .*$", f"{key} = {local(moment)}", text)
        assert n == 1, key
    path = tmp_path / "reinstatement-draw.toml"
    path.write_text(text, "utf-8")
    return path


def load_and_import(
    runner: FlaskCliRunner, session: Session, tmp_path: Path, rows: int
) -> tuple[Campaign, Path]:
    now = datetime.now(CHINA)
    loaded = runner.invoke(campaign_group, ["load", str(moved_example(tmp_path, now))])
    assert loaded.exit_code == 0, loaded.output
    campaign = session.scalars(select(Campaign).where(Campaign.slug == SLUG)).one()
    codes = list(session.scalars(select(Branch.code).where(Branch.code != "HO")))
    first = campaign.opens_at.astimezone(CHINA).date()
    last = campaign.closes_at.astimezone(CHINA).date()
    session.commit()
    listed = demo.write_list(tmp_path / "list.csv", rows, codes, first, last)
    return campaign, listed


def test_list_draw_end_to_end_from_the_cli(
    runner: FlaskCliRunner, client: FlaskClient, session: Session, tmp_path: Path
) -> None:
    campaign, listed = load_and_import(runner, session, tmp_path, 2_000)

    # The report comes first; --dry-run stops there and saves nothing.
    dry = runner.invoke(
        draw_group, ["import-entrants", str(listed), "--campaign", SLUG, "--dry-run"]
    )
    assert dry.exit_code == 0, dry.output
    assert "可导入 2000 行,拒绝 0 行,按客户号合并重复 0 行" in dry.output
    assert session.scalar(select(ListImport.id)) is None
    session.commit()  # release SQLite's write lock before the next command runs
    imported = runner.invoke(
        draw_group, ["import-entrants", str(listed), "--campaign", SLUG, "--yes"]
    )
    assert imported.exit_code == 0, imported.output
    assert "imported 2000 entrants" in imported.output

    frozen = runner.invoke(draw_group, ["freeze", "--campaign", SLUG])
    assert frozen.exit_code == 0, frozen.output
    assert "2000 entrants" in frozen.output
    ran = runner.invoke(draw_group, ["run", RANDOMNESS, "--campaign", SLUG, "--yes"])
    assert ran.exit_code == 0, ran.output
    assert "225 winners stored" in ran.output

    printed = runner.invoke(draw_group, ["winners", "--campaign", SLUG, "--draw", "1"])
    assert printed.exit_code == 0, printed.output
    lines = printed.output.splitlines()
    assert lines[0] == "rank\tentry_no\ttier"
    table = [line.split("\t") for line in lines[1:]]
    assert [int(rank) for rank, _, _ in table] == list(range(1, 226))
    tiers = [tier for _, _, tier in table]
    assert tiers == ["一等奖"] * 5 + ["二等奖"] * 20 + ["三等奖"] * 200
    winners = [entry for _, entry, _ in table]
    assert len(set(winners)) == 225

    entrants = tmp_path / "entrants.txt"
    exported = runner.invoke(
        draw_group, ["export-entrants", str(entrants), "--campaign", SLUG, "--draw", "1"]
    )
    assert exported.exit_code == 0, exported.output
    draw = session.scalars(select(Draw).where(Draw.campaign_id == campaign.id)).one()
    assert hashlib.sha256(entrants.read_bytes()).hexdigest() == draw.entrant_digest
    session.commit()

    # The stand-alone checker as the campaign's page serves it, run on its own.
    program = client.get(f"/c/{SLUG}/draw/verify_draw.py")
    assert program.status_code == 200
    (tmp_path / "verify_draw.py").write_bytes(program.data)
    checked = subprocess.run(  # noqa: S603 - our own checker, run with this interpreter
        [sys.executable, "-I", "verify_draw.py", "entrants.txt", RANDOMNESS, "225"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert checked.stdout.split() == winners

    replayed = runner.invoke(draw_group, ["replay", str(entrants), RANDOMNESS, "--winners", "225"])
    assert replayed.exit_code == 0, replayed.output
    assert replayed.output.split() == winners

    # The public page shows the digest, the winners and how to check them.
    page = client.get(f"/c/{SLUG}/").get_data(as_text=True)
    assert draw.entrant_digest in page and RANDOMNESS in page
    assert "自行复核" in page and "verify_draw.py" in page
    first_winner = next(
        line
        for line in entrants.read_text("utf-8").splitlines()
        if line.split("\t")[0] == winners[0]
    )
    assert first_winner.split("\t")[1] in page  # the masked name of the first winner

    # After the freeze the list cannot be replaced.
    again = runner.invoke(draw_group, ["import-entrants", str(listed), "--campaign", SLUG, "--yes"])
    assert again.exit_code != 0 and "名单已冻结" in again.output


def test_import_refuses_a_bad_file_with_the_reason(
    runner: FlaskCliRunner, session: Session, tmp_path: Path
) -> None:
    load_and_import(runner, session, tmp_path, 1)
    bad = tmp_path / "bad.csv"
    bad.write_text("客户号,姓名,手机号码\nC1,张三,13912345678\n", "utf-8")
    result = runner.invoke(draw_group, ["import-entrants", str(bad), "--campaign", SLUG, "--yes"])
    assert result.exit_code != 0
    assert "文件有误,没有导入任何一行" in result.output and "缺少列:机构代码" in result.output
    assert session.scalar(select(ListImport.id)) is None
