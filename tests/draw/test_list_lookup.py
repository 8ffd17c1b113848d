"""A list draw's winners look themselves up (中奖查询) by mobile and the last four of their
客户号: they never registered, so the quiz's mobile + ID-number form would tell every one
of them 未中奖. The winners' pages keep the draw they were opened for."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from quiz.cli.draw import draw_group
from quiz.draw import lists
from quiz.models import ListEntrant, Winner
from tests.draw.test_list_draw_cli import RANDOMNESS, SLUG, load_and_import

LOOKUP = f"/c/{SLUG}/winners/lookup"


@pytest.fixture
def drawn(runner: FlaskCliRunner, session: Session, tmp_path: Path) -> None:
    """The example list draw with 300 people imported, frozen and drawn (225 winners)."""
    _, listed = load_and_import(runner, session, tmp_path, 300)
    for args in (
        ["import-entrants", str(listed), "--campaign", SLUG, "--yes"],
        ["freeze", "--campaign", SLUG],
        ["run", RANDOMNESS, "--campaign", SLUG, "--yes"],
    ):
        done = runner.invoke(draw_group, args)
        assert done.exit_code == 0, done.output
        session.commit()


def _contact(protector: Any, entrant: ListEntrant) -> dict[str, str]:
    data = lists.personal_data(protector, entrant)
    return {"mobile": data["mobile"], "id_last4": data["customer"][-4:].lower()}


def test_a_list_winner_finds_the_prize_and_others_do_not(
    drawn: None, client: FlaskClient, session: Session, protector: Any
) -> None:
    first = session.execute(
        select(Winner, ListEntrant)
        .join(ListEntrant, ListEntrant.id == Winner.list_entrant_id)
        .where(Winner.rank == 1)
    ).one()
    winner, entrant = first
    won = set(session.scalars(select(Winner.list_entrant_id)))
    loser = session.scalars(select(ListEntrant).where(ListEntrant.id.not_in(won))).first()
    assert loser is not None
    mine, theirs = _contact(protector, entrant), _contact(protector, loser)
    session.commit()

    page = client.get(LOOKUP).get_data(as_text=True)
    assert "客户号或保单号后四位" in page and "身份证" not in page

    found = client.post(LOOKUP, data=mine)
    text = found.get_data(as_text=True)
    assert found.status_code == 200
    assert "<strong>中奖</strong>" in text and f"奖项:{winner.tier}" in text
    for data in (
        theirs,
        {**mine, "id_last4": "0000" if mine["id_last4"] != "0000" else "1111"},
        {**mine, "mobile": theirs["mobile"]},
    ):
        other = client.post(LOOKUP, data=data).get_data(as_text=True)
        assert "<strong>未中奖</strong>" in other and "<strong>中奖</strong>" not in other

    bad = client.post(LOOKUP, data={"mobile": mine["mobile"], "id_last4": "12"})
    assert bad.status_code == 422
    assert "请填写客户号或保单号的后四位" in bad.get_data(as_text=True)


def test_the_list_page_offers_the_lookup_and_pages_keep_their_draw(
    drawn: None, client: FlaskClient
) -> None:
    page = client.get(f"/c/{SLUG}/").get_data(as_text=True)
    assert 'href="/c/reinstatement-draw-2027/winners/lookup"' in page

    # 225 winners, 100 a page: the next page is of the same draw.
    winners = client.get(f"/c/{SLUG}/winners?draw=1").get_data(as_text=True)
    links = re.findall(r'href="([^"]*/winners[^"]*)"', winners)
    assert any("draw=1" in link and "page=2" in link for link in links), links
    assert any("lookup?draw=1" in link for link in links), links
    lookup = client.get(f"{LOOKUP}?draw=1").get_data(as_text=True)
    assert 'action="/c/reinstatement-draw-2027/winners/lookup?draw=1"' in lookup

    # Finding one's entry number would scan the whole list: not offered on a list draw.
    assert client.get(f"/c/{SLUG}/draw/check").status_code == 404
