"""An XLSX upload that opens but breaks on a row (a number cell holding text, an
impossible cell reference) is refused in Chinese by every reader, never a 500."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from quiz.contest import roster
from quiz.draw import list_file
from quiz.editor import bank_xlsx
from quiz.race import figures
from quiz.uploads.workbook import safe_rows


def broken_book(header: list[str], cell: str) -> bytes:
    """A workbook with `header` and one row, whose first cell is then replaced by `cell`
    (raw sheet XML): it opens, and fails when that row is read."""
    book = openpyxl.Workbook()
    book.active.append(header)
    book.active.append(["x"] * len(header))
    out = io.BytesIO()
    book.save(out)
    source = zipfile.ZipFile(io.BytesIO(out.getvalue()))
    broken = io.BytesIO()
    with zipfile.ZipFile(broken, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                text = data.decode()
                text = re.sub(r'<c r="A2"[^>]*>.*?</c>', cell, text, count=1)
                data = text.encode()
            target.writestr(item, data)
    return broken.getvalue()


BAD_CELLS = (
    '<c r="A2" t="n"><v>notanumber</v></c>',
    '<c r="ZZZZZZZ2" t="n"><v>1</v></c>',
)


def _list(data: bytes, tmp_path: Path) -> Any:
    path = tmp_path / "list.xlsx"
    path.write_bytes(data)
    return list(list_file.read_rows(path))


def _roster(data: bytes, tmp_path: Path) -> Any:
    return roster.read_roster(data, "roster.xlsx")


def _bank(data: bytes, tmp_path: Path) -> Any:
    return bank_xlsx.read_bank_xlsx(data)


def _figures(data: bytes, tmp_path: Path) -> Any:
    return list(figures._cells(data, "figures.xlsx"))


READERS: list[tuple[str, Callable[[bytes, Path], Any], list[str], type[Exception]]] = [
    ("list", _list, ["客户号", "姓名", "手机号码", "机构代码"], list_file.ListFileError),
    ("roster", _roster, ["工号", "姓名", "机构代码", "组别"], roster.RosterError),
    ("bank", _bank, list(bank_xlsx.COLUMNS), bank_xlsx.BankImportError),
    ("figures", _figures, list(figures.COLUMNS), figures.FigureImportError),
]


@pytest.mark.parametrize("cell", BAD_CELLS)
@pytest.mark.parametrize(("name", "read", "header", "error"), READERS, ids=[r[0] for r in READERS])
def test_a_sheet_that_breaks_on_a_row_is_refused_in_chinese(
    tmp_path: Path, name: str, read: Any, header: list[str], error: type[Exception], cell: str
) -> None:
    data = broken_book(header, cell)
    openpyxl.load_workbook(io.BytesIO(data), read_only=True)  # it does open
    with pytest.raises(error) as refused:
        read(data, tmp_path)
    assert "无法读取" in str(refused.value) or "无法读取" in repr(refused.value.args)


def test_safe_rows_passes_rows_and_stops_at_the_end() -> None:
    assert list(safe_rows(iter([1, 2, 3]), lambda: ValueError("x"))) == [1, 2, 3]

    def broken() -> Any:
        yield 1
        raise KeyError("parser")

    rows = safe_rows(broken(), lambda: ValueError("无法读取"))
    assert next(rows) == 1
    with pytest.raises(ValueError, match="无法读取"):
        next(rows)
