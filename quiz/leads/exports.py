"""Lead exports: the column list, CSV streaming, XLSX and ZIP builders.

Rows are read with yield_per (a server-side cursor on PostgreSQL) and written
as they come, so memory stays flat whatever the number of leads. A million
rows pass through one Python loop (_rows), so it does little per row: most
columns hold few distinct values (divisions, branches, statuses, scores,
hours), and their cells come from caches keyed by the stored values, formatted
once per distinct value. Every cell is neutralised against spreadsheet formula
injection (OWASP "CSV injection"): a leading = + - @ tab or carriage return, or
the full-width and small forms of the four signs (＝＋－＠ ﹦﹢﹣﹫, which
spreadsheets with East Asian input read as the ASCII ones), gets a ' in front;
cached cells are neutralised once, when they are computed. The winners' file and
the leaderboard use the same rule (neutralise).
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from itertools import islice
from pathlib import Path
from typing import IO, Any

import xlsxwriter
from sqlalchemy import ColumnElement, Integer, String, Text, cast, func, select, type_coerce
from sqlalchemy.orm import Session

from quiz.leads.service import UNASSIGNED_LABEL, LeadFilters, apply_filters
from quiz.models import Agent, Branch, Campaign, Channel, Participant, Question, StaffUser
from quiz.privacy.protection import Protector
from quiz.regions import divisions

BOM = "\ufeff"
DANGEROUS_FIRST = frozenset("=+-@\t\r＝＋－＠﹦﹢﹣﹫")
XLSX_MAX_ROWS = 1_048_575  # data rows per sheet (the header takes row 1)
YIELD_PER = 5000
CSV_FLUSH_ROWS = 1000
# Entries per cell cache: ~1 KB each at most, so a cache stays under ~20 MB whatever the data.
CACHE_LIMIT = 20_000
STATUS_LABELS = {"completed": "已完成", "registered": "未完成"}
# Beijing has no daylight saving: a fixed offset is exact and much cheaper than zoneinfo.
BEIJING = timezone(timedelta(hours=8))


def neutralise(value: str) -> str:
    """Make a cell inert in spreadsheets: prefix ' when it could start a formula."""
    if value and value[0] in DANGEROUS_FIRST:
        return "'" + value
    return value


def _neutralised(values: Iterable[str | None]) -> list[str]:
    """Free-text cells (None as ''), each neutralised."""
    return ["" if v is None else neutralise(v) for v in values]


class Cells(dict[Any, Any]):
    """Finished, neutralised cells by source value(s), computed on first sight.

    Most columns hold few distinct values (divisions, branches, statuses, scores, hours),
    so a row looks its cells up here instead of formatting them. Cleared at `limit`
    entries, so unusual data cannot grow it without bound.
    """

    def __init__(self, compute: Callable[[Any], str | Sequence[str]], limit: int = CACHE_LIMIT):
        super().__init__()
        self.compute = compute
        self.limit = limit

    def __missing__(self, key: Any) -> str | tuple[str, ...]:
        if len(self) >= self.limit:
            self.clear()
        value = self.compute(key)
        cells = neutralise(value) if isinstance(value, str) else tuple(map(neutralise, value))
        self[key] = cells
        return cells


@cache
def division_name(code: str | None) -> str:
    division = divisions.get(code) if code else None
    return division.name if division else ""


def _place(codes: tuple[str | None, str | None, str | None]) -> tuple[str, ...]:
    """(province, city, district) codes -> masked address, then the three names."""
    names = [division_name(c) for c in codes]
    masked = "".join(dict.fromkeys(n for n in names if n)) + "****"  # municipalities repeat
    return (masked, *names)


def masked_address(province: str | None, city: str | None, district: str | None) -> str:
    """An address as the masked exports show it: its region names, then ****."""
    return _place((province, city, district))[0]


def _format_intent(intent: dict[str, Any]) -> str:
    return ";".join("、".join(v) if isinstance(v, list) else str(v) for v in intent.values())


def _answers(key: tuple[Any, ...], intent_keys: tuple[str, ...] = ()) -> tuple[str, ...]:
    """答题状态 to 可疑推荐 from the stored values (typically thousands of combinations).
    With intent_keys, one cell per intent question (its choices joined by 、); without,
    every answer in one 投保意向 cell."""
    status, score, total, level, intent, follow_up, duplicate, flagged = key
    answers: dict[str, Any] = json.loads(intent) if intent else {}
    if intent_keys:
        per_question = tuple(
            "、".join(v) if isinstance(v, list) else str(v or "")
            for v in (answers.get(k, "") for k in intent_keys)
        )
    else:
        per_question = (_format_intent(answers) if answers else "",)
    return (
        STATUS_LABELS.get(status, status),
        f"{score}/{total}",
        level or "",
        *per_question,
        follow_up or "",
        "是" if duplicate else "",
        "是" if flagged else "",
    )


def _china_hour(utc_hour: str) -> str:
    shifted = datetime.fromisoformat(utc_hour + ":00") + timedelta(hours=8)
    return shifted.strftime("%Y-%m-%d %H")


# Caches of pure functions of stored values, shared by every export.
_PLACES = Cells(_place)
_ANSWERS = Cells(_answers)
_HOURS = Cells(_china_hour)


def _china_time(value: datetime | str | None) -> str:
    """A UTC timestamp as Beijing time to the minute."""
    if value is None:
        return ""
    if isinstance(value, str):
        # SQLite hands back 'YYYY-MM-DD HH:MM:SS...' (UTC): shift once per distinct hour.
        return str(_HOURS[value[:13]]) + value[13:16]
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")


@dataclass
class ExportContext:
    """What the rows need besides the database: masking choice, keys, names by id."""

    reveal: bool
    protector: Protector | None = None
    branch_names: dict[int, str] = field(default_factory=dict)
    agent_names: dict[int, str] = field(default_factory=dict)
    channel_names: dict[int, str] = field(default_factory=dict)
    # The exported campaign's intent questions (key, text): one column each.
    intent_questions: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        self.orgs = Cells(self._orgs)
        keys = tuple(k for k, _ in self.intent_questions)
        self.answers = _ANSWERS if not keys else Cells(lambda key: _answers(key, keys))

    @property
    def headers(self) -> list[str]:
        """The columns: HEADERS, 投保意向 split into one column per intent question."""
        if not self.intent_questions:
            return list(HEADERS)
        at = HEADERS.index("投保意向")
        texts = [f"意向:{text}" for _, text in self.intent_questions]
        return [*HEADERS[:at], *texts, *HEADERS[at + 1 :]]

    def decrypt(self, token: bytes | None) -> str:
        if not token or self.protector is None:
            return ""
        return self.protector.decrypt(token)

    def _orgs(self, key: tuple[int | None, ...]) -> tuple[str, ...]:
        """所属机构 to 推广渠道 from (branch, address branch, agent, channel) ids."""
        branch, address_branch, agent, channel = key
        return (
            self.branch_names.get(branch, UNASSIGNED_LABEL),
            self.branch_names.get(address_branch, UNASSIGNED_LABEL),
            self.agent_names.get(agent, "") if agent else "",
            self.channel_names.get(channel, "") if channel else "",
        )

    def revealed(
        self, name: str, id_enc: bytes, mobile_enc: bytes, landline_enc: bytes | None, address: str
    ) -> tuple[str, ...]:
        """姓名 to 邮寄地址 in full (can_reveal): three decryptions per row."""
        decrypt = self.decrypt
        cells = (name, decrypt(id_enc), decrypt(mobile_enc), decrypt(landline_enc), address)
        return tuple(_neutralised(cells))


# The export's columns, in order. The SQL values below (_selected) and the row builder
# (_rows) follow this order; tests check each cell under its header.
HEADERS = [
    "线索编号",
    # The stored masked forms, or in full with can_reveal (ExportContext.revealed).
    "姓名",
    "身份证号码",
    "手机号码",
    "固定电话",
    "邮寄地址",
    "邮政编码",
    # _PLACES
    "省份",
    "城市",
    "区县",
    # ExportContext.orgs
    "所属机构",
    "地址所属机构",
    "推荐业务员",
    "推广渠道",
    # _ANSWERS
    "答题状态",
    "得分",
    "关注险种",
    "投保意向",
    "跟进状态",
    "手机号重复",
    "可疑推荐",
    # _HOURS
    "登记时间",
]


def _flag(condition: ColumnElement[Any]) -> ColumnElement[Any]:
    # 0/1 as the driver returns it: no per-row bool conversion (1 == True as a dict key).
    return type_coerce(condition, Integer)


def _selected(reveal: bool) -> tuple[ColumnElement[Any], ...]:
    """The values a row is built from; encrypted columns are only read when revealing."""
    p = Participant
    personal = (
        (p.name, p.id_enc, p.mobile_enc, p.landline_enc, p.address)
        if reveal
        else (
            p.name_masked,
            p.id_masked,
            p.mobile_masked,
            _flag(p.landline_enc.is_not(None)),
            _flag(p.address != ""),
        )
    )
    return (
        p.id,
        *personal,
        p.postal_code,
        p.province_code,
        p.city_code,
        p.district_code,
        p.branch_id,
        p.address_branch_id,
        p.agent_id,
        p.channel_id,
        p.status,
        p.score,
        p.total,
        p.intent_level,
        cast(p.intent, Text),  # the JSON text: parsed once per distinct answer set
        p.follow_up_status,
        _flag(p.duplicate_mobile),
        _flag(p.referral_flagged),
        type_coerce(p.created_at, String),  # SQLite: the stored text, sliced below
    )


def _rows(result: Iterable[Sequence[Any]], ctx: ExportContext) -> Iterator[tuple[str, ...]]:
    # One tuple per row, mostly from cache look-ups: this loop is the export's hot path.
    orgs, places, answers, hours = ctx.orgs, _PLACES, ctx.answers, _HOURS
    reveal, revealed, danger = ctx.reveal, ctx.revealed, DANGEROUS_FIRST
    for (
        lead_id,
        name,
        id_no,
        mobile,
        landline,
        address,
        postal,
        province,
        city,
        district,
        branch,
        address_branch,
        agent,
        channel,
        status,
        score,
        total,
        level,
        intent,
        follow_up,
        duplicate,
        flagged,
        created,
    ) in result:
        place = places[province, city, district]
        yield (
            str(lead_id),
            *(
                revealed(name, id_no, mobile, landline, address)
                if reveal
                # Masked: the stored masked forms and two 0/1 flags (see _selected).
                else (
                    "'" + name if name[:1] in danger else name,
                    "'" + id_no if id_no[:1] in danger else id_no,
                    "'" + mobile if mobile[:1] in danger else mobile,
                    "已登记" if landline else "",
                    place[0] if address else "",
                )
            ),
            "'" + postal if postal[:1] in danger else postal,
            place[1],
            place[2],
            place[3],
            *orgs[branch, address_branch, agent, channel],
            *answers[status, score, total, level, intent, follow_up, duplicate, flagged],
            hours[created[:13]] + created[13:16]
            if created.__class__ is str
            else _china_time(created),
        )


@dataclass(frozen=True)
class ExportPart:
    """One output file: its name inside a ZIP (or download name), filters and row count."""

    name: str
    filters: LeadFilters
    rows: int


def context_for(
    session: Session,
    reveal: bool,
    protector: Protector | None,
    campaign_id: int | None = None,
) -> ExportContext:
    """Full personal data only when reveal (the user's can_reveal); masked otherwise. The
    intent columns are those of campaign_id, else of the newest campaign."""
    names = dict(session.execute(select(Branch.id, Branch.name)).all())
    agents = {
        agent_id: f"{name}({code})"
        for agent_id, name, code in session.execute(select(Agent.id, Agent.name, Agent.code))
    }
    channels = dict(session.execute(select(Channel.id, Channel.name)).all())
    if campaign_id is None:
        campaign_id = session.scalar(
            select(Campaign.id).order_by(Campaign.opens_at.desc(), Campaign.id.desc()).limit(1)
        )
    questions = session.execute(
        select(Question.key, Question.text)
        .where(Question.campaign_id == campaign_id, Question.kind == "intent")
        .order_by(Question.position)
    ).all()
    return ExportContext(
        reveal=reveal,
        protector=protector,
        branch_names=names,
        agent_names=agents,
        channel_names=channels,
        intent_questions=tuple((str(k), str(t)) for k, t in questions),
    )


def file_name(session: Session, user: StaffUser, filters: LeadFilters, suffix: str) -> str:
    """A Chinese download name with the Beijing date: 广东分公司_线索_20261202.xlsx."""
    if filters.unassigned:
        whose = UNASSIGNED_LABEL
    else:
        branch_id = filters.branch_id if user.role in ("admin", "analyst") else user.branch_id
        name = (
            session.scalar(select(Branch.name).where(Branch.id == branch_id)) if branch_id else None
        )
        whose = name or "全部机构"
    day = datetime.now(BEIJING).strftime("%Y%m%d")
    return f"{whose}_线索_{day}.{suffix}"


def display_width(text: str) -> int:
    """Columns a cell needs in Excel: CJK and full-width characters count twice."""
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)


def iter_rows(
    session: Session, user: StaffUser, filters: LeadFilters, ctx: ExportContext
) -> Iterator[tuple[str, ...]]:
    """The export rows (neutralised strings), oldest lead first, streamed from the database."""
    stmt = apply_filters(select(*_selected(ctx.reveal)), filters, user).order_by(Participant.id)
    connection = session.connection()
    # Core execution: no ORM row processing. yield_per streams through a server-side cursor
    # (PostgreSQL); SQLite's cursor already steps lazily, and SQLAlchemy's buffering on top of
    # it would cost a fifth of the CSV export's time. Set on the statement: on the
    # connection it would stay for the session's later statements (an UPDATE in a cursor).
    if connection.dialect.supports_server_side_cursors:
        stmt = stmt.execution_options(yield_per=YIELD_PER)
    return _rows(connection.execute(stmt), ctx)


def plan_parts(
    session: Session, user: StaffUser, filters: LeadFilters, scope: str
) -> list[ExportPart]:
    """The files of an export: one (scope 'branch') or one per branch with leads ('all')."""
    if scope != "all":
        return [ExportPart("leads", filters, _count(session, user, filters))]
    branch = Participant.branch_id
    counts = dict(
        session.execute(
            apply_filters(select(branch, func.count()), filters, user).group_by(branch)
        ).all()
    )
    branches = session.execute(
        select(Branch.id, Branch.code, Branch.name).order_by(Branch.code)
    ).all()
    parts = [
        ExportPart(f"{code}-{name}", replace(filters, branch_id=bid, unassigned=False), counts[bid])
        for bid, code, name in branches
        if counts.get(bid)
    ]
    if counts.get(None):
        parts.append(
            ExportPart(
                UNASSIGNED_LABEL, replace(filters, branch_id=None, unassigned=True), counts[None]
            )
        )
    return parts


def _count(session: Session, user: StaffUser, filters: LeadFilters) -> int:
    stmt = apply_filters(select(func.count()).select_from(Participant), filters, user)
    return int(session.scalar(stmt) or 0)


def csv_text_chunks(
    rows: Iterable[Sequence[str]], *, bom: bool = True, headers: Sequence[str] = HEADERS
) -> Iterator[str]:
    """CSV text in chunks of CSV_FLUSH_ROWS rows, header first (BOM so Excel reads UTF-8)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    yield (BOM if bom else "") + _csv_block([list(headers)], writer, buffer)
    rows = iter(rows)
    while batch := list(islice(rows, CSV_FLUSH_ROWS)):
        yield _csv_block(batch, writer, buffer)


def _csv_block(batch: list[Sequence[str]], writer: Any, buffer: io.StringIO) -> str:
    """The rows as CSV lines, exactly as csv.writer writes them.

    Cells rarely need quoting, so the lines are joined in C first and counted: as many
    commas as cell boundaries and no quote or line break inside a cell means the plain
    join is the csv.writer output (3x faster). Otherwise the block goes through csv.writer.
    """
    try:
        text = "\r\n".join(map(",".join, batch)) + "\r\n"
    except TypeError:  # a cell that is not a string
        text = ""
    else:
        lines = len(batch)
        widths = list(map(len, batch))
        if (
            min(widths) > 1  # csv.writer quotes a lone empty cell
            and text.count(",") == sum(widths) - lines
            and text.count("\n") == lines
            and text.count("\r") == lines
            and '"' not in text
        ):
            return text
    buffer.seek(0)
    buffer.truncate()
    writer.writerows(batch)
    return buffer.getvalue()


def csv_bytes(rows: Iterable[Sequence[str]], headers: Sequence[str] = HEADERS) -> Iterator[bytes]:
    """CSV as UTF-8 byte chunks for a streamed response."""
    for chunk in csv_text_chunks(rows, headers=headers):
        yield chunk.encode("utf-8")


class _Sink(io.RawIOBase):
    """A write-only, unseekable stream whose bytes are drained by a generator."""

    def __init__(self) -> None:
        super().__init__()
        self.chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.chunks.append(bytes(data))
        return len(data)

    def drain(self) -> bytes:
        out = b"".join(self.chunks)
        self.chunks.clear()
        return out


def zip_csv_bytes(
    parts: Sequence[ExportPart],
    rows_for: Callable[[ExportPart], Iterable[Sequence[str]]],
    headers: Sequence[str] = HEADERS,
) -> Iterator[bytes]:
    """A ZIP with one CSV per part, streamed (zipfile writes data descriptors when unseekable)."""
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for part in parts:
            with archive.open(f"{part.name}.csv", "w", force_zip64=True) as entry:
                for text in csv_text_chunks(rows_for(part), headers=headers):
                    entry.write(text.encode("utf-8"))
                    yield sink.drain()
    yield sink.drain()


# Rows whose cells size the columns (the rest follow the same shapes), and the widest.
FIT_ROWS = 500
MAX_WIDTH = 40


def write_xlsx(
    target: str | Path | IO[bytes],
    rows: Iterable[Sequence[str]],
    progress: Callable[[int], None] | None = None,
    every: int = 5000,
    headers: Sequence[str] = HEADERS,
) -> int:
    """Write an XLSX in constant memory; every cell is a string (no formulas, no detection).
    Each sheet has a filter row on its header and columns as wide as their first rows."""
    workbook = xlsxwriter.Workbook(
        target,
        {
            "constant_memory": True,
            "strings_to_formulas": False,
            "strings_to_numbers": False,
            "strings_to_urls": False,
            "in_memory": False,
        },
    )
    bold = workbook.add_format({"bold": True})
    sheet_no = 0
    sheet: Any = None
    row_no = 0
    count = 0
    widths = [display_width(h) + 3 for h in headers]  # room for the filter button

    def finish(ws: Any, last_row: int) -> None:
        # Set once its rows are known: xlsxwriter writes columns and filter at close.
        ws.autofilter(0, 0, last_row, len(headers) - 1)
        for col, width in enumerate(widths):
            ws.set_column(col, col, min(width + 1, MAX_WIDTH))

    def new_sheet() -> Any:
        nonlocal sheet_no
        sheet_no += 1
        ws = workbook.add_worksheet("线索" if sheet_no == 1 else f"线索{sheet_no}")
        for col, header in enumerate(headers):
            ws.write_string(0, col, header, bold)
        ws.freeze_panes(1, 0)
        return ws

    sheet = new_sheet()
    write = sheet.write_string
    for row in rows:
        if row_no >= XLSX_MAX_ROWS:
            finish(sheet, row_no)
            sheet, row_no = new_sheet(), 0
            write = sheet.write_string
        row_no += 1
        if count < FIT_ROWS:
            for col, value in enumerate(row):
                widths[col] = max(widths[col], display_width(value))
        for col, value in enumerate(row):
            if value:  # an empty cell is simply not written (a fifth of the cells, typically)
                write(row_no, col, value)
        count += 1
        if progress is not None and count % every == 0:
            progress(count)
    finish(sheet, row_no)
    workbook.close()
    return count
