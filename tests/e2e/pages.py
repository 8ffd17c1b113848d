"""What a participant does on the public pages, driven by visible labels only."""

from __future__ import annotations

import itertools
import random
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from quiz.fraud.sms import codes_in_log
from tests.factories import make_mobile, make_resident_id

RULES_CONSENT = "我已阅读并同意活动规则"
SENSITIVE_CONSENT = "我同意主办方为核验参与资格和奖品发放处理我的身份证号码"
PROGRESS = re.compile(r"第 (\d+) 题 / 共 (\d+) 题")
# Distinct identities across one test session (and across reruns on one PostgreSQL server).
_serial = itertools.count(random.randrange(1, 900) * 1000)


@dataclass(frozen=True)
class Person:
    """A participant's registration, as typed into the form."""

    name: str
    resident_id: str
    mobile: str
    postal_code: str = "430014"
    address: str = "湖北省武汉市江岸区沿江大道100号"
    province: str = "湖北省"
    city: str = "武汉市"
    district: str = "江岸区"
    detail: str = "沿江大道100号"
    landline: str = "027-82345678"


def new_person(name: str = "张小三") -> Person:
    n = next(_serial)
    return Person(name=name, resident_id=make_resident_id("420102", seq=n), mobile=make_mobile(n))


def give_consent(page: Any, path: str = "/") -> None:
    """Campaign page (at `path`) -> tick both consents by their labels -> 同意参加活动."""
    page.goto(path)
    page.get_by_label(RULES_CONSENT).check()
    page.get_by_label(SENSITIVE_CONSENT).check()
    page.get_by_role("button", name="同意参加活动").click()
    page.wait_for_url("**/register")


def fill_registration(page: Any, person: Person, *, selects: bool) -> None:
    """Fill the registration form by label; the address by cascading selects or free text."""
    page.get_by_label("姓名", exact=True).fill(person.name)
    page.get_by_label("身份证号码", exact=True).fill(person.resident_id)
    if selects:
        page.get_by_label("省/直辖市/自治区").select_option(label=person.province)
        page.get_by_label("市", exact=True).select_option(label=person.city)
        page.get_by_label("区/县").select_option(label=person.district)
        page.get_by_label("详细地址(街道、门牌号)").fill(person.detail)
    else:
        page.get_by_label("邮寄地址", exact=True).fill(person.address)
    page.get_by_label("邮政编码").fill(person.postal_code)
    page.get_by_label("手机号码").fill(person.mobile)
    page.get_by_label("固定电话(选填)").fill(person.landline)
    prove_mobile(page, person)


# Server logs the console SMS backend writes its `sms-code` lines to (conftest.serve).
SERVER_LOGS: list[Path] = []


def sms_code_from_log(mobile: str, timeout: float = 10) -> str:
    """The code the console backend logged for this mobile: the test hook a person's
    phone stands in for."""
    deadline = time.monotonic() + timeout
    while True:
        for log in SERVER_LOGS:
            code = codes_in_log(log.read_text(encoding="utf-8", errors="replace")).get(mobile)
            if code:
                return code
        if time.monotonic() > deadline:
            raise AssertionError(f"no sms-code line for {mobile} in {SERVER_LOGS}")
        time.sleep(0.1)


def prove_mobile(page: Any, person: Person) -> None:
    """When the campaign asks for it: 获取验证码 (the page comes back with every field
    kept), then the code from the server's log. Skipped when a code is already typed."""
    send = page.get_by_role("button", name=re.compile("获取验证码"))
    if send.count() == 0:
        return
    code_field = page.get_by_label("短信验证码")
    if code_field.input_value():
        return
    send.click()
    page.wait_for_url("**/register#sms_code")
    page.wait_for_load_state("load")
    page.get_by_label("短信验证码").fill(sms_code_from_log(person.mobile))


def register(page: Any, person: Person, *, selects: bool = True, path: str = "/") -> None:
    """Consent (on the campaign page at `path`), fill the form, submit; ends on the first
    question."""
    give_consent(page, path)
    fill_registration(page, person, selects=selects)
    page.get_by_role("button", name="提交并开始答题").click()
    page.wait_for_url("**/quiz")


def progress(page: Any) -> tuple[int, int]:
    """(question number, total) from the page's 第 N 题 / 共 M 题 line."""
    match = PROGRESS.search(page.locator(".progress").inner_text())
    assert match, page.content()[:2000]
    return int(match[1]), int(match[2])


def answer_one(page: Any) -> tuple[int, int]:
    """Choose options by their label and submit; return the answered question's position."""
    number, total = progress(page)
    labels = page.locator(".option label").all_inner_texts()
    multiple = page.locator('.option input[type="checkbox"]').count() > 0
    chosen = labels[:2] if multiple else [labels[number % len(labels)]]
    for text in chosen:
        page.get_by_label(text.strip(), exact=True).check()
    page.get_by_role("button", name=re.compile("下一题|提交答案")).click()
    wait_for_next(page, number, total)
    return number, total


def wait_for_next(page: Any, number: int, total: int) -> None:
    """After answering question `number`: the next question, or the result after the
    last. With JavaScript the page shows it in place; without, a new page loads."""
    if number == total:
        page.wait_for_url("**/result")
        expect(page.locator(".score")).to_be_visible()
    else:
        expect(page.locator(".progress")).to_have_text(f"第 {number + 1} 题 / 共 {total} 题")


def answer_all(page: Any) -> int:
    """Answer every remaining question; ends on the result page; returns the total."""
    total = 0
    while "/quiz" in page.url:
        number, total = answer_one(page)
        if number == total:
            page.wait_for_url("**/result")
    return total


def bad_resident_id(person: Person) -> str:
    """The person's ID number with a wrong check digit."""
    last = person.resident_id[-1]
    return person.resident_id[:-1] + ("1" if last == "0" else "0")


def walk_public_pages(page: Any, seen: Any, *, selects: bool = True) -> list[str]:
    """Visit every public page in a participant's order, calling seen(name) on each.

    Ends with a completed entry. Returns the names visited.
    """
    names: list[str] = []

    def at(name: str) -> None:
        page.wait_for_load_state("load")
        names.append(name)
        seen(name)

    page.goto("/")
    at("campaign")
    page.goto("/privacy")
    at("privacy")
    page.goto("/resume")
    at("resume")
    give_consent(page)
    if selects:  # the address selects replace the free text once the region data is in
        page.wait_for_selector("select[name=province_code]")
    at("register")
    person = new_person()
    fill_registration(page, person, selects=selects)
    page.get_by_label("身份证号码", exact=True).fill(bad_resident_id(person))
    page.get_by_role("button", name="提交并开始答题").click()
    page.wait_for_url("**/register")
    if selects:
        page.wait_for_selector("select[name=province_code]")
    at("register-errors")
    page.get_by_label("身份证号码", exact=True).fill(person.resident_id)
    if selects and page.get_by_label("详细地址(街道、门牌号)").input_value() == "":
        fill_registration(page, person, selects=selects)
    page.get_by_role("button", name="提交并开始答题").click()
    page.wait_for_url("**/quiz")
    while "/quiz" in page.url:
        number, _total = progress(page)
        at(f"question-{number}")
        answer_one(page)
    page.wait_for_url("**/result")
    at("result")
    for path, name in (("/winners", "winners"), ("/winners/lookup", "winner-lookup")):
        response = page.goto(path)
        if response is not None and response.status == 200:
            at(name)
    return names


# A loaded 2-core machine can take many seconds to answer one POST: every step below
# waits for the page it leads to (its navigation, then an element on it), never for a
# fixed time or for a load state the old page already had.
STAFF_STEP_MS = 60_000


def staff_sign_in(page: Any, username: str, password: str) -> None:
    """Sign a staff account in from /admin/login; head office enrols its second factor
    (the code computed with pyotp) when asked. Returns on a signed-in staff page."""
    import pyotp

    page.goto("/admin/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password)
    with page.expect_navigation(wait_until="domcontentloaded", timeout=STAFF_STEP_MS):
        page.get_by_role("button", name="登录").click()
    if "/admin/login/totp" in page.url:
        secret = page.locator("code.secret").inner_text().replace(" ", "")
        page.get_by_label("验证码").fill(pyotp.TOTP(secret).now())
        with page.expect_navigation(wait_until="domcontentloaded", timeout=STAFF_STEP_MS):
            page.get_by_role("button", name="确认绑定").click()
        with page.expect_navigation(wait_until="domcontentloaded", timeout=STAFF_STEP_MS):
            page.get_by_role("link", name="我已保存,继续").click()
    expect(page.get_by_role("button", name="退出登录")).to_be_attached(timeout=STAFF_STEP_MS)
