"""A list draw in the browser: head office imports a list (report, then confirmation),
freezes it and runs the draw (two people); the public page on a phone then shows the
entrant digest, the winners and how to check them, and a winner looks the prize up."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from quiz.db import Database
from quiz.draw import demo
from quiz.models import Draw
from tests.draw.test_list_draw_cli import SLUG, moved_example
from tests.e2e.conftest import DESKTOP, PHONE, Site, require_browser, run_axe, serve
from tests.e2e.test_staff_flow import ADMIN, PASSWORD, RESULT, SECOND, log_in

pytestmark = pytest.mark.browser

ROWS = 40


@pytest.fixture(scope="module")
def list_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A server with the example list draw loaded (closed, deadline ahead) and two admins."""
    require_browser()
    now = datetime.now(UTC)
    tmp = tmp_path_factory.mktemp("list-site")
    with serve(tmp, now - timedelta(days=2), now + timedelta(days=1), now + timedelta(days=2)) as s:
        s.quiz("campaign", "load", str(moved_example(tmp, now)))
        database = Database(s.database_url)
        from quiz.staff import auth

        with database.transaction() as session:
            auth.create_user(session, ADMIN, PASSWORD, "admin", display_name="总公司管理员")
            auth.create_user(session, SECOND, PASSWORD, "admin", display_name="总公司复核员")
        database.dispose()
        yield s


def switch_to_list_draw(page: Any) -> None:
    page.goto("/admin/")
    option = page.locator("#switch-campaign option", has_text="保单复效")
    page.select_option("#switch-campaign", value=option.get_attribute("value"))
    page.get_by_role("button", name="切换").click()
    page.wait_for_load_state()


def test_head_office_imports_freezes_runs_and_the_phone_page_shows_it(
    browser: Any, list_site: Site, artifacts: Path, tmp_path: Path
) -> None:
    today = datetime.now(UTC).date()
    listed = demo.write_list(
        tmp_path / "复效名单.csv",
        ROWS,
        ["B11", "B31", "B44"],
        today - timedelta(days=30),
        today - timedelta(days=3),
    )
    context = browser.new_context(**DESKTOP, base_url=list_site.url)
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        log_in(page, artifacts)
        switch_to_list_draw(page)
        page.goto("/admin/draw/list")
        page.get_by_label("名单文件").set_input_files(str(listed))
        page.get_by_role("button", name="上传并检查").click()
        report = page.locator("#report").inner_text()
        assert f"可导入 {ROWS} 行,拒绝 0 行" in report, report
        page.screenshot(path=artifacts / "desktop-admin-list-report.png", full_page=True)
        page.get_by_role("button", name=f"确认导入 {ROWS} 人").click()
        page.wait_for_url(re.compile(r"/admin/draw$"))
        assert f"名单已导入:{ROWS} 人" in page.locator(".flash").first.inner_text()

        page.get_by_role("button", name="冻结抽奖名单…").click()
        page.get_by_role("button", name=f"确认冻结 {ROWS} 人的名单").click()
        page.wait_for_url(re.compile(r"/admin/draw$"))
        expect(page.get_by_text(f"参与人数 {ROWS}")).to_have_count(1)
        page.get_by_label("随机数来源公布的开奖结果(原样填写)").fill(RESULT)
        page.get_by_role("button", name="下一步:确认开奖结果").click()
        page.get_by_role("button", name="录入,等待另一人确认").click()
        page.wait_for_url(re.compile(r"/admin/draw$"))

        second = browser.new_context(**DESKTOP, base_url=list_site.url)
        second.set_default_timeout(15_000)
        other = second.new_page()
        try:
            log_in(other, artifacts, SECOND)
            switch_to_list_draw(other)
            other.goto("/admin/draw")
            other.get_by_label("再次录入开奖结果(原样填写,看不到第一次录入的内容)").fill(RESULT)
            other.get_by_role("button", name="确认并开始抽奖(只能进行一次)").click()
            other.wait_for_url(re.compile(r"/admin/draw/\d+/record$"))
            record = other.locator("table.facts").inner_text()
            assert listed.name in record and "导入" in record, record
            other.screenshot(path=artifacts / "desktop-admin-list-record.png", full_page=True)
        finally:
            second.close()
    finally:
        context.close()

    database = Database(list_site.database_url)
    with database.transaction(write=False) as session:
        draw = session.scalars(select(Draw).where(Draw.status == "drawn")).one()
        digest = draw.entrant_digest
    database.dispose()

    phone = browser.new_context(**PHONE, base_url=list_site.url, bypass_csp=True)
    phone.set_default_timeout(15_000)
    page = phone.new_page()
    try:
        page.goto(f"/c/{SLUG}/")
        body = page.locator("main").inner_text()
        assert digest in body and RESULT in body
        expect(page.locator("table.winners tbody tr")).to_have_count(ROWS)  # 225 prizes > 40 people
        assert "自行复核" in body and "verify_draw.py" in body
        page.screenshot(path=artifacts / "phone-list-draw-drawn.png", full_page=True, scale="css")
        assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
        assert not run_axe(page)

        # A person on the list looks their prize up with the mobile and 客户号 on the list
        # (every one of the 40 wins: 225 prizes).
        with listed.open(encoding="utf-8-sig", newline="") as source:
            customer, _, mobile, *_ = list(csv.reader(source))[1]
        page.get_by_role("link", name="中奖查询").click()
        page.get_by_label("手机号码").fill(mobile)
        page.get_by_label("客户号或保单号后四位").fill(customer[-4:])
        page.get_by_role("button", name="查询").click()
        expect(page.locator("#lookup-result")).to_contain_text("中奖")
        expect(page.locator("#lookup-result")).not_to_contain_text("未中奖")
        page.screenshot(path=artifacts / "phone-list-draw-lookup.png", full_page=True, scale="css")
    finally:
        phone.close()
