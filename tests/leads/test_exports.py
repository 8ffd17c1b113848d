"""Exports: formula injection, masking, ZIP per branch, background XLSX, audit, access."""

from __future__ import annotations

import csv
import io
import os
import time
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import openpyxl
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from quiz.campaign.lifecycle import current_campaign
from quiz.leads import export_jobs, exports
from quiz.leads.service import LeadFilters
from quiz.models import Agent, AuditLog, Branch, Channel, ExportJob
from tests.factories import login_as, make_participant, make_staff

FORMULA = '=HYPERLINK("http://x","y")'


@pytest.fixture
def two_leads(session, protector):
    """A lead whose name is a formula (set directly: registration would refuse it), and another."""
    campaign = current_campaign(session)
    evil = make_participant(session, protector, campaign, 6, complete=True)
    evil.name = FORMULA
    evil.name_masked = FORMULA
    evil.address = "@SUM(1+1)北京市朝阳区"
    other = make_participant(session, protector, campaign, 1, complete=True)
    session.commit()
    return evil, other


def _csv_rows(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads the file as UTF-8
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


@pytest.mark.parametrize("first", ["=", "+", "-", "@", "\t", "\r"])
def test_neutralise_prefixes_formula_starts(first):
    assert exports.neutralise(first + "1+1") == "'" + first + "1+1"
    assert exports.neutralise("张三") == "张三"
    assert exports.neutralise("") == ""


def test_free_text_cells_are_neutralised_and_none_is_empty():
    # A missing note or landline is an empty cell, never the text "None" or a NULL cell.
    assert exports._neutralised([None, "=SUM(A1)", "备注", ""]) == ["", "'=SUM(A1)", "备注", ""]


# Full-width forms (and the small forms) that spreadsheets read as the ASCII ones.
WIDE_FORMULA_STARTS = ["＝", "＋", "－", "＠", "﹦", "﹢", "﹣", "﹫"]


@pytest.mark.parametrize("first", ["=", "+", "-", "@", "\t", "\r", *WIDE_FORMULA_STARTS])
def test_every_export_neutraliser_prefixes_full_width_formula_starts_too(first):
    """The lead export, the winners' fulfilment file and the leaderboard share one rule."""
    from quiz.draw import service
    from quiz.referrals import leaderboard

    value = first + "HYPERLINK(1)"
    assert exports.neutralise(value) == "'" + value
    assert service.safe_cell(value) == "'" + value
    assert leaderboard.export_lines_cell(value) == "'" + value


def test_full_width_formula_starts_are_neutralised_in_a_downloaded_export(
    client, session, two_leads
):
    """Both cell paths of the CSV export: the masked one (stored masked name) and the
    revealed one (name and address in full)."""
    evil, _ = two_leads
    evil.name = evil.name_masked = "＝HYPERLINK(1)"
    evil.address = "＠SUM(1+1)北京市朝阳区"
    evil.postal_code = "＋1"
    session.commit()
    for reveal in (False, True):
        login_as(client, make_staff(session, f"ho{reveal}", role="admin", can_reveal=reveal))
        session.commit()
        response = client.post("/admin/exports", data={"fmt": "csv", "scope": "branch"})
        rows = _csv_rows(response.data)
        line = next(dict(zip(rows[0], r, strict=True)) for r in rows[1:] if r[0] == str(evil.id))
        assert line["姓名"] == "'＝HYPERLINK(1)"
        assert line["邮政编码"] == "'＋1"
        if reveal:
            assert line["邮寄地址"] == "'＠SUM(1+1)北京市朝阳区"


@pytest.fixture
def full_lead(session, protector):
    """A completed lead with every optional column set: landline, agent, channel, duplicate."""
    campaign = current_campaign(session)
    lead = make_participant(session, protector, campaign, 6, complete=True, landline="010-12345678")
    agent = Agent(branch_id=lead.branch_id, code="A01", name="-李四")  # a formula start
    channel = Channel(code="sms", name="短信")
    session.add_all([agent, channel])
    session.flush()
    lead.agent_id, lead.channel_id, lead.address_branch_id = agent.id, channel.id, lead.branch_id
    lead.duplicate_mobile = True
    lead.referral_flagged = True
    lead.created_at = datetime(2026, 11, 1, 17, 30, 5, tzinfo=UTC)  # 01:30 next day in Beijing
    lead.follow_up_status = "已联系"
    session.commit()
    return lead


def _export(session, lead, reveal, protector=None):
    user = make_staff(session, "ho", role="admin", can_reveal=reveal)
    ctx = exports.context_for(session, reveal, protector)
    rows = list(exports.iter_rows(session, user, LeadFilters(), ctx))
    assert [len(r) for r in rows] == [len(ctx.headers)]
    return dict(zip(ctx.headers, rows[0], strict=True))


def test_every_column_under_its_header_masked(session, full_lead):
    lead = full_lead
    line = _export(session, lead, reveal=False)
    assert line == {
        "线索编号": str(lead.id),
        "姓名": lead.name_masked,
        "身份证号码": lead.id_masked,
        "手机号码": lead.mobile_masked,
        "固定电话": "已登记",
        "邮寄地址": "北京市朝阳区****",
        "邮政编码": "100022",
        "省份": "北京市",
        "城市": "北京市",
        "区县": "朝阳区",
        "所属机构": "北京分公司",
        "地址所属机构": "北京分公司",
        "推荐业务员": "'-李四(A01)",
        "推广渠道": "短信",
        "答题状态": "已完成",
        "得分": f"{lead.score}/{lead.total}",
        "关注险种": lead.intent_level,
        # One column per intent question, each with all its choices.
        **{
            f"意向:{q.text}": "、".join(lead.intent.get(q.key, []))
            for q in lead.campaign.questions
            if q.kind == "intent"
        },
        "跟进状态": "已联系",
        "手机号重复": "是",
        "可疑推荐": "是",
        "登记时间": "2026-11-02 01:30",
    }
    assert lead.intent_level and lead.score > 0


def test_every_column_under_its_header_revealed(session, protector, full_lead):
    lead = full_lead
    line = _export(session, lead, reveal=True, protector=protector)
    assert line["姓名"] == lead.name
    assert line["身份证号码"] == protector.decrypt(lead.id_enc)
    assert line["手机号码"] == protector.decrypt(lead.mobile_enc)
    assert line["固定电话"] == protector.decrypt(lead.landline_enc) != ""
    assert line["邮寄地址"] == lead.address
    assert line["省份"] == "北京市" and line["登记时间"] == "2026-11-02 01:30"


CELLS = st.text(alphabet=st.sampled_from('ab张 ,"\r\n=-'), max_size=6)


@given(st.lists(st.lists(CELLS, max_size=4), max_size=30))
def test_csv_chunks_are_what_csv_writer_writes(rows):
    buffer = io.StringIO()
    csv.writer(buffer).writerows([exports.HEADERS, *rows])
    assert "".join(exports.csv_text_chunks(rows, bom=False)) == buffer.getvalue()


def test_csv_export_writes_formulas_as_text_and_is_audited(client, session, two_leads):
    evil, other = two_leads
    user = make_staff(session, "ho", role="admin", can_reveal=True)
    session.commit()
    login_as(client, user)
    response = client.post("/admin/exports", data={"fmt": "csv", "scope": "branch"})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = _csv_rows(response.data)
    assert rows[0] == exports.context_for(session, False, None).headers
    by_id = {r[0]: dict(zip(rows[0], r, strict=True)) for r in rows[1:]}
    assert by_id[str(evil.id)]["姓名"] == "'" + FORMULA
    assert by_id[str(evil.id)]["邮寄地址"].startswith("'@SUM")
    # can_reveal: full ID number and mobile.
    assert by_id[str(other.id)]["身份证号码"] == client.application.extensions[
        "quiz.protector"
    ].decrypt(other.id_enc)
    entry = session.scalars(select(AuditLog).where(AuditLog.action == "export")).one()
    assert entry.actor == "ho"
    assert entry.detail["rows"] == 2 and entry.detail["format"] == "csv"
    assert entry.detail["full_personal_data"] is True


def test_the_export_form_warns_revealers_that_excel_cuts_id_numbers_in_csv(
    client, session, two_leads
):
    """Excel opens a CSV's 18-digit number as a number with 15 significant digits; only
    someone whose export holds full ID numbers needs to know."""
    warning = "只保留前15位"
    revealer = make_staff(session, "ho", role="admin", can_reveal=True)
    masked = make_staff(session, "analyst", role="analyst")
    session.commit()
    login_as(client, revealer)
    assert warning in client.get("/admin/exports").get_data(as_text=True)
    login_as(client, masked)
    page = client.get("/admin/exports").get_data(as_text=True)
    assert "开始导出" in page and warning not in page


def test_export_masks_without_permission_and_keeps_filters(client, session, two_leads):
    evil, other = two_leads
    user = make_staff(session, "analyst", role="analyst")
    session.commit()
    login_as(client, user)
    response = client.post(
        f"/admin/exports?branch_id={other.branch_id}", data={"fmt": "csv", "scope": "branch"}
    )
    rows = _csv_rows(response.data)
    assert [r[0] for r in rows[1:]] == [str(other.id)]
    line = dict(zip(rows[0], rows[1], strict=True))
    assert line["手机号码"] == other.mobile_masked
    assert line["身份证号码"] == other.id_masked
    assert line["姓名"] == other.name_masked
    entry = session.scalars(select(AuditLog).where(AuditLog.action == "export")).one()
    # The campaign filter defaults to the current campaign, as the dashboard counts.
    assert entry.detail["filters"] == {
        "branch_id": other.branch_id,
        "campaign_id": other.campaign_id,
    }
    assert entry.detail["full_personal_data"] is False


def test_masked_export_neutralises_formulas_too(client, session, two_leads):
    """Masked cells come from the stored masked forms, a separate path from the
    revealed ones: each is neutralised on its own."""
    evil, _ = two_leads
    evil.postal_code = "-1+1"
    session.commit()
    login_as(client, make_staff(session, "analyst", role="analyst"))
    session.commit()
    response = client.post(
        f"/admin/exports?branch_id={evil.branch_id}", data={"fmt": "csv", "scope": "branch"}
    )
    rows = _csv_rows(response.data)
    line = next(dict(zip(rows[0], r, strict=True)) for r in rows[1:] if r[0] == str(evil.id))
    assert line["姓名"] == "'" + FORMULA
    assert line["邮政编码"] == "'-1+1"


def test_xlsx_cells_are_text_exactly_as_given():
    """No formula, number or link detection: an ID number keeps its 18 digits and a
    leading = stays text (the rows arrive neutralised; the writer must not undo it)."""
    values = ["=1+1", "+8613800138000", "-3", "110101199003070011", "http://x.example/"]
    row = values + [""] * (len(exports.HEADERS) - len(values))
    buffer = io.BytesIO()
    assert exports.write_xlsx(buffer, [row]) == 1
    sheet = openpyxl.load_workbook(io.BytesIO(buffer.getvalue())).active
    cells = [sheet.cell(row=2, column=i + 1) for i in range(len(values))]
    assert [c.value for c in cells] == values
    assert {c.data_type for c in cells} == {"s"}


def test_zip_has_one_csv_per_branch(client, session, two_leads):
    evil, other = two_leads
    user = make_staff(session, "ho", role="admin")
    session.commit()
    login_as(client, user)
    response = client.post("/admin/exports", data={"fmt": "csv", "scope": "all"})
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    names = sorted(archive.namelist())
    assert names == ["B11-北京分公司.csv", "B31-上海分公司.csv"]
    beijing = _csv_rows(archive.read("B11-北京分公司.csv"))
    assert [r[0] for r in beijing[1:]] == [str(evil.id)]


def test_xlsx_is_built_in_background_with_text_cells(client, session, two_leads, tmp_path):
    evil, _ = two_leads
    user = make_staff(session, "ho", role="admin", can_reveal=True)
    session.commit()
    login_as(client, user)
    response = client.post("/admin/exports", data={"fmt": "xlsx", "scope": "branch"})
    assert response.status_code == 302
    job_id = int(response.headers["Location"].rstrip("/").split("/")[-1])
    page = client.get(f"/admin/exports/jobs/{job_id}").get_data(as_text=True)
    assert "已完成" in page and "下载文件" in page
    # The folder of files full of personal data is the owner's only (it was 0755).
    exports_folder = Path(client.application.instance_path) / "exports"
    assert exports_folder.stat().st_mode & 0o777 == 0o700
    # The job says what it exported, in words, and its file is named in Chinese.
    day = datetime.now(UTC).astimezone(exports.BEIJING).strftime("%Y%m%d")
    assert "筛选条件" in page and f"全部机构_线索_{day}.xlsx" in page
    download = client.get(f"/admin/exports/jobs/{job_id}/download")
    assert download.status_code == 200
    assert download.headers["Cache-Control"] == "no-store"
    assert quote(f"全部机构_线索_{day}.xlsx") in download.headers["Content-Disposition"]
    data = download.data
    download.close()  # send_file keeps the file open until the response is closed
    book = openpyxl.load_workbook(io.BytesIO(data))
    sheet = book.active
    header = [c.value for c in sheet[1]]
    assert header == exports.context_for(session, False, None).headers
    assert "投保意向" not in header and sum(h.startswith("意向:") for h in header) == 3
    # A filter row over the header and the data; columns as wide as their contents.
    assert sheet.auto_filter.ref == f"A1:{sheet.cell(1, len(header)).column_letter}3"
    letters = {h: sheet.cell(1, i + 1).column_letter for i, h in enumerate(header)}
    widths = {h: sheet.column_dimensions[letter].width for h, letter in letters.items()}
    assert widths["身份证号码"] >= 18 and widths["线索编号"] < widths["身份证号码"]
    name_col = header.index("姓名") + 1
    cells = {sheet.cell(r, 1).value: sheet.cell(r, name_col) for r in range(2, sheet.max_row + 1)}
    cell = cells[str(evil.id)]
    assert cell.data_type == "s"
    assert cell.value.startswith("'") and cell.value == "'" + FORMULA
    job = session.get(ExportJob, job_id)
    assert (job.status, job.rows_done, job.total) == ("done", 2, 2)
    entry = session.scalars(select(AuditLog).where(AuditLog.action == "export")).one()
    assert entry.detail["format"] == "xlsx" and entry.detail["rows"] == 2


def test_other_users_cannot_download_a_job(client, session, two_leads):
    owner = make_staff(session, "ho", role="admin")
    other = make_staff(session, "ho2", role="admin")
    session.commit()
    login_as(client, owner)
    response = client.post("/admin/exports", data={"fmt": "xlsx", "scope": "all"})
    job_id = int(response.headers["Location"].rstrip("/").split("/")[-1])
    download = client.get(f"/admin/exports/jobs/{job_id}/download")
    assert download.status_code == 200
    assert zipfile.ZipFile(io.BytesIO(download.data)).namelist()
    download.close()
    login_as(client, other)
    assert client.get(f"/admin/exports/jobs/{job_id}").status_code == 404
    assert client.get(f"/admin/exports/jobs/{job_id}/download").status_code == 404


def test_branch_staff_export_their_own_branch_only(client, session, two_leads):
    """Branch staff may export, but asking for another branch (or the ZIP of every
    branch) still gives their own branch's leads, under their branch's Chinese name."""
    evil, other = two_leads
    assert evil.branch_id != other.branch_id
    user = make_staff(session, "bj", role="branch", branch_id=evil.branch_id)
    session.commit()
    login_as(client, user)
    response = client.post(
        f"/admin/exports?branch_id={other.branch_id}", data={"fmt": "csv", "scope": "all"}
    )
    assert response.status_code == 200
    ids = {r[0] for r in _csv_rows(response.data)[1:]}
    assert ids == {str(evil.id)}
    branch_name = session.get(Branch, evil.branch_id).name
    disposition = response.headers["Content-Disposition"]
    assert quote(f"{branch_name}_线索_") in disposition and disposition.endswith(".csv")
    session.rollback()
    (entry,) = session.scalars(select(AuditLog).where(AuditLog.action == "export")).all()
    assert entry.detail["scope"] == "branch"


def test_invalid_export_choice_is_a_400(client, session, two_leads):
    user = make_staff(session, "ho", role="admin")
    session.commit()
    login_as(client, user)
    response = client.post("/admin/exports", data={"fmt": "pdf", "scope": "branch"})
    assert response.status_code == 400
    assert "选项无效" in response.get_data(as_text=True)


def test_xlsx_rolls_over_to_a_new_sheet(monkeypatch, tmp_path):
    monkeypatch.setattr(exports, "XLSX_MAX_ROWS", 2)
    target = tmp_path / "t.xlsx"
    rows = [[str(i)] + [""] * (len(exports.HEADERS) - 1) for i in range(5)]
    assert exports.write_xlsx(target, rows) == 5
    book = openpyxl.load_workbook(target)
    assert [ws.max_row for ws in book.worksheets] == [3, 3, 2]


def test_a_killed_export_leaves_no_file_and_no_job_spinning(
    app, session, protector, two_leads, tmp_path
):
    """A worker killed mid-export (restart, max_requests) leaves its temporary file, full
    of personal data, and a job marked running: the next export removes the one once it
    is a day old and fails the other."""
    user = make_staff(session, "ho", role="admin", can_reveal=True)
    session.commit()
    database = app.extensions["quiz.db"]
    folder = tmp_path / "exports"
    stale = export_jobs.create_job(session, user, "xlsx", "all", LeadFilters())
    stale.status, stale.created_at = "running", stale.created_at - timedelta(days=2)
    fresh = export_jobs.create_job(session, user, "xlsx", "all", LeadFilters())
    fresh.status = "running"  # minutes old: perhaps running in another worker, kept
    session.commit()
    folder.mkdir()
    leftover = folder / f"export-{stale.id}-abc.part"
    leftover.write_bytes(b"PK personal data")
    day_old = time.time() - 2 * 86400
    os.utime(leftover, (day_old, day_old))

    newest = export_jobs.create_job(session, user, "xlsx", "all", LeadFilters())
    session.commit()
    export_jobs.run_job(database, protector, newest.id, folder)
    session.expire_all()
    assert not leftover.exists()
    assert session.get(ExportJob, stale.id).status == "failed"
    assert session.get(ExportJob, stale.id).error == export_jobs.ABANDONED_MESSAGE
    assert session.get(ExportJob, fresh.id).status == "running"
    assert session.get(ExportJob, newest.id).status == "done"
    assert [p.name for p in folder.iterdir()] == [
        Path(session.get(ExportJob, newest.id).file_path).name
    ]


def test_export_temporary_files_carry_the_purged_prefix(
    app, session, protector, two_leads, tmp_path, monkeypatch
):
    """The names _build writes to while it works are the ones purge_old_files removes."""
    seen: list[str] = []
    real = exports.write_xlsx

    def spy(path, rows, progress=None, **kw):
        seen.append(Path(path).name)
        return real(path, rows, progress, **kw)

    monkeypatch.setattr(exports, "write_xlsx", spy)
    user = make_staff(session, "ho", role="admin", can_reveal=True)
    job = export_jobs.create_job(session, user, "xlsx", "all", LeadFilters())
    session.commit()
    export_jobs.run_job(app.extensions["quiz.db"], protector, job.id, tmp_path)
    assert seen and all(name.startswith(f"export-{job.id}-") for name in seen)
