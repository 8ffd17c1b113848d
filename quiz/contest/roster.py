"""The contest roster: head office imports who competes (工号, 姓名, 机构代码, 组别, optional
手机号码) from CSV or XLSX, sees a report of every problem before anything is saved, and may
import again until the contest starts. Personal invitation codes are issued here.

Services flush, never commit.
"""

from __future__ import annotations

import csv
import io
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from quiz import identity
from quiz.campaign.contest_spec import by_name, group_names
from quiz.db import utcnow
from quiz.leads.exports import DANGEROUS_FIRST
from quiz.models import Branch, Campaign, Contestant, ContestPaper
from quiz.privacy.protection import Protector
from quiz.referrals.links import ALPHABET, ReferralError, csv_text
from quiz.text_safety import strip_invisible
from quiz.uploads.workbook import safe_rows

COLUMNS = {
    "staff_no": ("工号", "staff_no"),
    "name": ("姓名", "name"),
    "branch_code": ("机构代码", "branch_code"),
    "group": ("组别", "group"),
    "mobile": ("手机号码", "手机", "mobile"),
}
REQUIRED = ("staff_no", "name", "branch_code", "group")
# The web page takes at most this many rows (a province's staff fits many times over);
# a bigger file is a mistake or an attack, and the CLI takes any length.
WEB_MAX_ROWS = 20_000
WEB_MAX_BYTES = 4 * 1024 * 1024
INVITE_LENGTH = 8
MAX_CELL = 100


class RosterError(ValueError):
    """The file cannot be read at all; str(exc) is a Chinese message for staff."""


class TooManyRows(RosterError):
    """More rows than one web upload takes."""


class RosterLocked(RosterError):
    """The contest has started: the roster no longer changes."""


@dataclass(frozen=True)
class RosterRow:
    """One checked row, ready to save."""

    staff_no: str
    name: str
    branch_id: int
    group_code: str
    mobile: str | None


@dataclass
class RosterReport:
    """What an import would do: the rows it would save and every problem (line: reason)."""

    rows: list[RosterRow] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    by_group: dict[str, int] = field(default_factory=dict)
    branches: int = 0
    new: int = 0
    updated: int = 0
    removed: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems and bool(self.rows)


def _is_formula(value: str) -> bool:
    return bool(value) and value[0] in DANGEROUS_FIRST


def _header(cells: Sequence[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for i, raw in enumerate(cells):
        name = str(raw or "").strip().lstrip("\ufeff").lower()
        for key, aliases in COLUMNS.items():
            if name in aliases:
                found[key] = i
    missing = [COLUMNS[k][0] for k in REQUIRED if k not in found]
    if missing:
        raise RosterError(
            "第1行缺少列:" + "、".join(missing) + ";需要 工号,姓名,机构代码,组别[,手机号码]"
        )
    return found


def _records(data: bytes, file_name: str) -> Iterable[tuple[int, list[str], list[bool]]]:
    """(line, cells, formula flags) for every row, header first, from CSV or XLSX."""
    if data[:2] == b"PK" or file_name.lower().endswith(".xlsx"):
        from openpyxl import load_workbook

        try:
            book = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
        except Exception as exc:  # openpyxl raises many kinds on a broken file
            raise RosterError("无法读取该XLSX文件,请用Excel重新保存后再上传") from exc
        sheet = book.worksheets[0]
        unreadable = "无法读取该XLSX文件,请用Excel重新保存后再上传"
        rows = safe_rows(sheet.iter_rows(), lambda: RosterError(unreadable))
        for n, row in enumerate(rows, start=1):
            cells = ["" if c.value is None else strip_invisible(str(c.value)).strip() for c in row]
            formulas = [c.data_type == "f" for c in row]
            yield n, cells, formulas
        book.close()
        return
    try:
        text = csv_text(data)
    except ReferralError as exc:
        raise RosterError(str(exc)) from None
    reader = csv.reader(io.StringIO(text))
    try:
        for record in reader:
            yield reader.line_num, [c.strip() for c in record], [False] * len(record)
    except csv.Error as exc:
        raise RosterError(f"第{reader.line_num}行CSV格式错误:{exc}") from None


def read_roster(
    data: bytes, file_name: str = "", max_rows: int | None = None
) -> list[tuple[int, dict[str, str], list[str]]]:
    """The rows of a roster file as (line, fields, formula columns); RosterError when it
    cannot be read, TooManyRows past `max_rows` (the web page's limit)."""
    records = iter(_records(data, file_name))
    try:
        _, header, _ = next(records)
    except StopIteration:
        raise RosterError("文件为空") from None
    columns = _header(header)
    rows: list[tuple[int, dict[str, str], list[str]]] = []
    for line, cells, formulas in records:
        if not any(cells):
            continue
        if max_rows is not None and len(rows) >= max_rows:
            raise TooManyRows(
                f"网页上传一次最多导入{max_rows:,}行名单,请分机构上传,"
                "或由系统管理员在服务器上用命令导入:"
                "quiz contest import-roster 文件名 --campaign 活动地址"
            )
        values = {key: (cells[i] if i < len(cells) else "") for key, i in columns.items()}
        flagged = [
            COLUMNS[key][0]
            for key, i in columns.items()
            if i < len(cells) and (formulas[i] if i < len(formulas) else False)
        ]
        rows.append((line, values, flagged))
    return rows


def check_roster(
    session: Session,
    campaign: Campaign,
    rows: Sequence[tuple[int, dict[str, str], list[str]]],
) -> RosterReport:
    """Check every row without writing: unknown branch or group, duplicate 工号, formula
    cells, bad mobiles, over-long cells. The report says what saving would change."""
    settings = campaign.content.get("contest") or {}
    groups = by_name(settings)
    codes = set(group_names(settings))
    branches = {b.code: b.id for b in session.scalars(select(Branch).where(Branch.active))}
    report = RosterReport()
    seen: dict[str, int] = {}
    for line, values, formulas in rows:
        reasons: list[str] = []
        if formulas:
            reasons.append("、".join(formulas) + "是公式,请改为文字")
        for key in COLUMNS:
            value = values.get(key, "")
            if key != "mobile" and _is_formula(value):
                reasons.append(f"{COLUMNS[key][0]}以 {value[0]} 开头,可能是公式,请改为文字")
            if len(value) > MAX_CELL:
                reasons.append(f"{COLUMNS[key][0]}过长(最多{MAX_CELL}字)")
        staff_no, name = values["staff_no"], values["name"]
        if not staff_no:
            reasons.append("工号为空")
        elif len(staff_no) > 32:
            reasons.append("工号过长(最多32个字符)")
        elif staff_no in seen:
            reasons.append(f"工号 {staff_no} 与第{seen[staff_no]}行重复")
        else:
            seen[staff_no] = line
        if not name:
            reasons.append("姓名为空")
        code = values["branch_code"]
        branch_id = branches.get(code) or branches.get(code.upper())
        if branch_id is None:
            reasons.append(f"机构代码 {values['branch_code'] or '(空)'} 不存在")
        group = values["group"]
        group_code = groups.get(group) or (group if group in codes else None)
        if group_code is None:
            reasons.append(f"组别 {group or '(空)'} 不是" + "/".join(groups))
        mobile: str | None = None
        if values.get("mobile"):
            try:
                mobile = identity.validate_mobile(values["mobile"])
            except identity.IdentityError:
                reasons.append(f"手机号码 {values['mobile']} 无效")
        if reasons:
            report.problems.append(f"第{line}行:" + ";".join(reasons))
            continue
        assert branch_id is not None and group_code is not None
        report.rows.append(RosterRow(staff_no, name[:100], branch_id, group_code, mobile))
        report.by_group[group_code] = report.by_group.get(group_code, 0) + 1
    report.branches = len({r.branch_id for r in report.rows})
    existing = set(
        session.scalars(select(Contestant.staff_no).where(Contestant.campaign_id == campaign.id))
    )
    in_file = {r.staff_no for r in report.rows}
    report.new = len(in_file - existing)
    report.updated = len(in_file & existing)
    report.removed = len(existing - in_file)
    return report


def ensure_editable(session: Session, campaign: Campaign, now: datetime | None = None) -> None:
    """The roster changes only before the contest starts (and before any paper exists)."""
    now = now or utcnow()
    started = session.scalar(
        select(func.count())
        .select_from(ContestPaper)
        .where(ContestPaper.campaign_id == campaign.id)
    )
    if now >= campaign.opens_at or started:
        raise RosterLocked("竞赛已开始,参赛名单不能再导入或修改。")


def save_roster(
    session: Session,
    campaign: Campaign,
    report: RosterReport,
    protector: Protector,
    *,
    now: datetime | None = None,
    locked_check: bool = True,
) -> RosterReport:
    """Replace the roster with the checked rows (by 工号: names, branches, groups and mobiles
    updated, invitation codes kept; people no longer in the file removed). Refused once
    the contest has started (`locked_check=False`: the shipped demo only)."""
    if not report.ok:
        raise RosterError("名单有误,没有导入任何一行。")
    if locked_check:
        ensure_editable(session, campaign, now)
    existing = {
        c.staff_no: c
        for c in session.scalars(select(Contestant).where(Contestant.campaign_id == campaign.id))
    }
    keep = {r.staff_no for r in report.rows}
    gone = [c.id for no, c in existing.items() if no not in keep]
    if gone:
        session.execute(delete(Contestant).where(Contestant.id.in_(gone)))
    for row in report.rows:
        contestant = existing.get(row.staff_no)
        if contestant is None:
            contestant = Contestant(campaign_id=campaign.id, staff_no=row.staff_no)
            session.add(contestant)
        contestant.name = row.name
        contestant.branch_id = row.branch_id
        contestant.group_code = row.group_code
        contestant.mobile_enc = protector.encrypt(row.mobile) if row.mobile else None
        contestant.mobile_masked = identity.mask_mobile(row.mobile) if row.mobile else None
    session.flush()
    return report


def invite_hash(protector: Protector, campaign_id: int, staff_no: str, code: str) -> str:
    """The stored form of an invitation code: keyed, bound to the campaign and the 工号."""
    return protector.lookup_hash("contest-invite", f"{campaign_id}:{staff_no}:{code.upper()}")


def new_invite_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(INVITE_LENGTH))


@dataclass(frozen=True)
class Invitation:
    """A contestant with a freshly issued invitation code (shown once, never stored)."""

    staff_no: str
    name: str
    branch_code: str
    branch_name: str
    group_name: str
    code: str


def issue_invitations(
    session: Session,
    campaign: Campaign,
    protector: Protector,
    *,
    branch_id: int | None = None,
    staff_nos: Sequence[str] | None = None,
) -> list[Invitation]:
    """New invitation codes for the roster (one branch's, or some 工号): earlier codes stop
    working. A contestant who lost their phone gets a new code this way."""
    names = group_names(campaign.content.get("contest") or {})
    stmt = (
        select(Contestant, Branch)
        .join(Branch, Branch.id == Contestant.branch_id)
        .where(Contestant.campaign_id == campaign.id)
        .order_by(Branch.code, Contestant.group_code, Contestant.staff_no)
    )
    if branch_id is not None:
        stmt = stmt.where(Contestant.branch_id == branch_id)
    if staff_nos is not None:
        stmt = stmt.where(Contestant.staff_no.in_(list(staff_nos)))
    issued: list[Invitation] = []
    for contestant, branch in session.execute(stmt):
        code = new_invite_code()
        contestant.invite_hash = invite_hash(protector, campaign.id, contestant.staff_no, code)
        issued.append(
            Invitation(
                contestant.staff_no,
                contestant.name,
                branch.code,
                branch.name,
                names.get(contestant.group_code, contestant.group_code),
                code,
            )
        )
    session.flush()
    return issued


def roster_counts(
    session: Session, campaign_id: int, branch_id: int | None = None
) -> list[tuple[str, str, str, int]]:
    """(branch code, branch name, group code, contestants) for the overview page."""
    stmt: Any = (
        select(Branch.code, Branch.name, Contestant.group_code, func.count())
        .join(Branch, Branch.id == Contestant.branch_id)
        .where(Contestant.campaign_id == campaign_id)
        .group_by(Branch.code, Branch.name, Contestant.group_code)
        .order_by(Branch.code, Contestant.group_code)
    )
    if branch_id is not None:
        stmt = stmt.where(Contestant.branch_id == branch_id)
    return [(r[0], r[1], r[2], int(r[3])) for r in session.execute(stmt)]
