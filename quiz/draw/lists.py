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
import multiprocessing
import queue
import re
import threading
from array import array
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
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
# transaction opens, so the write lock is held only for the INSERT of a chunk.
CHUNK: Final = 2000
# Files from this size on are hashed and encrypted in a helper process (starting one
# costs up to a second; a million rows save half a minute).
HELPER_BYTES: Final = 8 * 1_048_576
# Chunks handed to the helper ahead of the one being written.
LOOKAHEAD: Final = 3
# The report lists this many refused and duplicate lines; the counts are always complete.
SHOWN: Final = 200
MAX_NAME: Final = 50
MAX_CUSTOMER: Final = 40
MAX_ADDRESS: Final = 200
# Web uploads stop here (the CLI takes any size).
WEB_MAX_BYTES: Final = 20 * 1_048_576
# A million rows are written in about a minute: an import still 'writing' (or 'failed',
# its clean-up cut short) after this long lost its process, and its rows are nobody's.
ABANDONED_AFTER: Final = timedelta(hours=1)
_CUSTOMER = re.compile(r"[0-9A-Za-z-]{1,40}")
_MOBILE_DIGITS = re.compile(r"1[0-9]{10}")

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
        # A list's eligibility dates are a few hundred distinct strings: each parsed once.
        self._days: dict[str, date | None] = {}

    def _mobile_problem(self, mobile: str) -> str | None:
        # phonenumbers takes ~0.1 ms a number; its verdict depends on the leading digits
        # only, so it is asked once per 7-digit prefix (a million rows: ~40,000 calls).
        if not _MOBILE_DIGITS.fullmatch(mobile):
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

    def _day(self, text: str) -> date | None:
        if text in self._days:
            return self._days[text]
        day = parse_day(text)
        if len(self._days) < 10_000:  # a file of all-different dates gets no cache
            self._days[text] = day
        return day

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
            day = self._day(raw_day)
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


class _Tally:
    """Fills in a report while the rows go by: counts, refused lines, and each accepted
    row's 客户号 key and line (8 + 4 bytes a row) for the duplicates found at the end."""

    def __init__(self, report: ListReport) -> None:
        self.report = report
        self.keys = array("Q")
        self.lines = array("I")
        # The keys again by their top byte: sorting 256 small lists to find the repeated
        # ones costs far less memory than sorting a million Python ints at once.
        self.buckets = [array("Q") for _ in range(256)]
        # Every duplicate's line (the report shows the first SHOWN), to delete once written.
        self.duplicates = array("I")

    def accepted(
        self, judge: _Judge, path: Path, max_bytes: int | None
    ) -> Iterator[tuple[int, _Accepted]]:
        """The accepted rows in file order, duplicates included (they are known only at the
        end of the file: `finish` names them and the import deletes them)."""
        report = self.report
        for line, fields in read_rows(path, max_bytes=max_bytes):
            report.rows_read += 1
            verdict = judge(fields)
            if isinstance(verdict, str):
                report.refused_count += 1
                if len(report.refused) < SHOWN:
                    report.refused.append((line, verdict))
                continue
            key = _key(verdict.customer)
            self.keys.append(key)
            self.buckets[key >> 56].append(key)
            self.lines.append(line)
            yield line, verdict

    def finish(self) -> ListReport:
        """Count the duplicates (a later row with an earlier row's 客户号)."""
        report = self.report
        repeated: set[int] = set()
        for bucket in self.buckets:
            ordered = sorted(bucket)
            repeated.update(a for a, b in zip(ordered, ordered[1:], strict=False) if a == b)
        self.buckets = []
        first: dict[int, int] = {}
        for key, line in zip(self.keys, self.lines, strict=True):
            if key not in repeated:
                continue
            if key not in first:
                first[key] = line
                continue
            report.duplicates += 1
            self.duplicates.append(line)
            if len(report.duplicate_lines) < SHOWN:
                report.duplicate_lines.append((line, first[key]))
        report.accepted = len(self.keys) - report.duplicates
        return report


def _scan(judge: _Judge, path: Path, report: ListReport, max_bytes: int | None) -> ListReport:
    """Judge every row without writing: the report staff see before anything is saved."""
    tally = _Tally(report)
    for _ in tally.accepted(judge, path, max_bytes):
        pass
    return tally.finish()


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


def _discard(database: Database, import_id: int) -> None:
    """Delete an import that never became a list: its rows, then the import itself."""
    _delete_rows(database, import_id)
    with database.transaction(write=True) as session:
        session.execute(delete(ListImport).where(ListImport.id == import_id))


@dataclass(frozen=True)
class Abandoned:
    """What killed imports left behind: imports that never became a list (their rows and
    themselves go) and replaced imports that still hold rows (the rows go)."""

    stale: tuple[int, ...]
    replaced: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.stale) + len(self.replaced)


def find_abandoned(
    session: Session, campaign_id: int | None = None, now: datetime | None = None
) -> Abandoned:
    """The imports of one campaign (all with None) that clear_abandoned would clear: those
    'writing' or 'failed' for longer than ABANDONED_AFTER, and 'replaced' ones with rows."""
    cutoff = (now or utcnow()) - ABANDONED_AFTER
    of_campaign = [] if campaign_id is None else [ListImport.campaign_id == campaign_id]
    stale = session.scalars(
        select(ListImport.id).where(
            *of_campaign,
            ListImport.status.in_(("writing", "failed")),
            ListImport.started_at < cutoff,
        )
    )
    replaced = session.scalars(
        select(ListImport.id)
        .where(*of_campaign, ListImport.status == "replaced")
        .where(select(ListEntrant.id).where(ListEntrant.import_id == ListImport.id).exists())
    )
    return Abandoned(tuple(stale), tuple(replaced))


def clear_abandoned(
    database: Database,
    campaign_id: int | None = None,
    now: datetime | None = None,
    actor_name: str = "system",
) -> int:
    """Delete what killed imports left (of one campaign, or of all with None): the rows of
    an import 'writing' or 'failed' for longer than ABANDONED_AFTER (personal data no list
    holds) and the import itself, and any rows still under a 'replaced' import (killed
    between the switch and their deletion; the import stays for the notary record).
    Each import cleared is audited (file, rows deleted). Returns the imports cleared."""
    with database.transaction(write=False) as session:
        found = find_abandoned(session, campaign_id, now)
    for import_id in (*found.stale, *found.replaced):
        with database.transaction(write=False) as session:
            done = session.get(ListImport, import_id)
            if done is None:
                continue  # another process cleared it meanwhile
            facts = {
                "file_name": done.file_name,
                "status": done.status,
                "started_at": done.started_at.isoformat(),
                "rows": session.scalar(
                    select(func.count()).where(ListEntrant.import_id == import_id)
                ),
            }
            campaign = done.campaign_id
        if import_id in found.stale:
            _discard(database, import_id)
        else:
            _delete_rows(database, import_id)
        with database.transaction(write=True) as session:
            audit.record(
                session,
                None,
                "draw.list_import_abandoned",
                f"list_import:{import_id}",
                facts,
                actor_name=actor_name,
                campaign_id=campaign,
            )
    return len(found)


def _delete_lines(database: Database, import_id: int, lines: Sequence[int]) -> None:
    """Delete the later rows of a repeated 客户号 (the first row of each is kept)."""
    for start in range(0, len(lines), CHUNK):
        with database.transaction(write=True) as session:
            session.execute(
                delete(ListEntrant).where(
                    ListEntrant.import_id == import_id,
                    ListEntrant.line_no.in_(list(lines[start : start + CHUNK])),
                )
            )


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
        sqlite = session.get_bind().dialect.name == "sqlite"
    # The transaction above ends before any write: a reader held open across the writes
    # keeps SQLite from checkpointing (the WAL grew past 6 GB during a million-row import).
    clear_abandoned(database, campaign_id)
    name = file_name or path.name
    size = path.stat().st_size
    if confirm is not None:
        # Someone reads the report before anything is written: the file is read twice.
        checked = _scan(judge, path, ListReport(name, sha256, size), max_bytes)
        if checked.accepted == 0:
            raise DrawRefused("文件中没有可以导入的名单行。" + checked.summary())
        if not confirm(checked):
            return None
    # Otherwise (the web's confirmed report, `--yes`) the file is judged and written in one
    # pass, under a 'writing' import nobody draws from; a bad line, an empty file or a
    # failure deletes what was written and leaves the draw's list as it was.
    with database.transaction(write=True) as session:
        job = ListImport(
            campaign_id=campaign_id,
            draw_number=draw_number,
            status="writing",
            file_name=name[:200],
            file_sha256=sha256,
            file_bytes=size,
            imported_by=(operator or _username(session, actor_id))[:64],
        )
        session.add(job)
        session.flush()
        import_id = job.id
    tally = _Tally(ListReport(name, sha256, size))
    try:
        rows = tally.accepted(judge, path, max_bytes)
        _write_rows(
            database,
            protector,
            campaign_id,
            import_id,
            rows,
            sqlite,
            progress,
            helper=size >= HELPER_BYTES,
        )
        report = tally.finish()
        if report.accepted == 0:
            raise DrawRefused("文件中没有可以导入的名单行。" + report.summary())
        _delete_lines(database, import_id, tally.duplicates)
        replaced = _activate(database, campaign_id, import_id, report, actor_id, operator, ip)
    except BaseException:
        # A refused file (a bad line far down, no acceptable row) or a failure: what was
        # written goes, then the import itself, so nothing is left of it.
        with database.transaction(write=True) as session:
            session.execute(
                update(ListImport).where(ListImport.id == import_id).values(status="failed")
            )
        _discard(database, import_id)
        raise
    if replaced is not None:
        # The replaced list's people are no longer in any draw: their data goes now.
        _delete_rows(database, replaced)
    return ImportOutcome(import_id, report, replaced)


def _username(session: Session, actor_id: int | None) -> str:
    actor = session.get(StaffUser, actor_id) if actor_id else None
    return actor.username if actor else ""


def _row(
    protector: Protector, campaign_id: int, import_id: int, line: int, row: _Accepted, sqlite: bool
) -> tuple[Any, ...]:
    """The list_entrant values of an accepted row: hashes, masks, the encrypted part."""
    # 客户号 and mobile are [0-9A-Za-z-] and digits (the judge saw to it): only the
    # address needs JSON's escaping, and a million json.dumps of the whole dict cost seconds.
    address = json.dumps(row.address, ensure_ascii=False)
    personal = f'{{"customer":"{row.customer}","mobile":"{row.mobile}","address":{address}}}'
    day: Any = row.eligible_on
    if sqlite and day is not None:
        day = day.isoformat()  # the sqlite3 date adapter is deprecated
    return (
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


def _prepare(
    protector: Protector,
    campaign_id: int,
    import_id: int,
    sqlite: bool,
    rows: list[tuple[int, _Accepted]],
) -> list[tuple[Any, ...]]:
    return [_row(protector, campaign_id, import_id, line, row, sqlite) for line, row in rows]


def _batches(rows: Iterator[tuple[int, _Accepted]]) -> Iterator[list[tuple[int, _Accepted]]]:
    batch: list[tuple[int, _Accepted]] = []
    for item in rows:
        batch.append(item)
        if len(batch) >= CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


def _start_method() -> str:
    return "fork" if threading.active_count() == 1 else "spawn"


@contextmanager
def _helper_pool(helper: bool) -> Iterator[ProcessPoolExecutor | None]:
    """The helper process, started before the writer thread. Forked when this process runs
    no other thread (the CLI: the child shares the parent's pages, so the two together
    take little more memory than one); spawned otherwise (a threaded web worker, whose
    other threads may hold locks a forked child would inherit)."""
    if not helper:
        yield None
        return
    context = multiprocessing.get_context(_start_method())
    pool = ProcessPoolExecutor(max_workers=1, mp_context=context)
    try:
        pool.submit(int).result()  # the process starts now, while no other thread runs
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _prepared(
    pool: ProcessPoolExecutor | None,
    protector: Protector,
    campaign_id: int,
    import_id: int,
    rows: Iterator[tuple[int, _Accepted]],
    sqlite: bool,
) -> Iterator[list[tuple[Any, ...]]]:
    """The rows' values a chunk at a time, in file order. With a helper `pool`, hashing
    and encryption (half of a row's work) run there while this process reads and judges
    the file; at most LOOKAHEAD chunks are in flight, so memory stays flat."""
    if pool is None:
        for batch in _batches(rows):
            yield _prepare(protector, campaign_id, import_id, sqlite, batch)
        return
    window: deque[Future[list[tuple[Any, ...]]]] = deque()
    try:
        for batch in _batches(rows):
            window.append(pool.submit(_prepare, protector, campaign_id, import_id, sqlite, batch))
            if len(window) >= LOOKAHEAD:
                yield window.popleft().result()
        while window:
            yield window.popleft().result()
    finally:
        for pending in window:
            pending.cancel()


def _write_rows(
    database: Database,
    protector: Protector,
    campaign_id: int,
    import_id: int,
    rows: Iterator[tuple[int, _Accepted]],
    sqlite: bool,
    progress: Progress | None,
    *,
    helper: bool = False,
) -> None:
    """Write the prepared chunks on a second thread while this one prepares the next: the
    database driver lets go of the GIL while it writes, so the two overlap. Each chunk is
    its own short write transaction."""
    pending: queue.Queue[list[tuple[Any, ...]] | None] = queue.Queue(maxsize=2)
    failed: list[BaseException] = []

    def write() -> None:
        while (batch := pending.get()) is not None:
            if failed:
                continue  # drain what was queued; the caller raises the failure
            try:
                _write_chunk(database, batch, progress)
            except BaseException as exc:  # noqa: BLE001 - handed to the preparing thread
                failed.append(exc)

    with _helper_pool(helper) as pool:
        writer = threading.Thread(target=write, name="list-import-writer", daemon=True)
        writer.start()
        try:
            for batch in _prepared(pool, protector, campaign_id, import_id, rows, sqlite):
                if failed:
                    break
                pending.put(batch)
        finally:
            pending.put(None)
            writer.join()
    if failed:
        raise failed[0]


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
