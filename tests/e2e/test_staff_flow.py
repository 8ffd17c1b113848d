"""Head office in a desktop browser: TOTP login, dashboard, branch exports, the draw (result
entered by one admin and confirmed by another, in two browser contexts), and the public draw
and winners pages that the draw feeds."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pyotp
import pytest
from playwright.sync_api import expect
from sqlalchemy import select, update

from quiz.db import Database
from quiz.models import Campaign, Participant
from quiz.privacy.protection import Protector, split_keys
from tests.e2e.conftest import DESKTOP, KEYS, PHONE, Site, require_browser, run_axe, serve
from tests.factories import PLACES, make_participant

pytestmark = pytest.mark.browser

ADMIN = "hq.admin"
SECOND = "hq.second"  # the draw's second person: confirms the result
RESULT = "03 09 14 22 27 31 + 08"
PASSWORD = "Correct-Horse-Battery-9"
PARTICIPANTS = 8  # n % 6 == 2 lives in 湖北: n = 2 and 8
HUBEI = [n for n in range(1, PARTICIPANTS + 1) if PLACES[n % len(PLACES)][1].startswith("湖北")]
# The demo's 同一邮寄地址限一人获奖 leaves the first entry per address at the freeze: n and
# n + 6 mail to one place.
ADDRESSES = len({PLACES[n % len(PLACES)] for n in range(1, PARTICIPANTS + 1)})


@pytest.fixture(scope="module")
def staff_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A second server: its own campaign, completed entries and a head-office admin."""
    require_browser()
    now = datetime.now(UTC)
    tmp = tmp_path_factory.mktemp("staff-site")
    with serve(tmp, now - timedelta(days=2), now + timedelta(days=1), now + timedelta(days=2)) as s:
        database = Database(s.database_url)
        protector = Protector(split_keys(KEYS["QUIZ_DATA_KEY"]), KEYS["QUIZ_HASH_KEY"])
        from quiz.staff import auth

        with database.transaction() as session:
            campaign = session.scalars(select(Campaign)).one()
            for n in range(1, PARTICIPANTS + 1):
                make_participant(session, protector, campaign, n, complete=True)
            auth.create_user(session, ADMIN, PASSWORD, "admin", display_name="总公司管理员")
            auth.create_user(session, SECOND, PASSWORD, "admin", display_name="总公司复核员")
        database.dispose()
        yield s


def close_campaign(site: Site) -> None:
    """The campaign's window ends a minute ago, so that its entrant list can be frozen.

    The entries were made moments ago; they are moved an hour back, inside the window.
    """
    database = Database(site.database_url)
    now = datetime.now(UTC)
    with database.transaction() as session:
        earlier = now - timedelta(hours=1)
        session.execute(update(Participant).values(created_at=earlier, completed_at=earlier))
        session.execute(
            update(Campaign).values(
                opens_at=now - timedelta(days=2), closes_at=now - timedelta(minutes=1), draw_at=now
            )
        )
        for campaign in session.scalars(select(Campaign)):
            # The lottery the list must precede is still ahead.
            deadline = (now + timedelta(days=1)).isoformat()
            campaign.content = {**campaign.content, "freeze_deadline": deadline}
    database.dispose()


def log_in(page: Any, shots: Path, username: str = ADMIN) -> None:
    """Password, then first-login TOTP enrolment with a code computed from the shown secret."""
    page.goto("/admin/login")
    page.screenshot(path=shots / "desktop-admin-login.png", full_page=True)
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/admin/login/totp")
    expect(page.locator("figure.qr svg")).to_have_count(1)  # the QR code to scan
    secret = page.locator("code.secret").inner_text().replace(" ", "")
    page.get_by_label("验证码").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="确认绑定").click()
    page.locator("ul.codes li").nth(4).wait_for()  # the click does not wait for the page
    expect(page.locator("ul.codes li").nth(4)).to_be_attached()  # recovery codes, shown once
    page.get_by_role("link", name="我已保存,继续").click()
    page.wait_for_load_state()


def download(page: Any, start: Any) -> bytes:
    with page.expect_download() as info:
        start()
    path = info.value.path()
    return Path(path).read_bytes()


def test_head_office_logs_in_exports_a_branch_and_runs_the_draw(
    browser: Any, staff_site: Site, artifacts: Path
) -> None:
    context = browser.new_context(**DESKTOP, base_url=staff_site.url, accept_downloads=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        log_in(page, artifacts)
        # Dashboard with its charts (inline SVG, no chart library or CDN).
        page.goto("/admin/")
        expect(page.locator("main svg, .chart svg, svg").first).to_be_attached()
        page.screenshot(path=artifacts / "desktop-admin-dashboard.png", full_page=True)
        page.goto("/admin/leads")
        expect(page.locator("table tbody tr")).to_have_count(PARTICIPANTS)
        page.screenshot(path=artifacts / "desktop-admin-leads.png", full_page=True)

        # One branch's leads: CSV now, XLSX from a background job; both opened and read.
        page.goto("/admin/exports")
        hubei = page.locator("#branch_id option", has_text="湖北").first.get_attribute("value")
        page.get_by_label("机构", exact=True).select_option(hubei)
        page.get_by_role("button", name="应用筛选条件").click()
        page.wait_for_load_state()
        page.screenshot(path=artifacts / "desktop-admin-exports.png", full_page=True)
        page.get_by_label(re.compile("^CSV")).check()
        page.get_by_label("单个文件(按筛选条件)").check()
        data = download(page, lambda: page.get_by_role("button", name="开始导出").click())
        rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
        header, body = rows[0], [r for r in rows[1:] if any(r)]
        assert len(body) == len(HUBEI), rows
        assert all("湖北" in ",".join(r) for r in body)
        assert any("地址" in h for h in header) and any("手机" in h for h in header)

        page.goto(f"/admin/exports?branch_id={hubei}")
        page.get_by_label(re.compile("^Excel")).check()
        page.get_by_label("单个文件(按筛选条件)").check()
        page.get_by_role("button", name="开始导出").click()
        page.wait_for_url(re.compile(r"/admin/exports/jobs/\d+$"))
        link = page.get_by_role("link", name="下载文件")
        for _ in range(30):  # the job page refreshes itself every 2 s while it runs
            if link.count():
                break
            page.wait_for_timeout(500)
            page.reload()
        data = download(page, link.click)
        sheet = openpyxl.load_workbook(io.BytesIO(data), read_only=True).worksheets[0]
        values = [
            [c for c in row if c not in (None, "")] for row in sheet.iter_rows(values_only=True)
        ]
        values = [v for v in values if v]
        assert len(values) - 1 == len(HUBEI), values
        assert values[0] == [h for h in header if h], (values[0], header)

        # The draw: freeze after the close, then run with the published randomness.
        close_campaign(staff_site)
        page.goto("/admin/draw")
        page.get_by_role("button", name="冻结抽奖名单…").click()
        # The confirmation names who will be drawn: the address rule's exclusions apart.
        rule = f"冻结时另将排除 {PARTICIPANTS - ADDRESSES} 人"
        # The click does not wait for the confirmation page: count() alone could read the
        # page before it came (CI failed so once); expect() waits for it.
        expect(page.get_by_text(rule)).to_have_count(1)
        with page.expect_navigation(wait_until="domcontentloaded"):
            page.get_by_role("button", name=f"确认冻结 {ADDRESSES} 人的名单").click()
        assert page.url.endswith("/admin/draw"), page.locator(".flash").all_inner_texts()
        expect(page.get_by_text(f"参与人数 {ADDRESSES}")).to_have_count(1)
        excluded = f"同一邮寄地址限一人获奖 {PARTICIPANTS - ADDRESSES} 人"
        expect(page.get_by_text(excluded)).to_have_count(1)
        page.get_by_label("公证员").fill("王公证")
        page.get_by_label("监督人").fill("李监督")
        page.get_by_role("button", name="保存见证人").click()
        page.wait_for_load_state()
        # Two-person control: this admin enters the result; nothing is drawn yet.
        page.get_by_label("随机数来源公布的开奖结果(原样填写)").fill(RESULT)
        page.get_by_role("button", name="下一步:确认开奖结果").click()
        page.screenshot(path=artifacts / "desktop-admin-draw-confirm.png", full_page=True)
        page.get_by_role("button", name="录入,等待另一人确认").click()
        page.wait_for_url(re.compile(r"/admin/draw$"))
        expect(page.locator("#pending-entry")).to_have_count(1)  # same URL: wait for it
        assert RESULT not in page.content()

        # The second admin, in a browser context of their own, types it again unseen.
        second = browser.new_context(**DESKTOP, base_url=staff_site.url)
        second.set_default_timeout(15_000)
        other = second.new_page()
        try:
            log_in(other, artifacts, SECOND)
            other.goto("/admin/draw")
            expect(other.locator("#pending-entry")).to_have_count(1)
            assert RESULT not in other.content()  # the first entry is never shown
            other.screenshot(path=artifacts / "desktop-admin-draw-second.png", full_page=True)
            other.get_by_label("再次录入开奖结果(原样填写,看不到第一次录入的内容)").fill(RESULT)
            other.get_by_role("button", name="确认并开始抽奖(只能进行一次)").click()
            other.wait_for_url(re.compile(r"/admin/draw/\d+/record$"))
            record = other.locator("table.facts").inner_text()
            assert f"录入人 {ADMIN}" in record and f"确认人 {SECOND}" in record, record
            assert "公证员:王公证" in record and "监督人:李监督" in record, record
            other.screenshot(path=artifacts / "desktop-admin-draw-record.png", full_page=True)
        finally:
            second.close()
        page.goto("/admin/draw/winners")
        page.screenshot(path=artifacts / "desktop-admin-winners.png", full_page=True)
    finally:
        context.close()

    # The public side on a phone: the winners list and one winner's own look-up.
    phone = browser.new_context(**PHONE, base_url=staff_site.url, bypass_csp=True)
    phone.set_default_timeout(15_000)
    page = phone.new_page()
    try:
        page.goto("/draw")
        result = page.locator("#result").inner_text()
        assert RESULT in result and f"{ADMIN} 录入" in result and f"{SECOND} 确认" in result
        assert "公证员 王公证" in result
        page.screenshot(path=artifacts / "phone-draw-drawn.png", full_page=True, scale="css")
        assert not run_axe(page)
        page.goto("/winners")
        page.screenshot(path=artifacts / "phone-winners-drawn.png", full_page=True, scale="css")
        expect(page.locator("table tbody tr, ol li, .winners li").first).to_be_attached()
        assert not run_axe(page)
        assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
        page.goto("/winners/lookup")
        person_mobile = f"139{HUBEI[0]:08d}"
        from tests.factories import make_resident_id

        prefix = PLACES[HUBEI[0] % len(PLACES)][0]
        page.get_by_label("手机号码").fill(person_mobile)
        page.get_by_label("身份证号码后四位").fill(make_resident_id(prefix, seq=HUBEI[0])[-4:])
        page.get_by_role("button", name="查询").click()
        page.wait_for_load_state()
        page.screenshot(
            path=artifacts / "phone-winner-lookup-result.png", full_page=True, scale="css"
        )
        expect(page.get_by_text("幸运奖").first).to_be_attached()
        assert not run_axe(page)
    finally:
        phone.close()
