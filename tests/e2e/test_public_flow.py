"""A participant on a phone: campaign page to result, in a real browser against gunicorn."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import Walk
from tests.e2e.pages import (
    RULES_CONSENT,
    SENSITIVE_CONSENT,
    answer_all,
    answer_one,
    bad_resident_id,
    fill_registration,
    give_consent,
    new_person,
    progress,
    register,
    sms_code_from_log,
    wait_for_next,
)

pytestmark = pytest.mark.browser


def assert_result_page(page: Any, total: int) -> None:
    """Score out of the knowledge questions, and an explanation for each of them."""
    score = page.locator(".score").inner_text()
    match = re.search(r"您答对了 (\d+) / (\d+) 道保险知识题", score)
    assert match, score
    right, knowledge = int(match[1]), int(match[2])
    assert 0 <= right <= knowledge < total
    expect(page.locator(".review li")).to_have_count(knowledge)
    expect(page.locator(".review .explain")).to_have_count(knowledge)
    assert page.get_by_text("您已获得抽奖资格").is_visible()


def test_phone_flow_with_cascading_address_selects(phone: Any) -> None:
    page = phone
    # A CSP refusal or a script error shows up in the console.
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto("/")
    give_consent(page)
    # JavaScript replaced the free-text address by the province/city/district selects.
    # The selects appear once regions.json has loaded: wait for them, don't race.
    expect(page.get_by_label("省/直辖市/自治区")).to_be_visible()
    expect(page.get_by_label("邮寄地址", exact=True)).to_be_hidden()
    person = new_person("王小明")
    fill_registration(page, person, selects=True)
    page.get_by_role("button", name="提交并开始答题").click()
    page.wait_for_url("**/quiz")
    assert progress(page)[0] == 1
    # Each answer is posted by the page's script and the next question shown in place:
    # a marker on this page's window survives to the result only if nothing reloaded.
    page.evaluate("window.sameDocument = true")
    answers: list[str] = []
    page.on("request", lambda r: answers.append(r.method) if r.url.endswith("/quiz") else None)
    total = answer_all(page)
    assert total >= 6
    assert_result_page(page, total)
    assert page.evaluate("window.sameDocument") is True
    assert answers == ["POST"] * total  # one request per question, no GET after each
    assert not errors, errors


def test_phone_flow_without_javascript_uses_free_text_address(
    new_context: Any, artifacts: Path
) -> None:
    page = new_context(java_script_enabled=False).new_page()
    give_consent(page)
    assert page.get_by_label("邮寄地址", exact=True).is_visible()
    expect(page.locator("select")).to_have_count(0)
    page.screenshot(path=artifacts / "phone-register-nojs.png", full_page=True, scale="css")
    register_page = page.url
    fill_registration(page, new_person("赵小红"), selects=False)
    page.get_by_role("button", name="提交并开始答题").click()
    page.wait_for_url("**/quiz")
    assert page.url != register_page
    total = answer_all(page)
    assert_result_page(page, total)


def test_invalid_id_number_message_beside_field_keeps_other_fields(phone: Any) -> None:
    page = phone
    person = new_person("钱小花")
    give_consent(page)
    fill_registration(page, person, selects=True)
    id_field = page.get_by_label("身份证号码", exact=True)
    id_field.fill(bad_resident_id(person))
    page.get_by_role("button", name="提交并开始答题").click()
    page.wait_for_url("**/register")

    id_field = page.get_by_label("身份证号码", exact=True)
    assert id_field.get_attribute("aria-invalid") == "true"
    described = (id_field.get_attribute("aria-describedby") or "").split()
    errors = [page.locator(f"#{i}") for i in described if i.endswith("-error")]
    assert len(errors) == 1, described
    message = errors[0].inner_text()
    assert "身份证号码" in message and re.search(r"[\u4e00-\u9fff]", message)
    # Beside the field: the message sits directly under the input, within the same block.
    box, err_box = id_field.bounding_box(), errors[0].bounding_box()
    assert 0 <= err_box["y"] - (box["y"] + box["height"]) < 40
    # Only this field is in error, and everything else typed is still there.
    expect(page.locator("[aria-invalid=true]")).to_have_count(1)
    assert page.get_by_label("姓名", exact=True).input_value() == person.name
    assert page.get_by_label("邮政编码").input_value() == person.postal_code
    assert page.get_by_label("手机号码").input_value() == person.mobile
    assert page.get_by_label("固定电话(选填)").input_value() == person.landline
    assert page.get_by_label("详细地址(街道、门牌号)").input_value() == person.detail
    chosen = "s => s.selectedIndex > 0 ? s.options[s.selectedIndex].text : ''"
    assert page.get_by_label("省/直辖市/自治区").evaluate(chosen) == person.province
    assert page.get_by_label("市", exact=True).evaluate(chosen) == person.city
    assert page.get_by_label("区/县").evaluate(chosen) == person.district
    assert id_field.input_value() == bad_resident_id(person)


def test_close_half_way_then_resume_on_next_unanswered_question(new_context: Any) -> None:
    first = new_context().new_page()
    person = new_person("孙小亮")
    register(first, person)
    answer_one(first)
    answer_one(first)
    assert progress(first)[0] == 3
    first.context.close()  # the phone's in-app browser is closed half-way

    page = new_context().new_page()
    page.goto("/")
    page.get_by_role("link", name="继续答题").first.click()
    page.wait_for_url("**/resume")
    page.get_by_label("身份证号码").fill(person.resident_id)
    page.get_by_label("手机号码").fill(person.mobile)
    page.get_by_role("button", name="继续").click()
    page.wait_for_url("**/quiz")
    assert progress(page)[0] == 3
    total = answer_all(page)
    assert_result_page(page, total)


def test_resume_with_wrong_mobile_is_refused_beside_the_field(phone: Any) -> None:
    page = phone
    person = new_person("周小平")
    register(page, person)
    page.context.clear_cookies()
    page.goto("/resume")
    page.get_by_label("身份证号码").fill(person.resident_id)
    other = "13700000001"  # new_person() numbers all start with 139
    page.get_by_label("手机号码").fill(other)
    with page.expect_navigation(wait_until="domcontentloaded"):
        page.get_by_role("button", name="继续").click()
    mobile = page.get_by_label("手机号码")
    error_id = (mobile.get_attribute("aria-describedby") or "").split()[-1]
    assert "没有找到" in page.locator(f"#{error_id}").inner_text()
    assert "/resume" in page.url


def _focus_is(page: Any, selector: str) -> bool:
    return bool(page.evaluate(f"document.activeElement.matches({selector!r})"))


def tab_to(page: Any, selector: str, limit: int = 60) -> None:
    """Press Tab until the focused element matches selector."""
    for _ in range(limit):
        if _focus_is(page, selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {selector}")


def test_keyboard_only_completes_the_whole_flow(new_context: Any) -> None:
    """Tab, Space and Enter (plus typing, and arrow keys inside the address selects)."""
    page = new_context(has_touch=False, is_mobile=False).new_page()
    person = new_person("李键盘")
    page.goto("/")
    tab_to(page, "input[type=checkbox]:not(:checked)")
    page.keyboard.press("Space")
    tab_to(page, "input[type=checkbox]:not(:checked)")
    page.keyboard.press("Space")
    assert page.get_by_label(RULES_CONSENT).is_checked()
    assert page.get_by_label(SENSITIVE_CONSENT).is_checked()
    tab_to(page, "button[type=submit]")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.endswith("/register")
    page.wait_for_selector("select[name=province_code]")

    typed = [("#name", person.name), ("#resident_id", person.resident_id)]
    for selector, value in typed:
        tab_to(page, selector)
        page.keyboard.type(value)
    # A closed <select> takes ArrowDown to pick the next entry: 北京市 / 北京市 / 东城区.
    tab_to(page, "select[name=province_code]")
    page.keyboard.press("ArrowDown")
    tab_to(page, "select[name=district_code]")
    page.keyboard.press("ArrowDown")
    for selector, value in (
        ("#address_detail", "建国路88号"),
        ("#postal_code", "100022"),
        ("#mobile", person.mobile),
    ):
        tab_to(page, selector)
        page.keyboard.type(value)
    # 获取验证码 is a submit: the page comes back with every field kept and the code sent.
    tab_to(page, "#send-code")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.get_by_label("手机号码").input_value() == person.mobile
    tab_to(page, "#sms_code")
    page.keyboard.type(sms_code_from_log(person.mobile))
    # Enter in the code field submits the registration, not another 获取验证码.
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.endswith("/quiz"), page.locator(".error").all_inner_texts()

    while "/quiz" in page.url:
        number, total = progress(page)
        tab_to(page, ".option input")
        page.keyboard.press("Space")  # a radio group is one tab stop: Space picks its first
        expect(page.locator(".option input:checked")).to_have_count(1)
        tab_to(page, "button[type=submit]")
        page.keyboard.press("Enter")
        wait_for_next(page, number, total)
        if number < total:
            # Shown in place: focus moved to the new question's progress line, so the
            # screen reader announces it and the next Tab reaches its options.
            assert _focus_is(page, ".progress")
    assert_result_page(page, total)


def test_every_public_page_fits_a_phone_without_zoom_or_sideways_scroll(
    public_walk: Walk,
) -> None:
    assert {"campaign", "register", "register-errors", "question-1", "result"} <= set(
        public_walk.names
    )
    problems: list[str] = []
    for name, facts in public_walk.facts.items():
        viewport = facts["viewport"]
        if "width=device-width" not in viewport or re.search(
            r"user-scalable\s*=\s*(no|0)|maximum-scale\s*=\s*1(\.0)?\b", viewport
        ):
            problems.append(f"{name}: viewport meta {viewport!r} stops or needs zooming")
        if facts["scrollWidth"] > facts["innerWidth"]:
            problems.append(f"{name}: scrollWidth {facts['scrollWidth']} > {facts['innerWidth']}")
        if facts["smallFonts"]:
            problems.append(f"{name}: inputs under 16px make iOS zoom: {facts['smallFonts']}")
    assert not problems, "\n".join(problems)
