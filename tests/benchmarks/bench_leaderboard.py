"""Leaderboard aggregates on N generated leads, against a plain COUNT(*) of the same rows.

.venv/bin/python tests/benchmarks/bench_leaderboard.py [N] [DATABASE_URL]
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from sqlalchemy import func, insert, select  # noqa: E402

from quiz.db import Base, Database  # noqa: E402
from quiz.models import Agent, Branch, Participant  # noqa: E402
from tests.factories import install_test_campaign  # noqa: E402


def timed(label: str, fn, baseline: float | None = None) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    fn()
    elapsed = time.perf_counter() - start
    ratio = f"  x{elapsed / baseline:.1f} of COUNT(*)" if baseline else ""
    print(f"{label:<28} {elapsed * 1000:9.1f} ms{ratio}")
    return elapsed


def main() -> None:
    from quiz.referrals import leaderboard

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    url = sys.argv[2] if len(sys.argv) > 2 else f"sqlite:///{Path(tempfile.mkdtemp()) / 'b.db'}"
    db = Database(url)
    Base.metadata.drop_all(db.engine)
    Base.metadata.create_all(db.engine)
    with db.transaction() as s:
        campaign = install_test_campaign(s)
        branches = [b.id for b in s.scalars(select(Branch))]
        for bid in branches:
            s.get(Branch, bid).target = 20_000  # type: ignore[union-attr]
        agents = []
        for i in range(2000):
            a = Agent(branch_id=random.choice(branches), code=f"A{i}", name=f"业务员{i}")
            s.add(a)
            agents.append(a)
        s.flush()
        agent_ids = [a.id for a in agents]
        cid = campaign.id
    rng = random.Random(1)
    start = datetime.now(UTC) - timedelta(days=90)
    t0 = time.perf_counter()
    with db.engine.begin() as conn:
        for chunk in range(0, n, 20_000):
            rows = []
            for i in range(chunk, min(n, chunk + 20_000)):
                created = start + timedelta(seconds=rng.randrange(90 * 86400))
                done = rng.random() < 0.7
                rows.append(
                    {
                        "campaign_id": cid,
                        "public_id": f"p{i}",
                        "status": "completed" if done else "registered",
                        "name": "x",
                        "name_masked": "x",
                        "id_hash": f"h{i}",
                        "id_enc": b"",
                        "id_masked": "",
                        "id_last4": "",
                        "mobile_hash": f"m{i}",
                        "mobile_enc": b"",
                        "mobile_masked": "",
                        "address": "",
                        "postal_code": "",
                        "branch_id": rng.choice(branches) if rng.random() < 0.98 else None,
                        "agent_id": rng.choice(agent_ids) if rng.random() < 0.4 else None,
                        "referral_flagged": rng.random() < 0.01,
                        "consent_rules_version": "",
                        "consent_privacy_version": "",
                        "consent_at": created,
                        "created_at": created,
                        "completed_at": created + timedelta(minutes=5) if done else None,
                    }
                )
            conn.execute(insert(Participant), rows)
    print(f"{n} leads inserted in {time.perf_counter() - t0:.0f} s ({db.engine.dialect.name})")
    with db.transaction(write=False) as s:
        from quiz.models import Campaign

        c = s.get(Campaign, cid)
        base = timed(
            "baseline COUNT(*)",
            lambda: s.scalar(select(func.count()).where(Participant.campaign_id == cid)),
        )
        timed("branch_board", lambda: leaderboard.branch_board(s, c), base)
        timed("source_board", lambda: leaderboard.source_board(s, c), base)
        timed("agent_board (top 200)", lambda: leaderboard.agent_board(s, c), base)
        timed("daily_trend (all)", lambda: leaderboard.daily_trend(s, c), base)
        timed("daily_trend (one branch)", lambda: leaderboard.daily_trend(s, c, branches[3]), base)
    db.dispose()


if __name__ == "__main__":
    main()
