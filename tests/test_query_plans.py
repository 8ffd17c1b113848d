"""The public path's statements find their rows by index on SQLite, whatever the size.

SQLite plans without statistics (nothing runs ANALYZE), so a WHERE on campaign_id and a
selective column can be planned on an index led by campaign_id alone: a search that
reads every entry of the campaign, invisible at test sizes and ruinous at a million
entries. This records every statement a participant's whole visit issues and asks
SQLite how it would run each one.
"""

from __future__ import annotations

import re
import sqlite3
from typing import Any

import pytest
from sqlalchemy import event

from quiz.draw.service import participants_by_contact
from quiz.quiz_flow import current_campaign
from tests.factories import make_mobile, make_resident_id
from tests.test_public_views import FIELDS, consent

GROWING = ("participant", "quiz_item")


def whole_campaign_reads(plan: list[str]) -> list[str]:
    """Plan lines that read a growing table in full or by campaign alone."""
    bad = []
    for line in plan:
        table = re.search(r"(?:SCAN|SEARCH) (\w+)", line)
        if table is None or table.group(1) not in GROWING:
            continue
        if line.startswith("SCAN") or line.endswith("(campaign_id=?)"):
            bad.append(line)
    return bad


def test_whole_campaign_reads_are_recognised() -> None:
    assert whole_campaign_reads(
        [
            "SEARCH participant USING INDEX ix_participant_stats_province (campaign_id=?)",
            "SCAN quiz_item",
            "SEARCH participant USING INDEX ix_x (campaign_id=? AND mobile_hash=?)",
            "SEARCH quiz_item USING INDEX uq_quiz_item_participant_id (participant_id=?)",
            "SCAN campaign",
        ]
    ) == [
        "SEARCH participant USING INDEX ix_participant_stats_province (campaign_id=?)",
        "SCAN quiz_item",
    ]


def play(client: Any, fields: dict[str, str]) -> None:
    consent(client)
    assert client.post("/register", data=fields).status_code == 302
    while (page := client.get("/quiz")).status_code == 200:
        html = page.get_data(as_text=True)
        position = re.search(r"第 (\d+) 题", html).group(1)  # type: ignore[union-attr]
        choice = re.search(r'name="choice" id="choice-([A-Z])"', html).group(1)  # type: ignore[union-attr]
        assert (
            client.post("/quiz", data={"position": position, "choice": choice}).status_code == 302
        )
    assert client.get("/result").status_code == 200


def test_a_visit_reads_no_growing_table_by_campaign_alone(app: Any, session: Any) -> None:
    database = app.extensions["quiz.db"]
    if not database.is_sqlite:
        pytest.skip("PostgreSQL plans from statistics; this is about SQLite's planner")
    seen: dict[str, Any] = {}

    def record(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, many: bool
    ) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE", "INSERT")):
            seen.setdefault(statement, parameters[0] if many else parameters)

    event.listen(database.engine, "before_cursor_execute", record)
    try:
        play(app.test_client(), FIELDS)
        # The same mobile under another ID number: the flag's UPDATE finds a match.
        other = dict(FIELDS, resident_id=make_resident_id("420102", seq=12), name="王五")
        play(app.test_client(), other)
        campaign = current_campaign(session)
        protector = app.extensions["quiz.protector"]
        last4 = other["resident_id"][-4:]
        found = participants_by_contact(session, protector, campaign, FIELDS["mobile"], last4)
        assert len(found) == 1
        assert participants_by_contact(session, protector, campaign, make_mobile(1), last4) == []
    finally:
        event.remove(database.engine, "before_cursor_execute", record)

    assert any("UPDATE participant" in s for s in seen)  # the flag ran, and was looked at
    plans = sqlite3.connect(database.engine.url.database)
    try:
        found = {
            statement: whole_campaign_reads(
                [row[3] for row in plans.execute(f"EXPLAIN QUERY PLAN {statement}", parameters)]
            )
            for statement, parameters in seen.items()
        }
    finally:
        plans.close()
    assert {s: bad for s, bad in found.items() if bad} == {}
