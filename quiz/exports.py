"""Lead exports: the column list (declared once), CSV streaming, XLSX and ZIP builders.

Rows are read with yield_per (a server-side cursor on PostgreSQL) and written
as they come, so memory stays flat whatever the number of leads. Every cell
goes through `neutralise` against spreadsheet formula injection (OWASP "CSV
injection"): a leading = + - @ tab or carriage return gets a ' in front.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import IO, Any

import xlsxwriter
from sqlalchemy import String, Text, func, select, type_coerce
from sqlalchemy.orm import Session

from quiz.leads import UNASSIGNED_LABEL, LeadFilters, apply_filters
from quiz.models import Agent, Branch, Channel, Participant, StaffUser
from quiz.protection import Protector
from quiz.regions import divisions

BOM = "\ufeff"
DANGEROUS_FIRST = frozenset("=+-@\t\r")
XLSX_MAX_ROWS = 1_048_575  # data rows per sheet (the header takes row 1)
YIELD_PER = 5000
CSV_FLUSH_ROWS = 1000
STATUS_LABELS = {"completed": "已完成", "registered": "未完成"}


def neutralise(value: str) -> str:
    """Make a cell inert in spreadsheets: prefix ' when it could start a formula."""
    if value and value[0] in DANGEROUS_FIRST:
        return "'" + value
    return value


@dataclass
class ExportContext:
    """What getters need besides the row: masking choice, keys, branch names."""

    reveal: bool
    protector: Protector | None = None
    branch_names: dict[int, str] = field(default_factory=dict)
    agent_names: dict[int, str] = field(default_factory=dict)
    channel_names: dict[int, str] = field(default_factory=dict)

    def decrypt(self, token: bytes | None) -> str:
        if not token or self.protector is None:
            return ""
        return self.protector.decrypt(token)


@cache
def division_name(code: str | None) -> str:
    division = divisions.get(code) if code else None
    return division.name if division else ""


_hour_cache: dict[str, str] = {}


def _china_time(value: datetime | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        # SQLite hands back 'YYYY-MM-DD HH:MM:SS...' (UTC): shift the hour once per distinct hour.
        hour = _hour_cache.get(value[:13])
        if hour is None:
            if len(_hour_cache) > 100_000:
                _hour_cache.clear()
            shifted = datetime.fromisoformat(value[:13] + ":00") + timedelta(hours=8)
            hour = _hour_cache[value[:13]] = shifted.strftime("%Y-%m-%d %H")
        return hour + value[13:16]
    # Beijing has no daylight saving: a fixed offset is exact and much cheaper than zoneinfo.
    return (value + timedelta(hours=8)).strftime("%Y-%m-%d %H:%M")


@cache
def _division_prefix(province: str | None, city: str | None, district: str | None) -> str:
    parts = [division_name(c) for c in (province, city, district)]
    return "".join(dict.fromkeys(p for p in parts if p)) + "****"  # municipalities repeat names


def _masked_address(row: Any) -> str:
    if not row.address:
        return ""
    return _division_prefix(row.province_code, row.city_code, row.district_code)


_intent_cache: dict[str, str] = {}


def _format_intent(intent: dict[str, Any]) -> str:
    return ";".join("、".join(v) if isinstance(v, list) else str(v) for v in intent.values())


def _intent_detail(row: Any) -> str:
    raw = row.intent
    if not raw:
        return ""
    if isinstance(raw, dict):  # drivers that parse JSON themselves (psycopg)
        return _format_intent(raw)
    # Few distinct answer combinations: parse each raw JSON text once.
    text = _intent_cache.get(raw)
    if text is None:
        if len(_intent_cache) > 100_000:
            _intent_cache.clear()
        text = _intent_cache[raw] = _format_intent(json.loads(raw))
    return text


Getter = Callable[[Any, ExportContext], str]

# The export's columns, in order: (header, getter). The only place they are declared.
COLUMNS: list[tuple[str, Getter]] = [
    ("线索编号", lambda r, c: str(r.id)),
    ("姓名", lambda r, c: r.name if c.reveal else r.name_masked),
    ("身份证号码", lambda r, c: c.decrypt(r.id_enc) if c.reveal else r.id_masked),
    ("手机号码", lambda r, c: c.decrypt(r.mobile_enc) if c.reveal else r.mobile_masked),
    (
        "固定电话",
        lambda r, c: (
            (c.decrypt(r.landline_enc) if c.reveal else "已登记") if r.landline_enc else ""
        ),
    ),
    ("邮寄地址", lambda r, c: r.address if c.reveal else _masked_address(r)),
    ("邮政编码", lambda r, c: r.postal_code),
    ("省份", lambda r, c: division_name(r.province_code)),
    ("城市", lambda r, c: division_name(r.city_code)),
    ("区县", lambda r, c: division_name(r.district_code)),
    ("所属机构", lambda r, c: c.branch_names.get(r.branch_id, UNASSIGNED_LABEL)),
    ("地址所属机构", lambda r, c: c.branch_names.get(r.address_branch_id, UNASSIGNED_LABEL)),
    ("推荐业务员", lambda r, c: c.agent_names.get(r.agent_id, "") if r.agent_id else ""),
    ("推广渠道", lambda r, c: c.channel_names.get(r.channel_id, "") if r.channel_id else ""),
    ("答题状态", lambda r, c: STATUS_LABELS.get(r.status, r.status)),
    ("得分", lambda r, c: f"{r.score}/{r.total}"),
    ("关注险种", lambda r, c: r.intent_level or ""),
    ("投保意向", lambda r, c: _intent_detail(r)),
    ("跟进状态", lambda r, c: r.follow_up_status),
    ("手机号重复", lambda r, c: "是" if r.duplicate_mobile else ""),
    ("登记时间", lambda r, c: _china_time(r.created_at)),
]
HEADERS = [h for h, _ in COLUMNS]

_p = Participant
SELECTED = (
    _p.id,
    _p.name,
    _p.name_masked,
    _p.id_enc,
    _p.id_masked,
    _p.mobile_enc,
    _p.mobile_masked,
    _p.landline_enc,
    _p.address,
    _p.postal_code,
    _p.province_code,
    _p.city_code,
    _p.district_code,
    _p.branch_id,
    _p.address_branch_id,
    _p.agent_id,
    _p.channel_id,
    _p.status,
    _p.score,
    _p.total,
    _p.intent_level,
    # Raw JSON text and timestamps: parsed through small caches above, not per row.
    type_coerce(_p.intent, Text).label("intent"),
    _p.follow_up_status,
    _p.duplicate_mobile,
    type_coerce(_p.created_at, String).label("created_at"),
)


@dataclass(frozen=True)
class ExportPart:
    """One output file: its name inside a ZIP (or download name), filters and row count."""

    name: str
    filters: LeadFilters
    rows: int


def context_for(session: Session, reveal: bool, protector: Protector | None) -> ExportContext:
    """Full personal data only when reveal (the user's can_reveal); masked otherwise."""
    names = dict(session.execute(select(Branch.id, Branch.name)).all())
    agents = {
        agent_id: f"{name}({code})"
        for agent_id, name, code in session.execute(select(Agent.id, Agent.name, Agent.code))
    }
    channels = dict(session.execute(select(Channel.id, Channel.name)).all())
    return ExportContext(
        reveal=reveal,
        protector=protector,
        branch_names=names,
        agent_names=agents,
        channel_names=channels,
    )


def iter_rows(
    session: Session, user: StaffUser, filters: LeadFilters, ctx: ExportContext
) -> Iterator[list[str]]:
    """The export rows (neutralised strings), oldest lead first, streamed from the database."""
    stmt = apply_filters(select(*SELECTED), filters, user).order_by(Participant.id)
    getters = [g for _, g in COLUMNS]
    danger = DANGEROUS_FIRST
    # Core execution on the session's connection: no ORM row processing; yield_per streams
    # (a server-side cursor on PostgreSQL).
    result = session.connection().execution_options(yield_per=YIELD_PER).execute(stmt)
    for row in result:
        cells = []
        for getter in getters:
            value = getter(row, ctx)
            cells.append("'" + value if value and value[0] in danger else value)  # neutralise
        yield cells


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


def csv_text_chunks(rows: Iterable[Sequence[str]], *, bom: bool = True) -> Iterator[str]:
    """CSV text in chunks of CSV_FLUSH_ROWS rows, header first (BOM so Excel reads UTF-8)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    if bom:
        buffer.write(BOM)
    writer.writerow(HEADERS)
    pending = 0
    for row in rows:
        writer.writerow(row)
        pending += 1
        if pending >= CSV_FLUSH_ROWS:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    yield buffer.getvalue()


def csv_bytes(rows: Iterable[Sequence[str]]) -> Iterator[bytes]:
    """CSV as UTF-8 byte chunks for a streamed response."""
    for chunk in csv_text_chunks(rows):
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
    parts: Sequence[ExportPart], rows_for: Callable[[ExportPart], Iterable[Sequence[str]]]
) -> Iterator[bytes]:
    """A ZIP with one CSV per part, streamed (zipfile writes data descriptors when unseekable)."""
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for part in parts:
            with archive.open(f"{part.name}.csv", "w", force_zip64=True) as entry:
                for text in csv_text_chunks(rows_for(part)):
                    entry.write(text.encode("utf-8"))
                    yield sink.drain()
    yield sink.drain()


def write_xlsx(
    target: str | Path | IO[bytes],
    rows: Iterable[Sequence[str]],
    progress: Callable[[int], None] | None = None,
    every: int = 5000,
) -> int:
    """Write an XLSX in constant memory; every cell is a string (no formulas, no detection)."""
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

    def new_sheet() -> Any:
        nonlocal sheet_no
        sheet_no += 1
        ws = workbook.add_worksheet("线索" if sheet_no == 1 else f"线索{sheet_no}")
        for col, header in enumerate(HEADERS):
            ws.write_string(0, col, header, bold)
        ws.freeze_panes(1, 0)
        ws.set_column(0, len(HEADERS) - 1, 14)
        return ws

    sheet = new_sheet()
    for row in rows:
        if row_no >= XLSX_MAX_ROWS:
            sheet, row_no = new_sheet(), 0
        row_no += 1
        write = sheet.write_string
        for col, value in enumerate(row):
            write(row_no, col, value)
        count += 1
        if progress is not None and count % every == 0:
            progress(count)
    workbook.close()
    return count
