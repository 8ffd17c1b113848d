"""Every shipped campaign file survives the editor's round trip: stored, written back as
TOML (`quiz campaign export`, the editor's save) and read again, it is the same campaign.
Kind tables whose checked form differs from the file ([artwork], [race], [[draws]]) were
once dropped on the way, so a re-saved drawing contest answered 404."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pytest

from quiz.campaign.document import campaign_toml
from quiz.campaign.spec import install_campaign, load_campaign_file, parse_campaign

SHIPPED = sorted((Path(__file__).parents[2] / "quiz" / "data" / "campaign").glob("*.toml"))


def _comparable(spec) -> dict:
    data = asdict(spec)
    data.pop("source_sha256")
    return data


def test_every_kind_ships_a_campaign_file():
    kinds = {load_campaign_file(path).kind for path in SHIPPED}
    assert kinds == {"prize_quiz", "list_draw", "staff_contest", "artwork_contest"}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_a_shipped_campaign_written_back_reads_the_same(session, path):
    original = load_campaign_file(path)
    campaign = install_campaign(session, original)
    again = parse_campaign(campaign_toml(session, campaign))
    assert _comparable(again) == _comparable(original)


def test_the_demo_quiz_carries_its_race_through_the_round_trip(session):
    original = load_campaign_file(SHIPPED[[p.name for p in SHIPPED].index("default.toml")])
    assert original.race is not None and original.race["targets"]["B44"] == 1200
    campaign = install_campaign(session, original)
    text = campaign_toml(session, campaign)
    assert parse_campaign(text).race == original.race
