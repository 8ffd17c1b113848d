"""CPU per public request, in one process through Flask's test client (no HTTP, no gunicorn).

    .venv/bin/python tests/benchmarks/bench_request_cpu.py            # 300 participants
    .venv/bin/python tests/benchmarks/bench_request_cpu.py --profile answer

Where bench_http.py measures the whole stack under load, this isolates the app: each
step of the flow (campaign page, consent, registration form and POST, the first
question, every answer, whose reply is the next question as with the page's script
(`--no-script`: a redirect and GET /quiz), the result page) is timed with process CPU
time, so the figures do not depend on what else the machine is doing. The baseline,
measured in the same run, is a bare Flask endpoint through the same test client. Rate
limiting uses Redis when QUIZ_BENCH_REDIS_URL is set (as in production), else
memory://. `--profile STEP` prints cProfile's top functions for that step.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from quiz.public.entry_views import ANSWERED_BY_SCRIPT  # noqa: E402
from tests.load.harness import (  # noqa: E402
    CHOICE_RE,
    POSITION_RE,
    csrf_in,
    forwarded_address,
    identity,
)

STEPS = ("campaign", "consent", "register_form", "register", "question", "answer", "result")


class Flow:
    """Plays participants through the app's test client, timing each step."""

    def __init__(self, app: Any, profile_step: str | None, *, scripted: bool) -> None:
        self.app = app
        self.scripted = scripted
        self.cpu: defaultdict[str, float] = defaultdict(float)
        self.count: Counter[str] = Counter()
        self.profile_step = profile_step
        self.profiler = cProfile.Profile() if profile_step else None
        self.measuring = False

    def request(self, step: str, client: Any, method: str, path: str, ip: str, data: Any = None):
        profiled = self.measuring and self.profiler is not None and step == self.profile_step
        started = time.process_time()
        if profiled:
            self.profiler.enable()  # type: ignore[union-attr]
        headers = {"X-Forwarded-For": ip}
        if self.scripted and step == "answer":
            headers[ANSWERED_BY_SCRIPT] = "1"
        response = client.open(path, method=method, data=data, headers=headers)
        if profiled:
            self.profiler.disable()  # type: ignore[union-attr]
        if self.measuring:
            self.cpu[step] += time.process_time() - started
            self.count[step] += 1
        return response

    def participant(self, n: int, salt: int) -> None:
        who = identity(n, salt)
        ip = forwarded_address(salt * 7 + n)
        client = self.app.test_client()
        page = self.request("campaign", client, "GET", "/", ip).get_data(as_text=True)
        agree = {"agree_rules": "y", "agree_sensitive": "y", "csrf_token": csrf_in(page, "/")}
        assert self.request("consent", client, "POST", "/consent", ip, agree).status_code == 302
        form = self.request("register_form", client, "GET", "/register", ip).get_data(as_text=True)
        fields = {"csrf_token": csrf_in(form, "/register"), **who.form()}
        response = self.request("register", client, "POST", "/register", ip, fields)
        assert response.status_code == 302, response.status_code
        response = self.request("question", client, "GET", "/quiz", ip)
        while response.status_code == 200:
            text = response.get_data(as_text=True)
            position = POSITION_RE.search(text)
            assert position is not None
            answer = {
                "csrf_token": csrf_in(text, "/quiz"),
                "position": position.group(1),
                "choice": CHOICE_RE.findall(text)[0][1],
            }
            response = self.request("answer", client, "POST", "/quiz", ip, answer)
            if response.status_code == 302 and response.location == "/quiz":
                response = self.request("question", client, "GET", "/quiz", ip)
        assert response.status_code == 302 and response.location == "/result"
        result = self.request("result", client, "GET", "/result", ip).get_data(as_text=True)
        assert "答题完成" in result


def bare_request_ms(requests: int) -> float:
    """CPU per request of a bare Flask endpoint through the same test client."""
    from flask import Flask

    bare = Flask("bare")
    bare.add_url_rule("/ping", "ping", lambda: "ok")
    client = bare.test_client()
    for _ in range(200):
        client.get("/ping")
    started = time.process_time()
    for _ in range(requests):
        client.get("/ping", headers={"X-Forwarded-For": "10.0.0.1"})
    return (time.process_time() - started) / requests * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--participants", type=int, default=300)
    parser.add_argument("--profile", choices=STEPS, help="cProfile one step")
    parser.add_argument(
        "--sort", default="cumulative", choices=("cumulative", "tottime"), help="profile order"
    )
    parser.add_argument(
        "--no-script", action="store_true", help="answer as a browser without JavaScript"
    )
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    from quiz.privacy.protection import new_keys

    os.environ.update(new_keys())
    os.environ.update(
        {
            "QUIZ_ENV": "development",
            "DATABASE_URL": f"sqlite:///{tmp / 'bench.sqlite3'}",
            "RATELIMIT_STORAGE_URI": os.environ.get("QUIZ_BENCH_REDIS_URL") or "memory://",
            "QUIZ_REGISTER_LIMIT": "30/minute;300/hour",
            "QUIZ_ANSWER_LIMIT": "240/minute",
            "TRUSTED_PROXIES": "1",
            "QUIZ_LOG_LEVEL": "WARNING",
        }
    )
    quiz_cli = Path(sys.executable).parent / "quiz"
    subprocess.run([str(quiz_cli), "setup"], check=True, capture_output=True, cwd=ROOT)
    from quiz import create_app
    from tests.load.server import campaign_open_now

    campaign_open_now(os.environ["DATABASE_URL"])
    flow = Flow(create_app(), args.profile, scripted=not args.no_script)
    for n in range(30):  # warm up: templates, validators, statement caches
        flow.participant(n, salt=90)
    flow.measuring = True
    started = time.process_time()
    for n in range(args.participants):
        flow.participant(n, salt=int(time.time()) % 89 + 1)
    total = (time.process_time() - started) / args.participants * 1000
    baseline = bare_request_ms(3000)
    storage = os.environ["RATELIMIT_STORAGE_URI"]
    how = "without JavaScript" if args.no_script else "answering as the page's script does"
    print(f"{args.participants} participants, {how}, SQLite, rate-limit storage {storage}")
    print(f"{'bare Flask GET (baseline)':<28}{baseline:6.2f} ms CPU")
    for step in STEPS:
        ms = flow.cpu[step] / flow.count[step] * 1000
        print(f"{step:<20} n={flow.count[step]:<6}{ms:6.2f} ms CPU  = {ms / baseline:5.1f}x bare")
    requests = sum(flow.count.values()) / args.participants
    print(f"per participant: {total:.1f} ms CPU over {requests:.0f} requests")
    if flow.profiler is not None:
        stats = pstats.Stats(flow.profiler)
        stats.sort_stats(args.sort).print_stats(40)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
