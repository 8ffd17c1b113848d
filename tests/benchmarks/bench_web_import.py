"""Registrations while a 100,000-row agents CSV is imported from the web page.

Starts the real site under gunicorn (tests/load/server.py), signs in as a branch user,
uploads an agents CSV of ROWS rows through /admin/referrals/agents and, until the
import job reports done, registers new participants one after another through the
public flow (campaign page, consent, form, POST /register). Prints the upload's own
response time, the import's duration and the registration POST latencies, split into
the check phase (no rows written yet) and the write phase (chunks being committed).

One agents upload used to hold SQLite's write lock in a single transaction until
gunicorn killed the worker after 30 s, and registrations waited behind it.

    .venv/bin/python tests/benchmarks/bench_web_import.py            # 100,000 rows
    .venv/bin/python tests/benchmarks/bench_web_import.py --rows 20000 --workers 2
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from quiz.db import Database  # noqa: E402
from quiz.models import Branch  # noqa: E402
from quiz.staff import auth  # noqa: E402
from tests.load.harness import csrf_in, identity  # noqa: E402
from tests.load.server import run_server  # noqa: E402

PASSWORD = "bench import password 7"
PROGRESS_RE = re.compile(r"([\d,]+) / ([\d,]+) 行")
DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


@dataclass
class Figures:
    """What one run measured (seconds)."""

    rows: int
    csv_bytes: int
    upload_response: float = 0.0
    import_seconds: float = 0.0
    status: str = ""
    rows_done: int = 0
    during_check: list[float] = field(default_factory=list)
    during_writes: list[float] = field(default_factory=list)
    register_status: list[int] = field(default_factory=list)
    consents: list[float] = field(default_factory=list)
    flows: list[float] = field(default_factory=list)

    @property
    def latencies(self) -> list[float]:
        return self.during_check + self.during_writes

    def summary(self) -> str:
        def line(name: str, values: list[float]) -> str:
            if not values:
                return f"  {name}: none"
            return (
                f"  {name}: {len(values)} registrations, median {statistics.median(values):.3f} s, "
                f"max {max(values):.3f} s"
            )

        return "\n".join(
            [
                f"agents CSV: {self.rows:,} rows, {self.csv_bytes / 1e6:.2f} MB",
                f"upload POST answered in {self.upload_response:.3f} s; "
                f"import job {self.status} after {self.import_seconds:.1f} s "
                f"({self.rows_done:,} rows written)",
                "POST /register while the import ran:",
                line("while checking the file", self.during_check),
                line("while writing chunks", self.during_writes),
                line("all", self.latencies),
                line("consent POST (the flow's other write)", self.consents),
                line("whole flow (4 requests)", self.flows),
                f"  statuses: {sorted(set(self.register_status))}",
            ]
        )


def _code(n: int) -> str:
    out = ""
    while True:
        n, digit = divmod(n, len(DIGITS))
        out = DIGITS[digit] + out
        if n == 0:
            return out


def agents_csv(branch_code: str, rows: int) -> bytes:
    """ROWS agents of one branch, short enough for the page's 2 MB limit."""
    lines = ["机构代码,业务员代码,姓名"]
    lines += [f"{branch_code},{_code(i)},张{_code(i)}" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def _staff_user(database_url: str) -> str:
    """A branch account without full-data rights (password only); its branch code."""
    database = Database(database_url)
    with database.transaction() as session:
        branch = session.scalars(select(Branch).order_by(Branch.code)).first()
        assert branch is not None
        auth.create_user(session, "bench.branch", PASSWORD, "branch", branch_id=branch.id)
        code = branch.code
    database.dispose()
    return code


def _sign_in(client: httpx.Client) -> None:
    token = csrf_in(client.get("/admin/login").text, "/admin/login")
    resp = client.post(
        "/admin/login",
        data={"username": "bench.branch", "password": PASSWORD, "csrf_token": token},
    )
    if resp.status_code != 302 or "/login" in resp.headers.get("location", ""):
        raise RuntimeError(f"sign-in failed: {resp.status_code}")


def _register(url: str, n: int) -> tuple[int, float, float, float]:
    """One new participant through the public flow (campaign page, consent, form, POST);
    the POST /register status, its time, the consent POST's time and the whole flow's."""
    with httpx.Client(base_url=url, timeout=60) as client:
        flow = time.perf_counter()
        # "/" leads to the only live campaign's page; the old addresses below serve it too.
        token = csrf_in(client.get("/", follow_redirects=True).text, "/")
        consent = {"agree_rules": "y", "agree_sensitive": "y", "csrf_token": token}
        started = time.perf_counter()
        client.post("/consent", data=consent)
        consent_seconds = time.perf_counter() - started
        token = csrf_in(client.get("/register").text, "/register")
        started = time.perf_counter()
        resp = client.post("/register", data={"csrf_token": token, **identity(n, 7).form()})
        ended = time.perf_counter()
        return resp.status_code, ended - started, consent_seconds, ended - flow


def measure(database_url: str, workdir: Path, rows: int = 100_000, workers: int = 4) -> Figures:
    """Run the scenario once on a fresh site; the figures."""
    with run_server(database_url, workdir, workers=workers) as server:
        branch_code = _staff_user(database_url)
        body = agents_csv(branch_code, rows)
        figures = Figures(rows=rows, csv_bytes=len(body))
        staff = httpx.Client(base_url=server.url, timeout=120)
        _sign_in(staff)
        token = csrf_in(staff.get("/admin/referrals/agents").text, "/admin/referrals/agents")
        started = time.perf_counter()
        resp = staff.post(
            "/admin/referrals/agents",
            data={"csrf_token": token},
            files={"file": ("agents.csv", body, "text/csv")},
        )
        figures.upload_response = time.perf_counter() - started
        if resp.status_code != 302:
            raise RuntimeError(f"upload answered {resp.status_code}: {resp.text[:500]}")
        job_url = resp.headers["location"]
        state = {"page": ""}

        def poll() -> None:
            while True:
                state["page"] = staff.get(job_url).text
                if "已完成" in state["page"] or "失败" in state["page"]:
                    return
                time.sleep(0.5)

        poller = threading.Thread(target=poll)
        poller.start()
        n = 0
        while poller.is_alive():
            progress = PROGRESS_RE.search(state["page"])
            writing = progress is not None and progress.group(1) != "0"
            status, seconds, consent_seconds, flow_seconds = _register(server.url, n)
            n += 1
            figures.register_status.append(status)
            figures.consents.append(consent_seconds)
            figures.flows.append(flow_seconds)
            (figures.during_writes if writing else figures.during_check).append(seconds)
        poller.join()
        figures.import_seconds = time.perf_counter() - started
        page = state["page"]
        figures.status = "done" if "已完成" in page else "failed"
        figures.rows_done = rows if figures.status == "done" else 0
        staff.close()
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        figures = measure(
            f"sqlite:///{Path(tmp) / 'bench.sqlite3'}", Path(tmp), args.rows, args.workers
        )
    print(figures.summary())
    slow = [s for s in figures.latencies + figures.consents if s >= 1.0]
    print(f"registrations taking 1 s or more: {len(slow)}")
    return 0 if figures.status == "done" and not slow else 1


if __name__ == "__main__":
    raise SystemExit(main())
