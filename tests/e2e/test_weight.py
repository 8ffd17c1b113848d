"""What a phone downloads: page weight as served, compression, and no third-party hosts."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.e2e.conftest import ROOT, Site, Walk
from tests.e2e.pages import (
    RULES_CONSENT,
    SENSITIVE_CONSENT,
    answer_one,
    fill_registration,
    new_person,
    progress,
)

pytestmark = pytest.mark.browser

KB = 1024
CAMPAIGN_BUDGET = 100 * KB  # first visit, nothing cached: HTML, CSS, JS, images
QUESTION_BUDGET = 30 * KB  # each question page during the quiz
REGISTER_BUDGET = 100 * KB  # the form plus the region data for the address selects


class Meter:
    """Bytes on the wire per request (headers + body as served), from Chromium's CDP."""

    def __init__(self, page: Any) -> None:
        self.bytes: dict[str, int] = {}
        self.urls: dict[str, str] = {}
        self.headers: dict[str, dict[str, str]] = {}
        cdp = page.context.new_cdp_session(page)
        cdp.send("Network.enable")
        # Measure the network, not the memory cache of an earlier page in this context.
        cdp.on("Network.responseReceived", self._response)
        cdp.on("Network.loadingFinished", self._finished)

    def _response(self, event: dict[str, Any]) -> None:
        rid = event["requestId"]
        self.urls[rid] = event["response"]["url"]
        self.headers[rid] = {k.lower(): v for k, v in event["response"]["headers"].items()}

    def _finished(self, event: dict[str, Any]) -> None:
        self.bytes[event["requestId"]] = int(event["encodedDataLength"])

    def reset(self) -> None:
        self.bytes.clear()
        self.urls.clear()
        self.headers.clear()

    def total(self) -> int:
        return sum(self.bytes.values())

    def detail(self) -> dict[str, int]:
        return {urlsplit(self.urls.get(r, r)).path: n for r, n in self.bytes.items()}


def report(name: str, figures: dict[str, Any]) -> None:
    """Keep the measured figures with the screenshots, for CI's artifacts."""
    folder = Path(os.environ.get("QUIZ_ARTIFACTS", ROOT / "test-artifacts"))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"weight-{name}.json").write_text(
        json.dumps(figures, indent=1, ensure_ascii=False), encoding="utf-8"
    )


def test_campaign_page_first_load_within_budget(phone: Any) -> None:
    page = phone
    meter = Meter(page)
    page.goto("/", wait_until="networkidle")
    total = meter.total()
    report("campaign", {"total": total, "requests": meter.detail()})
    assert meter.bytes, "nothing measured"
    assert total <= CAMPAIGN_BUDGET, (
        f"campaign page {total} B > {CAMPAIGN_BUDGET}: {meter.detail()}"
    )
    # Text is compressed on the wire, and caches are told it varies with Accept-Encoding.
    for rid, headers in meter.headers.items():
        if meter.bytes.get(rid, 0) > 2 * KB:
            assert headers.get("content-encoding") == "gzip", meter.urls[rid]
        assert "accept-encoding" in headers.get("vary", "").lower(), meter.urls[rid]


def test_register_and_question_pages_within_budget(phone: Any) -> None:
    page = phone
    meter = Meter(page)
    page.goto("/", wait_until="networkidle")
    meter.reset()

    person = new_person("陈小轻")
    # Consent leads to the form; the address selects load the region data.
    page.get_by_label(RULES_CONSENT).check()
    page.get_by_label(SENSITIVE_CONSENT).check()
    page.get_by_role("button", name="同意参加活动").click()
    page.wait_for_url("**/register")
    page.wait_for_load_state("networkidle")
    register_figures = meter.detail()
    register_total = meter.total()
    fill_registration(page, person, selects=True)
    meter.reset()
    page.get_by_role("button", name="提交并开始答题").click()
    page.wait_for_url("**/quiz")

    questions: dict[int, int] = {}
    over: list[str] = []
    while "/quiz" in page.url:
        page.wait_for_load_state("networkidle")
        number, _total = progress(page)
        questions[number] = meter.total()
        if meter.total() > QUESTION_BUDGET:
            over.append(f"question {number}: {meter.total()} B {meter.detail()}")
        meter.reset()
        answer_one(page)
    report(
        "register-and-questions",
        {"register": register_total, "register_requests": register_figures, "questions": questions},
    )
    assert register_total <= REGISTER_BUDGET, register_figures
    assert len(questions) >= 6 and all(n > 0 for n in questions.values()), questions
    assert not over, "\n".join(over)


def test_no_request_leaves_the_site(public_walk: Walk, site: Site) -> None:
    """Every request over all public pages goes to the site itself: no CDN, fonts, trackers."""
    own = urlsplit(site.url).netloc
    hosts: dict[str, str] = {}
    for url in public_walk.requests:
        parts = urlsplit(url)
        if parts.scheme not in ("data", "blob", "about") and parts.netloc != own:
            hosts.setdefault(parts.netloc or parts.scheme, url)
    assert len(public_walk.requests) > len(public_walk.names)  # pages and their assets
    assert any(urlsplit(u).path.startswith("/static/") for u in public_walk.requests)
    assert not hosts, f"requests to other hosts: {hosts}"
