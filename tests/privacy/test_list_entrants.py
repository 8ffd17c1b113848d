"""People on imported lists under the participants' privacy rules: purge after the
retention periods, erasure on request (mobile + 客户号), key rotation."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from quiz.cli.privacy import keys_rotate, participant_delete, purge_command
from quiz.db import Database, utcnow
from quiz.draw import demo, lists, service
from quiz.models import AuditLog, Campaign, Exclusion, ListEntrant, Winner
from quiz.privacy.protection import Protector, new_keys
from tests.conftest import KEYS, make_app
from tests.draw.test_lists import install_list_campaign


@pytest.fixture
def drawn(
    session: Session, app: Flask, protector: Any, tmp_path: Path
) -> tuple[Campaign, list[ListEntrant]]:
    """A list draw of 12 people, drawn: 2 winners (tiers of 1 and 1)."""
    campaign = install_list_campaign(
        session,
        prizes=[
            {"tier": "一等奖", "count": 1, "prize": "奖品", "value_yuan": 100},
            {"tier": "二等奖", "count": 1, "prize": "奖品", "value_yuan": 50},
        ],
    )
    first, last = date.today() - timedelta(days=30), date.today() - timedelta(days=2)
    listed = demo.write_list(tmp_path / "g.csv", 12, ["B11"], first, last)
    session.commit()
    database: Database = app.extensions["quiz.db"]
    lists.import_list(database, protector, campaign.id, listed)
    session.expire_all()
    draw = service.freeze(session, campaign, operator="t")
    service.run_draw(session, draw, "03 07 12 19 25 32 + 09", operator="t")
    session.commit()
    people = list(session.scalars(select(ListEntrant).order_by(ListEntrant.line_no)))
    return campaign, people


def winner_ids(session: Session) -> set[int]:
    return {w.list_entrant_id for w in session.scalars(select(Winner))}  # type: ignore[misc]


def move_draw_back(session: Session, campaign: Campaign, days: int) -> None:
    campaign.draw_at = utcnow() - timedelta(days=days)
    session.commit()


def test_purge_anonymises_non_winners_then_received_winners(
    app: Flask, session: Session, protector: Any, drawn: tuple[Campaign, list[ListEntrant]]
) -> None:
    campaign, people = drawn
    runner = app.test_cli_runner()
    # Inside the follow-up period (180 days in the example file): nothing goes.
    move_draw_back(session, campaign, 10)
    assert "and 0 people on imported lists" in runner.invoke(purge_command, []).output
    move_draw_back(session, campaign, 200)
    result = runner.invoke(purge_command, ["--batch-size", "4"])
    assert result.exit_code == 0, result.output
    assert "and 10 people on imported lists" in result.output
    session.expire_all()
    won = winner_ids(session)
    for person in session.scalars(select(ListEntrant)):
        if person.id in won:
            assert person.anonymised_at is None and lists.personal_data(protector, person)
            continue
        assert person.anonymised_at is not None and person.name == "已匿名"
        assert person.mobile_masked == "*" * 11 and person.customer_hash == "anon"
        assert lists.personal_data(protector, person) == {
            "customer": "",
            "mobile": "",
            "address": "",
        }
    # Past the winner period (730 days) a winner goes once the prize was received.
    move_draw_back(session, campaign, 800)
    first, second = session.scalars(select(Winner).order_by(Winner.rank)).all()
    first.shipping_status = "已签收"
    first.tracking_no = "SF123"
    session.commit()
    result = runner.invoke(purge_command, [])
    assert "and 1 people on imported lists; 1 winner(s) kept" in result.output
    session.expire_all()
    assert session.get(ListEntrant, first.list_entrant_id).anonymised_at is not None  # type: ignore[union-attr]
    assert session.get(Winner, (first.draw_id, first.rank)).tracking_no is None  # type: ignore[union-attr]
    assert session.get(ListEntrant, second.list_entrant_id).anonymised_at is None  # type: ignore[union-attr]


def test_erasure_by_mobile_and_customer_number(
    app: Flask, session: Session, protector: Any, drawn: tuple[Campaign, list[ListEntrant]]
) -> None:
    _, people = drawn
    won = winner_ids(session)
    loser = next(p for p in people if p.id not in won)
    winner = next(p for p in people if p.id in won)
    numbers = {p.id: lists.personal_data(protector, p) for p in (loser, winner)}
    session.commit()  # the CLI writes in its own sessions
    runner = app.test_cli_runner()

    def delete(person: ListEntrant, *more: str) -> Any:
        data = numbers[person.id]
        args = ["--mobile", data["mobile"], "--customer", data["customer"], *more]
        return runner.invoke(participant_delete, args)

    wrong = runner.invoke(
        participant_delete, ["--mobile", "13900000000", "--customer", "C000000001"]
    )
    assert wrong.exit_code != 0 and "no list entry matches" in wrong.output
    result = delete(loser)
    assert result.exit_code == 0 and "anonymised 1 list entry" in result.output
    refused = delete(winner)
    assert refused.exit_code != 0 and "nothing changed" in refused.output
    session.expire_all()
    assert session.get(ListEntrant, loser.id).anonymised_at is not None  # type: ignore[union-attr]
    assert session.get(ListEntrant, winner.id).anonymised_at is None  # type: ignore[union-attr]
    session.commit()
    assert delete(winner, "--force").exit_code == 0
    session.expire_all()
    assert session.get(ListEntrant, winner.id).anonymised_at is not None  # type: ignore[union-attr]
    audits = session.scalars(select(AuditLog).where(AuditLog.action == "list_entrant.delete"))
    assert {a.target for a in audits} == {f"list_entrant:{loser.id}", f"list_entrant:{winner.id}"}


def test_rotation_reencrypts_and_rehashes_list_entrants(
    database_url: str,
    tmp_path: Path,
    session: Session,
    protector: Any,
    drawn: tuple[Campaign, list[ListEntrant]],
) -> None:
    campaign, people = drawn
    plain = {p.id: lists.personal_data(protector, p) for p in people}
    session.add(Exclusion(campaign_id=campaign.id, id_hash=people[3].customer_hash, reason="员工"))
    session.commit()
    new_data = Fernet.generate_key().decode()
    new_hash = new_keys()["QUIZ_HASH_KEY"]
    app2 = make_app(
        database_url,
        tmp_path / "instance2",
        QUIZ_DATA_KEY=f"{new_data},{KEYS['QUIZ_DATA_KEY']}",
    )
    try:
        result = app2.test_cli_runner().invoke(keys_rotate, ["--new-hash-key", new_hash])
    finally:
        app2.extensions["quiz.db"].dispose()
    assert result.exit_code == 0, result.output
    assert "12 list entrants" in result.output
    assert "match no participant" not in result.output
    session.expire_all()
    only_new = Protector([new_data], new_hash)
    for person in session.scalars(select(ListEntrant)):
        data = lists.personal_data(only_new, person)  # readable with the new key alone
        assert data == plain[person.id]
        assert person.customer_hash == only_new.lookup_hash("customer", data["customer"])
        assert person.mobile_hash == only_new.lookup_hash("mobile", data["mobile"])
    excluded = session.scalars(select(Exclusion).where(Exclusion.reason == "员工")).one()
    assert excluded.id_hash == only_new.lookup_hash("customer", plain[people[3].id]["customer"])
