"""`quiz contest works` and the demo contest data `quiz setup` adds."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.cli import ScriptInfo
from flask.testing import FlaskCliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from quiz.artwork import judging
from quiz.artwork.demo import load_demo
from quiz.artwork.images import store_for
from quiz.cli import main
from quiz.models import ArtworkWork
from tests.artwork.conftest import install_contest
from tests.factories import make_staff


def test_the_demo_fills_judging_and_gallery_once_and_the_tsv_lists_it(
    app: Flask, runner: FlaskCliRunner, session: Session, protector: Any
) -> None:
    campaign = install_contest(session)
    store = store_for(None, app.instance_path)
    assert load_demo(session, protector, store, campaign) == 5
    assert load_demo(session, protector, store, campaign) == 0  # only once
    judge = make_staff(session, "judge1", "analyst")
    assert judging.progress(session, campaign, judge, "复评") == (0, 3)
    awarded = session.scalars(select(ArtworkWork).where(ArtworkWork.stage == "awarded")).all()
    assert {w.award for w in awarded} == {"一等奖", "二等奖"}
    assert all(store.path(w.image_key, "thumb").exists() for w in awarded)
    session.commit()

    info = ScriptInfo(create_app=lambda: app)
    result = runner.invoke(main, ["contest", "works", "--campaign", "drawing-contest"], obj=info)

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "group\twork\tbranch\tround\tmean\taward"
    assert len(lines) == 6
    rows = [line.split("\t") for line in lines[1:]]
    assert {r[5] for r in rows} == {"一等奖", "二等奖", ""}
    assert all(r[3] in ("复评", "终评") and r[2].startswith("B") for r in rows)
    missing = runner.invoke(main, ["contest", "works", "--campaign", "no-such"], obj=info)
    assert missing.exit_code != 0 and "no drawing contest" in missing.output
