"""Reading an imported entrant list (CSV or XLSX) as a stream of rows, refusing bad files.

The file is read from disk one row at a time (constant memory at a million rows): CSV in
UTF-8 with or without BOM or GB18030 (as Excel in China saves it), or the first sheet of
an XLSX workbook. A file that cannot be what staff meant to upload is refused whole with
a Chinese message naming the line (ListFileError): wrong columns, a formula, an overlong
cell, a file too big, a ZIP that is no workbook, several encodings in one file, no rows.
Rows themselves (a bad mobile, an unknown branch) are judged by quiz.draw.lists.
"""

from __future__ import annotations

import csv
import re
import zipfile
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Final

from quiz.text_safety import strip_invisible
from quiz.uploads.workbook import safe_rows

# Header -> field. 客户号 or 保单号 identifies a person (duplicates merge on it).
COLUMNS: Final[dict[str, str]] = {
    "客户号": "customer",
    "保单号": "customer",
    "姓名": "name",
    "手机号码": "mobile",
    "机构代码": "branch_code",
    "资格日期": "eligible_on",
    "邮寄地址": "address",
}
REQUIRED: Final = ("customer", "name", "mobile", "branch_code")
NEEDED_TEXT: Final = "客户号(或保单号)、姓名、手机号码、机构代码,可选 资格日期、邮寄地址"
# No field of a list needs more; a longer cell is a pasted blob, not a name or address.
MAX_CELL: Final = 300
# Cells a spreadsheet would run as a formula. "+86..." and "-" before a digit are numbers.
_FORMULA_ALWAYS: Final = frozenset("=＝@＠")
_FORMULA_SIGN: Final = frozenset("+-＋－")
_RISKY_FIRST: Final = _FORMULA_ALWAYS | _FORMULA_SIGN
_XLSX_MAGIC: Final = b"PK\x03\x04"


class ListFileError(ValueError):
    """The whole file is refused; str(exc) is the Chinese message for staff."""


Row = tuple[int, dict[str, str]]


def _is_formula(text: str) -> bool:
    if not text:
        return False
    if text[0] in _FORMULA_ALWAYS:
        return True
    return text[0] in _FORMULA_SIGN and not text[1:2].isdigit()


def _header(cells: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for i, raw in enumerate(cells):
        key = COLUMNS.get(raw.strip().lstrip("\ufeff"))
        if key is not None and key not in found:
            found[key] = i
    missing = [k for k in REQUIRED if k not in found]
    if missing:
        names = {"customer": "客户号(或保单号)", "name": "姓名", "mobile": "手机号码"}
        names["branch_code"] = "机构代码"
        raise ListFileError(
            "第1行(表头)缺少列:"
            + "、".join(names[k] for k in missing)
            + f"。名单须有这些列:{NEEDED_TEXT}。"
        )
    return found


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return strip_invisible(str(value)).strip()


def _fields(line: int, cells: list[str], columns: dict[str, int]) -> dict[str, str]:
    for text in cells:
        if not text or (len(text) <= MAX_CELL and text[0] not in _RISKY_FIRST):
            continue  # most cells: one test
        if len(text) > MAX_CELL:
            raise ListFileError(
                f"第{line}行有一个单元格超过{MAX_CELL}个字符,不像名单内容;请检查文件后重新导入。"
            )
        if _is_formula(text):
            raise ListFileError(
                f"第{line}行的单元格“{text[:20]}”是公式(以 = + - @ 开头);"
                "请在Excel中复制后“粘贴为数值”,再重新导入。"
            )
    return {key: (cells[i] if i < len(cells) else "") for key, i in columns.items()}


def _decoded_lines(path: Path) -> Iterator[str]:
    """The file's lines as text, invisible characters removed. Each line is UTF-8 or
    GB18030; one file must not mix them (a list pasted together from two exports would
    otherwise come out half garbled). A NUL byte means the file is not text."""
    encoding: str | None = None
    with path.open("rb") as raw:
        for number, data in enumerate(raw, start=1):
            if number == 1 and data.startswith(b"\xef\xbb\xbf"):
                data = data[3:]
                encoding = "utf-8"
            if b"\x00" in data:
                if number == 1:
                    raise ListFileError(
                        "文件不是CSV文本;请在Excel中“另存为”CSV(逗号分隔)或XLSX后再导入。"
                    )
                raise ListFileError(f"第{number}行含有非文本内容,文件不是CSV文本。")
            if data.isascii():
                text = data.decode("ascii")
                # Cleaned as a whole line: none of the removed characters is CSV syntax.
                yield text if text.rstrip("\r\n").isprintable() else strip_invisible(text)
                continue
            try:
                text = data.decode("utf-8")
                this = "utf-8"
            except UnicodeDecodeError:
                try:
                    text = data.decode("gb18030")
                except UnicodeDecodeError:
                    raise ListFileError(
                        f"第{number}行无法识别编码;"
                        "请把名单保存为 UTF-8 或 GBK(GB18030)编码的CSV文件。"
                    ) from None
                this = "gb18030"
            if encoding is None:
                encoding = this
            elif encoding != this:
                raise ListFileError(
                    f"文件混用了两种编码(第{number}行是 {this.upper()},前面是 {encoding.upper()});"
                    "请在Excel中打开后另存为一种编码(UTF-8 或 GBK)的CSV文件。"
                )
            yield strip_invisible(text)


def _csv_rows(path: Path) -> Iterator[Row]:
    lines = _decoded_lines(path)
    reader = csv.reader(lines)
    try:
        header = next(reader, None)
        if header is None or not any(c.strip() for c in header):
            raise ListFileError("文件是空的,没有表头和名单行。")
        columns = _header(header)
        for record in reader:
            cells = [c.strip() for c in record]
            if not any(cells):
                continue
            yield reader.line_num, _fields(reader.line_num, cells, columns)
    except csv.Error as exc:
        raise ListFileError(f"第{reader.line_num}行CSV格式错误:{exc}") from None


def _xlsx_rows(path: Path) -> Iterator[Row]:
    from openpyxl import load_workbook

    try:
        with zipfile.ZipFile(path) as archive:
            is_book = "xl/workbook.xml" in archive.namelist()
    except zipfile.BadZipFile:
        is_book = False
    if not is_book:
        raise ListFileError(
            "文件不是有效的Excel工作簿(.xlsx),可能是改了扩展名的压缩包;请上传Excel保存的.xlsx或CSV文件。"
        )
    try:
        book = load_workbook(path, read_only=True, data_only=False)
    except Exception:  # noqa: BLE001 - every unreadable workbook is the same answer to staff
        message = "无法读取该Excel文件;请在Excel中重新保存为.xlsx或CSV后再导入。"
        raise ListFileError(message) from None
    try:
        sheet = book.worksheets[0]
        unreadable = "无法读取该Excel文件;请在Excel中重新保存为.xlsx或CSV后再导入。"
        values = safe_rows(sheet.iter_rows(values_only=True), lambda: ListFileError(unreadable))
        first = next(values, None)
        if first is None or not any(_cell(v) for v in first):
            raise ListFileError("文件是空的,没有表头和名单行。")
        columns = _header([_cell(v) for v in first])
        for line, record in enumerate(values, start=2):
            cells = [_cell(v) for v in record]
            if not any(cells):
                continue
            yield line, _fields(line, cells, columns)
    finally:
        book.close()


def read_rows(path: str | Path, *, max_bytes: int | None = None) -> Iterator[Row]:
    """(line number, fields) of every non-empty row; ListFileError refuses the file.

    Fields are the keys of COLUMNS' values present in the header, stripped text. XLSX is
    told by its content (a ZIP), not by the name, so a renamed file is judged as it is.
    """
    path = Path(path)
    size = path.stat().st_size
    if max_bytes is not None and size > max_bytes:
        raise ListFileError(
            f"文件有 {size / 1_048_576:.0f} MB,超过网页导入上限 {max_bytes // 1_048_576} MB;"
            "请拆分文件,或由系统管理员在服务器上用命令 quiz draw import-entrants 导入。"
        )
    with path.open("rb") as probe:
        magic = probe.read(4)
    if magic == _XLSX_MAGIC:
        rows = _xlsx_rows(path)
    elif path.suffix.lower() in (".xlsx", ".xlsm", ".xls"):
        raise ListFileError("文件扩展名是Excel,但内容不是.xlsx工作簿;请用Excel另存为.xlsx或CSV。")
    else:
        rows = _csv_rows(path)
    any_row = False
    for row in rows:
        any_row = True
        yield row
    if not any_row:
        raise ListFileError("文件只有表头,没有名单行。")


_DATE = re.compile(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?")
_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})")


def parse_day(text: str) -> date | None:
    """2027-02-01, 2027/2/1, 2027年2月1日, 20270201 (or a spreadsheet date); None if not."""
    match = _DATE.fullmatch(text) or _COMPACT.fullmatch(text)
    if match is None:
        # XLSX datetimes arrive as their ISO date (see _cell); anything else is refused.
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None
