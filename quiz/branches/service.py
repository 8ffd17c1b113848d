"""Branches (机构) and the mapping from provinces and cities to them."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from quiz.branches.routing import cities_of
from quiz.models import Branch, BranchRoute, Participant
from quiz.regions import divisions
from quiz.text_safety import strip_invisible

# Hong Kong and Macao are not served by mainland branches: their leads stay unassigned.
NOT_SERVED = frozenset({"71", "81", "82"})
_SUFFIX = re.compile(r"(省|市|壮族自治区|回族自治区|维吾尔自治区|自治区|特别行政区)$")


def short_province_name(name: str) -> str:
    """广西壮族自治区 -> 广西, 北京市 -> 北京, 内蒙古自治区 -> 内蒙古."""
    return _SUFFIX.sub("", name)


def seed_default_branches(session: Session) -> int:
    """One provincial branch (分公司) per province-level division, if there are no branches."""
    if session.scalar(select(func.count()).select_from(Branch)):
        return 0
    head = Branch(code="HO", name="总公司", level="总公司")
    session.add(head)
    session.flush()
    created = 0
    for province in divisions.provinces():
        if province.code[:2] in NOT_SERVED:
            continue
        branch = Branch(
            code=f"B{province.code[:2]}",
            name=f"{short_province_name(province.name)}分公司",
            level="分公司",
            parent_id=head.id,
        )
        session.add(branch)
        session.flush()
        session.add(BranchRoute(province_code=province.code, city_code=None, branch_id=branch.id))
        created += 1
    session.flush()
    return created


# --- validation shared by the CSV import and the admin forms -----------------

BRANCH_LEVELS = ("总公司", "分公司", "中心支公司", "支公司", "营业部")
BRANCH_COLUMNS = ("code", "name", "level", "parent_code", "contact", "target")
ROUTE_COLUMNS = ("province_code", "city_code", "branch_code")
_CODE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
MAX_ERRORS = 50
MAX_TARGET = 100_000_000  # as the branch form allows; the column is a 32-bit integer


class BranchError(ValueError):
    """A branch or route change that cannot be applied; the message names the problem."""


class CsvImportError(ValueError):
    """A CSV file with bad rows; `errors` holds one message per problem, by row number."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class BranchData:
    """One branch as entered (CSV row or admin form), already trimmed."""

    code: str
    name: str
    level: str = "分公司"
    parent_code: str = ""
    contact: str = ""
    target: int | None = None


def check_branch_data(data: BranchData) -> list[str]:
    """Field-level problems of one branch, in English (CLI) wording."""
    problems = []
    if not _CODE.match(data.code):
        problems.append(f"code {data.code!r} must be 1-32 letters, digits, '-' or '_'")
    if not data.name or len(data.name) > 100:
        problems.append("name is required (at most 100 characters)")
    if data.level not in BRANCH_LEVELS:
        problems.append(f"level {data.level!r} must be one of {', '.join(BRANCH_LEVELS)}")
    if len(data.contact) > 200:
        problems.append("contact is longer than 200 characters")
    if data.target is not None and not 0 <= data.target <= MAX_TARGET:
        problems.append(f"target must be a whole number from 0 to {MAX_TARGET}")
    if data.parent_code == data.code:
        problems.append("a branch cannot be its own parent")
    return problems


def _creates_cycle(parents: dict[str, str], code: str) -> bool:
    seen = {code}
    current = parents.get(code, "")
    while current:
        if current in seen:
            return True
        seen.add(current)
        current = parents.get(current, "")
    return False


def save_branch(session: Session, data: BranchData, branch: Branch | None = None) -> Branch:
    """Create a branch, or update `branch`, after checking code, parent and fields.

    Field checks are the form's job (messages in Chinese for staff); the ones needing the
    table (code taken, parent missing, parent loop) raise BranchError in Chinese here.
    """
    problems = check_branch_data(data)
    if problems:
        raise BranchError("; ".join(problems))
    by_code = {b.code: b for b in session.scalars(select(Branch))}
    clash = by_code.get(data.code)
    if clash is not None and clash is not branch:
        raise BranchError(f"机构代码 {data.code} 已被「{clash.name}」使用")
    parent = by_code.get(data.parent_code) if data.parent_code else None
    if data.parent_code and parent is None:
        raise BranchError(f"上级机构代码 {data.parent_code} 不存在")
    parents = {b.code: _parent_code(b, by_code) for b in by_code.values() if b is not branch}
    parents[data.code] = data.parent_code
    if _creates_cycle(parents, data.code):
        raise BranchError("上级机构不能是本机构或其下级机构")
    if branch is None:
        branch = Branch(code=data.code)
        session.add(branch)
    branch.code = data.code
    branch.name = data.name
    branch.level = data.level
    branch.parent_id = parent.id if parent else None
    branch.contact = data.contact or None
    branch.target = data.target
    session.flush()
    return branch


def _parent_code(branch: Branch, by_code: dict[str, Branch]) -> str:
    if branch.parent_id is None:
        return ""
    return next((b.code for b in by_code.values() if b.id == branch.parent_id), "")


def branch_lead_counts(session: Session, campaign_id: int | None = None) -> dict[int | None, int]:
    """Leads per branch id (None: no branch), one GROUP BY; of one campaign when given,
    as the dashboard and the leads list count by default."""
    stmt = select(Participant.branch_id, func.count()).group_by(Participant.branch_id)
    if campaign_id is not None:
        stmt = stmt.where(Participant.campaign_id == campaign_id)
    rows = session.execute(stmt).all()
    return {branch_id: count for branch_id, count in rows}


# --- CSV import and export --------------------------------------------------


def _read_csv(data: bytes, columns: tuple[str, ...], required: set[str]) -> list[dict[str, str]]:
    """Decode UTF-8 (BOM or not), check the header, return rows keyed by column."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CsvImportError(
            [f"the file is not UTF-8 (byte {exc.start}): save it as 'CSV UTF-8'"]
        ) from exc
    if "\x00" in text:
        # NUL bytes: an .xlsx or UTF-16 file picked by mistake (PostgreSQL refuses NUL).
        raise CsvImportError(["the file contains NUL bytes: save it as 'CSV UTF-8'"])
    text = strip_invisible(text)  # after the NUL check, which it would otherwise void
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [h.strip().lower() for h in next(reader, [])]
    missing = [c for c in columns if c in required and c not in header]
    unknown = [h for h in header if h not in columns]
    if missing or unknown or not header:
        problems = []
        if missing or not header:
            problems.append(f"row 1: missing column(s) {', '.join(missing or sorted(required))}")
        if unknown:
            problems.append(f"row 1: unknown column(s) {', '.join(unknown)}")
        raise CsvImportError([*problems, f"expected header: {','.join(columns)}"])
    rows = []
    for cells in reader:
        if not any(c.strip() for c in cells):
            rows.append({})  # keep numbering; blank rows are skipped by the caller
            continue
        cells = cells + [""] * (len(header) - len(cells))
        row = {h: c.strip() for h, c in zip(header, cells, strict=False)}
        if len(cells) > len(header) and any(c.strip() for c in cells[len(header) :]):
            row["__extra__"] = "1"
        rows.append(row)
    return rows


def import_branches(session: Session, data: bytes) -> tuple[int, int]:
    """Create or update branches from CSV (matched by code); returns (created, updated).

    Branches missing from the file are left alone. Nothing is written when any row is bad.
    """
    rows = _read_csv(data, BRANCH_COLUMNS, {"code", "name"})
    errors: list[str] = []
    existing = {b.code: b for b in session.scalars(select(Branch))}
    parents = {b.code: _parent_code(b, existing) for b in existing.values()}
    seen: dict[str, int] = {}
    parsed: list[tuple[int, BranchData]] = []
    for number, row in enumerate(rows, start=2):
        if not row:
            continue
        if "__extra__" in row:
            errors.append(f"row {number}: more cells than header columns")
            continue
        target_text = row.get("target", "")
        target: int | None = None
        if target_text:
            if not (target_text.isascii() and target_text.isdigit()):
                errors.append(f"row {number}: target {target_text!r} is not a whole number")
                continue
            target = int(target_text)
        item = BranchData(
            code=row.get("code", ""),
            name=row.get("name", ""),
            level=row.get("level", "") or "分公司",
            parent_code=row.get("parent_code", ""),
            contact=row.get("contact", ""),
            target=target,
        )
        errors += [f"row {number}: {p}" for p in check_branch_data(item)]
        if item.code in seen:
            errors.append(
                f"row {number}: duplicate code {item.code!r} (first on row {seen[item.code]})"
            )
            continue
        seen[item.code] = number
        parsed.append((number, item))
        parents[item.code] = item.parent_code
    for number, item in parsed:
        if item.parent_code and item.parent_code not in parents:
            errors.append(f"row {number}: unknown parent branch code {item.parent_code!r}")
        elif _creates_cycle(parents, item.code):
            errors.append(f"row {number}: parent chain of {item.code!r} loops")
    if errors:
        raise CsvImportError(errors[:MAX_ERRORS])
    created = updated = 0
    # Two passes: create or update every branch, then link parents (they may come later).
    for _number, item in parsed:
        branch = existing.get(item.code)
        if branch is None:
            branch = existing[item.code] = Branch(code=item.code)
            session.add(branch)
            created += 1
        else:
            updated += 1
        branch.name, branch.level = item.name, item.level
        branch.contact, branch.target = item.contact or None, item.target
    session.flush()
    for _number, item in parsed:
        parent = existing.get(item.parent_code) if item.parent_code else None
        existing[item.code].parent_id = parent.id if parent else None
    session.flush()
    return created, updated


def export_branches(session: Session) -> Iterator[list[str]]:
    """Rows of the branch CSV, header first (the format import_branches reads)."""
    branches = session.scalars(select(Branch).order_by(Branch.code)).all()
    code_of = {b.id: b.code for b in branches}
    yield list(BRANCH_COLUMNS)
    for b in branches:
        parent = code_of.get(b.parent_id, "") if b.parent_id else ""
        target = "" if b.target is None else str(b.target)
        yield [b.code, b.name, b.level, parent, b.contact or "", target]


def import_routes(session: Session, data: bytes) -> tuple[int, int]:
    """Replace the whole mapping with the CSV's; returns (province defaults, city overrides).

    Nothing is written when any row is bad.
    """
    rows = _read_csv(data, ROUTE_COLUMNS, set(ROUTE_COLUMNS))
    branches = {b.code: b.id for b in session.scalars(select(Branch))}
    errors: list[str] = []
    seen: dict[tuple[str, str], int] = {}
    parsed: list[tuple[str, str | None, int]] = []
    for number, row in enumerate(rows, start=2):
        if not row:
            continue
        if "__extra__" in row:
            errors.append(f"row {number}: more cells than header columns")
            continue
        try:
            province, city, branch_code = check_route(
                row["province_code"], row["city_code"], row["branch_code"], branches
            )
        except BranchError as exc:
            errors.append(f"row {number}: {exc}")
            continue
        key = (province, city or "")
        if key in seen:
            errors.append(
                f"row {number}: duplicate route for {_place(province, city)} "
                f"(first on row {seen[key]})"
            )
            continue
        seen[key] = number
        parsed.append((province, city, branches[branch_code]))
    if errors:
        raise CsvImportError(errors[:MAX_ERRORS])
    session.execute(delete(BranchRoute))
    session.add_all(BranchRoute(province_code=p, city_code=c, branch_id=b) for p, c, b in parsed)
    session.flush()
    overrides = sum(1 for _p, c, _b in parsed if c)
    return len(parsed) - overrides, overrides


def check_route(
    province_code: str, city_code: str, branch_code: str, branches: dict[str, int]
) -> tuple[str, str | None, str]:
    """Validate one route; returns (province, city or None, branch code)."""
    province = divisions.get(province_code)
    if province is None or province.level != divisions.PROVINCE:
        raise BranchError(f"unknown province code {province_code!r}")
    if city_code:
        if province_code in divisions.MUNICIPALITIES:
            raise BranchError(
                f"{province.name} is a municipality: set its province default, not a city"
            )
        if city_code not in {c.code for c in cities_of(province_code)}:
            known = divisions.get(city_code)
            what = f"{known.name} ({city_code})" if known else repr(city_code)
            raise BranchError(f"city {what} is not a city of {province.name}")
    if branch_code not in branches:
        raise BranchError(f"unknown branch code {branch_code!r}")
    return province_code, city_code or None, branch_code


def _place(province_code: str, city_code: str | None) -> str:
    names = [d.name for d in (divisions.get(province_code), divisions.get(city_code or "")) if d]
    return "".join(names) or province_code


def export_routes(session: Session) -> Iterator[list[str]]:
    """Rows of the route CSV, header first: province defaults, then their city overrides."""
    rows = session.execute(
        select(BranchRoute.province_code, BranchRoute.city_code, Branch.code)
        .join(Branch, Branch.id == BranchRoute.branch_id)
        .order_by(
            BranchRoute.province_code, BranchRoute.city_code.is_not(None), BranchRoute.city_code
        )
    ).all()
    yield list(ROUTE_COLUMNS)
    for province, city, branch in rows:
        yield [province, city or "", branch]


def uncovered_provinces(session: Session) -> list[str]:
    """Served provinces without a default route (their leads go to the unassigned queue)."""
    covered = set(
        session.scalars(select(BranchRoute.province_code).where(BranchRoute.city_code.is_(None)))
    )
    return [
        p.name
        for p in divisions.provinces()
        if p.code not in covered and p.code[:2] not in NOT_SERVED
    ]


# --- the mapping as edited on the admin page ---------------------------------


def set_route(
    session: Session, province_code: str, city_code: str | None, branch: Branch
) -> BranchRoute:
    """Point a province default (city None) or a city override at a branch."""
    check_route(province_code, city_code or "", branch.code, {branch.code: branch.id})
    route = session.scalars(
        select(BranchRoute).where(
            BranchRoute.province_code == province_code,
            BranchRoute.city_code.is_(None)
            if not city_code
            else BranchRoute.city_code == city_code,
        )
    ).first()
    if route is None:
        route = BranchRoute(province_code=province_code, city_code=city_code or None)
        session.add(route)
    route.branch_id = branch.id
    session.flush()
    return route


def remove_override(session: Session, province_code: str, city_code: str) -> bool:
    """Delete one city override (the province default then applies); False if absent."""
    result = session.execute(
        delete(BranchRoute).where(
            BranchRoute.province_code == province_code, BranchRoute.city_code == city_code
        )
    )
    session.flush()
    return bool(result.rowcount)  # type: ignore[attr-defined]
