"""线索分配 in browsers: a branch manager gives 50 leads round-robin to 3 agents; an agent
on a phone records an outcome through the personal link; the overdue list and head
office's figures change."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from quiz.db import Database
from quiz.engine import entry_counts
from quiz.models import Agent, Branch, Campaign, LeadOwner, Participant
from quiz.privacy.protection import Protector, split_keys
from tests.e2e.conftest import DESKTOP, KEYS, PHONE, Site, require_browser, serve
from tests.e2e.pages import STAFF_STEP_MS, staff_sign_in
from tests.factories import make_participant

pytestmark = pytest.mark.browser
PASSWORD = "Correct-Horse-Battery-9"
LEADS = 50


@pytest.fixture(scope="module")
def owners_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Site, int]]:
    require_browser()
    now = datetime.now(UTC)
    tmp = tmp_path_factory.mktemp("owners-site")
    with serve(tmp, now - timedelta(days=2), now + timedelta(days=5), now + timedelta(days=6)) as s:
        database = Database(s.database_url)
        protector = Protector(split_keys(KEYS["QUIZ_DATA_KEY"]), KEYS["QUIZ_HASH_KEY"])
        from quiz.staff import auth

        with database.transaction() as session:
            campaign = session.scalars(select(Campaign)).one()
            branch = session.scalars(select(Branch).where(Branch.code != "HO")).first()
            for n in range(1, LEADS + 1):
                lead = make_participant(session, protector, campaign, n)
                entry_counts.move(session, Participant.id == lead.id, branch_id=branch.id)
                lead.branch_id = branch.id
            session.add_all(
                Agent(branch_id=branch.id, code=f"A{i}", name=f"业务员{i}") for i in (1, 2, 3)
            )
            auth.create_user(session, "manager", PASSWORD, "branch", branch_id=branch.id)
            auth.create_user(session, "head", PASSWORD, "admin")
            branch_id = branch.id
        database.dispose()
        yield s, branch_id


def _deadlines_pass(site: Site) -> None:
    database = Database(site.database_url)
    with database.transaction() as session:
        for owner in session.scalars(select(LeadOwner)):
            owner.due_on -= timedelta(days=30)
    database.dispose()


def test_round_robin_then_an_agent_on_a_phone_records_an_outcome(
    browser: Any, owners_site: tuple[Site, int], artifacts: Path
) -> None:
    site, branch_id = owners_site
    desk = browser.new_context(**DESKTOP, base_url=site.url)
    desk.set_default_timeout(STAFF_STEP_MS)
    page = desk.new_page()
    staff_sign_in(page, "manager", PASSWORD)
    page.goto("/admin/owners")
    expect(page.get_by_text(f"未分配的线索共 {LEADS} 条", exact=False)).to_be_visible()
    for i in (1, 2, 3):
        page.get_by_label(f"业务员{i}(A{i})").check()
    page.get_by_role("button", name="轮流分配").click()
    expect(page.get_by_text(f"已分配 {LEADS} 条线索给 3 位业务人员")).to_be_visible()
    page.screenshot(path=artifacts / "desktop-owners-assigned.png", full_page=True)

    _deadlines_pass(site)
    page.reload()
    expect(page.get_by_role("heading", name=f"逾期未联系({LEADS})")).to_be_visible()
    link = page.locator("code", has_text="/a/").first.inner_text()

    phone = browser.new_context(**PHONE, base_url=site.url)
    phone.set_default_timeout(STAFF_STEP_MS)
    mobile = phone.new_page()
    mobile.goto(re.sub(r"^https?://[^/]+", "", link))
    expect(mobile.get_by_role("heading", name=re.compile("我的客户"))).to_be_visible()
    first = mobile.locator("li.card").first
    expect(first.locator("a[href^='tel:']")).to_have_count(1)
    width = mobile.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the agent page scrolls sideways ({width} px)"
    first.get_by_label("联系结果").select_option("已成交")
    first.get_by_label("备注(选填)").fill("已签单")
    first.get_by_role("button", name="记录结果").click()
    expect(mobile.get_by_text(re.compile("已记录:.*已成交"))).to_be_visible()
    mobile.screenshot(path=artifacts / "phone-agent-leads.png", full_page=True)
    phone.close()

    page.reload()
    expect(page.get_by_role("heading", name=f"逾期未联系({LEADS - 1})")).to_be_visible()
    desk.close()

    head = browser.new_context(**DESKTOP, base_url=site.url)
    head.set_default_timeout(STAFF_STEP_MS)
    hq = head.new_page()
    staff_sign_in(hq, "head", PASSWORD)
    hq.goto(f"/admin/owners?branch={branch_id}")
    row = hq.locator("table").first.locator("tbody tr").first
    expect(row.locator("td")).to_have_text(
        [re.compile(".+"), str(LEADS), "1", "1", "2.0 %", str(LEADS - 1)]
    )
    hq.screenshot(path=artifacts / "desktop-owners-head-office.png", full_page=True)
    head.close()
