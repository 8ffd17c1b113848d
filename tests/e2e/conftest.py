"""Browser fixtures: the site served by gunicorn on loopback, and headless Chromium.

A session-scoped server runs on a fresh database (SQLite file, or a fresh PostgreSQL
database when QUIZ_TEST_DATABASE_URL is set) set up by `quiz setup` with the shipped
campaign moved so that it is open now. Chromium is Debian's /usr/bin/chromium; it is
never downloaded. Without it the tests skip, unless QUIZ_REQUIRE_BROWSER=1 (CI).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, text

from quiz.privacy.protection import new_keys
from tests.e2e.pages import SERVER_LOGS

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-quic",
    "--disable-sync",
]
# WeChat's in-app browser on an iPhone-sized Android phone: where most participants arrive.
WECHAT_UA = (
    "Mozilla/5.0 (Linux; Android 13; V2203A Build/TP1A.220624.014; wv) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Version/4.0 Chrome/116.0.0.0 Mobile Safari/537.36 XWEB/1160065 "
    "MMWEBSDK/20231202 MMWEBID/2247 MicroMessenger/8.0.47.2560(0x28002F30) WeChat/arm64 "
    "Weixin NetType/4G Language/zh_CN ABI/arm64"
)
PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 3,
    "user_agent": WECHAT_UA,
    "locale": "zh-CN",
    "timezone_id": "Asia/Shanghai",
}
DESKTOP: dict[str, Any] = {
    "viewport": {"width": 1366, "height": 900},
    "locale": "zh-CN",
    "timezone_id": "Asia/Shanghai",
}
PG_URL = os.environ.get("QUIZ_TEST_DATABASE_URL", "")
BEIJING = ZoneInfo("Asia/Shanghai")
KEYS = new_keys()


def require_browser() -> None:
    """Skip without Chromium, except in CI where a missing browser is a failure."""
    if CHROMIUM.exists():
        return
    message = f"{CHROMIUM} is missing (install Debian's chromium package)"
    if os.environ.get("QUIZ_REQUIRE_BROWSER") == "1":
        pytest.fail(message)
    pytest.skip(message)


def campaign_file(directory: Path, opens: datetime, closes: datetime, draw: datetime) -> Path:
    """A copy of the shipped campaign file with its window moved (times in Beijing time)."""
    source = (ROOT / "quiz" / "data" / "campaign" / "default.toml").read_text(encoding="utf-8")
    for key, when in (("opens_at", opens), ("closes_at", closes), ("draw_at", draw)):
        local = when.astimezone(BEIJING).replace(tzinfo=None, microsecond=0)
        source, count = re.subn(
            rf"^{key} = .*$", f"{key} = {local.isoformat()}", source, count=1, flags=re.M
        )
        assert count == 1, f"{key} not found in the campaign file"
    path = directory / "campaign.toml"
    path.write_text(source, encoding="utf-8")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Site:
    """A running server: its URL, database and the environment it was started with."""

    url: str
    database_url: str
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def quiz(self, *args: str) -> str:
        """Run a `quiz` CLI command against this site's database; return its output."""
        done = subprocess.run(
            [sys.executable, "-c", "from quiz.cli import main; main()", *args],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            # A ceiling, not a wait: on the shared 2-core machine at load 15, `quiz setup`
            # took over a minute; the call returns as soon as the command does.
            timeout=300,
        )
        if done.returncode != 0:
            raise AssertionError(f"quiz {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def engine(self) -> Any:
        return create_engine(self.database_url)


@contextmanager
def fresh_database(tmp: Path) -> Iterator[str]:
    """An empty database: a SQLite file in tmp, or a new PostgreSQL database."""
    if not PG_URL:
        yield f"sqlite:///{tmp / 'quiz.sqlite3'}"
        return
    name = f"quiz_e2e_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base, _, _ = PG_URL.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def serve(tmp: Path, opens: datetime, closes: datetime, draw: datetime) -> Iterator[Site]:
    """`quiz setup` on a fresh database, then gunicorn with 2 workers until the block ends."""
    tmp.mkdir(parents=True, exist_ok=True)
    with fresh_database(tmp) as database_url:
        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            **KEYS,
            "QUIZ_CAMPAIGN_FILE": str(campaign_file(tmp, opens, closes, draw)),
            "QUIZ_ENV": "development",
            "RATELIMIT_STORAGE_URI": "memory://",
            # The tests register and log in many times from one address.
            "QUIZ_REGISTER_LIMIT": "1000/minute",
            "QUIZ_LOGIN_LIMIT": "1000/minute",
            "QUIZ_ANSWER_LIMIT": "5000/minute",
            # Every test browser asks for its SMS code from this one address.
            "QUIZ_SMS_BACKEND": "console",
            "QUIZ_SMS_CLIENT_DAY_LIMIT": "100000",
            "WEB_CONCURRENCY": "2",
            "QUIZ_LOG_LEVEL": "WARNING",
            "PYTHONDONTWRITEBYTECODE": "1",
            # Background jobs (XLSX exports, webhooks) go through this site's own queue,
            # consumed by the `quiz worker` started below, as `quiz serve` does.
            "QUIZ_QUEUE_URL": f"sqlite:///{tmp / 'queue.sqlite3'}",
        }
        env.pop("QUIZ_BIND", None)
        site = Site(f"http://127.0.0.1:{port}", database_url, env, tmp / "gunicorn.log")
        SERVER_LOGS.append(site.log)  # where the console SMS backend's codes are read
        args = [sys.executable, "-m", "gunicorn", "-c", "quiz/server/gunicorn.conf.py", "-w", "2"]
        args += ["-b", f"127.0.0.1:{port}", "wsgi:app"]
        with site.log.open("wb") as log:
            # gunicorn imports the app while `quiz setup` migrates: the app touches the
            # database only per request, and /healthz is awaited after setup is done.
            site.proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=log)
            worker = None
            try:
                site.quiz("setup")
                worker = subprocess.Popen(
                    [sys.executable, "-c", "from quiz.cli import main; main()", "worker"],
                    cwd=ROOT,
                    env=env,
                    stdout=log,
                    stderr=log,
                )
                _wait_healthy(site)
                yield site
            finally:
                if worker is not None:
                    worker.kill()
                    worker.wait()
                site.proc.terminate()
                try:
                    site.proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    site.proc.kill()
                    site.proc.wait()


def _wait_healthy(site: Site, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert site.proc is not None
        if site.proc.poll() is not None:
            raise AssertionError(f"gunicorn exited:\n{site.log.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(f"{site.url}/healthz", timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    raise AssertionError(f"/healthz never answered:\n{site.log.read_text(errors='replace')}")


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The public site with the campaign open now."""
    require_browser()
    now = datetime.now(UTC)
    tmp = tmp_path_factory.mktemp("site")
    day = timedelta(days=1)
    with serve(tmp, now - day, now + 30 * day, now + 40 * day) as running:
        yield running


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium driven by Playwright."""
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=str(CHROMIUM), args=LAUNCH_ARGS, headless=True
        )
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where screenshots go (QUIZ_ARTIFACTS, default test-artifacts/); CI keeps the folder."""
    path = Path(os.environ.get("QUIZ_ARTIFACTS", ROOT / "test-artifacts")) / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def new_context(browser: Any, site: Site) -> Iterator[Callable[..., Any]]:
    """Make browser contexts (phone-sized by default) pointed at the site; closed after."""
    made: list[Any] = []

    def make(**options: Any) -> Any:
        settings = {**PHONE, "base_url": site.url, **options}
        context = browser.new_context(**settings)
        context.set_default_timeout(10_000)
        made.append(context)
        return context

    yield make
    for context in made:
        context.close()


@pytest.fixture
def phone(new_context: Callable[..., Any]) -> Any:
    """A page in a WeChat-like phone context with JavaScript on."""
    return new_context().new_page()


# What is measured on every public page during one shared walk (see public_walk).
PAGE_FACTS = """() => {
  const visible = e => e.offsetParent !== null || getComputedStyle(e).position === 'fixed';
  const size = e => { const r = e.getBoundingClientRect(); return [r.width, r.height]; };
  const targets = [];
  for (const e of document.querySelectorAll(
      'button, .button, select, input:not([type=hidden]), summary, .foot a, .top a')) {
    if (!visible(e)) continue;
    let [w, h] = size(e);
    if (['checkbox', 'radio'].includes(e.type) && e.labels && e.labels.length) {
      // The label is part of the target: tapping it ticks the box.
      const a = e.getBoundingClientRect(), b = e.labels[0].getBoundingClientRect();
      w = Math.max(a.right, b.right) - Math.min(a.left, b.left);
      h = Math.max(a.bottom, b.bottom) - Math.min(a.top, b.top);
    }
    const name = (e.innerText || e.name || e.id || e.tagName).trim().slice(0, 30);
    targets.push([name, Math.round(w), Math.round(h)]);
  }
  const fields = [...document.querySelectorAll('input, select, textarea')]
    .filter(e => e.type !== 'hidden' && visible(e));
  return {
    viewport: (document.querySelector('meta[name=viewport]') || {}).content || '',
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
    smallFonts: fields.filter(e => !['checkbox', 'radio'].includes(e.type))
      .map(e => [e.name, parseFloat(getComputedStyle(e).fontSize)])
      .filter(([, px]) => px < 16),
    unlabelled: fields
      .filter(e => !(e.labels && [...e.labels].some(l => l.innerText.trim()))
                   && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby'))
      .map(e => e.name || e.id),
    targets,
    checkboxes: document.querySelectorAll('.option input[type=checkbox]').length,
  };
}"""
AXE_SOURCE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text(encoding="utf-8")


def run_axe(page: Any) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        # Evaluated, not added as a <script>: the site's CSP would (rightly) refuse it.
        page.evaluate(AXE_SOURCE + "\n;void 0")
    result = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    return [v for v in result if v["impact"] in ("serious", "critical")]


@dataclass
class Walk:
    """Facts gathered on each public page in one participant's walk through the site."""

    names: list[str]
    facts: dict[str, dict[str, Any]]
    axe: dict[str, list[dict[str, Any]]]
    requests: list[str]


@pytest.fixture(scope="session")
def public_walk(browser: Any, site: Site, artifacts: Path) -> Walk:
    """Walk every public page once on a phone: facts, axe-core audit, screenshot, requests."""
    from tests.e2e.pages import walk_public_pages

    context = browser.new_context(**PHONE, base_url=site.url, bypass_csp=True)
    context.set_default_timeout(10_000)
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    facts: dict[str, dict[str, Any]] = {}
    axe: dict[str, list[dict[str, Any]]] = {}
    kinds: set[str] = set()

    def seen(name: str) -> None:
        facts[name] = page.evaluate(PAGE_FACTS)
        if name.startswith("question-"):
            # Questions share one template: audit a single-choice and a multiple-choice one.
            kind = "multiple" if facts[name]["checkboxes"] else "single"
            if kind in kinds:
                return
            kinds.add(kind)
        page.screenshot(path=artifacts / f"phone-{name}.png", full_page=True, scale="css")
        axe[name] = run_axe(page)

    try:
        names = walk_public_pages(page, seen)
    finally:
        context.close()
    return Walk(names, facts, axe, requests)
