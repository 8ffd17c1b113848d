"""Imported entrant lists (kind list_draw): the report, the import, re-import, bad files."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from quiz.campaign.spec import install_campaign, load_campaign_file
from quiz.cli.privacy import purge_command
from quiz.db import Database
from quiz.draw import demo, lists, service
from quiz.draw.eligibility import DrawRefused
from quiz.draw.list_file import ListFileError
from quiz.models import AuditLog, Campaign, DrawEntrant, ListEntrant, ListImport, Winner

EXAMPLE = Path(__file__).parents[2] / "quiz" / "data" / "campaign" / "reinstatement-draw.toml"
HEADER = "客户号,姓名,手机号码,机构代码,资格日期,邮寄地址"


def install_list_campaign(session: Session, **content: Any) -> Campaign:
    """The shipped example, its window moved to the past, the deadline ahead, the draw
    time passed (the lottery result is out)."""
    campaign = install_campaign(session, load_campaign_file(EXAMPLE))
    now = datetime.now(UTC)
    campaign.opens_at = now - timedelta(days=60)
    campaign.closes_at = now - timedelta(days=1)
    campaign.draw_at = now - timedelta(minutes=1)
    campaign.content = {
        **campaign.content,
        "freeze_deadline": (now + timedelta(days=1)).isoformat(),
        **content,
    }
    session.commit()
    return campaign


@pytest.fixture
def campaign(session: Session) -> Campaign:
    return install_list_campaign(session)


@pytest.fixture
def database(app: Flask) -> Database:
    return app.extensions["quiz.db"]  # type: ignore[no-any-return]


def today() -> str:
    return (datetime.now(UTC) - timedelta(days=10)).date().isoformat()


def write(tmp_path: Path, text: str, name: str = "list.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def good_file(tmp_path: Path, **kw: Any) -> Path:
    day = today()
    rows = [
        HEADER,
        f"C001,张三,13912345678,B11,{day},北京市东城区示例路1号",
        f"C002,李小四,18612345678,B31,{day},",
        "C003,王五,12345,B11,,",  # bad mobile
        "C004,赵六,13912340004,ZZ99,,",  # unknown branch
        "C005,孙七,13912340005,B11,2001-01-01,",  # outside the window
        "C006,,13912340006,B11,,",  # empty name
        f"C001,张三,13912345678,B11,{day},",  # duplicate of line 2
    ]
    return write(tmp_path, "\n".join(rows) + "\n", **kw)


def test_report_before_saving_then_import(
    campaign: Campaign, session: Session, database: Database, protector: Any, tmp_path: Path
) -> None:
    path = good_file(tmp_path)
    report = lists.check_list(session, campaign, path)
    assert (report.rows_read, report.accepted, report.refused_count, report.duplicates) == (
        7,
        2,
        4,
        1,
    )
    text = "\n".join(report.lines())
    assert "第4行:手机号码有误" in text
    assert "第5行:机构代码“ZZ99”不存在" in text
    assert "第6行:资格日期 2001-01-01 不在活动资格期" in text
    assert "第7行:姓名为空" in text
    assert "第8行:客户号与第2行重复,已合并" in text
    # The check saved nothing.
    assert session.scalar(select(func.count()).select_from(ListEntrant)) == 0
    session.commit()  # release SQLite's write lock: the import writes in its own sessions

    outcome = lists.import_list(database, protector, campaign.id, path, operator="tester")
    session.expire_all()
    people = session.scalars(select(ListEntrant).order_by(ListEntrant.line_no)).all()
    assert [p.name_masked for p in people] == ["张*", "李*四"]
    assert [p.mobile_masked for p in people] == ["139****5678", "186****5678"]
    # Mobile and address are stored encrypted only, as participants' are.
    assert lists.personal_data(protector, people[0]) == {
        "customer": "C001",
        "mobile": "13912345678",
        "address": "北京市东城区示例路1号",
    }
    assert people[0].eligible_on == date.fromisoformat(today())
    job = session.get(ListImport, outcome.import_id)
    assert job is not None and job.status == "active" and job.rows_accepted == 2
    assert job.file_sha256 == report.file_sha256 and job.imported_by == "tester"


def test_reimport_replaces_before_the_freeze_and_is_refused_after(
    campaign: Campaign, session: Session, database: Database, protector: Any, tmp_path: Path
) -> None:
    session.commit()
    first = lists.import_list(database, protector, campaign.id, good_file(tmp_path))
    second_file = write(tmp_path, f"{HEADER}\nC100,周九,13912340100,B11,{today()},\n", "b.csv")
    second = lists.import_list(database, protector, campaign.id, second_file)
    assert second.replaced == first.import_id
    session.expire_all()
    assert session.scalars(select(ListEntrant.name)).all() == ["周九"]
    assert session.get(ListImport, first.import_id).status == "replaced"  # type: ignore[union-attr]
    audit = session.scalars(
        select(AuditLog).where(AuditLog.action == "draw.list_import").order_by(AuditLog.id)
    ).all()
    assert [a.detail["replaced_import"] for a in audit] == [None, first.import_id]

    draw = service.freeze(session, session.get(Campaign, campaign.id), operator="t")  # type: ignore[arg-type]
    session.commit()
    assert draw.entrant_count == 1 and draw.list_import_id == second.import_id
    session.commit()
    with pytest.raises(DrawRefused, match="已冻结"):
        lists.import_list(database, protector, campaign.id, good_file(tmp_path))
    session.expire_all()
    assert session.scalars(select(ListEntrant.name)).all() == ["周九"]
    assert session.scalar(select(func.count()).select_from(ListImport)) == 2


def test_accepted_encodings_and_xlsx(campaign: Campaign, session: Session, tmp_path: Path) -> None:
    from openpyxl import Workbook

    text = f"{HEADER}\nC001,张三,13912345678,B11,{today()},北京\n"
    for name, data in (
        ("bom.csv", b"\xef\xbb\xbf" + text.encode("utf-8")),
        ("gbk.csv", text.encode("gb18030")),
    ):
        (tmp_path / name).write_bytes(data)
        assert lists.check_list(session, campaign, tmp_path / name).accepted == 1, name
    book = Workbook()
    sheet = book.active
    sheet.append(["保单号", "姓名", "手机号码", "机构代码", "资格日期"])
    sheet.append(["P0001", "张三", 13912345678, "B11", datetime.now() - timedelta(days=10)])
    book.save(tmp_path / "list.xlsx")
    report = lists.check_list(session, campaign, tmp_path / "list.xlsx")
    assert (report.accepted, report.refused_count) == (1, 0), report.lines()


def _zip_renamed(tmp_path: Path) -> Path:
    path = tmp_path / "list.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("list.csv", HEADER)
    return path


def _mixed(tmp_path: Path) -> Path:
    path = tmp_path / "mixed.csv"
    path.write_bytes(
        f"{HEADER}\n".encode()
        + "C1,张三,13912345678,B11,,\n".encode()
        + "C2,李四,13912345679,B11,,\n".encode("gb18030")
    )
    return path


def _big(tmp_path: Path) -> Path:
    path = tmp_path / "big.csv"
    with path.open("wb") as sink:
        sink.write((HEADER + "\n").encode())
        sink.truncate(50 * 1_048_576)  # 50 MB (sparse: no time spent writing it)
    return path


BAD_FILES = {
    "wrong columns": (
        lambda p: write(p, "编号,名字,电话\n1,张三,13912345678\n"),
        "缺少列:客户号(或保单号)、姓名、手机号码、机构代码",
    ),
    "formula": (
        lambda p: write(p, f'{HEADER}\nC1,=HYPERLINK("x"),13912345678,B11,,\n'),
        "第2行的单元格“=HYPERLINK",
    ),
    "10,000-character cell": (
        lambda p: write(p, f"{HEADER}\nC1,张三,13912345678,B11,,{'路' * 10_000}\n"),
        "第2行有一个单元格超过300个字符",
    ),
    "50 MB file": (_big, "超过网页导入上限 20 MB"),
    "zip renamed .xlsx": (_zip_renamed, "不是有效的Excel工作簿"),
    "mixed encodings": (
        _mixed,
        "文件混用了两种编码(第3行是 GB18030,前面是 UTF-8)",
    ),
    "header only": (lambda p: write(p, HEADER + "\n"), "文件只有表头,没有名单行"),
    "empty": (lambda p: write(p, ""), "文件是空的"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_files_get_a_chinese_report_and_change_nothing(
    case: str,
    campaign: Campaign,
    session: Session,
    database: Database,
    protector: Any,
    tmp_path: Path,
) -> None:
    session.commit()
    earlier = lists.import_list(database, protector, campaign.id, good_file(tmp_path))
    make, message = BAD_FILES[case]
    path = make(tmp_path)
    with pytest.raises(ListFileError) as refused:
        lists.check_list(session, campaign, path, max_bytes=lists.WEB_MAX_BYTES)
    assert message in str(refused.value)
    session.commit()
    with pytest.raises(ListFileError):
        lists.import_list(database, protector, campaign.id, path, max_bytes=lists.WEB_MAX_BYTES)
    session.expire_all()
    # The earlier list is still the draw's, whole; no other import was recorded.
    assert lists.active_import(session, campaign.id, 1).id == earlier.import_id  # type: ignore[union-attr]
    assert session.scalar(select(func.count()).select_from(ListImport)) == 1
    assert session.scalar(select(func.count()).select_from(ListEntrant)) == 2


def test_generated_list_reads_back(campaign: Campaign, session: Session, tmp_path: Path) -> None:
    first, last = date.today() - timedelta(days=30), date.today() - timedelta(days=2)
    path = demo.write_list(tmp_path / "g.csv", 500, ["B11", "B31", "B44"], first, last)
    rows = list(csv.reader(io.StringIO(path.read_text("utf-8"))))
    assert len(rows) == 501 and len({r[0] for r in rows[1:]}) == 500
    report = lists.check_list(session, campaign, path)
    assert (report.accepted, report.refused_count, report.duplicates) == (500, 0, 0)


def test_a_second_draw_has_its_own_list_and_leaves_out_earlier_winners(
    session: Session, database: Database, protector: Any, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    second = {
        "number": 2,
        "name": "第二次抽奖",
        "prizes": [{"tier": "纪念奖", "count": 3, "prize": "纪念品", "value_yuan": 10}],
        "randomness_source": "第二期开奖号码",
        "randomness_format": "[0-9]{4}",
        "randomness_example": "0000",
        "freeze_deadline": (now + timedelta(days=1)).isoformat(),
        "draw_at": (now - timedelta(minutes=1)).isoformat(),
        "closes_at": None,
        "exclude_earlier_winners": True,
    }
    campaign = install_list_campaign(
        session,
        prizes=[{"tier": "一等奖", "count": 2, "prize": "奖品", "value_yuan": 100}],
        draws=[second],
    )
    first, last = date.today() - timedelta(days=30), date.today() - timedelta(days=2)
    listed = demo.write_list(tmp_path / "g.csv", 10, ["B11"], first, last)
    session.commit()
    lists.import_list(database, protector, campaign.id, listed)
    session.expire_all()
    one = service.freeze(session, campaign, operator="t")
    service.run_draw(session, one, "03 07 12 19 25 32 + 09", operator="t")
    session.commit()
    won = set(
        session.scalars(
            select(ListEntrant.customer_hash).join(Winner, Winner.list_entrant_id == ListEntrant.id)
        )
    )
    assert len(won) == 2
    # Draw 2's list is imported for draw 2; draw 1's frozen list is untouched.
    session.commit()
    lists.import_list(database, protector, campaign.id, listed, draw_number=2)
    session.expire_all()
    two = service.freeze(session, campaign, operator="t", number=2)
    session.commit()
    assert (two.number, two.entrant_count) == (2, 8)  # the two earlier winners left out
    assert two.randomness_example == "0000" and two.tiers[0]["tier"] == "纪念奖"
    entrants = session.scalars(
        select(ListEntrant.customer_hash)
        .join(DrawEntrant, DrawEntrant.list_entrant_id == ListEntrant.id)
        .where(DrawEntrant.draw_id == two.id)
    ).all()
    assert not won & set(entrants)
    with pytest.raises(DrawRefused, match="书写格式"):
        service.run_draw(session, two, "03 07 12 19 25 32 + 09", operator="t")
    assert service.run_draw(session, two, "1234", operator="t") == 3


def _numbered_rows(count: int, bad_at: int | None = None) -> str:
    day = today()
    rows = [HEADER]
    for n in range(1, count + 1):
        name = "=SUM(A1)" if n == bad_at else f"客户{n}"
        rows.append(f"K{n:06d},{name},139{n:08d},B11,{day},示例路{n}号")
    return "\n".join(rows) + "\n"


def test_a_bad_line_after_written_chunks_leaves_nothing(
    campaign: Campaign,
    session: Session,
    database: Database,
    protector: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without a confirm step the file is judged while it is written: a formula on line
    56 comes after five chunks of 10 were written, and all of them go again."""
    session.commit()
    earlier = lists.import_list(database, protector, campaign.id, good_file(tmp_path))
    monkeypatch.setattr(lists, "CHUNK", 10)
    path = write(tmp_path, _numbered_rows(80, bad_at=55), name="late.csv")
    with pytest.raises(ListFileError, match="第56行的单元格"):
        lists.import_list(database, protector, campaign.id, path)
    session.expire_all()
    assert lists.active_import(session, campaign.id, 1).id == earlier.import_id  # type: ignore[union-attr]
    assert session.scalar(select(func.count()).select_from(ListImport)) == 1
    assert session.scalar(select(func.count()).select_from(ListEntrant)) == 2


def test_a_failed_write_is_raised_and_cleaned_up(
    campaign: Campaign,
    session: Session,
    database: Database,
    protector: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    session.commit()
    monkeypatch.setattr(lists, "CHUNK", 10)
    real_insert = lists._insert
    calls: list[int] = []

    def failing(s: Session, rows: Any) -> None:
        calls.append(len(rows))
        if len(calls) == 3:
            raise RuntimeError("disk full")
        real_insert(s, rows)

    monkeypatch.setattr(lists, "_insert", failing)
    path = write(tmp_path, _numbered_rows(100), name="many.csv")
    with pytest.raises(RuntimeError, match="disk full"):
        lists.import_list(database, protector, campaign.id, path)
    session.expire_all()
    assert lists.active_import(session, campaign.id, 1) is None
    assert session.scalar(select(func.count()).select_from(ListImport)) == 0
    assert session.scalar(select(func.count()).select_from(ListEntrant)) == 0
    # The writer stopped at the failure: no chunk after it was written.
    assert len(calls) == 3


def test_duplicates_across_chunks_keep_the_first_row_and_addresses_round_trip(
    campaign: Campaign,
    session: Session,
    database: Database,
    protector: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    session.commit()
    monkeypatch.setattr(lists, "CHUNK", 3)
    day = today()
    rows = [
        HEADER,
        f'K1,甲,13900000001,B11,{day},"引号""与\\反斜杠路1号"',
        f"K2,乙,13900000002,B11,{day},乙路",
        f"K3,丙,13900000003,B11,{day},丙路",
        f"K4,丁,13900000004,B11,{day},丁路",
        f"K1,甲二,13900000009,B11,{day},后来的地址",
        f"K2,乙二,13900000008,B11,{day},",
    ]
    path = write(tmp_path, "\n".join(rows) + "\n", name="dups.csv")
    outcome = lists.import_list(database, protector, campaign.id, path)
    assert outcome is not None
    assert (outcome.report.accepted, outcome.report.duplicates) == (4, 2)
    session.expire_all()
    people = session.scalars(select(ListEntrant).order_by(ListEntrant.line_no)).all()
    assert [p.line_no for p in people] == [2, 3, 4, 5]
    assert lists.personal_data(protector, people[0]) == {
        "customer": "K1",
        "mobile": "13900000001",
        "address": '引号"与\\反斜杠路1号',
    }


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_a_helper_process_prepares_big_files_the_same_way(
    method: str,
    campaign: Campaign,
    session: Session,
    database: Database,
    protector: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """From HELPER_BYTES on, hashing and encryption run in a second process: the rows
    come out as the one-process path writes them, in file order, duplicates merged."""
    session.commit()
    monkeypatch.setattr(lists, "HELPER_BYTES", 0)
    monkeypatch.setattr(lists, "_start_method", lambda: method)
    monkeypatch.setattr(lists, "CHUNK", 7)
    text = _numbered_rows(40) + f"K000003,重复,13900000099,B11,{today()},重复路\n"
    outcome = lists.import_list(database, protector, campaign.id, write(tmp_path, text))
    assert outcome is not None and outcome.report.duplicates == 1
    session.expire_all()
    people = session.scalars(select(ListEntrant).order_by(ListEntrant.id)).all()
    assert [p.line_no for p in people] == list(range(2, 42))
    assert lists.personal_data(protector, people[2]) == {
        "customer": "K000003",
        "mobile": "13900000003",
        "address": "示例路3号",
    }
    assert people[2].mobile_hash == protector.lookup_hash("mobile", "13900000003")


def _stale_import(session: Session, campaign: Campaign, age: timedelta) -> ListImport:
    job = ListImport(
        campaign_id=campaign.id,
        status="writing",
        file_name="killed.csv",
        file_sha256="0" * 64,
        file_bytes=1,
        started_at=datetime.now(UTC) - age,
    )
    session.add(job)
    session.flush()
    return job


def _copy_rows(session: Session, source_id: int, owners: Sequence[int]) -> None:
    """The rows of import `source_id` again under each of `owners` (as a killed import
    leaves them)."""
    kept = session.scalars(select(ListEntrant).where(ListEntrant.import_id == source_id)).all()
    copies = [
        {c: getattr(row, c) for c in lists._COLUMNS} | {"import_id": owner}
        for owner in owners
        for row in kept
    ]
    session.execute(insert(ListEntrant), copies)
    session.commit()


def _rows_of(session: Session, import_id: int) -> int | None:
    return session.scalar(
        select(func.count()).select_from(ListEntrant).where(ListEntrant.import_id == import_id)
    )


def test_an_import_left_by_a_killed_process_is_cleared_by_the_next(
    campaign: Campaign,
    session: Session,
    database: Database,
    protector: Any,
    tmp_path: Path,
) -> None:
    """A process killed mid-import leaves a 'writing' import and its rows (personal data
    that no list holds); one killed after the switch leaves rows under the 'replaced' one.
    The next import of the campaign deletes both, but not an import still being written."""
    session.commit()
    first = lists.import_list(database, protector, campaign.id, good_file(tmp_path))
    second = lists.import_list(database, protector, campaign.id, good_file(tmp_path))
    assert first is not None and second is not None
    stale = _stale_import(session, campaign, timedelta(hours=2))
    live = _stale_import(session, campaign, timedelta(minutes=5))
    _copy_rows(session, second.import_id, (stale.id, live.id, first.import_id))
    assert (
        _rows_of(session, stale.id)
        == _rows_of(session, live.id)
        == _rows_of(session, first.import_id)
        == 2
    )
    stale_id, live_id = stale.id, live.id
    session.commit()  # the test's session must not hold SQLite's write lock
    third = lists.import_list(database, protector, campaign.id, good_file(tmp_path))
    assert third is not None
    session.expire_all()
    assert session.get(ListImport, stale_id) is None and _rows_of(session, stale_id) == 0
    assert session.get(ListImport, live_id) is not None and _rows_of(session, live_id) == 2
    assert session.get(ListImport, first.import_id).status == "replaced"  # type: ignore[union-attr]
    assert _rows_of(session, first.import_id) == 0
    assert _rows_of(session, third.import_id) == 2


def test_quiz_purge_clears_an_import_left_by_a_killed_process(
    app: Flask,
    campaign: Campaign,
    session: Session,
    database: Database,
    protector: Any,
    tmp_path: Path,
) -> None:
    session.commit()
    done = lists.import_list(database, protector, campaign.id, good_file(tmp_path))
    assert done is not None
    stale = _stale_import(session, campaign, timedelta(hours=2))
    stale_id = stale.id
    _copy_rows(session, done.import_id, [stale_id])
    dry = app.test_cli_runner().invoke(purge_command, ["--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would delete the rows of 1 list import(s)" in dry.output
    session.expire_all()
    assert _rows_of(session, stale_id) == 2  # the dry run deleted nothing
    session.commit()
    result = app.test_cli_runner().invoke(purge_command, [])
    assert result.exit_code == 0, result.output
    assert "deleted the rows of 1 list import(s)" in result.output
    session.expire_all()
    assert session.get(ListImport, stale_id) is None and _rows_of(session, stale_id) == 0
    assert _rows_of(session, done.import_id) == 2
    # The deletion is in the audit log: which file, how many rows, of which campaign.
    entry = session.scalars(
        select(AuditLog).where(AuditLog.action == "draw.list_import_abandoned")
    ).one()
    assert (entry.target, entry.campaign_id) == (f"list_import:{stale_id}", campaign.id)
    assert entry.detail["rows"] == 2 and entry.detail["status"] == "writing"
