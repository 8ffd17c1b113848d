"""Entrant lists of list_draw campaigns: check a file, report, then import it in chunks.

`check_list` reads the whole file without writing and returns the report staff see before
anything is saved: rows accepted, rows refused with line and reason, duplicates merged by
客户号. `import_list` checks again (the file must be the one reported: same SHA-256), then
writes the accepted rows in short transactions of CHUNK rows under a 'writing' import and
switches the draw's list to it in one last short transaction; the list it replaces is
deleted afterwards, chunk by chunk. So a registration on another campaign waits for one
chunk at most, a refused or failed import leaves the old list as it was, and once the
draw of that number is frozen nothing changes its list.
"""

from __future__ import annotations

import hashlib
import json
import re
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Final

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from quiz import identity
from quiz.clock import CHINA
from quiz.db import Database, utcnow
from quiz.draw.eligibility import DrawRefused
from quiz.draw.list_file import ListFileError, parse_day, read_rows
from quiz.draw.plans import plan_of
from quiz.models import Branch, Campaign, Draw, ListEntrant, ListImport, StaffUser
from quiz.privacy.protection import Protector
from quiz.staff import audit

__all__ = ["ListFileError", "ListReport", "check_list", "import_list", "active_import"]

# Rows per write transaction: computing a chunk (encryption) happens before the
# transaction opens, so the write lock is held only for the INSERT of 500 rows.
CHUNK: Final = 500
# The report lists this many refused and duplicate lines; the counts are always complete.
SHOWN: Final = 200
MAX_NAME: Final = 50
MAX_CUSTOMER: Final = 40
MAX_ADDRESS: Final = 200
# Web uploads stop here (the CLI takes any size).
WEB_MAX_BYTES: Final = 20 * 1_048_576
_CUSTOMER = re.compile(r"[0-9A-Za-z-]{1,40}")

Progress = Callable[[int], object]


@dataclass
class ListReport:
    """What a list file holds, before anything is saved."""

    file_name: str
    file_sha256: str
    file_bytes: int
    rows_read: int = 0
    accepted: int = 0
    refused_count: int = 0
    refused: list[tuple[int, str]] = field(default_factory=list)
    duplicates: int = 0
    duplicate_lines: list[tuple[int, int]] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"共读取 {self.rows_read} 行:可导入 {self.accepted} 行,"
            f"拒绝 {self.refused_count} 行,按客户号合并重复 {self.duplicates} 行。"
        )

    def lines(self) -> list[str]:
        """The report as Chinese lines (CLI and web)."""
        out = [self.summary()]
        out += [f"第{line}行:{reason}" for line, reason in self.refused]
        if self.refused_count > len(self.refused):
            out.append(f"……另有 {self.refused_count - len(self.refused)} 行被拒绝,未逐行列出。")
        out += [f"第{n}行:客户号与第{first}行重复,已合并" for n, first in self.duplicate_lines]
        if self.duplicates > len(self.duplicate_lines):
            out.append(f"……另有 {self.duplicates - len(self.duplicate_lines)} 行重复,未逐行列出。")
        return out


@dataclass(frozen=True)
class _Accepted:
    customer: str
    name: str
    mobile: str
    branch_id: int
    eligible_on: date | None
    address: str


class _Judge:
    """Decides each row; the branches and the window are read once."""

    def __init__(self, session: Session, campaign: Campaign) -> None:
        self.branches = dict(
            session.execute(select(Branch.code, Branch.id).where(Branch.active.is_(True))).all()
        )
        self.first_day = campaign.opens_at.astimezone(CHINA).date()
        self.last_day = campaign.closes_at.astimezone(CHINA).date()
        self._mobiles: dict[str, str | None] = {}

    def _mobile_problem(self, mobile: str) -> str | None:
        # phonenumbers takes ~0.1 ms a number; its verdict depends on the leading digits
        # only, so it is asked once per 7-digit prefix (a million rows: ~40,000 calls).
        if not re.fullmatch(r"1[0-9]{10}", mobile):
            try:
                identity.validate_mobile(mobile)
            except identity.IdentityError as exc:
                return str(exc)
            return "手机号码请只填写11位数字"
        prefix = mobile[:7]
        if prefix not in self._mobiles:
            try:
                identity.validate_mobile(mobile)
                self._mobiles[prefix] = None
            except identity.IdentityError as exc:
                self._mobiles[prefix] = str(exc)
        return self._mobiles[prefix]

    def __call__(self, fields: dict[str, str]) -> _Accepted | str:
        customer = fields.get("customer", "")
        if not customer:
            return "客户号(保单号)为空"
        if not _CUSTOMER.fullmatch(customer):
            return "客户号(保单号)只能是字母、数字和-,最长40位"
        name = fields.get("name", "")
        if not name:
            return "姓名为空"
        if len(name) > MAX_NAME:
            return f"姓名超过{MAX_NAME}个字"
        problem = self._mobile_problem(fields.get("mobile", ""))
        if problem:
            return f"手机号码有误({problem})"
        code = fields.get("branch_code", "")
        branch_id = self.branches.get(code)
        if branch_id is None:
            return f"机构代码“{code}”不存在或已停用" if code else "机构代码为空"
        raw_day = fields.get("eligible_on", "")
        day = None
        if raw_day:
            day = parse_day(raw_day)
            if day is None:
                return f"资格日期“{raw_day}”无法识别(请写成 2027-02-01)"
            if not self.first_day <= day <= self.last_day:
                return (
                    f"资格日期 {day.isoformat()} 不在活动资格期"
                    f"({self.first_day.isoformat()} 至 {self.last_day.isoformat()})内"
                )
        address = fields.get("address", "")
        if len(address) > MAX_ADDRESS:
            return f"邮寄地址超过{MAX_ADDRESS}个字"
        return _Accepted(customer, name, fields["mobile"], branch_id, day, address)


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        for block in iter(lambda: source.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _key(customer: str) -> int:
    # 8 bytes per person: a million rows' keys fit in an 8 MB array, not a 100 MB dict.
    return int.from_bytes(hashlib.blake2b(customer.encode(), digest_size=8).digest(), "big")


def _rows(
    judge: _Judge, path: Path, max_bytes: int | None
) -> Iterator[tuple[int, _Accepted | str]]:
    for line, fields in read_rows(path, max_bytes=max_bytes):
        yield line, judge(fields)


def _scan(judge: _Judge, path: Path, report: ListReport, max_bytes: int | None) -> set[int]:
    """First pass: judge every row, fill in the report; returns the keys that occur more
    than once (the second pass keeps the first row of each)."""
    keys = array("Q")
    lines = array("I")
    for line, verdict in _rows(judge, path, max_bytes):
        report.rows_read += 1
        if isinstance(verdict, str):
            report.refused_count += 1
            if len(report.refused) < SHOWN:
                report.refused.append((line, verdict))
            continue
        keys.append(_key(verdict.customer))
        lines.append(line)
    ordered = sorted(keys)
    repeated = {a for a, b in zip(ordered, ordered[1:], strict=False) if a == b}
    del ordered
    first: dict[int, int] = {}
    for key, line in zip(keys, lines, strict=True):
        if key not in repeated:
            continue
        if key not in first:
            first[key] = line
            continue
        report.duplicates += 1
        if len(report.duplicate_lines) < SHOWN:
            report.duplicate_lines.append((line, first[key]))
    report.accepted = len(keys) - report.duplicates
    return repeated


def _accepted(judge: _Judge, path: Path, repeated: set[int]) -> Iterator[tuple[int, _Accepted]]:
    """Second pass: the accepted rows in file order, the first of each 客户号 only."""
    seen: set[int] = set()
    for line, verdict in _rows(judge, path, None):
        if isinstance(verdict, str):
            continue
        if repeated:
            key = _key(verdict.customer)
            if key in repeated:
                if key in seen:
                    continue
                seen.add(key)
        yield line, verdict


def _check_campaign(campaign: Campaign, draw_number: int) -> None:
    if campaign.kind != "list_draw":
        raise DrawRefused("只有“名单抽奖”类活动可以导入抽奖名单。")
    if plan_of(campaign, draw_number) is None:
        raise DrawRefused(f"活动文件没有第{draw_number}次抽奖。")


def check_list(
    session: Session,
    campaign: Campaign,
    path: str | Path,
    *,
    file_name: str | None = None,
    draw_number: int = 1,
    max_bytes: int | None = None,
) -> ListReport:
    """Read and judge the whole file without writing anything (ListFileError: bad file)."""
    _check_campaign(campaign, draw_number)
    path = Path(path)
    report = ListReport(file_name or path.name, _file_digest(path), path.stat().st_size)
    _scan(_Judge(session, campaign), path, report, max_bytes)
    return report


def active_import(session: Session, campaign_id: int, draw_number: int) -> ListImport | None:
    """The list a draw of this number would freeze now."""
    return session.scalars(
        select(ListImport).where(
            ListImport.campaign_id == campaign_id,
            ListImport.draw_number == draw_number,
            ListImport.status == "active",
        )
    ).first()


def _frozen(session: Session, campaign_id: int, draw_number: int) -> Draw | None:
    return session.scalars(
        select(Draw).where(
            Draw.campaign_id == campaign_id,
            Draw.number == draw_number,
            Draw.status != "voided",
        )
    ).first()


def _refuse_if_frozen(session: Session, campaign_id: int, draw_number: int) -> None:
    draw = _frozen(session, campaign_id, draw_number)
    if draw is not None:
        raise DrawRefused(
            f"第{draw_number}次抽奖的名单已冻结(记录 {draw.id}),不能再导入或替换名单;"
            "如确需更换,须先作废这次抽奖。"
        )


def _mask_customer(customer: str) -> str:
    if len(customer) <= 4:
        return "*" * len(customer)
    return "*" * (len(customer) - 4) + customer[-4:]


def _insert(session: Session, rows: Sequence[tuple[Any, ...]]) -> None:
    from quiz.draw.service import _bulk_insert

    _bulk_insert(session, "list_entrant", _COLUMNS, rows)


_COLUMNS: Final = (
    "campaign_id",
    "import_id",
    "line_no",
    "customer_hash",
    "customer_masked",
    "name",
    "name_masked",
    "mobile_hash",
    "mobile_masked",
    "personal_enc",
    "branch_id",
    "eligible_on",
)


def _delete_rows(database: Database, import_id: int) -> None:
    """Delete an import's rows a chunk at a time (never one long write)."""
    while True:
        with database.transaction(write=True) as session:
            ids = list(
                session.scalars(
                    select(ListEntrant.id).where(ListEntrant.import_id == import_id).limit(CHUNK)
                )
            )
            if not ids:
                return
            session.execute(delete(ListEntrant).where(ListEntrant.id.in_(ids)))


@dataclass
class ImportOutcome:
    """What import_list did."""

    import_id: int
    report: ListReport
    replaced: int | None


def import_list(
    database: Database,
    protector: Protector,
    campaign_id: int,
    path: str | Path,
    *,
    file_name: str | None = None,
    draw_number: int = 1,
    expected_sha256: str | None = None,
    actor_id: int | None = None,
    operator: str | None = None,
    ip: str | None = None,
    max_bytes: int | None = None,
    progress: Progress | None = None,
    confirm: Callable[[ListReport], bool] | None = None,
) -> ImportOutcome | None:
    """Import the file as the list of draw `draw_number`, replacing the current one.

    Refused (DrawRefused, ListFileError; nothing changed) for a bad file, a file with no
    acceptable row, a file that is not the one reported (`expected_sha256`), or a draw of
    that number already frozen. Commits its own short transactions. `confirm` sees the
    report before anything is written; if it says no, nothing is and None is returned.
    """
    path = Path(path)
    sha256 = _file_digest(path)
    if expected_sha256 is not None and sha256 != expected_sha256:
        raise DrawRefused("文件与检查时的不一致(摘要不同),请重新检查后再导入。")
    with database.transaction(write=False) as session:
        campaign = session.get(Campaign, campaign_id)
        assert campaign is not None
        _check_campaign(campaign, draw_number)
        judge = _Judge(session, campaign)
        _refuse_if_frozen(session, campaign_id, draw_number)
    # Check the whole file first (a bad one saves nothing), outside any transaction.
    report = ListReport(file_name or path.name, sha256, path.stat().st_size)
    repeated = _scan(judge, path, report, max_bytes)
    if report.accepted == 0:
        raise DrawRefused("文件中没有可以导入的名单行。" + report.summary())
    if confirm is not None and not confirm(report):
        return None
    with database.transaction(write=True) as session:
        job = ListImport(
            campaign_id=campaign_id,
            draw_number=draw_number,
            status="writing",
            file_name=report.file_name[:200],
            file_sha256=report.file_sha256,
            file_bytes=report.file_bytes,
            imported_by=(operator or _username(session, actor_id))[:64],
        )
        session.add(job)
        session.flush()
        import_id = job.id
    try:
        _write_rows(database, protector, campaign_id, import_id, path, repeated, progress)
        replaced = _activate(database, campaign_id, import_id, report, actor_id, operator, ip)
    except BaseException:
        with database.transaction(write=True) as session:
            session.execute(
                update(ListImport).where(ListImport.id == import_id).values(status="failed")
            )
        _delete_rows(database, import_id)
        raise
    if replaced is not None:
        # The replaced list's people are no longer in any draw: their data goes now.
        _delete_rows(database, replaced)
    return ImportOutcome(import_id, report, replaced)


def _username(session: Session, actor_id: int | None) -> str:
    actor = session.get(StaffUser, actor_id) if actor_id else None
    return actor.username if actor else ""


def _write_rows(
    database: Database,
    protector: Protector,
    campaign_id: int,
    import_id: int,
    path: Path,
    repeated: set[int],
    progress: Progress | None,
) -> None:
    # The branches and the window are read in a short transaction that ends before the
    # writes begin: a reader held open across them keeps SQLite from checkpointing, and
    # the WAL grew past 6 GB during a million-row import.
    with database.transaction(write=False) as session:
        campaign = session.get(Campaign, campaign_id)
        assert campaign is not None
        sqlite = session.get_bind().dialect.name == "sqlite"
        judge = _Judge(session, campaign)
    rows = _accepted(judge, path, repeated)
    batch: list[tuple[Any, ...]] = []
    for line, row in rows:
        personal = json.dumps(
            {"customer": row.customer, "mobile": row.mobile, "address": row.address},
            ensure_ascii=False,
            separators=(",", ":"),
        )
        day: Any = row.eligible_on
        if sqlite and day is not None:
            day = day.isoformat()  # the sqlite3 date adapter is deprecated
        batch.append(
            (
                campaign_id,
                import_id,
                line,
                protector.lookup_hash("customer", row.customer),
                _mask_customer(row.customer),
                row.name,
                identity.mask_name(row.name),
                protector.lookup_hash("mobile", row.mobile),
                identity.mask_mobile(row.mobile),
                protector.encrypt(personal),
                row.branch_id,
                day,
            )
        )
        if len(batch) >= CHUNK:
            _write_chunk(database, batch, progress)
            batch = []
    _write_chunk(database, batch, progress)


def _write_chunk(
    database: Database, batch: list[tuple[Any, ...]], progress: Progress | None
) -> None:
    if not batch:
        return
    with database.transaction(write=True) as session:
        _insert(session, batch)
    if progress is not None:
        progress(len(batch))


def _activate(
    database: Database,
    campaign_id: int,
    import_id: int,
    report: ListReport,
    actor_id: int | None,
    operator: str | None,
    ip: str | None,
) -> int | None:
    """Make the import the draw's list (one short transaction); returns the replaced one."""
    with database.transaction(write=True) as session:
        # The lock freeze takes: a freeze and this switch never interleave.
        session.execute(select(Campaign.id).where(Campaign.id == campaign_id).with_for_update())
        job = session.get(ListImport, import_id)
        assert job is not None
        _refuse_if_frozen(session, campaign_id, job.draw_number)
        old = active_import(session, campaign_id, job.draw_number)
        if old is not None:
            old.status = "replaced"
        written = session.scalar(
            select(func.count()).select_from(ListEntrant).where(ListEntrant.import_id == job.id)
        )
        if written != report.accepted:
            raise DrawRefused(f"写入行数({written})与检查结果({report.accepted})不符,导入已取消。")
        job.status = "active"
        job.rows_read = report.rows_read
        job.rows_accepted = report.accepted
        job.rows_refused = report.refused_count
        job.duplicates = report.duplicates
        job.finished_at = utcnow()
        session.flush()
        actor = session.get(StaffUser, actor_id) if actor_id else None
        audit.record(
            session,
            actor,
            "draw.list_import",
            f"list_import:{job.id}",
            {
                "draw_number": job.draw_number,
                "file_name": job.file_name,
                "file_sha256": job.file_sha256,
                "rows_read": job.rows_read,
                "accepted": job.rows_accepted,
                "refused": job.rows_refused,
                "duplicates": job.duplicates,
                "replaced_import": old.id if old is not None else None,
            },
            ip,
            actor_name=operator,
            campaign_id=campaign_id,
        )
        return old.id if old is not None else None


def list_imports(session: Session, campaign: Campaign) -> list[ListImport]:
    """Every import of the campaign, newest first (the back office and the record)."""
    return list(
        session.scalars(
            select(ListImport)
            .where(ListImport.campaign_id == campaign.id)
            .order_by(ListImport.id.desc())
        )
    )


def personal_data(protector: Protector, entrant: ListEntrant) -> dict[str, str]:
    """客户号, mobile and address of a list entrant, decrypted (full-data permission only)."""
    data = json.loads(protector.decrypt(entrant.personal_enc))
    return {k: str(data.get(k) or "") for k in ("customer", "mobile", "address")}


def when(value: datetime | None) -> str:
    """A stored time as Beijing time text for records."""
    return value.astimezone(CHINA).strftime("%Y-%m-%d %H:%M") if value else ""
