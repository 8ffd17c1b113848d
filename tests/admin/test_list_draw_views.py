"""Back office of a list draw: import with report and confirmation, the draws, winners per
branch (masked unless full-data permission), fulfilment, the notary record."""

from __future__ import annotations

import io
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from quiz.draw import service
from quiz.models import AuditLog, Branch, Campaign, Draw, ListEntrant, ListImport, Winner
from tests.draw.test_lists import HEADER, install_list_campaign, today
from tests.factories import login_as, make_staff

RANDOMNESS = "05 11 16 23 28 32 + 07"


def switch(client: FlaskClient, session: Session, campaign: Campaign) -> None:
    campaign_id = campaign.id
    session.commit()  # reading the id began a write transaction on SQLite: let it go
    reply = client.post("/admin/campaign", data={"campaign_id": str(campaign_id)})
    assert reply.status_code == 302


def csv_body(rows: int, extra: str = "") -> bytes:
    lines = [HEADER] + [
        f"C{n:04d},客户{n}号,139{n:08d},{'B11' if n % 2 else 'B31'},{today()},示例路{n}号"
        for n in range(1, rows + 1)
    ]
    return ("\n".join(lines) + "\n" + extra).encode("utf-8")


def upload(client: FlaskClient, body: bytes, name: str = "名单.csv") -> Any:
    return client.post(
        "/admin/draw/list",
        data={"file": (io.BytesIO(body), name)},
        content_type="multipart/form-data",
    )


def test_head_office_imports_after_the_report_and_branches_cannot(
    client: FlaskClient, session: Session
) -> None:
    campaign = install_list_campaign(session)
    admin = make_staff(session, "ho", "admin")
    analyst = make_staff(session, "an", "analyst")
    session.commit()
    login_as(client, admin)
    session.commit()  # login_as reads the user: let SQLite's write lock go
    switch(client, session, campaign)

    report = upload(client, csv_body(30, "C0001,重复,13900000001,B11,,\nC9,,139,ZZ,,\n"))
    page = report.get_data(as_text=True)
    assert report.status_code == 200
    assert "可导入 30 行,拒绝 1 行,按客户号合并重复 1 行" in page
    assert "第33行:" in page and "客户号与第2行重复" in page
    assert session.scalar(select(func.count()).select_from(ListEntrant)) == 0  # not yet
    session.commit()
    token = page.split('name="token" value="')[1].split('"')[0]
    sha = page.split('name="sha256" value="')[1].split('"')[0]

    # A tampered digest is refused: the import is the file that was reported.
    wrong = client.post(
        "/admin/draw/list/confirm", data={"token": token, "sha256": "0" * 64, "file_name": "x"}
    )
    assert wrong.status_code == 409 and "不一致" in wrong.get_data(as_text=True)
    report = upload(client, csv_body(30))
    page = report.get_data(as_text=True)
    token = page.split('name="token" value="')[1].split('"')[0]
    sha = page.split('name="sha256" value="')[1].split('"')[0]
    done = client.post(
        "/admin/draw/list/confirm", data={"token": token, "sha256": sha, "file_name": "名单.csv"}
    )
    assert done.status_code == 302
    session.expire_all()
    job = session.scalars(select(ListImport).where(ListImport.status == "active")).one()
    assert (job.rows_accepted, job.file_name, job.imported_by) == (30, "名单.csv", "ho")
    session.commit()
    listing = client.get("/admin/draw/list").get_data(as_text=True)
    assert "名单.csv" in listing and job.file_sha256[:16] in listing and "当前名单" in listing
    overview = client.get("/admin/draw").get_data(as_text=True)
    assert 'id="eligible">30<' in overview and "导入名单" in overview
    session.commit()

    login_as(client, analyst)
    session.commit()  # login_as reads the user: let SQLite's write lock go
    switch(client, session, campaign)
    assert client.post("/admin/draw/list/confirm", data={"token": token}).status_code == 403


def test_a_bad_file_is_a_422_with_its_reason_and_saves_nothing(
    client: FlaskClient, session: Session
) -> None:
    campaign = install_list_campaign(session)
    admin = make_staff(session, "ho", "admin")
    session.commit()
    login_as(client, admin)
    session.commit()  # login_as reads the user: let SQLite's write lock go
    switch(client, session, campaign)
    formula = upload(client, csv_body(2, '=cmd|" /c calc"!A0,x,13912345678,B11,,\n'))
    assert formula.status_code == 422
    assert "是公式" in formula.get_data(as_text=True)
    renamed = upload(client, b"PK\x03\x04not really a workbook", "list.xlsx")
    assert renamed.status_code == 422 and "不是有效的Excel" in renamed.get_data(as_text=True)
    wrong = upload(client, b"a,b\n1,2\n", "list.pdf")
    assert wrong.status_code == 422
    assert session.scalar(select(func.count()).select_from(ListImport)) == 0


def test_freeze_run_winners_per_branch_and_record(
    app: Any, client: FlaskClient, session: Session, protector: Any, tmp_path: Any
) -> None:
    from quiz.draw import lists

    campaign = install_list_campaign(
        session,
        prizes=[{"tier": "一等奖", "count": 4, "prize": "奖品", "value_yuan": 100}],
    )
    path = tmp_path / "list.csv"
    path.write_bytes(csv_body(12))
    lists.import_list(app.extensions["quiz.db"], protector, campaign.id, path, operator="cli:x")
    b11 = session.scalars(select(Branch).where(Branch.code == "B11")).one()
    admin = make_staff(session, "ho", "admin", can_reveal=True)
    viewer = make_staff(session, "ho2", "admin")
    branch_user = make_staff(session, "b11", "branch", branch_id=b11.id)
    session.commit()
    login_as(client, admin)
    session.commit()  # login_as reads the user: let SQLite's write lock go
    switch(client, session, campaign)
    assert client.post("/admin/draw/freeze", data={"confirmed": "yes"}).status_code == 302
    session.expire_all()
    draw = session.scalars(select(Draw)).one()
    service.run_draw(session, draw, RANDOMNESS, operator="cli:test")
    session.commit()
    draw_id, file_sha256 = draw.id, draw.list_import.file_sha256  # type: ignore[union-attr]
    session.commit()  # the exports write their audit entry: SQLite's lock must be free

    record = client.get(f"/admin/draw/{draw_id}/record").get_data(as_text=True)
    assert "list.csv" in record and file_sha256 in record
    full_reply = client.get("/admin/draw/winners.csv")
    assert full_reply.status_code == 200, full_reply.get_data(as_text=True)[-1500:]
    full = full_reply.get_data().decode("utf-8-sig")
    assert "13900000" in full and "示例路" in full  # full data with the permission

    login_as(client, viewer)
    session.commit()  # login_as reads the user: let SQLite's write lock go
    switch(client, session, campaign)
    masked = client.get("/admin/draw/winners.csv").get_data().decode("utf-8-sig")
    assert "139****" in masked and "示例路" not in masked

    login_as(client, branch_user)
    session.commit()  # login_as reads the user: let SQLite's write lock go
    switch(client, session, campaign)
    own = client.get("/admin/draw/winners.csv").get_data().decode("utf-8-sig")
    b11_id = b11.id
    targets = [
        (w.rank, w.list_entrant.branch_id)  # type: ignore[union-attr]
        for w in session.scalars(select(Winner).where(Winner.draw_id == draw_id))
    ]
    session.commit()  # the shipping POSTs write
    mine = [rank for rank, branch in targets if branch == b11_id]
    assert len(own.strip().splitlines()) == 1 + len(mine)
    other = next(rank for rank, branch in targets if branch != b11_id)
    refused = client.post(
        f"/admin/draw/winners/{draw_id}/{other}/shipping",
        data={"status": "已寄送", "tracking_no": "SF1"},
    )
    assert refused.status_code == 404  # another branch's winner
    shipped = client.post(
        f"/admin/draw/winners/{draw_id}/{mine[0]}/shipping",
        data={"status": "已寄送", "tracking_no": "SF123"},
    )
    assert shipped.status_code == 302
    session.expire_all()
    assert session.get(Winner, (draw_id, mine[0])).shipping_status == "已寄送"  # type: ignore[union-attr]
    assert session.scalars(select(AuditLog).where(AuditLog.action == "draw.list_import")).first()
