"""Accessibility on a phone: axe-core, labels, errors tied to fields, tap targets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.pages import give_consent, new_person, register, walk_public_pages

pytestmark = pytest.mark.browser

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
AXE_SOURCE = AXE.read_text(encoding="utf-8") + "\n;void 0"
# Buttons, answer options, consent boxes, selects, text fields and footer links.
TAP_TARGETS = """() => {
  const seen = [];
  const visible = e => e.offsetParent !== null || getComputedStyle(e).position === 'fixed';
  const box = e => { const r = e.getBoundingClientRect(); return [r.width, r.height]; };
  for (const e of document.querySelectorAll(
      'button, .button, select, input:not([type=hidden]), summary, .foot a, .top a')) {
    if (!visible(e)) continue;
    let [w, h] = box(e);
    if (['checkbox', 'radio'].includes(e.type) && e.labels && e.labels.length) {
      // The label is part of the target: tapping it ticks the box.
      const a = e.getBoundingClientRect(), b = e.labels[0].getBoundingClientRect();
      w = Math.max(a.right, b.right) - Math.min(a.left, b.left);
      h = Math.max(a.bottom, b.bottom) - Math.min(a.top, b.top);
    }
    const name = (e.innerText || e.name || e.id || e.tagName).trim().slice(0, 30);
    seen.push([name, Math.round(w), Math.round(h)]);
  }
  return seen;
}"""
UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea')]
  .filter(e => e.type !== 'hidden' && !e.hidden)
  .filter(e => !(e.labels && e.labels.length && [...e.labels].some(l => l.innerText.trim()))
               && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby'))
  .map(e => e.name || e.id)"""


def run_axe(page: Any) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        # Evaluated rather than added as a <script>: works with the page's JavaScript off.
        page.evaluate(AXE_SOURCE)
    result = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    return [v for v in result if v["impact"] in ("serious", "critical")]


def describe(violations: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"  {v['id']} ({v['impact']}): {v['help']} -> "
        + json.dumps([n["target"] for n in v["nodes"]][:5], ensure_ascii=False)
        for v in violations
    )


def test_axe_finds_nothing_serious_on_any_public_page(new_context: Any, artifacts: Path) -> None:
    """Every public page, audited by axe-core and screenshotted at phone size."""
    # bypass_csp: the site's CSP (rightly) refuses the injected audit script.
    page = new_context(bypass_csp=True).new_page()
    found: dict[str, str] = {}
    unlabelled: dict[str, list[str]] = {}

    def audit(name: str) -> None:
        page.screenshot(path=artifacts / f"phone-{name}.png", full_page=True, scale="css")
        violations = run_axe(page)
        if violations:
            found[name] = describe(violations)
        missing = page.evaluate(UNLABELLED)
        if missing:
            unlabelled[name] = missing

    names = walk_public_pages(page, audit)
    assert {"campaign", "privacy", "resume", "register", "register-errors", "result"} <= set(names)
    assert not unlabelled, f"inputs without a visible label: {unlabelled}"
    assert not found, "axe-core violations:\n" + "\n".join(
        f"{name}:\n{text}" for name, text in found.items()
    )


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
    fieldset = page.locator("fieldset.options")
    error_id = fieldset.get_attribute("aria-describedby")
    assert error_id and page.locator(f"#{error_id}").inner_text().strip()


def test_tap_targets_are_at_least_44_css_pixels(phone: Any) -> None:
    page = phone
    small: dict[str, list[Any]] = {}

    def measure(name: str) -> None:
        tiny = [t for t in page.evaluate(TAP_TARGETS) if t[1] < 44 or t[2] < 44]
        if tiny:
            small[name] = tiny

    walk_public_pages(page, measure)
    assert not small, f"tap targets under 44x44 CSS px: {small}"
