"""`quiz draw` commands: freeze, run (confirmation), verify, export, void, replay."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask.testing import FlaskCliRunner
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from quiz.campaign.lifecycle import current_campaign
from quiz.cli.draw import draw_group
from quiz.db import utcnow
from quiz.models import AuditLog, Campaign, Draw, DrawEntrant, Winner
from tests.factories import make_participant

RANDOMNESS = "03 08 14 22 27 33 + 05"  # as the campaign's randomness_format asks
EXAMPLE = "03 07 12 19 25 31 + 09"  # the campaign file's randomness_example


def closed_campaign_with_entrants(session: Session, protector: Any, n: int) -> Campaign:
    campaign = current_campaign(session)
    assert campaign is not None
    for i in range(1, n + 1):
        make_participant(session, protector, campaign, i, complete=True)
    campaign.closes_at = utcnow()
    campaign.draw_at = utcnow()  # the lottery result is out
    content = dict(campaign.content)
    content["prizes"] = [{"tier": "幸运奖", "count": 3, "prize": "纪念品", "value_yuan": 20}]
    campaign.content = content
    session.commit()
    return campaign


def invoke(runner: FlaskCliRunner, *args: str, **kw: Any) -> Any:
    return runner.invoke(draw_group, list(args), **kw)


def test_freeze_run_verify_export_replay(
    runner: FlaskCliRunner, session: Session, protector: Any, tmp_path: Path
) -> None:
    closed_campaign_with_entrants(session, protector, 8)
    result = invoke(runner, "freeze")
    assert result.exit_code == 0, result.output
    draw = session.scalars(select(Draw)).one()
    session.commit()  # release SQLite's write lock before the next command runs
    assert f"entrant digest (SHA-256): {draw.entrant_digest}" in result.output

    # Without --yes the command asks; answering no leaves the draw frozen.
    result = invoke(runner, "run", RANDOMNESS, input="n\n")
    assert result.exit_code != 0
    assert f"[{RANDOMNESS}]" in result.output
    session.expire_all()
    assert session.get(Draw, draw.id).status == "frozen"  # type: ignore[union-attr]
    session.commit()

    result = invoke(runner, "run", RANDOMNESS, input="y\n")
    assert result.exit_code == 0, result.output
    assert "3 winners stored" in result.output
    result = invoke(runner, "run", RANDOMNESS, "--yes")
    assert result.exit_code != 0 and "不能重复抽奖" in result.output

    result = invoke(runner, "verify")
    assert result.exit_code == 0, result.output
    assert "OK" in result.output

    out = tmp_path / "entrants.txt"
    assert invoke(runner, "export-entrants", str(out)).exit_code == 0
    assert hashlib.sha256(out.read_bytes()).hexdigest() == draw.entrant_digest

    replayed = invoke(runner, "replay", str(out), RANDOMNESS, "--winners", "3")
    assert replayed.exit_code == 0, replayed.output
    stored = session.scalars(select(Winner.entry_no).order_by(Winner.rank)).all()
    assert replayed.output.split() == [str(n) for n in stored]
    actors = session.scalars(select(AuditLog.actor).where(AuditLog.action == "draw.run")).all()
    assert len(actors) == 1 and actors[0].startswith("cli:")


def test_verify_exits_non_zero_on_tampering(
    runner: FlaskCliRunner, session: Session, protector: Any
) -> None:
    closed_campaign_with_entrants(session, protector, 5)
    assert invoke(runner, "freeze").exit_code == 0
    assert invoke(runner, "run", RANDOMNESS, "--yes").exit_code == 0
    session.execute(
        update(DrawEntrant).where(DrawEntrant.entry_no == 2).values(line="2\t假*名\t139****9999")
    )
    session.commit()
    result = invoke(runner, "verify")
    assert result.exit_code == 1
    assert "MISMATCH" in result.output


def test_void_needs_reason_and_then_allows_refreeze(
    runner: FlaskCliRunner, session: Session, protector: Any
) -> None:
    closed_campaign_with_entrants(session, protector, 3)
    assert invoke(runner, "freeze").exit_code == 0
    assert invoke(runner, "void", "--yes").exit_code != 0  # --reason is required
    assert invoke(runner, "void", "--reason", "  ", "--yes").exit_code != 0
    result = invoke(runner, "void", "--reason", "名单需重新核对", "--yes")
    assert result.exit_code == 0, result.output
    assert invoke(runner, "freeze").exit_code == 0
    statuses = session.scalars(select(Draw.status).order_by(Draw.id)).all()
    assert statuses == ["voided", "frozen"]


def test_freeze_refused_while_open(
    runner: FlaskCliRunner, session: Session, protector: Any
) -> None:
    campaign = current_campaign(session)
    assert campaign is not None
    make_participant(session, protector, campaign, 1, complete=True)
    session.commit()
    result = invoke(runner, "freeze")
    assert result.exit_code != 0 and "尚未截止" in result.output


def test_out_of_range_draw_ids_and_unwritable_paths_are_messages(
    runner: FlaskCliRunner, session: Session, protector: Any, tmp_path: Path
) -> None:
    closed_campaign_with_entrants(session, protector, 4)
    assert invoke(runner, "freeze").exit_code == 0
    for args in (
        ("verify", "--draw", "99999999999999999999"),
        ("void", "--draw", "0", "--reason", "x", "--yes"),
    ):
        result = invoke(runner, *args)
        assert result.exit_code == 2 and "--draw" in result.output  # a usage error
    target = tmp_path / "missing" / "entrants.txt"
    result = invoke(runner, "export-entrants", str(target))
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert f"cannot write {target}" in result.output


def test_run_before_draw_at_needs_the_audited_override(
    runner: FlaskCliRunner, session: Session, protector: Any
) -> None:
    campaign = closed_campaign_with_entrants(session, protector, 5)
    campaign.draw_at = utcnow() + timedelta(days=4)
    session.commit()
    assert invoke(runner, "freeze").exit_code == 0
    refused = invoke(runner, "run", RANDOMNESS, "--yes")
    assert refused.exit_code != 0 and "开奖时间" in refused.output
    example = invoke(runner, "run", EXAMPLE, "--yes", "--before-draw-at", "x")
    assert example.exit_code != 0 and "书写示例" in example.output
    ok = invoke(runner, "run", RANDOMNESS, "--yes", "--before-draw-at", "彩票开奖改期提前")
    assert ok.exit_code == 0, ok.output
    entry = session.scalars(select(AuditLog).where(AuditLog.action == "draw.run")).one()
    assert entry.detail["early_reason"] == "彩票开奖改期提前"
    session.commit()
