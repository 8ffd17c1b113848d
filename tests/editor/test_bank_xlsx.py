"""The question bank as XLSX: round trip, all-or-nothing import with rows and columns."""

from __future__ import annotations

import io

import openpyxl
import pytest

from quiz.campaign.document import document_of
from quiz.editor import service
from quiz.editor.bank_xlsx import (
    COLUMNS,
    BankImportError,
    bank_to_xlsx,
    read_bank_xlsx,
    template_xlsx,
)
from tests.factories import install_test_campaign


def sheet(rows, header=COLUMNS):
    book = openpyxl.Workbook()
    ws = book.active
    ws.append(list(header))
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def knowledge_row(key, correct="B", options=("甲", "乙", "丙"), text="题目"):
    opts = list(options) + [""] * (10 - len(options))
    return [key, "知识题", "分类", text, *opts, correct, "否", "解析"]


def test_export_then_import_gives_the_same_bank(session):
    campaign = install_test_campaign(session)
    doc = document_of(session, campaign)
    rows = read_bank_xlsx(bank_to_xlsx(doc["questions"]))
    assert [r.table for r in rows] == doc["questions"]
    assert [r.row for r in rows][:2] == [2, 3]


def test_the_template_imports_cleanly():
    rows = read_bank_xlsx(template_xlsx())
    assert [r.table["kind"] for r in rows] == ["knowledge", "intent"]


def test_twenty_rows_are_merged_into_the_bank_and_saved(session):
    campaign = install_test_campaign(session)
    doc = document_of(session, campaign)
    data = sheet([knowledge_row(f"x{n:02d}", correct="ABC"[n % 3]) for n in range(20)])
    merged = service.merge_bank(doc, read_bank_xlsx(data))
    service.save(session, campaign, merged, None)
    keys = [q.key for q in campaign.questions if q.active]
    assert keys[-20:] == [f"x{n:02d}" for n in range(20)] and len(keys) == 48


@pytest.mark.parametrize(
    ("rows", "where", "words"),
    [
        ([knowledge_row("ok1"), knowledge_row("bad", correct="A,B")], (3, "正确答案"), "单选题"),
        ([knowledge_row("ok1"), knowledge_row("bad", options=("甲",))], (3, "选项"), "需要 2 至"),
        ([knowledge_row("ok1", text="=1+1")], (2, "题目"), "不接受公式"),
        ([knowledge_row("ok1", text="长" * 10_000)], (2, "题目"), "最多 1000 个字"),
        ([knowledge_row("bad key")], (2, "题目编号"), "题目编号只能"),
    ],
)
def test_a_wrong_row_is_named_and_nothing_is_imported(session, rows, where, words):
    campaign = install_test_campaign(session)
    doc = document_of(session, campaign)
    with pytest.raises(BankImportError) as refused:
        service.merge_bank(doc, read_bank_xlsx(sheet(rows)))
    problems = refused.value.problems
    assert any((row, column) == where and words in m for row, column, m in problems), problems
    assert document_of(session, campaign) == doc


def test_a_formula_cell_is_refused():
    book = openpyxl.Workbook()
    ws = book.active
    ws.append(list(COLUMNS))
    ws.append(knowledge_row("f1"))
    ws["E2"] = "=SUM(1,2)"
    out = io.BytesIO()
    book.save(out)
    with pytest.raises(BankImportError) as refused:
        read_bank_xlsx(out.getvalue())
    assert refused.value.problems == [(2, "选项A", "不接受公式,请填写文字。")]


@pytest.mark.parametrize(
    "data", [b"key,kind\nk1,knowledge\n", b"%PDF-1.4 ...", b"PK\x03\x04 not really a zip"]
)
def test_a_file_that_is_not_xlsx_is_refused(data):
    with pytest.raises(BankImportError) as refused:
        read_bank_xlsx(data)
    assert ".xlsx" in refused.value.problems[0][2]


def test_a_sheet_without_the_template_header_is_refused():
    with pytest.raises(BankImportError) as refused:
        read_bank_xlsx(sheet([["a", "b"]], header=["key", "text"]))
    assert refused.value.problems[0][:2] == (1, "表头")
