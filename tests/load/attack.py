"""Attack script (防刷): scripted entries from one machine, as organised prize hunters make them.

N checksum-valid generated identities, each in a fresh cookie jar, each request's client
address rotated through `X-Forwarded-For` behind one trusted proxy, all mailing prizes to
a handful of addresses. The attacker does not see the phones: with the campaign's
`sms_verification = "required"` it asks for a code (the site sends it to a phone it does
not hold; this script never reads the server log) and then guesses. Prints how many
entries were completed; with SMS required the expected figure is 0.

    .venv/bin/python tests/load/attack.py -n 1000 --sms required
    .venv/bin/python tests/load/attack.py -n 1000 --sms off

With `--sms off` (entries get through), it then plays head office's 风控审核 on the
server's database: how many completed entries the review queue clusters, and how many
one bulk exclusion per address cluster takes out of the draw.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import random
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.load.harness import (  # noqa: E402
    FlowFailure,
    Participant,
    campaign_address,
    forwarded_address,
    open_pool,
    run_async,
    scripted_identity,
)

# The handful of flats every prize is to be mailed to.
DROP_ADDRESSES = [
    ("湖北省武汉市江岸区沿江大道100号", "430014"),
    ("湖北省武汉市江岸区沿江大道102号", "430014"),
    ("广东省广州市天河区天河路385号", "510620"),
]
GUESSES_PER_ENTRY = 6


async def attack(base_url: str, entries: int, *, concurrency: int = 32, salt: int = 7) -> Counter:
    """Try `entries` scripted entries; returns what happened, by outcome."""
    http = open_pool(concurrency)
    base_url = await campaign_address(http, base_url)
    gate = asyncio.Semaphore(concurrency)
    outcomes: Counter[str] = Counter()
    rng = random.Random(salt)

    async def one(n: int) -> None:
        address, postal = DROP_ADDRESSES[n % len(DROP_ADDRESSES)]
        who = dataclasses.replace(scripted_identity(n, salt), address=address, postal_code=postal)
        bot = Participant(base_url, http, who, forwarded_for=forwarded_address(salt * 7919 + n))
        async with gate:
            try:
                token = await bot.prime()
                data = bot.registration(token)
                if bot.sms:
                    sent = await bot.request(
                        "send_code", "POST", "/register", {**data, "send_code": "1"}
                    )
                    outcomes[f"send_code {sent.status_code}"] += 1
                    # The code went to a phone the attacker does not hold: guess.
                    for _ in range(GUESSES_PER_ENTRY):
                        data["sms_code"] = f"{rng.randrange(1_000_000):06d}"
                        reply = await bot.request("register", "POST", "/register", data)
                        if reply.status_code == 302:
                            break
                else:
                    reply = await bot.request("register", "POST", "/register", data)
                if reply.status_code == 302 and reply.headers.get("location") == "/quiz":
                    await bot.answer_all()
                    outcomes["entries completed"] += 1
                else:
                    outcomes[f"refused {reply.status_code}"] += 1
            except (FlowFailure, aiohttp.ClientError, TimeoutError) as exc:
                outcomes[f"failed {type(exc).__name__}"] += 1
            outcomes["server errors"] += sum(s >= 500 for _, s, _ in bot.outcome.requests)

    try:
        await asyncio.gather(*(one(n) for n in range(entries)))
    finally:
        await http.close()
    return outcomes


def review_queue(database_url: str) -> list[str]:
    """风控审核 on the attacked site's database: the share of completed entries in a risk
    cluster, then one bulk exclusion per address cluster (largest first) and what is left."""
    from sqlalchemy import create_engine, func, select
    from sqlalchemy.orm import Session

    from quiz.draw.service import count_eligible
    from quiz.fraud import review
    from quiz.models import Campaign, Participant, RiskSignal

    engine = create_engine(database_url)
    lines = []
    with Session(engine) as session:
        campaign = session.scalars(select(Campaign)).one()
        completed = set(
            session.scalars(
                select(Participant.id).where(
                    Participant.campaign_id == campaign.id, Participant.status == "completed"
                )
            )
        )
        clustered = completed & set(session.scalars(select(RiskSignal.participant_id)))
        share = 100 * len(clustered) / max(len(completed), 1)
        lines.append(
            f"review queue: {len(clustered)} of {len(completed)} completed entries "
            f"in a risk cluster ({share:.1f} %)"
        )
        by_signal = session.execute(
            select(
                RiskSignal.signal, func.count(func.distinct(RiskSignal.cluster_key)), func.count()
            ).group_by(RiskSignal.signal)
        ).all()
        lines += [
            f"  {signal}: {entries} entries in {n} clusters" for signal, n, entries in by_signal
        ]
        before = count_eligible(session, campaign)
        actions = 0
        for cluster in review.clusters(session, campaign, "address"):
            review.exclude_cluster(
                session, campaign, "address", cluster.cluster_key, "批量注册:同一邮寄地址", None
            )
            actions += 1
        session.commit()
        after = count_eligible(session, campaign)
        lines.append(
            f"bulk actions: {actions} (one per address cluster) excluded {before - after} "
            f"entries; eligible for the draw {before} -> {after}"
        )
    engine.dispose()
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--entries", type=int, default=1000)
    parser.add_argument("-c", "--concurrency", type=int, default=32)
    parser.add_argument("--sms", choices=("off", "required"), default="required")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--url", help="an already running site behind one trusted proxy")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    review_lines: list[str] = []
    if args.url:
        outcomes = run_async(attack(args.url, args.entries, concurrency=args.concurrency))
    else:
        from tests.load.server import run_server

        with (
            tempfile.TemporaryDirectory() as tmp,
            run_server(
                f"sqlite:///{tmp}/attack.sqlite3",
                Path(tmp),
                workers=args.workers,
                trusted_proxies=1,
                sms_verification=args.sms,
                # Per-client limits are dodged by the rotating addresses; the campaign's
                # budget is what a real deployment would hit.
                extra_env={"QUIZ_SMS_CAMPAIGN_DAY_BUDGET": "20000"},
            ) as server,
        ):
            outcomes = run_async(attack(server.url, args.entries, concurrency=args.concurrency))
            if args.sms == "off":
                review_lines = review_queue(f"sqlite:///{tmp}/attack.sqlite3")
    print(
        f"sms_verification={args.sms}: {args.entries} scripted entries in "
        f"{time.perf_counter() - started:.0f} s"
    )
    for key, count in sorted(outcomes.items()):
        print(f"  {key}: {count}")
    for line in review_lines:
        print(line)
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    raise SystemExit(main())
