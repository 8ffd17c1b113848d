"""Lookups find their rows by index on SQLite, whatever the size of the campaign.

SQLite plans without statistics (nothing runs ANALYZE), so a WHERE on campaign_id and a
selective column can be planned on an index led by campaign_id alone: a search that
reads every entry of the campaign, invisible at test sizes and ruinous at a million
entries. This records every statement of whole visits and of lookups of a few rows,
and asks SQLite how it would run each one.
"""

from __future__ import annotations

import re
import sqlite3
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import event, select

from quiz.campaign.lifecycle import current_campaign
from quiz.draw.service import entry_numbers_of, participants_by_contact
from quiz.leads import service as leads
from quiz.models import Branch
from quiz.privacy import retention
from tests.factories import make_mobile, make_resident_id, make_staff
from tests.public.test_entry_views import FIELDS
from tests.referrals.test_links import add_agents, agent_link, take_part

GROWING = ("participant", "quiz_item", "draw_entrant")
# An index search on one of these alone reads a whole campaign, frozen list or link.
BROAD = ("(campaign_id=?)", "(draw_id=?)", "(referral_link_id=?)")


def broad_reads(statement: str, plan: list[str]) -> list[str]:
    """Plan lines that read a growing table in full, by a broad key alone, or sort all
    its matches to return a page."""
    bad = []
    pages_growing = re.search(rf"FROM ({'|'.join(GROWING)})\b", statement) is not None
    for line in plan:
        table = re.search(r"(?:SCAN|SEARCH) (\w+)", line)
        if table is not None and table.group(1) in GROWING:
            if line.startswith("SCAN") or line.endswith(BROAD):
                bad.append(line)
        elif "TEMP B-TREE FOR ORDER BY" in line and "LIMIT" in statement and pages_growing:
            bad.append(line)
    return bad


def test_broad_reads_are_recognised() -> None:
    paged = "SELECT id FROM participant WHERE branch_id = ? ORDER BY id DESC LIMIT ?"
    plan = [
        "SEARCH participant USING INDEX ix_participant_stats_province (campaign_id=?)",
        "SCAN quiz_item",
        "SEARCH draw_entrant USING INDEX sqlite_autoindex_draw_entrant_1 (draw_id=?)",
        "SEARCH participant USING INDEX ix_participant_branch_created (branch_id=?)",
        "USE TEMP B-TREE FOR ORDER BY",
        "SEARCH participant USING INDEX ix_x (mobile_hash=? AND campaign_id=?)",
        "SEARCH quiz_item USING INDEX uq_quiz_item_participant_id (participant_id=?)",
        "SCAN campaign",
    ]
    assert broad_reads(paged, plan) == plan[:3] + ["USE TEMP B-TREE FOR ORDER BY"]
    assert broad_reads("SELECT id FROM participant ORDER BY id", plan[4:5]) == []


def test_visits_and_lookups_read_no_growing_table_broadly(app: Any, session: Any) -> None:
    """Two whole visits (the second through an agent's link, with the first one's mobile),
    a branch's leads pages, the draw's entry check and finding a person to erase."""
    database = app.extensions["quiz.db"]
    if not database.is_sqlite:
        pytest.skip("PostgreSQL plans from statistics; this is about SQLite's planner")
    protector = app.extensions["quiz.protector"]
    add_agents(session, protector, "机构代码,业务员代码,姓名\nB42,A0001,王小明\n")
    link = agent_link(session, "B42", "A0001")
    hubei = session.scalars(select(Branch).where(Branch.code == "B42")).one()
    clerk = make_staff(session, "clerk", role="branch", branch_id=hubei.id)
    session.commit()
    seen: dict[str, Any] = {}

    def record(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, many: bool
    ) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE", "INSERT")):
            seen.setdefault(statement, parameters[0] if many else parameters)

    event.listen(database.engine, "before_cursor_execute", record)
    try:
        take_part(app.test_client(), FIELDS)
        referred = app.test_client()
        assert referred.get(f"/r/{link.code}").status_code == 302
        # The same mobile under another ID number: the flag's UPDATE finds a match.
        other = dict(FIELDS, resident_id=make_resident_id("420102", seq=12), name="王五")
        take_part(referred, other)
        campaign = current_campaign(session)
        last4 = other["resident_id"][-4:]
        found = participants_by_contact(session, protector, campaign, FIELDS["mobile"], last4)
        assert len(found) == 1
        assert participants_by_contact(session, protector, campaign, make_mobile(1), last4) == []
        # The statement is planned whatever the list holds; no draw needs to exist.
        assert entry_numbers_of(session, SimpleNamespace(id=1), found) == []  # type: ignore[arg-type]
        # A person's erasure request, by ID number or by mobile and the ID number's end.
        by_id = retention.find_person(session, protector, id_number=other["resident_id"])
        by_mobile = retention.find_person(session, protector, mobile=other["mobile"], last4=last4)
        assert [p.id for p in by_id] == [p.id for p in by_mobile] == found
        first = leads.list_leads(session, clerk, leads.LeadFilters(), limit=1)
        assert len(first.rows) == 1 and first.next_after is not None
        more = leads.list_leads(session, clerk, leads.LeadFilters(), after_id=first.next_after)
        assert len(more.rows) == 1
    finally:
        event.remove(database.engine, "before_cursor_execute", record)

    assert any("UPDATE participant" in s for s in seen)  # the flag ran, and was looked at
    assert any("consent_ip" in s and s.startswith("SELECT") for s in seen)  # the burst check
    plans = sqlite3.connect(database.engine.url.database)
    try:
        found_bad = {
            statement: broad_reads(
                statement,
                [row[3] for row in plans.execute(f"EXPLAIN QUERY PLAN {statement}", parameters)],
            )
            for statement, parameters in seen.items()
        }
    finally:
        plans.close()
    assert {s: bad for s, bad in found_bad.items() if bad} == {}
