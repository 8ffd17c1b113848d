"""Referral links: which channel, branch and agent brought a participant.

Every channel, branch and agent gets a tracked short link /r/<code>. A visit stores
the code in the session (and a 30-day cookie); registration resolves it with
`referral_for_request` and quiz.branches.routing applies it to the new participant.

Anti-gaming: a `before_insert` hook on Participant flags a referred entry
(`referral_flagged`) when it is a self-referral or part of a burst from one client
address on one code; see `flag_reasons` for the rules and thresholds.
"""

from __future__ import annotations

import csv
import io
import ipaddress
import re
import secrets
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapper, Session

from quiz.db import Database, utcnow
from quiz.models import Agent, Branch, Campaign, Channel, Participant, ReferralLink
from quiz.text_safety import strip_invisible

# No 0/O, 1/I: codes are typed from posters and read out over the phone.
ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
CODE_LENGTH = 7
CODE_RE = re.compile(rf"[{ALPHABET}]{{6,8}}")
SESSION_KEY = "ref"
COOKIE_NAME = "quiz_ref"
COOKIE_MAX_AGE = 30 * 24 * 3600
CHANNEL_CODE_RE = re.compile(r"[A-Za-z0-9_-]{1,32}")

# Defaults; the app config can override them (QUIZ_REFERRAL_BURST_LIMIT / _WINDOW_MINUTES).
BURST_LIMIT = 5
BURST_WINDOW = timedelta(hours=1)

CSV_COLUMNS = {
    "branch_code": ("branch_code", "机构代码", "分公司代码"),
    "agent_code": ("agent_code", "业务员代码", "工号"),
    "name": ("name", "姓名"),
    "mobile": ("mobile", "手机号码", "手机"),
}
MAX_IMPORT_ROWS = 100_000  # per upload on the web page


class ReferralError(ValueError):
    """Bad input for a referral operation; str(exc) is a Chinese message for staff."""


class TooManyRows(ReferralError):
    """A file longer than one import takes."""


# --- codes --------------------------------------------------------------------


def new_code(length: int = CODE_LENGTH) -> str:
    """A random short code from the unambiguous alphabet."""
    # 32 letters: each random byte picks one without bias (256 = 8 x 32), ten times
    # faster than secrets.choice when an import needs thousands of codes.
    return "".join(ALPHABET[byte % len(ALPHABET)] for byte in secrets.token_bytes(length))


def normalise_code(raw: str | None) -> str | None:
    """The canonical form of a code typed or scanned, or None when it cannot be one."""
    if not raw or len(raw) > 16:
        return None
    code = raw.strip().upper()
    return code if CODE_RE.fullmatch(code) else None


def _unique_code(session: Session, taken: set[str]) -> str:
    for _ in range(20):
        code = new_code()
        if code in taken:
            continue
        exists = session.scalar(select(ReferralLink.id).where(ReferralLink.code == code))
        if exists is None:
            taken.add(code)
            return code
    raise RuntimeError("could not find a free referral code")  # 32^7 codes: never in practice


# --- links ----------------------------------------------------------------------


def ensure_link(
    session: Session,
    *,
    channel: Channel | None = None,
    branch: Branch | None = None,
    agent: Agent | None = None,
    label: str = "",
    taken: set[str] | None = None,
) -> ReferralLink:
    """The personal link of this agent, branch or channel; created on first use."""
    if agent is not None:
        stmt = select(ReferralLink).where(ReferralLink.agent_id == agent.id)
        branch_id: int | None = agent.branch_id
    elif branch is not None:
        stmt = select(ReferralLink).where(
            ReferralLink.branch_id == branch.id,
            ReferralLink.agent_id.is_(None),
            ReferralLink.channel_id.is_(None),
        )
        branch_id = branch.id
    elif channel is not None:
        stmt = select(ReferralLink).where(
            ReferralLink.channel_id == channel.id, ReferralLink.agent_id.is_(None)
        )
        branch_id = None
    else:
        raise ValueError("a link needs a channel, a branch or an agent")
    link = session.scalars(stmt.limit(1)).first()
    if link is not None:
        return link
    link = ReferralLink(
        code=_unique_code(session, taken if taken is not None else set()),
        channel_id=channel.id if channel else None,
        branch_id=branch_id,
        agent_id=agent.id if agent else None,
        label=label[:200],
    )
    session.add(link)
    session.flush()
    return link


def create_channel(session: Session, code: str, name: str) -> ReferralLink:
    """A new promotion channel (partner site, SMS, poster ...) and its link."""
    code = code.strip()
    name = " ".join(strip_invisible(name).split())
    if not CHANNEL_CODE_RE.fullmatch(code):
        raise ReferralError("渠道代码只能包含字母、数字、下划线和短横线,最长32个字符")
    if not name or len(name) > 100:
        raise ReferralError("请填写渠道名称(不超过100个字)")
    if session.scalar(select(Channel.id).where(Channel.code == code)) is not None:
        raise ReferralError(f"渠道代码 {code} 已存在")
    channel = Channel(code=code, name=name)
    session.add(channel)
    session.flush()
    return ensure_link(session, channel=channel, label=name)


def ensure_branch_links(session: Session) -> int:
    """Give every active branch its own link; returns how many were created."""
    have = set(
        session.scalars(
            select(ReferralLink.branch_id).where(
                ReferralLink.agent_id.is_(None), ReferralLink.channel_id.is_(None)
            )
        )
    )
    created = 0
    taken: set[str] = set()
    for branch in session.scalars(select(Branch).where(Branch.active.is_(True))):
        if branch.id not in have:
            ensure_link(session, branch=branch, label=branch.name, taken=taken)
            created += 1
    return created


@dataclass
class ImportResult:
    """What an agent import did."""

    created: int = 0
    updated: int = 0
    links_created: int = 0
    errors: list[str] = field(default_factory=list)


def _header_map(header: Sequence[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for i, raw in enumerate(header):
        name = raw.strip().lstrip("\ufeff").lower()
        for key, aliases in CSV_COLUMNS.items():
            if name in aliases:
                found[key] = i
    return found


def csv_text(data: bytes | str) -> str:
    """A CSV upload as text: UTF-8 (with or without BOM) or GB18030, as Excel saves it,
    without invisible characters; ReferralError for a file that is not CSV text.
    Shared by every CSV import (agents, the contest roster)."""
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            try:
                text = data.decode("gb18030")
            except UnicodeDecodeError:
                message = "无法识别文件编码,请保存为 UTF-8 或 GBK 编码的CSV文件"
                raise ReferralError(message) from None
    else:
        text = data
    if "\x00" in text:  # a spreadsheet or UTF-16 file, not CSV text (and PostgreSQL refuses NUL)
        raise ReferralError("文件不是CSV文本,请在Excel中“另存为”CSV(逗号分隔)后再上传")
    return strip_invisible(text)  # after the NUL check, which it would otherwise void


def parse_agents_csv(
    data: bytes | str, max_rows: int | None = None
) -> list[tuple[int, dict[str, str]]]:
    """Rows of an agents CSV as (line number, fields); raise ReferralError on a bad file,
    TooManyRows past `max_rows` (the web page's limit; the CLI takes any length).

    Columns, by header: branch_code/机构代码, agent_code/业务员代码, name/姓名 and the
    optional mobile/手机号码. UTF-8 (with or without BOM) or GB18030, as Excel saves it.
    """
    reader = csv.reader(io.StringIO(csv_text(data)))
    try:
        header = next(reader)
    except StopIteration:
        raise ReferralError("文件为空") from None
    except csv.Error as exc:
        raise ReferralError(f"CSV格式错误:{exc}") from None
    columns = _header_map(header)
    missing = [k for k in ("branch_code", "agent_code", "name") if k not in columns]
    if missing:
        raise ReferralError(
            "第1行缺少列:"
            + "、".join(CSV_COLUMNS[k][1] + f"({k})" for k in missing)
            + ";需要 机构代码,业务员代码,姓名[,手机号码]"
        )
    rows: list[tuple[int, dict[str, str]]] = []
    try:
        for record in reader:
            if not any(cell.strip() for cell in record):
                continue
            if max_rows is not None and len(rows) >= max_rows:
                raise TooManyRows(f"网页上传一次最多导入{max_rows}行。")
            values = {
                key: (record[i].strip() if i < len(record) else "") for key, i in columns.items()
            }
            rows.append((reader.line_num, values))
    except csv.Error as exc:
        raise ReferralError(f"第{reader.line_num}行CSV格式错误:{exc}") from None
    return rows


@dataclass(frozen=True)
class AgentRow:
    """One checked row of an agents CSV, ready to write."""

    branch_id: int
    branch_name: str
    code: str
    name: str
    mobile_hash: str | None


def check_agents(
    session: Session,
    rows: Iterable[tuple[int, dict[str, str]]],
    *,
    hash_mobile: Any = None,
    only_branch_id: int | None = None,
) -> list[AgentRow]:
    """Every row checked (reads only); ReferralError lists each problem with its line.

    `hash_mobile(mobile) -> str` gives the keyed hash of an optional mobile;
    `only_branch_id` limits branch staff to their own branch.
    """
    from quiz.identity import IdentityError, validate_mobile

    branches = {b.code: b for b in session.scalars(select(Branch))}
    errors: list[str] = []
    seen: dict[tuple[str, str], int] = {}
    parsed: list[AgentRow] = []
    for line, row in rows:
        problems: list[str] = []
        branch = branches.get(row.get("branch_code", ""))
        code = row.get("agent_code", "")
        name = " ".join(row.get("name", "").split())
        if branch is None:
            problems.append(f"机构代码 {row.get('branch_code', '')!r} 不存在")
        elif only_branch_id is not None and branch.id != only_branch_id:
            problems.append(f"只能导入本机构的业务人员(机构代码 {branch.code})")
        if not CHANNEL_CODE_RE.fullmatch(code):
            problems.append("业务员代码只能包含字母、数字、下划线和短横线,最长32个字符")
        if not name or len(name) > 100:
            problems.append("姓名不能为空且不超过100个字")
        mobile_hash: str | None = None
        if row.get("mobile"):
            try:
                mobile = validate_mobile(row["mobile"])
                mobile_hash = hash_mobile(mobile) if hash_mobile else None
            except IdentityError as exc:
                problems.append(str(exc))
        key = (row.get("branch_code", ""), code)
        if key in seen:
            problems.append(f"与第{seen[key]}行重复")
        seen[key] = line
        if problems:
            errors.append(f"第{line}行:" + ";".join(problems))
        elif branch is not None:
            parsed.append(AgentRow(branch.id, branch.name, code, name, mobile_hash))
    if errors:
        raise ReferralError("\n".join(errors[:50]))
    return parsed


def _free_codes(session: Session, count: int) -> list[str]:
    """`count` new link codes, distinct and unused (one query per batch)."""
    codes: list[str] = []
    while len(codes) < count:
        batch = {new_code() for _ in range(count - len(codes))} - set(codes)
        used = set(session.scalars(select(ReferralLink.code).where(ReferralLink.code.in_(batch))))
        codes.extend(batch - used)
    return codes


def write_agents(session: Session, rows: Sequence[AgentRow]) -> ImportResult:
    """Create or update checked agents and give each new one a link: a few statements per
    call whatever its size (bulk inserts), so a chunk of a large file takes milliseconds."""
    result = ImportResult()
    if not rows:
        return result
    by_key = {(r.branch_id, r.code): r for r in rows}
    ids: dict[tuple[int, str], int] = {}
    for branch_id in {r.branch_id for r in rows}:
        codes = [r.code for r in rows if r.branch_id == branch_id]
        for agent in session.scalars(
            select(Agent).where(Agent.branch_id == branch_id, Agent.code.in_(codes))
        ):
            ids[(agent.branch_id, agent.code)] = agent.id
            row = by_key[(agent.branch_id, agent.code)]
            if agent.name != row.name or (row.mobile_hash and agent.mobile_hash != row.mobile_hash):
                result.updated += 1
                agent.name = row.name
                agent.mobile_hash = row.mobile_hash or agent.mobile_hash
    new = [r for r in rows if (r.branch_id, r.code) not in ids]
    if new:
        inserted = session.execute(
            insert(Agent).returning(Agent.id, Agent.branch_id, Agent.code),
            [
                {
                    "branch_id": r.branch_id,
                    "code": r.code,
                    "name": r.name,
                    "mobile_hash": r.mobile_hash,
                }
                for r in new
            ],
        )
        for agent_id, branch_id, code in inserted:
            ids[(branch_id, code)] = agent_id
        result.created = len(new)
    linked = set(
        session.scalars(
            select(ReferralLink.agent_id).where(ReferralLink.agent_id.in_(list(ids.values())))
        )
    )
    missing = [r for r in rows if ids[(r.branch_id, r.code)] not in linked]
    if missing:
        session.execute(
            insert(ReferralLink),
            [
                {
                    "code": code,
                    "branch_id": r.branch_id,
                    "agent_id": ids[(r.branch_id, r.code)],
                    "label": f"{r.branch_name} {r.name}"[:200],
                    "created_at": utcnow(),
                }
                for r, code in zip(missing, _free_codes(session, len(missing)), strict=True)
            ],
        )
    result.links_created = len(missing)
    session.flush()
    return result


def import_agents(
    session: Session,
    rows: Iterable[tuple[int, dict[str, str]]],
    *,
    hash_mobile: Any = None,
    only_branch_id: int | None = None,
) -> ImportResult:
    """Create or update agents (by branch and agent code) and give each a link.

    All or nothing, in the caller's transaction: any bad row raises ReferralError
    listing every problem with its line number. For large files outside a test or a
    small script, `import_agents_in_chunks` keeps each write transaction short.
    """
    checked = check_agents(session, rows, hash_mobile=hash_mobile, only_branch_id=only_branch_id)
    return write_agents(session, checked)


# Rows per write transaction: a chunk is written in well under a tenth of a second, so a
# registration waiting behind an import waits for one chunk, not for the whole file.
IMPORT_CHUNK = 500


def import_agents_in_chunks(
    database: Database,
    rows: Iterable[tuple[int, dict[str, str]]],
    *,
    hash_mobile: Any = None,
    only_branch_id: int | None = None,
    chunk: int = IMPORT_CHUNK,
) -> ImportResult:
    """Check the whole file first (a bad file saves nothing), then write it in short
    transactions of `chunk` rows each, committed one by one.

    Never holds SQLite's write lock for longer than one chunk. Not atomic: should the
    database fail half way, the rows written so far stay; importing the same file again
    updates them and adds the rest.
    """
    with database.transaction(write=False) as session:
        checked = check_agents(
            session, rows, hash_mobile=hash_mobile, only_branch_id=only_branch_id
        )
    total = ImportResult()
    for start in range(0, len(checked), chunk):
        with database.transaction(write=True) as session:
            done = write_agents(session, checked[start : start + chunk])
        total.created += done.created
        total.updated += done.updated
        total.links_created += done.links_created
    return total


@dataclass(frozen=True)
class LinkRow:
    """One link as listed and exported."""

    id: int
    code: str
    kind: str
    branch_code: str
    branch_name: str
    agent_code: str
    agent_name: str
    channel_code: str
    channel_name: str
    label: str
    # The campaign /r/<code> leads to (None: the site's default one).
    campaign_id: int | None = None


def link_rows(
    session: Session,
    *,
    branch_id: int | None = None,
    kind: str | None = None,
    search: str = "",
    offset: int = 0,
    limit: int | None = None,
) -> tuple[int, list[LinkRow]]:
    """(total, page) of links with their branch, agent and channel, scoped to a branch."""
    stmt = (
        select(ReferralLink, Branch, Agent, Channel)
        .outerjoin(Branch, Branch.id == ReferralLink.branch_id)
        .outerjoin(Agent, Agent.id == ReferralLink.agent_id)
        .outerjoin(Channel, Channel.id == ReferralLink.channel_id)
    )
    if branch_id is not None:
        stmt = stmt.where(ReferralLink.branch_id == branch_id)
    if kind == "agent":
        stmt = stmt.where(ReferralLink.agent_id.isnot(None))
    elif kind == "branch":
        stmt = stmt.where(
            ReferralLink.agent_id.is_(None),
            ReferralLink.channel_id.is_(None),
            ReferralLink.branch_id.isnot(None),
        )
    elif kind == "channel":
        stmt = stmt.where(ReferralLink.channel_id.isnot(None))
    if search:
        like = f"%{search.strip()[:50]}%"
        stmt = stmt.where(
            ReferralLink.code.ilike(like)
            | ReferralLink.label.ilike(like)
            | Agent.code.ilike(like)
            | Agent.name.ilike(like)
        )
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    stmt = stmt.order_by(
        ReferralLink.channel_id.isnot(None).desc(),
        Branch.code,
        ReferralLink.agent_id.isnot(None),
        Agent.code,
        ReferralLink.id,
    ).offset(offset)
    if limit is not None:
        stmt = stmt.limit(limit)
    rows = [
        LinkRow(
            id=link.id,
            code=link.code,
            kind="agent" if agent else ("channel" if channel else "branch"),
            branch_code=branch.code if branch else "",
            branch_name=branch.name if branch else "",
            agent_code=agent.code if agent else "",
            agent_name=agent.name if agent else "",
            channel_code=channel.code if channel else "",
            channel_name=channel.name if channel else "",
            label=link.label,
            campaign_id=link.campaign_id,
        )
        for link, branch, agent, channel in session.execute(stmt)
    ]
    return total, rows


KIND_LABELS = {"agent": "业务人员", "branch": "机构", "channel": "渠道"}
EXPORT_HEADER = (
    "类型",
    "短码",
    "链接",
    "机构代码",
    "机构",
    "业务员代码",
    "业务员",
    "渠道代码",
    "渠道",
    "说明",
)


def export_link_lines(rows: Iterable[LinkRow], base_url: str) -> Iterable[list[str]]:
    """Rows of the links export (header first): every link with its full URL."""
    yield list(EXPORT_HEADER)
    for r in rows:
        yield [
            KIND_LABELS[r.kind],
            r.code,
            short_url(base_url, r.code),
            r.branch_code,
            r.branch_name,
            r.agent_code,
            r.agent_name,
            r.channel_code,
            r.channel_name,
            r.label,
        ]


def link_url_for(base_url: str, code: str, link_campaign_id: int | None, campaign: Campaign) -> str:
    """The address a poster of `campaign` prints: the short /r/<code> when the link was
    made for that campaign, else /c/<slug>/r/<code> (an agent promotes several)."""
    own = link_campaign_id == campaign.id
    return short_url(base_url, code, None if own else campaign.slug)


def short_url(base_url: str, code: str, slug: str | None = None) -> str:
    """The printed form of a link: https://host/r/CODE, which leads to the link's own
    campaign, or https://host/c/SLUG/r/CODE for another campaign the agent promotes."""
    prefix = f"/c/{slug}" if slug else ""
    return f"{base_url.rstrip('/')}{prefix}/r/{code}"


# --- the visitor's referral -------------------------------------------------------


def link_by_code(db: Session, raw: str | None) -> ReferralLink | None:
    """The link of a typed or scanned code, or None."""
    code = normalise_code(raw)
    if code is None:
        return None
    return db.scalars(select(ReferralLink).where(ReferralLink.code == code)).first()


# --- anti-gaming ------------------------------------------------------------------


@dataclass(frozen=True)
class Thresholds:
    """Burst rule: more than `limit` entries on one code from one client within `window`."""

    limit: int = BURST_LIMIT
    window: timedelta = BURST_WINDOW


def thresholds_from(config: Mapping[str, Any]) -> Thresholds:
    """The burst rule from settings (QUIZ_REFERRAL_BURST_LIMIT / _WINDOW_MINUTES)."""
    return Thresholds(
        limit=int(config.get("QUIZ_REFERRAL_BURST_LIMIT") or BURST_LIMIT),
        window=timedelta(minutes=int(config.get("QUIZ_REFERRAL_BURST_WINDOW_MINUTES") or 60)),
    )


# Set once per process by the app factory; the ORM insert hook has no other way to learn
# the settings, and services do not read Flask's app context.
_configured = Thresholds()


def configure_thresholds(thresholds: Thresholds) -> None:
    """Make `thresholds` the burst rule of every entry flagged in this process."""
    global _configured
    _configured = thresholds


def current_thresholds() -> Thresholds:
    """The burst rule set by configure_thresholds (the defaults before)."""
    return _configured


def stored_ip(address: str | None) -> str | None:
    """A client address as consent_ip keeps it: IPv6 written out in full, so that the
    addresses of one /64 network share a text prefix the burst check can range over
    (phones rotate through a /64); IPv4 and anything unparsable as given."""
    if not address or ":" not in address:
        return address
    try:
        return ipaddress.IPv6Address(address).exploded
    except ValueError:
        return address


# An exploded IPv6 address's first four groups and their colons: its /64 network.
_V6_NETWORK = len("2001:0db8:0001:0002:")


def network_of(stored: str) -> str:
    """The burst check's client key: an IPv4 address, or an IPv6 address's /64 prefix."""
    return stored[:_V6_NETWORK] if ":" in stored else stored


def is_self_referral(
    agent_name: str | None,
    agent_mobile_hash: str | None,
    participant_name: str,
    participant_mobile_hash: str,
) -> bool:
    """The agent entered themselves: same mobile when the agent's is known, else same name.

    Agents' mobiles are optional in the CSV; without one, a participant carrying the
    referring agent's exact name is taken as the agent (a flag for review, not a ban).
    """
    if agent_mobile_hash:
        return agent_mobile_hash == participant_mobile_hash
    return bool(agent_name) and name_key(participant_name) == name_key(agent_name or "")


# Middle dots of names written in other scripts (·, ・, •, ‧, ･) all count as one.
_NAME_DOTS = str.maketrans({"・": "·", "•": "·", "‧": "·", "･": "·", "∙": "·"})


def name_key(name: str) -> str:
    """A name as compared for self-referral: full-width folded, no spaces, one middle
    dot, Latin letters in lower case. "王 小明" and "阿卜杜・热合曼" are the agents
    王小明 and 阿卜杜·热合曼, whichever way the form or the agents file wrote them."""
    folded = unicodedata.normalize("NFKC", name).translate(_NAME_DOTS)
    return "".join(folded.split()).lower()


def flag_reasons(
    conn: Connection, participant: Participant, thresholds: Thresholds
) -> tuple[list[str], list[int]]:
    """Why a referred entry is suspicious, and earlier entries of the same burst to flag."""
    reasons: list[str] = []
    burst: list[int] = []
    if participant.agent_id is not None:
        agent = conn.execute(
            select(Agent.name, Agent.mobile_hash).where(Agent.id == participant.agent_id)
        ).first()
        if agent is not None and is_self_referral(
            agent.name, agent.mobile_hash, participant.name, participant.mobile_hash
        ):
            reasons.append("self")
    if participant.consent_ip and participant.referral_link_id is not None:
        created: datetime = participant.created_at
        client = network_of(participant.consent_ip)
        # One /64 network counts as one client: a range over the exploded text, so the
        # (link, consent_ip, created_at) index still serves it.
        same_client = (
            Participant.consent_ip.between(client, client[:-1] + ";")
            if client.endswith(":")
            else Participant.consent_ip == client
        )
        earlier = list(
            conn.scalars(
                select(Participant.id).where(
                    Participant.referral_link_id == participant.referral_link_id,
                    same_client,
                    Participant.created_at > created - thresholds.window,
                    Participant.created_at <= created,
                )
            )
        )
        if len(earlier) + 1 > thresholds.limit:
            reasons.append("burst")
            burst = earlier
    return reasons, burst


@event.listens_for(Participant, "before_insert")
def _flag_on_insert(_mapper: Mapper[Any], conn: Connection, target: Participant) -> None:
    # Here rather than in the public view so every ORM insert is covered too.
    flag_new_entry(conn, target)


def flag_new_entry(conn: Connection, target: Participant) -> None:
    """Flag a referred entry about to be inserted, and the earlier entries of its burst
    (quiz_flow.save_registration inserts with Core, so it calls this itself)."""
    if target.referral_link_id is None:
        return
    if target.created_at is None:
        from quiz.db import utcnow

        target.created_at = utcnow()
    reasons, burst = flag_reasons(conn, target, current_thresholds())
    if reasons:
        target.referral_flagged = True
    if burst:
        conn.execute(
            update(Participant).where(Participant.id.in_(burst)).values(referral_flagged=True)
        )


def reflag(session: Session, campaign: Campaign, thresholds: Thresholds | None = None) -> int:
    """Recompute every referred entry's flag (after changing thresholds); returns flagged."""
    thresholds = thresholds or current_thresholds()
    agents = {a.id: (a.name, a.mobile_hash) for a in session.scalars(select(Agent))}
    rows = session.execute(
        select(
            Participant.id,
            Participant.referral_link_id,
            Participant.consent_ip,
            Participant.created_at,
            Participant.agent_id,
            Participant.name,
            Participant.mobile_hash,
        ).where(Participant.campaign_id == campaign.id, Participant.referral_link_id.isnot(None))
    ).all()
    # Grouped by link and client network (an IPv6 /64), each group in time order.
    rows = sorted(rows, key=lambda r: (r[1], network_of(r[2]) if r[2] else "", r[3], r[0]))
    flagged: set[int] = set()
    window: list[tuple[int, datetime]] = []
    key: tuple[Any, Any] | None = None
    for pid, link_id, ip, created, agent_id, name, mobile_hash in rows:
        agent = agents.get(agent_id) if agent_id else None
        if agent and is_self_referral(agent[0], agent[1], name, mobile_hash):
            flagged.add(pid)
        if ip is None:
            continue
        client = (link_id, network_of(ip))
        if client != key:
            key, window = client, []
        window = [(p, t) for p, t in window if t > created - thresholds.window]
        window.append((pid, created))
        if len(window) > thresholds.limit:
            flagged.update(p for p, _ in window)
    session.execute(
        update(Participant)
        .where(Participant.campaign_id == campaign.id)
        .values(referral_flagged=False)
    )
    ids = sorted(flagged)
    for start in range(0, len(ids), 500):
        session.execute(
            update(Participant)
            .where(Participant.id.in_(ids[start : start + 500]))
            .values(referral_flagged=True)
        )
    session.flush()
    return len(flagged)
