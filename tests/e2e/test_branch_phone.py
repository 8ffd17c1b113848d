"""Branch staff on a 390×844 phone: sign in, open 我的待联系, call a lead (tel: link),
record 已联系 with a next-contact date and land on the next lead; and no staff page, for
branch staff or head office, scrolls sideways on that screen."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from sqlalchemy import select
from werkzeug.routing import IntegerConverter

from quiz.db import Database
from quiz.models import Branch, Campaign, Participant
from quiz.privacy.protection import Protector, split_keys
from tests.conftest import make_app
from tests.e2e.conftest import KEYS, PHONE, Site, require_browser, serve
from tests.e2e.pages import STAFF_STEP_MS, staff_sign_in
from tests.factories import make_participant

pytestmark = pytest.mark.browser

CLERK, ADMIN = "bj.clerk", "hq.phone"
PASSWORD = "Correct-Horse-Battery-9"
BEIJING = ZoneInfo("Asia/Shanghai")
# n % 6 == 0 lives in 北京 (tests.factories.PLACES): four leads for the Beijing branch.
LEADS = (6, 12, 18, 24)
NO_SIDEWAYS = "() => [document.documentElement.scrollWidth, window.innerWidth]"
# Stands in for the phone's dialler: records the tel: URL a tap hands over. Headless
# Chromium has no tel: handler, and its attempt to find one sometimes swallowed the next
# form submission (1 in 10 to 20 in a bare page: the POST of 保存并下一条 never left).
DIALLER = """document.addEventListener("click", (event) => {
  const link = event.target.closest('a[href^="tel:"]');
  if (link) { window.dialled = link.href; event.preventDefault(); }
}, true);"""


@pytest.fixture(scope="module")
def phone_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A server with four Beijing leads, a Beijing clerk allowed to call, and an admin."""
    require_browser()
    now = datetime.now(UTC)
    tmp = tmp_path_factory.mktemp("phone-site")
    with serve(tmp, now - timedelta(days=2), now + timedelta(days=1), now + timedelta(days=2)) as s:
        database = Database(s.database_url)
        protector = Protector(split_keys(KEYS["QUIZ_DATA_KEY"]), KEYS["QUIZ_HASH_KEY"])
        from quiz.staff import auth

        with database.transaction() as session:
            campaign = session.scalars(select(Campaign)).one()
            for n in LEADS:
                make_participant(session, protector, campaign, n, complete=True, name="张家明")
            beijing = session.scalars(select(Branch).where(Branch.code == "B11")).one()
            auth.create_user(
                session, CLERK, PASSWORD, "branch", branch_id=beijing.id, can_call=True
            )
            auth.create_user(session, ADMIN, PASSWORD, "admin")
        database.dispose()
        yield s


def _sign_in(page: Any, username: str) -> None:
    staff_sign_in(page, username, PASSWORD)


def _no_sideways(page: Any, where: str) -> None:
    width, inner = page.evaluate(NO_SIDEWAYS)
    assert width <= inner, f"{where} is {width}px wide on a {inner}px screen"


def test_branch_clerk_calls_a_lead_and_moves_to_the_next(
    browser: Any, phone_site: Site, artifacts: Path
) -> None:
    context = browser.new_context(**PHONE, base_url=phone_site.url)
    context.set_default_timeout(STAFF_STEP_MS)
    context.add_init_script(DIALLER)
    page = context.new_page()
    try:
        _sign_in(page, CLERK)
        # The menu is one button on a phone; it opens without any script. (Waited for: the
        # sign-in returns at DOMContentLoaded, before the stylesheet may have applied.)
        expect(page.get_by_role("link", name="线索管理")).to_be_hidden()
        page.locator("label.menu-button").click()
        with page.expect_navigation(timeout=STAFF_STEP_MS):
            page.get_by_role("link", name="线索管理").click()
        with page.expect_navigation(url=re.compile(r"view=mine"), timeout=STAFF_STEP_MS):
            page.get_by_role("link", name="我的待联系").click()
        cards = page.locator("table.cards tbody tr")
        expect(cards).to_have_count(len(LEADS))
        _no_sideways(page, "我的待联系")
        page.screenshot(path=artifacts / "phone-staff-leads.png", full_page=True, scale="css")

        with page.expect_navigation(url=re.compile(r"/admin/leads/\d+\?"), timeout=STAFF_STEP_MS):
            cards.first.locator("td.name a").click()
        expect(page.locator("section.contact")).to_be_visible(timeout=STAFF_STEP_MS)
        first_id = int(re.search(r"/admin/leads/(\d+)", page.url).group(1))  # type: ignore[union-attr]
        # The first screen is the contact block: the number is a tel: link near the top.
        tel = page.locator("section.contact a.tel").first
        href = tel.get_attribute("href") or ""
        assert re.fullmatch(r"tel:1\d{10}", href), href
        assert tel.bounding_box()["y"] < 844  # type: ignore[index]
        page.screenshot(path=artifacts / "phone-staff-lead.png", full_page=False, scale="css")
        _no_sideways(page, "the lead page")
        # Tapping it hands the tel: URL to the phone's dialler; the lead page stays put.
        before = page.url
        tel.click()
        assert page.evaluate("window.dialled") == href
        assert page.url == before

        page.get_by_text("已联系", exact=True).click()
        day = (datetime.now(BEIJING).date() + timedelta(days=3)).isoformat()
        page.get_by_label("下次联系日期").fill(day)
        page.get_by_label("跟进备注").fill("客户周五下午方便")
        # Wait for the navigation the button starts (the POST, its redirect and the next
        # lead's document), then for that page's confirmation: no race with the old page.
        with page.expect_navigation(wait_until="domcontentloaded", timeout=STAFF_STEP_MS):
            page.get_by_role("button", name="保存并下一条").click()
        expect(page.locator("main")).to_contain_text("已记录跟进结果:已联系", timeout=STAFF_STEP_MS)
        assert re.search(r"/admin/leads/\d+\?", page.url), page.url
        next_id = int(re.search(r"/admin/leads/(\d+)", page.url).group(1))  # type: ignore[union-attr]
        assert next_id != first_id and "view=mine" in page.url
        assert "已记录跟进结果:已联系" in page.locator("main").inner_text()
    finally:
        context.close()

    database = Database(phone_site.database_url)
    with database.transaction(write=False) as session:
        saved = session.get(Participant, first_id)
        assert saved is not None and saved.follow_up_status == "已联系"
        assert saved.next_contact_on is not None and saved.next_contact_on.isoformat() == day
    database.dispose()


def _staff_urls(site: Site, tmp: Path) -> list[str]:
    """Every GET page of the staff URL map, parameters filled with the first lead's id."""
    app = make_app(site.database_url, tmp / "instance")
    urls = []
    with app.test_request_context():
        adapter = app.url_map.bind("localhost")
        for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
            if not rule.rule.startswith("/admin") or "GET" not in (rule.methods or ()):
                continue
            if "." in rule.rule.rsplit("/", 1)[-1] or rule.rule.endswith(("/file", "/download")):
                continue  # files (CSV, XLSX, posters) are downloads, not pages
            values: dict[str, Any] = {}
            for name in rule.arguments:
                converter = rule._converters[name]  # noqa: SLF001 - werkzeug keeps them here
                values[name] = 1 if isinstance(converter, IntegerConverter) else "x"
            urls.append(adapter.build(rule.endpoint, values, method="GET"))
    app.extensions["quiz.db"].dispose()
    return urls


def test_no_staff_page_scrolls_sideways_on_a_phone(
    browser: Any, phone_site: Site, artifacts: Path, tmp_path: Path
) -> None:
    urls = _staff_urls(phone_site, tmp_path)
    assert "/admin/leads" in urls and "/admin/" in urls
    wide: list[str] = []
    for username in (CLERK, ADMIN):
        context = browser.new_context(**PHONE, base_url=phone_site.url, accept_downloads=True)
        context.set_default_timeout(STAFF_STEP_MS)
        page = context.new_page()
        try:
            _sign_in(page, username)
            for url in urls:
                page.goto(url)
                width, inner = page.evaluate(NO_SIDEWAYS)
                if width > inner:
                    wide.append(f"{username} {url}: {width}px")
            if username == ADMIN:
                page.goto("/admin/")
                # Every intent question's chart is on the dashboard (and in the screenshot).
                expect(page.locator("#intent svg.chart")).to_have_count(3)
                page.screenshot(
                    path=artifacts / "phone-staff-dashboard.png", full_page=True, scale="css"
                )
        finally:
            context.close()
    assert wide == [], "pages wider than a 390px phone:\n" + "\n".join(wide)
