"""Imported daily figures (日期, 机构代码, 指标, 数量) from CSV or XLSX, checked whole.

A file with any bad row saves nothing and the report lists every problem with its line;
a good file replaces the figures of the same (指标, 机构, 日期): uploading a corrected
day again is the way to fix it.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from quiz.models import Branch, MetricFigure
from quiz.uploads.workbook import safe_rows

COLUMNS = ("日期", "机构代码", "指标", "数量")
MAX_ROWS = 50_000
MAX_BYTES = 2 * 1024 * 1024
MAX_QUANTITY = 10_000_000
_DATE = re.compile(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?")


class FigureImportError(Exception):
    """The file cannot be read at all; str(exc) is the Chinese message."""


@dataclass
class FigureReport:
    rows: int = 0
    saved: int = 0
    problems: list[tuple[int, str]] = field(default_factory=list)  # (line, message)
    metrics: dict[str, int] = field(default_factory=dict)  # metric -> total quantity

    @property
    def ok(self) -> bool:
        return not self.problems


def _cells(data: bytes, filename: str) -> Iterator[list[str]]:
    if len(data) > MAX_BYTES:
        raise FigureImportError("文件超过 2 MB,请按月拆分后分批上传。")
    if filename.lower().endswith(".xlsx") or data.startswith(b"PK\x03\x04"):
        if not zipfile.is_zipfile(io.BytesIO(data)):
            raise FigureImportError("无法读取该文件,请上传 CSV 或 Excel(.xlsx)文件。")
        from openpyxl import load_workbook

        try:
            book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception:  # noqa: BLE001 - any unreadable workbook is the same answer
            raise FigureImportError("无法读取该文件,请上传 CSV 或 Excel(.xlsx)文件。") from None
        rows = book.worksheets[0].iter_rows(values_only=True, max_row=MAX_ROWS + 2)
        unreadable = "无法读取该文件,请上传 CSV 或 Excel(.xlsx)文件。"
        for row in safe_rows(rows, lambda: FigureImportError(unreadable)):
            yield [_text(v) for v in row]
        return
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("gb18030")  # Excel on a Chinese Windows saves CSV so
        except UnicodeDecodeError:
            raise FigureImportError("无法识别文件编码,请另存为 UTF-8 的 CSV。") from None
    yield from csv.reader(io.StringIO(text))


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _day(text: str) -> date | None:
    match = _DATE.fullmatch(text.strip())
    if not match:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def import_figures(
    session: Session, campaign_id: int, data: bytes, filename: str = ""
) -> FigureReport:
    """Check every row; save all of them (replacing the same day's figure) or none."""
    report = FigureReport()
    rows = _cells(data, filename)
    header = [h.strip() for h in next(rows, [])]
    while header and not header[-1]:
        header.pop()
    if header[:4] != list(COLUMNS):
        raise FigureImportError("表头须为:日期, 机构代码, 指标, 数量(第一行,按此顺序)。")
    branches: dict[str, int] = {
        code: bid for code, bid in session.execute(select(Branch.code, Branch.id))
    }
    seen: dict[tuple[str, int, date], int] = {}
    good: list[tuple[str, int, date, int]] = []
    for line, cells in enumerate(rows, start=2):
        if not any(c.strip() for c in cells):
            continue
        report.rows += 1
        if report.rows > MAX_ROWS:
            report.problems.append((line, f"超过 {MAX_ROWS:,} 行,请拆分后分批上传。"))
            break
        cells = [*cells, "", "", "", ""][:4]
        day_text, code, metric, quantity_text = (c.strip() for c in cells)
        day = _day(day_text)
        wrong = []
        if day is None:
            wrong.append(f"日期「{day_text}」无效(例如 2026-11-01)")
        branch_id = branches.get(code)
        if branch_id is None:
            wrong.append(f"机构代码「{code}」不存在")
        if not metric or len(metric) > 32:
            wrong.append("指标名称须为1-32个字")
        try:
            quantity = int(quantity_text)
            if not 0 <= quantity <= MAX_QUANTITY:
                raise ValueError
        except ValueError:
            wrong.append(f"数量「{quantity_text}」须为0或正整数")
            quantity = 0
        if wrong:
            report.problems.append((line, ";".join(wrong) + "。"))
            continue
        assert day is not None and branch_id is not None
        key = (metric, branch_id, day)
        if key in seen:
            report.problems.append((line, f"与第 {seen[key]} 行重复(同一日期、机构和指标)。"))
            continue
        seen[key] = line
        good.append((metric, branch_id, day, quantity))
    if report.problems:
        return report
    for metric, branch_id, day, quantity in good:
        session.execute(
            delete(MetricFigure).where(
                MetricFigure.campaign_id == campaign_id,
                MetricFigure.metric == metric,
                MetricFigure.branch_id == branch_id,
                MetricFigure.day == day,
            )
        )
        session.add(
            MetricFigure(
                campaign_id=campaign_id,
                metric=metric,
                branch_id=branch_id,
                day=day,
                quantity=quantity,
            )
        )
        report.metrics[metric] = report.metrics.get(metric, 0) + quantity
    session.flush()
    report.saved = len(good)
    return report
