"""Head office builds a campaign in the browser (desktop) and a participant takes it on a
phone at /c/<slug>/; afterwards the answer key is locked, and the editor says why."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from playwright.sync_api import expect

from quiz.db import Database
from quiz.editor.bank_xlsx import COLUMNS
from tests.e2e.conftest import DESKTOP, PHONE, Site, require_browser, serve
from tests.e2e.pages import answer_all, new_person, register
from tests.e2e.test_staff_flow import ADMIN, PASSWORD, log_in

pytestmark = pytest.mark.browser

SLUG = "spring-quiz-2027"


@pytest.fixture(scope="module")
def editor_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A server with the shipped campaign and a head-office admin."""
    require_browser()
    now = datetime.now(UTC)
    tmp = tmp_path_factory.mktemp("editor-site")
    with serve(
        tmp, now - timedelta(days=2), now + timedelta(days=10), now + timedelta(days=20)
    ) as s:
        from quiz.staff import auth

        database = Database(s.database_url)
        with database.transaction() as session:
            auth.create_user(session, ADMIN, PASSWORD, "admin", display_name="总公司管理员")
        database.dispose()
        yield s


def bank_file(tmp: Path, count: int) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(list(COLUMNS))
    for n in range(count):
        options = [f"说法{n}-甲", f"说法{n}-乙", f"说法{n}-丙", f"说法{n}-丁"]
        sheet.append(
            [
                f"imp-{n:02d}",
                "知识题",
                "导入",
                f"导入的第 {n + 1} 题:哪个说法正确?",
                *options,
                *[""] * 6,
                "ABCD"[n % 4],
                "否",
                f"第 {n + 1} 题的解析。",
            ]
        )
    path = tmp / "bank.xlsx"
    out = io.BytesIO()
    book.save(out)
    path.write_bytes(out.getvalue())
    return path


def local(moment: datetime) -> str:
    return (moment + timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M")


def test_build_publish_take_on_a_phone_then_the_answer_key_is_locked(
    browser: Any, editor_site: Site, artifacts: Path, tmp_path: Path
) -> None:
    desk = browser.new_context(**DESKTOP, base_url=editor_site.url)
    desk.set_default_timeout(20_000)
    page = desk.new_page()
    log_in(page, artifacts)

    # Create from the prize_quiz template.
    page.goto("/admin/campaigns")
    page.get_by_label("从模板或已有活动开始").select_option(label="模板:有奖问答")
    page.get_by_label("活动名称").fill("春季保险知识有奖竞答")
    page.get_by_label("活动地址", exact=False).fill(SLUG)
    page.get_by_role("button", name="创建草稿").click()
    page.wait_for_url("**/edit")

    # The window around now (the template keeps the demo's dates).
    now = datetime.now(UTC)
    page.get_by_label("开始时间(北京时间)", exact=True).fill(local(now - timedelta(hours=1)))
    page.get_by_label("结束时间(北京时间)", exact=True).fill(local(now + timedelta(days=10)))
    page.get_by_label("抽奖时间(北京时间)", exact=True).fill(local(now + timedelta(days=20)))
    freeze_by = page.get_by_label("名单冻结截止时间(北京时间)", exact=True)
    freeze_by.fill(local(now + timedelta(days=15)))
    page.get_by_role("button", name="保存", exact=True).click()
    page.wait_for_url("**/edit")
    expect(page.locator(".flash", has_text="已保存")).to_have_count(1)  # same URL: wait

    # Three questions by hand.
    page.get_by_role("link", name="题库").click()
    for n in range(3):
        page.get_by_role("link", name="新增题目").click()
        page.get_by_label("题目编号", exact=False).fill(f"hand-{n}")
        page.get_by_label("题目", exact=True).fill(f"手工添加的第 {n + 1} 题?")
        page.get_by_label("选项(每行一个", exact=False).fill("正确的说法\n错误的说法\n不确定")
        page.get_by_label("正确答案", exact=False).fill("A")
        page.get_by_role("button", name="保存题目").click()
        page.wait_for_url("**/questions")
    # Twenty from a sheet.
    page.get_by_label("从 XLSX 导入题目", exact=False).set_input_files(bank_file(tmp_path, 20))
    page.get_by_role("button", name="导入", exact=True).click()
    page.wait_for_url("**/questions")
    expect(page.locator(".flash", has_text="已导入 20 道题")).to_have_count(1)
    expect(page.locator("table.bank tbody tr")).to_have_count(28 + 3 + 20)

    # Preview every public page in a 390 px frame.
    page.get_by_role("link", name="手机预览").click()
    frames = page.locator("iframe")
    expect(frames).to_have_count(6)
    assert {frames.nth(i).get_attribute("width") for i in range(6)} == {"390"}
    first = page.frame_locator("iframe").first
    assert first.locator("h1").inner_text() == "春季保险知识有奖竞答"
    page.screenshot(path=artifacts / "desktop-editor-preview.png", full_page=True)

    # Publish.
    page.get_by_role("link", name="活动设置").click()
    page.get_by_role("button", name="发布活动").click()
    expect(page.locator(".flash", has_text="已发布")).to_have_count(1)  # waits for the page

    # A participant on a phone at /c/<slug>/.
    phone_context = browser.new_context(**PHONE, base_url=editor_site.url)
    phone_context.set_default_timeout(20_000)
    phone = phone_context.new_page()
    opened = phone.goto(f"/c/{SLUG}/")
    assert opened.status == 200 and "我要参加" in phone.content(), phone.content()[-3000:]
    register(phone, new_person("李小四"), path=f"/c/{SLUG}/")
    assert f"/c/{SLUG}/quiz" in phone.url
    answered = answer_all(phone)
    assert answered >= 5
    assert "答题完成" in phone.locator("h1").inner_text()
    phone.screenshot(path=artifacts / "phone-editor-campaign-result.png", full_page=True)
    phone_context.close()

    # Now the answer key is locked; the editor says why.
    page.get_by_role("link", name="题库").click()
    page.get_by_role("link", name="编辑 hand-0").click()
    page.get_by_label("正确答案", exact=False).fill("B")
    page.get_by_role("button", name="保存题目").click()
    expect(
        page.get_by_role("alert")
        .filter(has_text="已有人参加本活动,不能修改已有题目的正确答案")
        .first
    ).to_be_visible()
    desk.close()


def test_head_office_sets_a_staff_contest_up_in_the_browser(
    browser: Any, editor_site: Site, artifacts: Path
) -> None:
    """From the staff contest's template: the contest's own settings, a quota the bank
    cannot fill refused beside its field, then the phone preview of the sign-in page."""
    from quiz.staff import auth

    database = Database(editor_site.database_url)
    with database.transaction() as session:
        auth.create_user(session, "hq-contest", PASSWORD, "admin", display_name="竞赛组织者")
    database.dispose()
    desk = browser.new_context(**DESKTOP, base_url=editor_site.url)
    desk.set_default_timeout(20_000)
    page = desk.new_page()
    log_in(page, artifacts, username="hq-contest")

    page.goto("/admin/campaigns")
    page.get_by_label("从模板或已有活动开始").select_option(label="模板:员工知识竞赛")
    page.get_by_label("活动名称").fill("2027 年理赔服务知识竞赛")
    page.get_by_label("活动地址", exact=False).fill("claims-contest-2027")
    page.get_by_role("button", name="创建草稿").click()
    page.wait_for_url("**/edit")
    expect(page.get_by_role("group", name="竞赛设置")).to_be_visible()
    expect(page.get_by_label("每人抽取知识题数")).to_have_count(0)  # groups' quotas instead

    quotas = page.get_by_label(re.compile(r"^各分类抽题数.*第2组"))
    expect(quotas).to_have_value("理赔流程=3,理赔时效=2,服务规范=5")
    page.get_by_label("答题限时", exact=False).fill("15")
    quotas.fill("理赔流程=99")
    page.get_by_role("button", name="保存", exact=True).click()
    error = page.get_by_role("alert").filter(has_text="题库中这个分类只有 6 道知识题")
    expect(error).to_be_visible()
    expect(page.get_by_label(re.compile(r"^各分类抽题数.*第2组"))).to_have_value("理赔流程=99")
    expect(page.get_by_label(re.compile(r"^各分类抽题数.*第2组"))).to_have_attribute(
        "aria-invalid", "true"
    )
    page.screenshot(path=artifacts / "desktop-editor-contest-refused.png", full_page=True)

    page.get_by_label(re.compile(r"^各分类抽题数.*第2组")).fill("理赔流程=2,服务规范=3")
    page.get_by_role("button", name="保存", exact=True).click()
    expect(page.locator(".flash", has_text="已保存")).to_have_count(1)
    expect(page.get_by_label("答题限时", exact=False)).to_have_value("15")

    page.get_by_role("link", name="手机预览").click()
    frames = page.locator("iframe")
    expect(frames).to_have_count(2)
    sign_in = page.frame_locator("iframe").first
    expect(sign_in.get_by_text("每人限答一次,限时15分钟")).to_be_visible()
    expect(sign_in.get_by_label("工号")).to_be_visible()
    page.screenshot(path=artifacts / "desktop-editor-contest-preview.png", full_page=True)
    desk.close()
