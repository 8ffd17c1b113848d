"""Load harness: real participants over HTTP, from the campaign page to the result page.

Each simulated participant has its own cookie jar and walks the whole flow as a
browser would: GET / (campaign page, CSRF token), POST /consent, GET and POST
/register with a valid generated identity, then every question until /result: each
answer posted as the page's script posts it, the reply being the next question (or,
as without JavaScript, POST /quiz then GET /quiz). The run is bounded by the
participant count and a deadline. Run it against a server started here:

    .venv/bin/python tests/load/harness.py -n 2000 -c 64 --workers 4
    .venv/bin/python tests/load/harness.py --database-url postgresql://...  -n 2000
    .venv/bin/python tests/load/harness.py --url http://127.0.0.1:8000 -n 200
    .venv/bin/python tests/load/harness.py -n 2000 --sms required   # codes from the log
"""

from __future__ import annotations

import argparse
import asyncio
import re
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

import aiohttp

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from quiz.fraud.sms import codes_in_log  # noqa: E402
from quiz.public import ANSWERED_BY_SCRIPT  # noqa: E402
from tests.factories import PLACES, make_mobile, make_resident_id  # noqa: E402

CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
POSITION_RE = re.compile(r'name="position" value="(\d+)"')
CHOICE_RE = re.compile(r'type="(radio|checkbox)" name="choice" id="[^"]*" value="([^"]+)"')
PROGRESS_RE = re.compile(r"第 (\d+) 题 / 共 (\d+) 题")
T = TypeVar("T")
DUPLICATE_ID_MESSAGE = "该身份证号码已经报名参加本次活动"


@dataclass(frozen=True)
class Identity:
    """What one participant types into the registration form."""

    n: int
    name: str
    resident_id: str
    mobile: str
    address: str
    postal_code: str

    def form(self) -> dict[str, str]:
        """The registration form's fields as this person fills them (no CSRF token)."""
        return {
            "name": self.name,
            "resident_id": self.resident_id,
            "address": self.address,
            "postal_code": self.postal_code,
            "mobile": self.mobile,
            "landline": "",
        }


def identity(n: int, salt: int = 0) -> Identity:
    """A valid, distinct identity for participant n; a different salt gives new people.

    Honest-looking, so that the risk signals (quiz.fraud.signals) have nothing to say:
    each person lives at their own flat and was born on their own day (37 is prime to
    the 7,300 days, so birth dates repeat only every 7,300 people; with seq, the ID
    numbers repeat after 999 × 7,300)."""
    prefix, address, postal = PLACES[(n + salt) % len(PLACES)]
    birth = date(1940 + salt % 40, 1, 1) + timedelta(days=(n * 37) % 7300)
    return Identity(
        n=n,
        name="测试用户",
        resident_id=make_resident_id(prefix, birth=birth, seq=n % 999 + 1),
        mobile=make_mobile(salt * 1_000_000 + n),
        address=f"{address}{n + 1}室",
        postal_code=postal,
    )


def scripted_identity(n: int, salt: int = 0) -> Identity:
    """An identity as a prize hunter's script makes them: checksum-valid, one birth date
    for 999 numbers in a row (tests/load/attack.py)."""
    prefix, address, postal = PLACES[(n + salt) % len(PLACES)]
    birth = date(1950 + salt % 40, 1, 1) + timedelta(days=n // 999)
    return Identity(
        n=n,
        name="测试用户",
        resident_id=make_resident_id(prefix, birth=birth, seq=n % 999 + 1),
        mobile=make_mobile(salt * 1_000_000 + n),
        address=address,
        postal_code=postal,
    )


class LogCodes:
    """SMS codes read from the server's log, where the console backend writes one line
    `sms-code mobile=... code=...` per code: the test hook a person's phone stands in for.
    Reads only what was appended since the last look, so thousands of waits stay cheap."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.codes: dict[str, str] = {}

    def _read_new(self) -> None:
        with self.path.open("rb") as log:
            log.seek(self.offset)
            chunk = log.read()
        complete = chunk.rfind(b"\n") + 1  # a line still being written waits for next time
        self.offset += complete
        self.codes.update(codes_in_log(chunk[:complete].decode("utf-8", errors="replace")))

    async def code_for(self, mobile: str, *, after: str | None = None, timeout: float = 30) -> str:
        """The newest code logged for the mobile (other than `after`, an older one)."""
        deadline = time.monotonic() + timeout
        while True:
            self._read_new()
            code = self.codes.get(mobile)
            if code is not None and code != after:
                return code
            if time.monotonic() > deadline:
                raise FlowFailure(f"no sms-code line for {mobile} in {self.path}")
            await asyncio.sleep(0.05)


@dataclass
class Outcome:
    """What happened to one participant: each request, and what the server confirmed."""

    who: Identity
    requests: list[tuple[str, int, float]] = field(default_factory=list)
    registered: bool = False  # the registration POST got its 302
    answered: list[int] = field(default_factory=list)  # positions whose POST got a 302
    completed: bool = False  # the result page was shown
    error: str | None = None


@dataclass
class Progress:
    """Live counters a test can watch while the load runs."""

    registered: int = 0
    completed: int = 0


@dataclass
class Report:
    """All outcomes of a run and the figures derived from them."""

    outcomes: list[Outcome]
    elapsed: float

    def latencies(self, step: str | None = None) -> list[float]:
        return sorted(
            ms for o in self.outcomes for s, _, ms in o.requests if step is None or s == step
        )

    def statuses(self) -> Counter[int]:
        return Counter(status for o in self.outcomes for _, status, _ in o.requests)

    @property
    def requests(self) -> int:
        return sum(len(o.requests) for o in self.outcomes)

    @property
    def completed(self) -> int:
        return sum(o.completed for o in self.outcomes)

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses().items() if status >= 500)

    @property
    def errors(self) -> list[str]:
        return [f"#{o.who.n}: {o.error}" for o in self.outcomes if o.error]

    def summary(self) -> str:
        lines = [
            f"participants: {len(self.outcomes)} started, {self.completed} completed "
            f"in {self.elapsed:.1f} s ({self.completed / self.elapsed:.1f} complete/s)",
            f"requests: {self.requests} ({self.requests / self.elapsed:.0f} req/s), "
            f"statuses {dict(sorted(self.statuses().items()))}",
        ]
        for step in (
            None,
            "campaign",
            "consent",
            "register_form",
            "send_code",
            "register",
            "question",
            "answer",
            "result",
        ):
            values = self.latencies(step)
            if values:
                p50, p95, p99 = (percentile(values, q) for q in (50, 95, 99))
                lines.append(
                    f"  {step or 'all':<14} n={len(values):<6} p50={p50:7.1f} ms "
                    f"p95={p95:7.1f} ms p99={p99:7.1f} ms"
                )
        errors = self.errors
        lines.append(f"errors: {len(errors)}")
        lines += [f"  {e}" for e in errors[:10]]
        return "\n".join(lines)


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), round(q / 100 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


class FlowFailure(Exception):
    """The server answered something a participant could not go on from."""


@dataclass(frozen=True)
class Reply:
    """What a participant's browser got back: status, the Location header, body."""

    path: str
    status_code: int
    headers: dict[str, str]
    text: str


def open_pool(concurrency: int) -> aiohttp.ClientSession:
    """One connection pool for all simulated browsers; each keeps its own cookies.

    aiohttp, not httpx: on 2 cores the client shares the CPU with the server, and
    httpx spent about 1.2 ms of CPU per request against aiohttp's 0.3 ms (measured
    against GET /livez), which capped every figure at the client's speed.
    Connections are closed after each reply, as gunicorn's sync workers do.
    """
    connector = aiohttp.TCPConnector(limit=concurrency * 2, force_close=True)
    return aiohttp.ClientSession(
        connector=connector,
        cookie_jar=aiohttp.DummyCookieJar(),  # cookies are per Participant, below
        timeout=aiohttp.ClientTimeout(total=60),
    )


class Participant:
    """One browser: its own cookies, the shared connection pool."""

    def __init__(
        self,
        base_url: str,
        http: aiohttp.ClientSession,
        who: Identity,
        *,
        forwarded_for: str | None = None,
        scripted: bool = True,
        codes: LogCodes | None = None,
        think: float = 0.0,
    ) -> None:
        self.scripted = scripted
        # Seconds spent reading each question before answering (0: as fast as possible;
        # a person takes more than a second, and faster answers are a risk signal).
        self.think = think
        self.codes = codes
        self.sms = False  # the registration form asks for an SMS code (seen by prime)
        self.base_url = base_url.rstrip("/")
        # A campaign's own address (http://host/c/<slug>): the flow's paths and the
        # Location headers it checks are read relative to it.
        self.path_prefix = urlsplit(self.base_url).path
        self.http = http
        self.headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
        self.cookies: dict[str, str] = {}
        self.outcome = Outcome(who)

    def _keep_cookies(self, set_cookie: list[str]) -> None:
        for header in set_cookie:
            for name, morsel in SimpleCookie(header).items():
                if morsel["max-age"] == "0" or (not morsel.value and morsel["expires"]):
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value

    async def request(
        self,
        step: str,
        method: str,
        path: str,
        data: dict[str, str] | list[tuple[str, str]] | None = None,
        *,
        scripted: bool = False,
    ) -> Reply:
        headers = dict(self.headers)
        if scripted:
            headers[ANSWERED_BY_SCRIPT] = "1"  # as static/js/quiz-answer.js sends it
        body = urlencode(data).encode() if data is not None else None
        if body:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        started = time.perf_counter()
        async with self.http.request(
            method, self.base_url + path, data=body, headers=headers, allow_redirects=False
        ) as response:
            text = await response.text()
            if "Set-Cookie" in response.headers:
                self._keep_cookies(response.headers.getall("Set-Cookie"))
            # Only the header the flow reads: copying them all is per-request client CPU.
            location = response.headers.get("Location", "")
            if self.path_prefix and location.startswith(self.path_prefix + "/"):
                location = location[len(self.path_prefix) :]
            headers = {"location": location}
            reply = Reply(path, response.status, headers, text)
        elapsed = (time.perf_counter() - started) * 1000
        self.outcome.requests.append((step, reply.status_code, elapsed))
        return reply

    async def expect(
        self,
        step: str,
        method: str,
        path: str,
        status: int,
        location: str | None = None,
        data: dict[str, str] | list[tuple[str, str]] | None = None,
    ) -> Reply:
        response = await self.request(step, method, path, data)
        if response.status_code != status or (
            location is not None and response.headers.get("location", "") != location
        ):
            raise FlowFailure(
                f"{step}: {method} {path} -> {response.status_code} "
                f"{response.headers.get('location', '')}"
            )
        return response

    async def open_campaign(self) -> str:
        """The campaign page: returns its consent form's CSRF token."""
        return csrf_of(await self.expect("campaign", "GET", "/", 200))

    @staticmethod
    def consent(token: str) -> dict[str, str]:
        return {"agree_rules": "y", "agree_sensitive": "y", "csrf_token": token}

    async def prime(self) -> str:
        """Campaign page, consent, registration form: returns the form's CSRF token."""
        token = await self.open_campaign()
        await self.expect("consent", "POST", "/consent", 302, "/register", self.consent(token))
        form = await self.expect("register_form", "GET", "/register", 200)
        self.sms = 'name="send_code"' in form.text
        return csrf_of(form)

    async def prove_mobile(self, data: dict[str, str]) -> None:
        """获取验证码 as the page's button does it (the whole form, then back to it), and
        the code from the server's log into the form's 短信验证码."""
        if self.codes is None:
            raise FlowFailure("the campaign asks for an SMS code: give the harness the server log")
        await self.expect(
            "send_code", "POST", "/register", 302, "/register#sms_code", {**data, "send_code": "1"}
        )
        data["sms_code"] = await self.codes.code_for(self.outcome.who.mobile)

    def registration(self, token: str) -> dict[str, str]:
        return {"csrf_token": token, **self.outcome.who.form()}

    async def register(self, token: str, *, double_tap: bool = False) -> None:
        data = self.registration(token)
        if self.sms:
            await self.prove_mobile(data)
        if double_tap:
            # Two identical POSTs at once: one entry, the other a 302 or a clear 409.
            first, second = await asyncio.gather(
                self.request("register", "POST", "/register", data),
                self.request("register", "POST", "/register", data),
            )
            statuses = sorted((first.status_code, second.status_code))
            if 302 not in statuses or statuses[1] not in (302, 409):
                raise FlowFailure(f"register double tap -> {statuses}")
            refused = [r for r in (first, second) if r.status_code == 409]
            if refused:
                if DUPLICATE_ID_MESSAGE not in refused[0].text:
                    raise FlowFailure("double-tap refusal without the duplicate-ID message")
                # Both replies set the session cookie and the refusal's may win, as in a
                # browser showing the second page: the person then uses 继续答题.
                await self.resume()
        else:
            await self.expect("register", "POST", "/register", 302, "/quiz", data)
        self.outcome.registered = True

    async def resume(self) -> None:
        """继续答题: find the entry again by ID number and mobile."""
        form = await self.expect("resume_form", "GET", "/resume", 200)
        who = self.outcome.who
        data = {"csrf_token": csrf_of(form), "resident_id": who.resident_id, "mobile": who.mobile}
        await self.expect("resume", "POST", "/resume", 302, "/quiz", data)

    async def answer_all(self, *, double_tap: bool = False) -> None:
        """Answer question after question until the server sends us to the result.

        Scripted (the default), each answer is posted as static/js/quiz-answer.js
        posts it and the reply is the next question; otherwise as a browser without
        JavaScript: a redirect, then GET /quiz.
        """
        page = await self.request("question", "GET", "/quiz")
        for _ in range(100):
            if page.status_code == 302 and page.headers.get("location") == "/result":
                break
            if page.status_code != 200 or not PROGRESS_RE.search(page.text):
                raise FlowFailure(f"question page -> {page.status_code}")
            position = POSITION_RE.search(page.text)
            choices = CHOICE_RE.findall(page.text)
            if position is None or not choices:
                raise FlowFailure("question page without a position or choices")
            data = [
                ("csrf_token", csrf_of(page)),
                ("position", position.group(1)),
                ("choice", choices[0][1]),
            ]
            if self.think:
                await asyncio.sleep(self.think)
            taps = 2 if double_tap else 1
            double_tap = False
            replies = await asyncio.gather(
                *(
                    self.request("answer", "POST", "/quiz", data, scripted=self.scripted)
                    for _ in range(taps)
                )
            )
            self.outcome.answered.append(int(position.group(1)))
            page = await self._next_question(replies, int(position.group(1)))
        else:
            raise FlowFailure("more than 100 questions")
        page = await self.expect("result", "GET", "/result", 200)
        if "答题完成" not in page.text:
            raise FlowFailure("result page without 答题完成")
        self.outcome.completed = True

    async def _next_question(self, replies: Sequence[Reply], answered: int) -> Reply:
        """The page after an accepted answer: the next question, or the redirect to the
        result (the last answer, or without the script every answer)."""
        expected = (200, 302) if self.scripted else (302,)
        if any(r.status_code not in expected for r in replies):
            raise FlowFailure(f"answer -> {[r.status_code for r in replies]}")
        for reply in replies:
            shown = POSITION_RE.search(reply.text) if reply.status_code == 200 else None
            if reply.status_code == 200 and (shown is None or int(shown.group(1)) <= answered):
                # A double tap's second reply must not send the person back either.
                raise FlowFailure(f"answered question {answered}, then the page showed {shown}")
        reply = replies[0]
        if reply.status_code == 302 and reply.headers.get("location") != "/result":
            return await self.request("question", "GET", "/quiz")
        return reply


async def campaign_address(http: aiohttp.ClientSession, base_url: str) -> str:
    """The campaign's own address: a bare site address leads (/ redirects) to the only
    live campaign's /c/<slug>; an address with a path is taken as given."""
    if urlsplit(base_url).path.strip("/"):
        return base_url
    async with http.get(base_url.rstrip("/") + "/", allow_redirects=False) as response:
        location = response.headers.get("Location", "")
    if response.status in (301, 302, 303, 307, 308) and location.startswith("/c/"):
        return base_url.rstrip("/") + location.rstrip("/")
    return base_url


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """asyncio.run in its own thread: Playwright's sync API leaves a loop running in pytest."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def csrf_of(response: Reply) -> str:
    return csrf_in(response.text, response.path)


def csrf_in(page: str, path: str) -> str:
    """The CSRF token of the page's form."""
    match = CSRF_RE.search(page)
    if match is None:
        raise FlowFailure(f"no CSRF token on {path}")
    return match.group(1)


def forwarded_address(n: int) -> str:
    """A distinct client address per participant, as a trusted proxy would pass it on;
    each in its own /24 (people on different networks: a /24 shared by several entries in
    a short time is a risk signal)."""
    return f"127.{(n >> 8) & 255}.{n & 255}.{1 + (n >> 16) % 254}"


async def run_load(
    base_url: str,
    participants: int,
    *,
    concurrency: int = 64,
    deadline: float = 120.0,
    salt: int = 0,
    forwarded: bool = False,
    double_tap_every: int = 0,
    scripted: bool = True,
    progress: Progress | None = None,
    sms_log: Path | None = None,
    think: float = 0.0,
) -> Report:
    """Play `participants` complete participants, at most `concurrency` at once.

    `sms_log`: the server's log, where the console SMS backend writes the codes a
    campaign with sms_verification = "required" asks for."""
    progress = progress or Progress()
    codes = LogCodes(sms_log) if sms_log is not None else None
    http = open_pool(concurrency)
    base_url = await campaign_address(http, base_url)
    gate = asyncio.Semaphore(concurrency)
    people = [
        Participant(
            base_url,
            http,
            identity(n, salt),
            forwarded_for=forwarded_address(salt * 1_000_003 + n) if forwarded else None,
            scripted=scripted,
            codes=codes,
            think=think,
        )
        for n in range(participants)
    ]

    async def play(person: Participant) -> None:
        tap = bool(double_tap_every) and person.outcome.who.n % double_tap_every == 0
        async with gate:
            try:
                token = await person.prime()
                await person.register(token, double_tap=tap)
                progress.registered += 1
                await person.answer_all(double_tap=tap)
                progress.completed += 1
            except (FlowFailure, aiohttp.ClientError, TimeoutError) as exc:
                person.outcome.error = f"{type(exc).__name__}: {exc}"
            except Exception as exc:  # a harness bug must show up as an error, not vanish
                person.outcome.error = f"unexpected {type(exc).__name__}: {exc}"

    started = time.perf_counter()
    tasks = [asyncio.create_task(play(p)) for p in people]
    try:
        _, pending = await asyncio.wait(tasks, timeout=deadline)
        for task in pending:
            task.cancel()
        for person, task in zip(people, tasks, strict=True):
            if task in pending:
                person.outcome.error = person.outcome.error or "deadline"
        if pending:
            await asyncio.wait(pending)
    finally:
        await http.close()
    return Report([p.outcome for p in people], time.perf_counter() - started)


def risk_summary(database_url: str) -> str:
    """How many entries have a risk signal, by signal (quiz.fraud.signals), read from the
    server's database."""
    from sqlalchemy import create_engine, func, select

    from quiz.models import Participant, RiskSignal

    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as conn:
        entries = conn.scalar(select(func.count()).select_from(Participant))
        flagged = conn.scalar(select(func.count(func.distinct(RiskSignal.participant_id))))
        by_signal = conn.execute(
            select(RiskSignal.signal, func.count()).group_by(RiskSignal.signal)
        ).all()
    engine.dispose()
    detail = ", ".join(f"{s} {n}" for s, n in by_signal) or "none"
    return f"risk signals: {flagged} of {entries} entries flagged ({detail})"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--participants", type=int, default=300)
    parser.add_argument("-c", "--concurrency", type=int, default=64)
    parser.add_argument("--deadline", type=float, default=600.0, help="seconds")
    parser.add_argument("--url", help="an already running site (skips starting one)")
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--storage", default="memory://", help="rate-limit storage URI")
    parser.add_argument("--salt", type=int, default=0, help="new people on a reused database")
    parser.add_argument(
        "--no-script", action="store_true", help="answer as a browser without JavaScript"
    )
    parser.add_argument(
        "--sms",
        choices=("off", "required"),
        default="off",
        help="the campaign's sms_verification on the server started here (codes from its log)",
    )
    parser.add_argument(
        "--sms-log", type=Path, help="with --url: the server log its console SMS backend writes"
    )
    parser.add_argument(
        "--think", type=float, default=0.0, help="seconds each person reads a question"
    )
    parser.add_argument(
        "--forwarded",
        action="store_true",
        help="each person from their own address (X-Forwarded-For through one trusted proxy)",
    )
    parser.add_argument(
        "--risk", action="store_true", help="afterwards, count the entries with a risk signal"
    )
    args = parser.parse_args(argv)

    async def go(url: str, sms_log: Path | None) -> Report:
        return await run_load(
            url,
            args.participants,
            concurrency=args.concurrency,
            deadline=args.deadline,
            salt=args.salt,
            scripted=not args.no_script,
            sms_log=sms_log,
            think=args.think,
            forwarded=args.forwarded,
        )

    if args.url:
        report = run_async(go(args.url, args.sms_log))
    else:
        from tests.load.server import run_server

        with tempfile.TemporaryDirectory() as tmp:
            url = args.database_url or f"sqlite:///{tmp}/load.sqlite3"
            with run_server(
                url,
                Path(tmp),
                workers=args.workers,
                storage_uri=args.storage,
                sms_verification=args.sms,
                trusted_proxies=1 if args.forwarded else 0,
            ) as server:
                report = run_async(go(server.url, server.log_path))
                if args.risk:
                    print(risk_summary(url))
                locked = server.log().count("database is locked")
                print(
                    f"server: {args.workers} workers on {url.split(':')[0]}, "
                    f"'database is locked' in log: {locked}"
                )
    print(report.summary())
    return 0 if not report.errors and not report.server_errors else 1


if __name__ == "__main__":
    # SIGTERM (timeout, kill) unwinds like Ctrl-C, so the server and databases are cleaned up.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    raise SystemExit(main())
