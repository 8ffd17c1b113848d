"""Contest staff pages: roster upload with its report, branch scope, invitation codes,
results with the freeze, exports (BOM, neutralised, XLSX) and certificates."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import select

from quiz.campaign.workspace import choose_campaign
from quiz.contest import paper, roster
from quiz.engine.bank import question_bank
from quiz.models import Branch, Contestant
from tests.contest.conftest import ROSTER, save_demo_roster
from tests.factories import login_as, make_staff


@pytest.fixture
def contest_admin(session, contest):
    user = make_staff(session, "hq", "admin")
    choose_campaign(session, user, contest.id)
    session.commit()
    return user


@pytest.fixture
def branch_user(session, contest):
    b41 = session.scalars(select(Branch).where(Branch.code == "B41")).one()
    user = make_staff(session, "henan", "branch", branch_id=b41.id)
    choose_campaign(session, user, contest.id)
    session.commit()
    return user


def _contestants(session) -> int:
    """Count, then end the read: the test's write session must not hold SQLite's lock."""
    count = len(session.scalars(select(Contestant)).all())
    session.rollback()
    return count


def _upload(client, data: bytes, action: str, name: str = "roster.csv"):
    return client.post(
        "/admin/contest/roster",
        data={"file": (io.BytesIO(data), name), "action": action},
        content_type="multipart/form-data",
    )


def test_upload_checks_then_imports(client, session, contest, contest_admin):
    login_as(client, contest_admin)
    bad = "工号,姓名,机构代码,组别\nA1,张三,B41,业务员组\nA2,=cmd|' /C calc'!A0,B41,内勤组\n"
    refused = _upload(client, bad.encode(), "import")
    text = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "第3行" in text and "公式" in text
    assert _contestants(session) == 0
    checked = _upload(client, ROSTER.read_bytes(), "check")
    assert checked.status_code == 200 and "检查通过(尚未保存)" in checked.get_data(as_text=True)
    assert _contestants(session) == 0
    saved = _upload(client, ROSTER.read_bytes(), "import")
    assert saved.status_code == 200 and "名单已导入" in saved.get_data(as_text=True)
    session.expire_all()
    assert _contestants(session) == 10


def _upload_as_body(client, data: bytes, name: str):
    """An import posted as a body built by hand: the test client spools a file part over
    500 KB to a temporary file it never closes when the view refuses it."""
    body = (
        b'--b\r\nContent-Disposition: form-data; name="action"\r\n\r\nimport\r\n'
        + f'--b\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n\r\n'.encode()
        + data
        + b"\r\n--b--\r\n"
    )
    return client.post(
        "/admin/contest/roster", data=body, content_type="multipart/form-data; boundary=b"
    )


def test_too_many_rows_from_the_web(client, contest, contest_admin, monkeypatch):
    login_as(client, contest_admin)
    monkeypatch.setattr(roster, "WEB_MAX_ROWS", 50)
    big = "工号,姓名,机构代码,组别\n" + "".join(f"N{n},某,B41,内勤组\n" for n in range(51))
    refused = _upload(client, big.encode(), "import")
    assert refused.status_code == 413 and "最多导入50行" in refused.get_data(as_text=True)
    # Past 2 MB the request itself is refused, with the command to use instead.
    huge = _upload_as_body(client, b"x" * (3 * 1024 * 1024), "big.csv")
    assert huge.status_code == 413 and "quiz contest import-roster" in huge.get_data(as_text=True)


def _hundred_thousand_rows() -> list[list[str]]:
    return [["工号", "姓名", "机构代码", "组别"]] + [
        [f"N{n:06d}", "王某", "B41", "内勤组"] for n in range(100_000)
    ]


def test_a_real_roster_of_100000_rows_from_the_web_is_refused_and_the_roster_kept(
    client, session, contest, contest_admin
):
    """The issue's case at its size: a CSV of 100,000 rows is over the request limit, an
    XLSX of them fits (it is compressed) but is over the page's row limit; both are a
    Chinese 413 and the roster already saved is kept."""
    login_as(client, contest_admin)
    assert _upload(client, ROSTER.read_bytes(), "import").status_code == 200
    rows = _hundred_thousand_rows()
    csv_body = "".join(",".join(row) + "\n" for row in rows).encode()
    as_csv = _upload_as_body(client, csv_body, "roster.csv")
    assert as_csv.status_code == 413
    assert "quiz contest import-roster" in as_csv.get_data(as_text=True)
    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    for row in rows:
        sheet.append(row)
    xlsx = io.BytesIO()
    book.save(xlsx)
    assert xlsx.tell() < 2 * 1024 * 1024  # under the request limit: the rows are counted
    as_xlsx = _upload_as_body(client, xlsx.getvalue(), "roster.xlsx")
    text = as_xlsx.get_data(as_text=True)
    assert as_xlsx.status_code == 413 and f"最多导入{roster.WEB_MAX_ROWS:,}行" in text
    assert _contestants(session) == 10


def test_branch_staff_see_their_branch_and_cannot_upload(
    client, session, contest, branch_user, protector
):
    report = roster.check_roster(session, contest, roster.read_roster(ROSTER.read_bytes()))
    roster.save_roster(session, contest, report, protector)
    session.commit()
    login_as(client, branch_user)
    page = client.get("/admin/contest").get_data(as_text=True)
    assert "本机构):4" in page and "B42" not in page
    assert _upload(client, ROSTER.read_bytes(), "import").status_code == 403
    codes = client.post("/admin/contest/invitations", data={"format": "csv", "branch": ""})
    assert codes.status_code == 200
    text = codes.data.decode("utf-8")
    assert text.startswith("\ufeff工号,姓名")
    lines = text.strip().splitlines()[1:]
    assert len(lines) == 4 and all(",B41," in line for line in lines)
    staff_no, code = lines[0].split(",")[0], lines[0].split(",")[5]
    session.expire_all()
    contest = session.merge(contest)
    contest.opens_at = paper.utcnow() - timedelta(minutes=1)
    session.commit()
    who, _ = paper.sign_in_with_invite(session, protector, contest, staff_no, code)
    assert who.staff_no == staff_no


def _play(session, campaign, protector):
    save_demo_roster(session, campaign, protector)
    campaign.opens_at = paper.utcnow() - timedelta(hours=3)
    campaign.closes_at = paper.utcnow() - timedelta(minutes=1)
    bank = question_bank(session, campaign.id)
    t0 = campaign.opens_at + timedelta(minutes=1)
    for n, staff_no in enumerate(("YW0001", "YW0003", "NQ0001")):
        who = session.scalars(select(Contestant).where(Contestant.staff_no == staff_no)).one()
        view = paper.start_paper(session, campaign, bank, who, now=t0)
        for pos, it in enumerate(view.items, start=1):
            right = bank.by_id[it.question_id].correct
            paper.answer(
                session,
                campaign,
                bank,
                who,
                view.id,
                pos,
                right,
                now=t0 + timedelta(seconds=30 * pos + n),
            )
    session.commit()


def test_final_results_exports_and_certificates(
    client, session, contest, contest_admin, branch_user, protector
):
    _play(session, session.merge(contest), protector)
    login_as(client, contest_admin)
    page = client.get("/admin/contest/results").get_data(as_text=True)
    assert "最终成绩" in page and "一等奖" in page and "离开页面次数" in page
    assert page.index("YW0001") < page.index("YW0003")  # same score, 1 s faster
    csv = client.get("/admin/contest/results.csv?group=sales").data.decode("utf-8")
    assert csv.startswith("\ufeff组别,名次,工号")
    assert csv.splitlines()[1].startswith("业务员组,1,YW0001,张明,B41")
    xlsx = client.get("/admin/contest/results.xlsx?table=branches")
    sheet = load_workbook(io.BytesIO(xlsx.data)).active
    assert sheet["A1"].value == "组别" and sheet.max_row == 1 + 6  # 3 branches x 2 groups
    winner = session.scalars(select(Contestant).where(Contestant.staff_no == "YW0001")).one()
    session.rollback()
    cert = client.get(f"/admin/contest/certificate/{winner.id}").get_data(as_text=True)
    assert (
        "荣誉证书" in cert
        and "一等奖" in cert
        and "张明" in cert
        and "http" not in cert.split("<body>")[1]
    )
    # Branch staff of B41 see B41's people only; another branch's certificate is a 404.
    login_as(client, branch_user)
    mine = client.get("/admin/contest/results").get_data(as_text=True)
    assert "YW0001" in mine and "YW0003" not in mine and "离开页面次数" not in mine
    assert "B42" not in mine  # nor another branch's row of the branch table
    branches = client.get("/admin/contest/results.csv?table=branches").data.decode("utf-8")
    assert {line.split(",")[2] for line in branches.splitlines()[1:]} == {"B41"}
    other = session.scalars(select(Contestant).where(Contestant.staff_no == "YW0003")).one()
    session.rollback()
    assert client.get(f"/admin/contest/certificate/{other.id}").status_code == 404


def test_contest_pages_404_on_a_prize_quiz(client, session, app):
    user = make_staff(session, "hq2", "admin")
    session.commit()
    login_as(client, user)
    assert client.get("/admin/contest").status_code == 404
    assert client.get("/admin/contest/results").status_code == 404
