"""The question bank as an XLSX sheet: export, the blank template, and import.

Columns (header row 1, one question a row from row 2; the template's 说明 sheet says the
same):

    题目编号   key: 1-32 letters, digits, '_' or '-'; a row whose key is already in the
              bank replaces that question, a new key adds one at the end
    题型      知识题 or 意向题
    分类      optional label (at most 32 characters)
    题目      the question text
    选项A … 选项J   the options in order (knowledge questions 2-6, intent 2-10);
              empty cells after the last option
    正确答案   knowledge questions: the option letter (B), several for multiple choice
              (A,C); empty for intent questions
    多选      是 / 否 (empty: 否)
    解析      optional explanation shown on the result page

An import is all or nothing: every problem is listed with its row and column, and the
bank is only changed when there is none. Formulas, cells over 1,000 characters and
files that are not XLSX are refused.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import xlsxwriter

from quiz.campaign.spec import OPTION_KEYS
from quiz.text_safety import strip_invisible
from quiz.uploads.workbook import safe_rows

OPTION_COLUMNS = tuple(f"选项{k}" for k in OPTION_KEYS)
COLUMNS = ("题目编号", "题型", "分类", "题目", *OPTION_COLUMNS, "正确答案", "多选", "解析")
KIND_LABELS = {"knowledge": "知识题", "intent": "意向题"}
KIND_OF_LABEL = {v: k for k, v in KIND_LABELS.items()}
MAX_CELL = 1000
MAX_UPLOAD_BYTES = 2 * 1024 * 1024
MAX_ROWS = 2000
# A cell starting with one of these may be read as a formula by a spreadsheet: exports
# put an apostrophe in front (the same set as the lead exports), imports take it off.
FORMULA_FIRST = frozenset("=+-@\t\r＝＋－＠﹦﹢﹣﹫")

_COLUMN_DOCS = (
    ("题目编号", "必填。1-32 个英文字母、数字、“_”或“-”;与题库中已有题目相同则替换该题,否则新增。"),
    ("题型", "必填。“知识题”或“意向题”。"),
    ("分类", "选填。题目分类,最多 32 个字,不向参与者显示。"),
    ("题目", "必填。题目文字,最多 500 个字。"),
    ("选项A … 选项J", "按顺序填写选项,最后一个选项之后留空。知识题 2-6 个,意向题 2-10 个。"),
    ("正确答案", "知识题必填:正确选项的字母,如 B;多选题用逗号分隔,如 A,C。意向题留空。"),
    ("多选", "选填。“是”或“否”,留空为“否”。"),
    ("解析", "选填。答题结果页显示的解析,最多 1000 个字。"),
)


class BankImportError(ValueError):
    """The sheet cannot be imported; `problems` lists (row or None, column, message)."""

    def __init__(self, problems: Sequence[tuple[int | None, str, str]]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(describe(p) for p in self.problems))


def describe(problem: tuple[int | None, str, str]) -> str:
    """One problem as the editor lists it: 第 3 行 正确答案:…"""
    row, column, message = problem
    where = f"第 {row} 行 " if row is not None else ""
    return f"{where}{column + ':' if column else ''}{message}"


def _neutralised(value: str) -> str:
    return "'" + value if value and value[0] in FORMULA_FIRST else value


def _row(table: Mapping[str, Any]) -> list[str]:
    options = list(table.get("options") or [])
    correct = table.get("correct")
    if isinstance(correct, list):
        correct = ",".join(correct)
    return [
        str(table.get("key", "")),
        KIND_LABELS.get(str(table.get("kind")), str(table.get("kind", ""))),
        str(table.get("category") or ""),
        str(table.get("text", "")),
        *(str(o) for o in options[: len(OPTION_COLUMNS)]),
        *([""] * (len(OPTION_COLUMNS) - len(options))),
        str(correct or ""),
        "是" if table.get("multiple") else "否",
        str(table.get("explanation") or ""),
    ]


def _workbook(rows: Iterable[Sequence[str]], *, with_docs: bool) -> bytes:
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    sheet = book.add_worksheet("题库")
    bold = book.add_format({"bold": True})
    for col, name in enumerate(COLUMNS):
        sheet.write_string(0, col, name, bold)
    for r, values in enumerate(rows, start=1):
        for col, value in enumerate(values):
            # Always a string cell (never a formula), and neutralised for other programs.
            sheet.write_string(r, col, _neutralised(value))
    sheet.set_column(0, 0, 22)
    sheet.set_column(3, 3, 50)
    if with_docs:
        docs = book.add_worksheet("说明")
        docs.write_string(0, 0, "列名", bold)
        docs.write_string(0, 1, "填写说明", bold)
        for r, (name, text) in enumerate(_COLUMN_DOCS, start=1):
            docs.write_string(r, 0, name)
            docs.write_string(r, 1, text)
        docs.set_column(1, 1, 90)
    book.close()
    return out.getvalue()


def bank_to_xlsx(questions: Iterable[Mapping[str, Any]]) -> bytes:
    """The bank (campaign-file question tables) as an XLSX file."""
    return _workbook((_row(q) for q in questions), with_docs=True)


def template_xlsx() -> bytes:
    """A blank import template: the header, one example of each kind, and the 说明 sheet."""
    examples = [
        {
            "key": "k-example",
            "kind": "knowledge",
            "category": "犹豫期",
            "text": "一年期以上人身保险合同的犹豫期通常不少于多少天?",
            "options": ["7天", "10天", "15天", "60天"],
            "correct": "C",
            "explanation": "一年期以上人身保险的犹豫期不少于15日。",
        },
        {
            "key": "i-example",
            "kind": "intent",
            "text": "如需业务人员与您联系,您方便的联系时间是?",
            "options": ["工作日白天", "工作日晚上", "周末及节假日", "暂不需要联系"],
        },
    ]
    return _workbook((_row(q) for q in examples), with_docs=True)


@dataclass(frozen=True)
class ImportedRow:
    """One question read from the sheet, with the row it came from."""

    row: int
    table: dict[str, Any]


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = strip_invisible(str(value)).strip()
    if text.startswith("'") and text[1:2] in FORMULA_FIRST:
        text = text[1:]  # our own export's neutralising apostrophe
    return text


def read_bank_xlsx(data: bytes) -> list[ImportedRow]:
    """Read question rows from an uploaded XLSX file; BankImportError lists every
    problem of the sheet itself (the questions are validated by the campaign check)."""
    from openpyxl import load_workbook

    if len(data) > MAX_UPLOAD_BYTES:
        raise BankImportError([(None, "文件", "文件超过 2 MB,请拆分后分批导入。")])
    if not data.startswith(b"PK\x03\x04") or not zipfile.is_zipfile(io.BytesIO(data)):
        raise BankImportError([(None, "文件", "请上传 Excel 的 .xlsx 文件(不接受其他格式)。")])
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception:  # noqa: BLE001 - any unreadable workbook is the same answer to staff
        raise BankImportError(
            [(None, "文件", "无法读取该文件,请上传 Excel 的 .xlsx 文件。")]
        ) from None
    try:
        sheet = book.worksheets[0]
        unreadable = [(None, "文件", "无法读取该文件,请上传 Excel 的 .xlsx 文件。")]
        rows = safe_rows(sheet.iter_rows(max_row=MAX_ROWS + 2), lambda: BankImportError(unreadable))
        header_cells = next(rows, None)
        header = [_cell_text(c.value) for c in header_cells or ()]
        while header and not header[-1]:
            header.pop()
        problems: list[tuple[int | None, str, str]] = []
        unknown = [h for h in header if h not in COLUMNS]
        missing = [c for c in ("题目编号", "题型", "题目", "选项A", "选项B") if c not in header]
        if unknown or missing:
            what = []
            if missing:
                what.append("缺少列:" + "、".join(missing))
            if unknown:
                what.append("不认识的列:" + "、".join(unknown))
            raise BankImportError([(1, "表头", ";".join(what) + "。请使用下载的模板。")])
        imported: list[ImportedRow] = []
        for number, cells in enumerate(rows, start=2):
            if number > MAX_ROWS + 1:
                problems.append((number, "", f"最多导入 {MAX_ROWS} 道题。"))
                break
            values: dict[str, str] = {}
            refused_cells = len(problems)
            for column, cell in zip(header, cells, strict=False):
                raw = cell.value
                if getattr(cell, "data_type", None) == "f" or (
                    isinstance(raw, str) and raw.startswith("=")
                ):
                    problems.append((number, column, "不接受公式,请填写文字。"))
                    continue
                text = _cell_text(raw)
                if len(text) > MAX_CELL:
                    problems.append(
                        (number, column, f"共 {len(text)} 个字,每个单元格最多 {MAX_CELL} 个字。")
                    )
                    continue
                values[column] = text
            if len(problems) > refused_cells:
                continue  # a refused cell: what the row would be is not known
            if not any(values.values()):
                continue  # an empty row
            table, row_problems = _question_table(values)
            problems.extend((number, column, message) for column, message in row_problems)
            imported.append(ImportedRow(number, table))
    finally:
        book.close()
    if problems:
        raise BankImportError(problems)
    if not imported:
        raise BankImportError([(None, "文件", "表格中没有题目。")])
    return imported


def _question_table(values: Mapping[str, str]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """A row as a [[questions]] table; problems only for what the campaign check cannot
    name by column (kind and multiple-choice words, gaps between options)."""
    problems: list[tuple[str, str]] = []
    table: dict[str, Any] = {"key": values.get("题目编号", "")}
    kind_label = values.get("题型", "")
    kind = KIND_OF_LABEL.get(kind_label)
    if kind is None:
        problems.append(("题型", "请填写“知识题”或“意向题”。"))
        kind = "knowledge"
    table["kind"] = kind
    if values.get("分类"):
        table["category"] = values["分类"]
    table["text"] = values.get("题目", "")
    options = [values.get(column, "") for column in OPTION_COLUMNS]
    while options and not options[-1]:
        options.pop()
    if "" in options:
        gap = OPTION_COLUMNS[options.index("")]
        problems.append((gap, "选项之间不能有空列。"))
    table["options"] = [o for o in options if o]
    multiple = values.get("多选", "")
    if multiple not in ("", "是", "否"):
        problems.append(("多选", "请填写“是”或“否”。"))
    if multiple == "是":
        table["multiple"] = True
    correct = values.get("正确答案", "").upper().replace(",", ",").replace(" ", "")
    if correct:
        letters = [c for c in correct.split(",") if c]
        table["correct"] = letters[0] if len(letters) == 1 else letters
    if values.get("解析"):
        table["explanation"] = values["解析"]
    return table, problems


# A campaign-check path of a question table -> the sheet column it came from.
FIELD_COLUMNS = {
    "key": "题目编号",
    "kind": "题型",
    "category": "分类",
    "text": "题目",
    "options": "选项",
    "correct": "正确答案",
    "multiple": "多选",
    "explanation": "解析",
}
