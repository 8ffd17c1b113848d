"""Accessibility on a phone: axe-core, labels, errors tied to fields, tap targets."""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import Walk, run_axe
from tests.e2e.pages import give_consent, new_person, register

pytestmark = pytest.mark.browser


def describe(violations: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"  {v['id']} ({v['impact']}): {v['help']} -> "
        + json.dumps([n["target"] for n in v["nodes"]][:5], ensure_ascii=False)
        for v in violations
    )


def test_axe_finds_nothing_serious_on_any_public_page(public_walk: Walk) -> None:
    """Every public page (questions: one of each kind), audited by axe-core on a phone."""
    audited = set(public_walk.axe)
    assert {"campaign", "privacy", "resume", "register", "register-errors", "result"} <= audited
    assert any(n.startswith("question-") for n in audited)
    found = {name: describe(v) for name, v in public_walk.axe.items() if v}
    assert not found, "axe-core violations:\n" + "\n".join(
        f"{name}:\n{text}" for name, text in found.items()
    )


def test_every_input_has_a_visible_label(public_walk: Walk) -> None:
    missing = {n: f["unlabelled"] for n, f in public_walk.facts.items() if f["unlabelled"]}
    assert not missing, f"inputs without a visible label: {missing}"


def test_axe_on_the_form_without_javascript(new_context: Any) -> None:
    """The free-text address form that browsers without JavaScript get is audited too."""
    # axe itself needs timers, which never fire with JavaScript off; blocking the site's
    # only script gives the same page the no-JavaScript visitor sees.
    page = new_context(bypass_csp=True).new_page()
    page.route("**/*.js", lambda route: route.abort())
    give_consent(page)
    assert page.get_by_label("邮寄地址", exact=True).is_visible()
    violations = run_axe(page)
    assert not violations, describe(violations)


def assert_errors_tied_to_fields(page: Any) -> int:
    """Every field marked invalid names a visible error message via aria-describedby."""
    invalid = page.locator("[aria-invalid=true]")
    for i in range(invalid.count()):
        field = invalid.nth(i)
        ids = (field.get_attribute("aria-describedby") or "").split()
        messages = [page.locator(f"#{x}").inner_text() for x in ids if x.endswith("-error")]
        assert messages and all(m.strip() for m in messages), field.evaluate("e => e.outerHTML")
    return invalid.count()


def test_errors_are_tied_to_their_fields(phone: Any) -> None:
    page = phone
    # Consent page: submitting without ticking marks both boxes.
    page.goto("/")
    page.get_by_role("button", name="同意参加活动").click()
    assert assert_errors_tied_to_fields(page) == 2
    # Registration: an empty form marks every required field.
    give_consent(page)
    page.get_by_role("button", name="提交并开始答题").click()
    page.wait_for_url("**/register")
    assert assert_errors_tied_to_fields(page) >= 4
    # A question submitted with no choice: the error is tied to the options' fieldset.
    register(page, new_person("吴小燕"))
    page.get_by_role("button", name="下一题").click()
    # Shown in place by the page's script, with focus on the message so it is read out.
    alert = page.get_by_role("alert")
    expect(alert).to_be_focused()
    fieldset = page.locator("fieldset.options")
    error_id = fieldset.get_attribute("aria-describedby")
    assert error_id and page.locator(f"#{error_id}").inner_text().strip() == "请选择一个答案。"


def test_tap_targets_are_at_least_44_css_pixels(public_walk: Walk) -> None:
    """Buttons, answer options, consent boxes, fields and navigation links on every page."""
    small = {
        name: [t for t in facts["targets"] if t[1] < 44 or t[2] < 44]
        for name, facts in public_walk.facts.items()
    }
    small = {name: tiny for name, tiny in small.items() if tiny}
    assert all(facts["targets"] for facts in public_walk.facts.values())
    assert not small, f"tap targets under 44x44 CSS px: {small}"
