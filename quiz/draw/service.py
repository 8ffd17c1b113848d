"""The draw as a service: freeze the entrant list, run once, void, verify, look up, export.

Plain functions over a Session: they flush but never commit and raise DrawRefused with a
Chinese message; the view or CLI command owns the transaction. Bulk rows (entrants, winners)
go through the DBAPI's executemany with plain tuples, so a freeze of millions stays fast and
its memory flat.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO, Final

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from quiz.clock import cn_time
from quiz.db import utcnow
from quiz.draw.algorithm import (
    ALGORITHM_VERSION,
    DrawError,
    EntrantFileDigest,
    assign_tiers,
    draw_v1,
)
from quiz.draw.eligibility import (
    DrawRefused,
    active_draw,
    earlier_winner_filter,
    eligible_query,
    list_eligible_query,
)
from quiz.draw.plans import DrawPlan, plan_of
from quiz.fraud.review import apply_address_rule
from quiz.leads.exports import masked_address, neutralise
from quiz.models import (
    Branch,
    Campaign,
    Draw,
    DrawEntrant,
    DrawVoidRequest,
    ListEntrant,
    Participant,
    StaffUser,
    Winner,
)
from quiz.privacy.protection import Protector
from quiz.staff import audit
from quiz.text_safety import strip_invisible

__all__ = [
    "DrawRefused",
    "SHIPPING_STATUSES",
    "active_draw",
    "freeze",
    "run_draw",
    "void_draw",
    "verify_draw",
]

SHIPPING_STATUSES: Final = ("待寄送", "已寄送", "已签收", "退回")
CHUNK: Final = 10_000
# Well under SQLite's host-parameter limit, and cheap for PostgreSQL too.
IN_CHUNK: Final = 500
MAX_RANDOMNESS: Final = 1000
_LAST4 = re.compile(r"[0-9]{3}[0-9X]")
_CUSTOMER_LAST4 = re.compile(r"[0-9A-Z-]{4}")  # a 客户号 or 保单号 ending (lists._CUSTOMER)

Progress = Callable[[int], object]


@dataclass(frozen=True)
class WinnerRow:
    """A winner as published: masked fields come from the frozen entrant line."""

    rank: int
    entry_no: int
    masked_name: str
    masked_mobile: str
    tier: str
    prize: str
    value_yuan: int


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------


def _bulk_insert(
    session: Session, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """executemany of plain tuples straight on the DBAPI cursor (no ORM objects); COPY on
    PostgreSQL, where a row costs the server a fraction of an INSERT's parse and bind."""
    if not rows:
        return
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        # The session's own connection and transaction: psycopg's COPY adapts each value
        # with the same dumpers as its INSERT parameters.
        raw = conn.connection.driver_connection
        assert raw is not None
        statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        with raw.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
        return
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    # Table and column names are constants of this module, never user input.
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})"  # noqa: S608
    conn.exec_driver_sql(sql, list(rows))


def _operator(actor: StaffUser | None, operator: str | None) -> str:
    return operator or (actor.username if actor else "")


def tiers_of(campaign: Campaign) -> list[dict[str, Any]]:
    """The campaign's prize tiers in declared order, as stored on the draw."""
    return [
        {
            "tier": str(p["tier"]),
            "count": int(p["count"]),
            "prize": str(p["prize"]),
            "value_yuan": int(p["value_yuan"]),
        }
        for p in campaign.content.get("prizes") or []
    ]


def prize_total(tiers: Iterable[dict[str, Any]]) -> int:
    """K: the number of prizes of all tiers together."""
    return sum(int(t["count"]) for t in tiers)


def split_line(line: str) -> tuple[int, str, str]:
    """An entrant line (without LF) as (entry_no, masked name, masked mobile)."""
    number, name, mobile = line.split("\t")
    return int(number), name, mobile


def iter_entrant_lines(
    session: Session, draw: Draw, chunk: int = CHUNK
) -> Iterator[list[tuple[int, int, str]]]:
    """(entry_no, owner, line) in entry order, a chunk at a time (keyset paging); the owner
    is the participant_id, or the list_entrant_id of a list draw."""
    last = 0
    owner = func.coalesce(DrawEntrant.participant_id, DrawEntrant.list_entrant_id)
    while True:
        rows = session.execute(
            select(DrawEntrant.entry_no, owner, DrawEntrant.line)
            .where(DrawEntrant.draw_id == draw.id, DrawEntrant.entry_no > last)
            .order_by(DrawEntrant.entry_no)
            .limit(chunk)
        ).all()
        if not rows:
            return
        yield [(r[0], r[1], r[2]) for r in rows]
        last = rows[-1][0]


def entrant_file_chunks(session: Session, draw: Draw) -> Iterator[bytes]:
    """The published entrant file, as bytes, a chunk at a time."""
    for rows in iter_entrant_lines(session, draw):
        yield "".join(f"{line}\n" for _, _, line in rows).encode("utf-8")


def export_entrants(session: Session, draw: Draw, sink: BinaryIO) -> int:
    """Write the entrant file to sink; returns the number of entrants written."""
    n = 0
    for rows in iter_entrant_lines(session, draw):
        sink.write("".join(f"{line}\n" for _, _, line in rows).encode("utf-8"))
        n += len(rows)
    return n


# --------------------------------------------------------------------------------------
# Freeze
# --------------------------------------------------------------------------------------


def freeze_deadline_of(campaign: Campaign) -> datetime | None:
    """The latest time to freeze the list, from the campaign file (None when not set)."""
    value = campaign.content.get("freeze_deadline")
    return datetime.fromisoformat(value) if value else None


def _eligible(session: Session, campaign: Campaign, plan: DrawPlan) -> Any:
    """(id, masked name, masked mobile) of who the plan's draw would number now, in order:
    the participants of a quiz, or the active imported list of a list draw."""
    if campaign.kind == "list_draw":
        from quiz.draw.lists import active_import

        current = active_import(session, campaign.id, plan.number)
        stmt = list_eligible_query(campaign, current.id if current else None)
    else:
        stmt = eligible_query(campaign, until=plan.closes_at)
    if plan.exclude_earlier_winners:
        stmt = stmt.where(earlier_winner_filter(campaign, plan.number))
    return stmt


def count_eligible(session: Session, campaign: Campaign, number: int = 1) -> int:
    """How many entries would be frozen now."""
    plan = plan_of(campaign, number)
    if plan is None:
        return 0
    stmt = _eligible(session, campaign, plan).order_by(None).subquery()
    return int(session.scalar(select(func.count()).select_from(stmt)) or 0)


def freeze(
    session: Session,
    campaign: Campaign,
    actor: StaffUser | None = None,
    *,
    operator: str | None = None,
    ip: str | None = None,
    now: datetime | None = None,
    progress: Progress | None = None,
    number: int = 1,
) -> Draw:
    """Number the eligible entries 1..N, store their lines and the digest; status 'frozen'.

    `number` is which of the campaign's declared draws (quiz.draw.plans) is frozen; each
    has its own tiers, randomness source, format and deadline, and its own list.
    """
    now = now or utcnow()
    plan = plan_of(campaign, number)
    if plan is None:
        raise DrawRefused(f"活动文件没有第{number}次抽奖。")
    if now <= plan.closes_at:
        raise DrawRefused("活动尚未截止,截止后才能冻结抽奖名单。")
    # Serialise concurrent freezes on PostgreSQL (SQLite write sessions already queue).
    session.execute(select(Campaign.id).where(Campaign.id == campaign.id).with_for_update())
    if active_draw(session, campaign, number) is not None:
        raise DrawRefused("本次活动已有冻结的抽奖名单;如需重新冻结,请先作废。")
    tiers = plan.tiers
    if prize_total(tiers) < 1:
        raise DrawRefused("活动文件没有设置奖项,无法抽奖。")
    source = plan.randomness_source
    if not source:
        raise DrawRefused("活动文件没有公布随机数来源,无法冻结名单。")
    randomness_format = plan.randomness_format
    deadline = plan.freeze_deadline
    if not randomness_format or deadline is None:
        raise DrawRefused(
            "活动文件须事先规定开奖结果的书写格式(randomness_format、randomness_example)"
            "和名单冻结截止时间(freeze_deadline),才能冻结名单。"
        )
    if now > deadline:
        raise DrawRefused(
            f"已过活动文件规定的名单冻结截止时间({cn_time(deadline)}),"
            "开奖结果可能已经公布,不能再冻结名单。请在活动文件中公布新的随机数来源和截止时间。"
        )
    list_import_id = None
    if campaign.kind == "list_draw":
        from quiz.draw.lists import active_import

        current = active_import(session, campaign.id, number)
        if current is None:
            raise DrawRefused(f"第{number}次抽奖还没有导入名单,请先导入名单再冻结。")
        list_import_id = current.id
    else:
        # The campaign file's eligibility rule (同一邮寄地址限一人获奖) as exclusions, so the
        # frozen list is what is drawn.
        apply_address_rule(session, campaign, actor, operator=operator, ip=ip)
    if count_eligible(session, campaign, number) == 0:
        raise DrawRefused("没有符合抽奖条件的参与者(N = 0),不能冻结名单。")
    draw = Draw(
        campaign_id=campaign.id,
        number=number,
        # Draw 1 follows the campaign's own draw_at and example (as before several draws).
        draw_at=plan.draw_at if number != 1 else None,
        randomness_example=plan.randomness_example if number != 1 else None,
        list_import_id=list_import_id,
        status="frozen",
        entrant_count=0,
        entrant_digest="",
        randomness_source=source,
        randomness_format=randomness_format,
        algorithm=ALGORITHM_VERSION,
        tiers=tiers,
        frozen_at=now,
        frozen_by=_operator(actor, operator),
    )
    session.add(draw)
    session.flush()
    digest = EntrantFileDigest()
    person = "list_entrant_id" if list_import_id is not None else "participant_id"
    columns = ("draw_id", "entry_no", person, "line")
    batch: list[tuple[int, int, int, str]] = []
    result = session.execute(_eligible(session, campaign, plan).execution_options(yield_per=CHUNK))
    # Stream the eligible rows (constant memory) and insert each chunk as it fills.
    try:
        for participant_id, name_masked, mobile_masked in result:
            entry_no = digest.n + 1
            try:
                raw = digest.add(entry_no, name_masked, mobile_masked)
            except DrawError as exc:
                raise DrawRefused(f"参与者 {participant_id} 的脱敏信息无法写入名单:{exc}") from exc
            batch.append((draw.id, entry_no, participant_id, raw[:-1].decode("utf-8")))
            if len(batch) >= CHUNK:
                _flush_entrants(session, columns, batch, progress)
                batch = []
    finally:
        result.close()
    _flush_entrants(session, columns, batch, progress)
    draw.entrant_count = digest.n
    draw.entrant_digest = digest.hexdigest()
    session.flush()
    audit.record(
        session,
        actor,
        "draw.freeze",
        f"draw:{draw.id}",
        {
            "campaign": campaign.slug,
            "number": number,
            "list_import": list_import_id,
            "exclude_earlier_winners": plan.exclude_earlier_winners,
            "entrant_count": draw.entrant_count,
            "entrant_digest": draw.entrant_digest,
            "randomness_source": source,
            "tiers": tiers,
        },
        ip,
        actor_name=operator,
    )
    return draw


def _flush_entrants(
    session: Session,
    columns: Sequence[str],
    batch: list[tuple[int, int, int, str]],
    progress: Progress | None,
) -> None:
    _bulk_insert(session, "draw_entrant", columns, batch)
    if progress is not None and batch:
        progress(len(batch))


# --------------------------------------------------------------------------------------
# Run, void
# --------------------------------------------------------------------------------------


def check_randomness(randomness: str, draw: Draw | None = None) -> str:
    """Refuse a blank, overlong or ambiguous randomness string, and (given the draw) one
    not written in the format announced before the freeze; never trims or normalises it.

    Ambiguous: spaces at either end, doubled spaces, tabs, line breaks or invisible
    characters. A web page does not show them, so an outsider replaying the published
    string would compute other winners; and each variant is another draw to choose from.
    """
    if not isinstance(randomness, str) or not randomness.strip():
        raise DrawRefused("请填写随机数来源公布的开奖结果。")
    if len(randomness) > MAX_RANDOMNESS:
        raise DrawRefused(f"随机数字符串不能超过{MAX_RANDOMNESS}个字符。")
    try:
        randomness.encode("utf-8")
    except UnicodeEncodeError:
        raise DrawRefused("随机数字符串含有无法编码的字符。") from None
    if randomness != randomness.strip() or "  " in randomness or any(map(_hidden, randomness)):
        raise DrawRefused(
            "开奖结果首尾不能有空格,中间不能有连续空格、制表符、换行或不可见字符"
            "(页面上看不出这些字符,外部无法复核)。"
        )
    example = _example_of(draw) if draw else ""
    if example and randomness == example:
        raise DrawRefused(
            "这是活动文件中的书写示例,不是真实的开奖结果;请填写随机数来源在开奖日公布的结果。"
        )
    fmt = draw.randomness_format if draw is not None else None
    if fmt and not re.fullmatch(fmt, randomness):
        assert draw is not None
        example = _example_of(draw)
        shown = f",例如:{example}" if re.fullmatch(fmt, example) else f"(格式:{fmt})"
        raise DrawRefused(f"开奖结果须严格按活动公布的书写格式填写{shown}。")
    return randomness


def _example_of(draw: Draw) -> str:
    """The written-result example the draw's plan declared."""
    if draw.randomness_example is not None:
        return draw.randomness_example
    return str(draw.campaign.content.get("randomness_example") or "")


def draw_time_of(draw: Draw) -> datetime:
    """When the draw may run: its own draw_at (draws 2..), else the campaign's."""
    return draw.draw_at or draw.campaign.draw_at


def check_draw_time(draw: Draw, now: datetime, early_reason: str | None = None) -> bool:
    """Refuse to draw before the campaign's draw_at unless a reason overrides it (CLI);
    returns whether the draw runs early."""
    draw_at = draw_time_of(draw)
    if now >= draw_at:
        return False
    if not (early_reason or "").strip():
        raise DrawRefused(
            f"活动规定的开奖时间是 {cn_time(draw_at)}(北京时间),之前不能抽奖:"
            "随机数来源的开奖结果那时才公布。"
        )
    return True


def _hidden(char: str) -> bool:
    """Whitespace other than the plain space, control and format (zero-width) characters."""
    if char == " ":
        return False
    return char.isspace() or unicodedata.category(char) in ("Cc", "Cf", "Co", "Cs", "Cn")


def expected_winners(
    draw: Draw, randomness: str, digest: str | None = None
) -> list[tuple[int, str, str, int]]:
    """(entry_no, tier, prize, value_yuan) in rank order, recomputed from the inputs."""
    tiers = draw.tiers
    k = prize_total(tiers)
    try:
        entries = draw_v1(digest or draw.entrant_digest, randomness, draw.entrant_count, k)
        pairs = assign_tiers(entries, [(t["tier"], int(t["count"])) for t in tiers])
    except DrawError as exc:
        raise DrawRefused(f"抽奖输入无效:{exc}") from exc
    by_name = {t["tier"]: t for t in tiers}
    return [
        (entry_no, tier, by_name[tier]["prize"], int(by_name[tier]["value_yuan"]))
        for entry_no, tier in pairs
    ]


Owner = tuple[int | None, int | None]


def _participants_of(session: Session, draw: Draw, entry_nos: Sequence[int]) -> dict[int, Owner]:
    """entry_no -> (participant_id, list_entrant_id) for the given entries."""
    found: dict[int, Owner] = {}
    for start in range(0, len(entry_nos), IN_CHUNK):
        part = entry_nos[start : start + IN_CHUNK]
        rows = session.execute(
            select(
                DrawEntrant.entry_no, DrawEntrant.participant_id, DrawEntrant.list_entrant_id
            ).where(DrawEntrant.draw_id == draw.id, DrawEntrant.entry_no.in_(part))
        )
        found.update({entry_no: (pid, lid) for entry_no, pid, lid in rows})
    return found


def check_not_reused(session: Session, draw: Draw, randomness: str) -> None:
    """A result already used by a voided draw would let a void and a new freeze (other
    exclusions, another list) pick among outcomes once the result is known."""
    reused = session.scalar(
        select(Draw.id)
        .where(
            Draw.campaign_id == draw.campaign_id,
            Draw.status == "voided",
            Draw.randomness_value == randomness,
        )
        .limit(1)
    )
    if reused is not None:
        raise DrawRefused(
            f"这个开奖结果已用于已作废的抽奖(记录 {reused}),不能再次使用;"
            "请在活动文件中公布新的随机数来源。"
        )


def run_draw(
    session: Session,
    draw: Draw,
    randomness: str,
    actor: StaffUser | None = None,
    *,
    operator: str | None = None,
    ip: str | None = None,
    now: datetime | None = None,
    early_reason: str | None = None,
    channel: str = "console",
) -> int:
    """Draw the winners of a frozen draw exactly once; returns the number of winners.

    Refused before the campaign's draw_at: the lottery result it names does not exist
    yet, so any string given then is a guess or an example. `early_reason` (the CLI's
    override, for a lottery moved to an earlier day) lifts that and goes to the audit.
    `channel` is "web" only when quiz.draw.control ran it after two people's matching
    entries; anything else is a one-person run and is marked as the server console's.
    """
    randomness = check_randomness(randomness, draw)
    if draw.status != "frozen":
        raise DrawRefused(not_frozen_message(draw.status))
    now = now or utcnow()
    draw_at = draw_time_of(draw)
    early = check_draw_time(draw, now, early_reason)
    check_not_reused(session, draw, randomness)
    # Compute before touching anything, so bad input leaves the draw frozen.
    result = expected_winners(draw, randomness)
    participants = _participants_of(session, draw, [r[0] for r in result])
    if len(participants) != len(result):
        raise DrawRefused("抽奖名单不完整(缺少中奖编号对应的参与者),请先运行复核。")
    # The conditional UPDATE is the run-once guard: of two concurrent runs only one matches.
    claimed = session.execute(
        update(Draw)
        .where(Draw.id == draw.id, Draw.status == "frozen")
        .values(
            status="drawn",
            randomness_value=randomness,
            drawn_at=now,
            drawn_by=_operator(actor, operator),
            run_channel="web" if channel == "web" else "console",
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        current = session.scalar(select(Draw.status).where(Draw.id == draw.id))
        raise DrawRefused(not_frozen_message(current or "voided"))
    rows = [
        (draw.id, rank, entry_no, *participants[entry_no], tier, prize, value, "待寄送")
        for rank, (entry_no, tier, prize, value) in enumerate(result, start=1)
    ]
    columns = (
        "draw_id",
        "rank",
        "entry_no",
        "participant_id",
        "list_entrant_id",
        "tier",
        "prize",
        "value_yuan",
        "shipping_status",
    )
    for start in range(0, len(rows), CHUNK):
        _bulk_insert(session, "winner", columns, rows[start : start + CHUNK])
    session.refresh(draw)
    audit.record(
        session,
        actor,
        "draw.run",
        f"draw:{draw.id}",
        {
            "entrant_digest": draw.entrant_digest,
            "entrant_count": draw.entrant_count,
            "randomness": randomness,
            "algorithm": draw.algorithm,
            "tiers": draw.tiers,
            "winners": len(rows),
            "channel": draw.run_channel,
            **(
                {"before_draw_at": draw_at.isoformat(), "early_reason": early_reason}
                if early
                else {}
            ),
        },
        ip,
        actor_name=operator,
    )
    return len(rows)


def not_frozen_message(status: str) -> str:
    """Why a draw in this status cannot be run."""
    if status == "drawn":
        return "本次抽奖已经完成,不能重复抽奖。"
    if status == "voided":
        return "本次抽奖已作废,请重新冻结名单。"
    return "抽奖名单尚未冻结。"


def void_draw(
    session: Session,
    draw: Draw,
    reason: str,
    actor: StaffUser | None = None,
    *,
    operator: str | None = None,
    ip: str | None = None,
    now: datetime | None = None,
    channel: str = "console",
) -> Draw:
    """Void a frozen or drawn draw, keeping its record; a new freeze is then allowed.

    `channel` is "web" only when quiz.draw.control approved a second account's request;
    otherwise the void is one person's and is marked as the server console's. Requests
    still waiting are closed: there is nothing left for them to void.
    """
    reason = strip_invisible(reason or "").strip()
    if not reason:
        raise DrawRefused("作废抽奖必须填写原因。")
    if draw.status == "voided":
        raise DrawRefused("本次抽奖已经作废。")
    previous = draw.status
    draw.status = "voided"
    draw.voided_at = now or utcnow()
    draw.voided_by = _operator(actor, operator)
    draw.void_reason = reason
    draw.void_channel = "web" if channel == "web" else "console"
    session.execute(
        update(DrawVoidRequest)
        .where(DrawVoidRequest.draw_id == draw.id, DrawVoidRequest.status == "pending")
        .values(status="closed")
        .execution_options(synchronize_session=False)
    )
    session.flush()
    audit.record(
        session,
        actor,
        "draw.void",
        f"draw:{draw.id}",
        {"reason": reason, "previous_status": previous, "channel": draw.void_channel},
        ip,
        actor_name=operator,
    )
    return draw


# --------------------------------------------------------------------------------------
# Verify
# --------------------------------------------------------------------------------------


@dataclass
class Verification:
    """What verify found: recomputed digest and count, and every mismatch."""

    entrant_count: int
    digest: str
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_draw(session: Session, draw: Draw, progress: Progress | None = None) -> Verification:
    """Recompute the digest from the stored lines and the winners from the stored inputs."""
    problems: list[str] = []
    hasher = EntrantFileDigest()
    raw_hash = hashlib.sha256()
    owner: dict[int, int] = {}
    expected_no = 0
    for rows in iter_entrant_lines(session, draw):
        for entry_no, participant_id, line in rows:
            expected_no += 1
            if entry_no != expected_no and len(problems) < 20:
                problems.append(f"编号不连续:应为 {expected_no},实际为 {entry_no}")
            data = (line + "\n").encode("utf-8")
            raw_hash.update(data)
            try:
                number, name, mobile = split_line(line)
                if number != entry_no:
                    raise ValueError
                hasher.add(hasher.n + 1, name, mobile)
            except (ValueError, DrawError):
                if len(problems) < 20:
                    problems.append(f"第 {entry_no} 行格式不正确:{line!r}")
            owner[entry_no] = participant_id
        if progress is not None:
            progress(len(rows))
    digest = raw_hash.hexdigest()
    if expected_no != draw.entrant_count:
        problems.append(f"名单人数不符:记录 {draw.entrant_count},实际 {expected_no}")
    if digest != draw.entrant_digest:
        problems.append(f"名单摘要不符:记录 {draw.entrant_digest},重新计算 {digest}")
    if draw.randomness_value is not None and draw.status in ("drawn", "voided"):
        problems.extend(_verify_winners(session, draw, owner))
    return Verification(entrant_count=expected_no, digest=digest, problems=problems)


def _verify_winners(session: Session, draw: Draw, owner: dict[int, int]) -> list[str]:
    """Compare stored Winner rows with the winners recomputed from the stored inputs."""
    assert draw.randomness_value is not None
    problems: list[str] = []
    expected = expected_winners(draw, draw.randomness_value)
    stored = session.execute(
        select(
            Winner.rank,
            Winner.entry_no,
            func.coalesce(Winner.participant_id, Winner.list_entrant_id).label("participant_id"),
            Winner.tier,
            Winner.prize,
            Winner.value_yuan,
        )
        .where(Winner.draw_id == draw.id)
        .order_by(Winner.rank)
    ).all()
    if len(stored) != len(expected):
        problems.append(f"中奖人数不符:应为 {len(expected)},记录 {len(stored)}")
    for rank, want in enumerate(expected, start=1):
        if rank > len(stored):
            break
        got = stored[rank - 1]
        entry_no, tier, prize, value = want
        if (got.rank, got.entry_no, got.tier, got.prize, got.value_yuan) != (
            rank,
            entry_no,
            tier,
            prize,
            value,
        ):
            problems.append(
                f"第 {rank} 名不符:应为编号 {entry_no}({tier}),"
                f"记录为编号 {got.entry_no}({got.tier})"
            )
        elif owner.get(entry_no) != got.participant_id:
            problems.append(f"第 {rank} 名(编号 {entry_no})的参与者与名单不符")
        if len(problems) >= 20:
            break
    if len(problems) < 20:
        problems.extend(_verify_winner_people(session, draw, stored)[: 20 - len(problems)])
    return problems


def _verify_winner_people(session: Session, draw: Draw, winners: Sequence[Any]) -> list[str]:
    """Each winner's published line must still describe the person the prize goes to: the
    digest covers the lines, not which participant stands behind an entry number, so a
    swapped participant_id would otherwise send a prize to someone else unnoticed.
    `winners` are the stored Winner rows _verify_winners read (rank, entry_no,
    participant_id, ...)."""
    problems: list[str] = []
    for start in range(0, len(winners), IN_CHUNK):
        part = winners[start : start + IN_CHUNK]
        who = ListEntrant if draw.list_import_id is not None else Participant
        people = {
            pid: (name, mobile, anonymised)
            for pid, name, mobile, anonymised in session.execute(
                select(who.id, who.name_masked, who.mobile_masked, who.anonymised_at).where(
                    who.id.in_([w.participant_id for w in part])
                )
            )
        }
        lines = dict(
            session.execute(
                select(DrawEntrant.entry_no, DrawEntrant.line).where(
                    DrawEntrant.draw_id == draw.id,
                    DrawEntrant.entry_no.in_([w.entry_no for w in part]),
                )
            ).all()
        )
        for w in part:
            person = people.get(w.participant_id)
            if person is None or w.entry_no not in lines:
                problems.append(f"第 {w.rank} 名(编号 {w.entry_no})的参与者记录缺失")
                continue
            name, mobile, anonymised = person
            if anonymised is not None:
                continue  # erased on request after the draw: nothing left to compare
            _, line_name, line_mobile = split_line(lines[w.entry_no])
            if (line_name, line_mobile) != (name, mobile):
                problems.append(
                    f"第 {w.rank} 名(编号 {w.entry_no})名单上是 {line_name} {line_mobile},"
                    f"奖品却记在 {name} {mobile} 名下"
                )
    return problems


# --------------------------------------------------------------------------------------
# Public look-ups and lists
# --------------------------------------------------------------------------------------


def published_draw(session: Session, campaign: Campaign, number: int | None = None) -> Draw | None:
    """The draw the public site shows: the newest frozen or drawn one (of that number)."""
    return active_draw(session, campaign, number)


def campaign_draws(session: Session, campaign: Campaign) -> list[Draw]:
    """The campaign's frozen or drawn draws, by number (the public page lists each)."""
    return list(
        session.scalars(
            select(Draw)
            .where(Draw.campaign_id == campaign.id, Draw.status != "voided")
            .order_by(Draw.number, Draw.id)
        )
    )


def voided_draws(session: Session, campaign: Campaign) -> list[Draw]:
    """The campaign's voided draws, oldest first: shown publicly with their reasons, so a
    void and a new freeze can never happen out of sight."""
    return list(
        session.scalars(
            select(Draw)
            .where(Draw.campaign_id == campaign.id, Draw.status == "voided")
            .order_by(Draw.id)
        )
    )


def normalise_last4(value: str) -> str | None:
    """The last four characters of an ID number, upper-cased, or None if malformed."""
    value = (value or "").strip().upper()
    return value if _LAST4.fullmatch(value) else None


def normalise_customer_last4(value: str) -> str | None:
    """The last four characters of a 客户号 or 保单号, upper-cased, or None if malformed."""
    value = (value or "").strip().upper()
    return value if _CUSTOMER_LAST4.fullmatch(value) else None


def list_prizes_by_contact(
    session: Session, protector: Protector, draw: Draw, mobile: str, last4: str
) -> list[Winner]:
    """Winner rows of a drawn list draw whose list entry has this mobile and a 客户号 ending
    in `last4`. Only the draw's winners are read, never the whole list (it has no index on
    the mobile's hash, see ListEntrant)."""
    if draw.status != "drawn":
        return []
    rows = session.execute(
        select(Winner, ListEntrant.customer_masked)
        .join(ListEntrant, ListEntrant.id == Winner.list_entrant_id)
        .where(
            Winner.draw_id == draw.id,
            ListEntrant.mobile_hash == protector.lookup_hash("mobile", mobile),
        )
        .order_by(Winner.rank)
    ).all()
    # The masked 客户号 keeps its last four characters (lists._mask_customer).
    return [winner for winner, masked in rows if masked[-4:].upper() == last4]


def participants_by_contact(
    session: Session, protector: Protector, campaign: Campaign, mobile: str, last4: str
) -> list[int]:
    """Ids of the campaign's participants with this mobile and ID-number ending."""
    rows = session.execute(
        select(Participant.id, Participant.id_last4).where(
            Participant.campaign_id == campaign.id,
            Participant.mobile_hash == protector.lookup_hash("mobile", mobile),
        )
    ).all()
    return [pid for pid, own_last4 in rows if (own_last4 or "").upper() == last4]


def entry_numbers_of(session: Session, draw: Draw, participant_ids: Sequence[int]) -> list[int]:
    """Entry numbers of these participants in the frozen list."""
    if not participant_ids:
        return []
    return list(
        session.scalars(
            select(DrawEntrant.entry_no)
            .where(DrawEntrant.draw_id == draw.id, DrawEntrant.participant_id.in_(participant_ids))
            .order_by(DrawEntrant.entry_no)
        )
    )


def prizes_of(session: Session, draw: Draw, participant_ids: Sequence[int]) -> list[Winner]:
    """Winner rows of these participants in a drawn draw."""
    if not participant_ids or draw.status != "drawn":
        return []
    return list(
        session.scalars(
            select(Winner)
            .where(Winner.draw_id == draw.id, Winner.participant_id.in_(participant_ids))
            .order_by(Winner.rank)
        )
    )


def winner_rows(
    session: Session, draw: Draw, *, offset: int = 0, limit: int | None = None
) -> list[WinnerRow]:
    """Winners in rank order with the masked fields of their frozen entrant line."""
    stmt = (
        select(
            Winner.rank,
            Winner.entry_no,
            DrawEntrant.line,
            Winner.tier,
            Winner.prize,
            Winner.value_yuan,
        )
        .join(
            DrawEntrant,
            (DrawEntrant.draw_id == Winner.draw_id) & (DrawEntrant.entry_no == Winner.entry_no),
        )
        .where(Winner.draw_id == draw.id)
        .order_by(Winner.rank)
        .offset(offset)
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    out = []
    for rank, entry_no, line, tier, prize, value in session.execute(stmt):
        _, name, mobile = split_line(line)
        out.append(WinnerRow(rank, entry_no, name, mobile, tier, prize, value))
    return out


def winner_count(session: Session, draw: Draw) -> int:
    return int(
        session.scalar(select(func.count()).select_from(Winner).where(Winner.draw_id == draw.id))
        or 0
    )


# --------------------------------------------------------------------------------------
# Fulfilment: shipping status and the branch export
# --------------------------------------------------------------------------------------


def winners_for_branch(
    session: Session, draw: Draw, branch_id: int | None, *, all_branches: bool
) -> Any:
    """Select of (Winner, person) rows, restricted to a branch unless all_branches; the
    person is the Participant, or the ListEntrant of a draw over an imported list."""
    if draw.list_import_id is not None:
        stmt = (
            select(Winner, ListEntrant)
            .join(ListEntrant, ListEntrant.id == Winner.list_entrant_id)
            .where(Winner.draw_id == draw.id)
            .order_by(Winner.rank)
        )
        if not all_branches or branch_id is not None:
            stmt = stmt.where(ListEntrant.branch_id == branch_id)
        return stmt
    stmt = (
        select(Winner, Participant)
        .join(Participant, Participant.id == Winner.participant_id)
        .where(Winner.draw_id == draw.id)
        .order_by(Winner.rank)
    )
    if not all_branches or branch_id is not None:
        stmt = stmt.where(Participant.branch_id == branch_id)
    return stmt


def winner_branch_id(winner: Winner) -> int | None:
    """The branch that notifies this winner (the participant's, or the list's 机构代码)."""
    if winner.list_entrant is not None:
        return winner.list_entrant.branch_id
    return winner.participant.branch_id if winner.participant is not None else None


def _contact_fields(protector: Protector, person: Any, reveal: bool) -> tuple[str, ...]:
    """Name, mobile, address, postal code for the fulfilment export: in full with
    `reveal`, masked otherwise (a list entrant's address is not shown masked at all)."""
    if isinstance(person, ListEntrant):
        if not reveal:
            return (person.name_masked, person.mobile_masked, "", "")
        from quiz.draw.lists import personal_data

        data = personal_data(protector, person)
        return (person.name, data["mobile"], data["address"], "")
    if reveal:
        return (
            person.name,
            protector.decrypt(person.mobile_enc),
            person.address,
            person.postal_code,
        )
    return (
        person.name_masked,
        person.mobile_masked,
        masked_address(person.province_code, person.city_code, person.district_code),
        person.postal_code,
    )


def update_shipping(
    session: Session,
    winner: Winner,
    status: str,
    tracking_no: str,
    actor: StaffUser | None = None,
    *,
    operator: str | None = None,
    ip: str | None = None,
    now: datetime | None = None,
) -> Winner:
    """Set a winner's shipping status and tracking number (audit-logged)."""
    if status not in SHIPPING_STATUSES:
        raise DrawRefused("寄送状态无效。")
    tracking_no = strip_invisible(tracking_no or "").strip()
    if len(tracking_no) > 64:
        raise DrawRefused("快递单号不能超过64个字符。")
    if status in ("已寄送", "已签收") and not tracking_no and not winner.tracking_no:
        raise DrawRefused("已寄送或已签收的奖品请填写快递单号。")
    before = {"status": winner.shipping_status, "tracking_no": winner.tracking_no}
    winner.shipping_status = status
    if tracking_no:
        winner.tracking_no = tracking_no
    if status == "已寄送" and winner.shipped_at is None:
        winner.shipped_at = now or utcnow()
    session.flush()
    audit.record(
        session,
        actor,
        "draw.shipping",
        f"winner:{winner.draw_id}:{winner.rank}",
        {"before": before, "status": status, "tracking_no": winner.tracking_no},
        ip,
        actor_name=operator,
    )
    return winner


EXPORT_COLUMNS: Final = (
    "排名",
    "抽奖编号",
    "奖项",
    "奖品",
    "价值(元)",
    "姓名",
    "手机号码",
    "邮寄地址",
    "邮政编码",
    "所属机构",
    "寄送状态",
    "快递单号",
)


def safe_cell(value: object) -> str:
    """A CSV cell that spreadsheets will not run as a formula."""
    return neutralise("" if value is None else str(value))


def winners_csv(
    session: Session,
    protector: Protector,
    draw: Draw,
    branch_id: int | None,
    *,
    all_branches: bool,
    reveal: bool,
) -> Iterator[str]:
    """The fulfilment export as CSV text chunks (UTF-8 BOM). Like the staff pages: name,
    mobile and address in full only with `reveal` (可查看完整个人信息), otherwise the
    masked name and mobile and the address cut to its region (the lead export's form)."""
    branches = {bid: name for bid, name in session.execute(select(Branch.id, Branch.name))}
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_COLUMNS)
    yield "\ufeff" + buffer.getvalue()
    stmt = winners_for_branch(session, draw, branch_id, all_branches=all_branches)
    for start in range(0, 10**9, 1000):
        rows = session.execute(stmt.offset(start).limit(1000)).all()
        if not rows:
            return
        buffer.seek(0)
        buffer.truncate()
        for winner, person in rows:
            writer.writerow(
                [
                    safe_cell(v)
                    for v in (
                        winner.rank,
                        winner.entry_no,
                        winner.tier,
                        winner.prize,
                        winner.value_yuan,
                        *_contact_fields(protector, person, reveal),
                        branches.get(person.branch_id or 0, "未分配"),
                        winner.shipping_status,
                        winner.tracking_no or "",
                    )
                ]
            )
        yield buffer.getvalue()
