"""Two-person control on the staff pages, and console actions marked in public."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from quiz.cli.draw import draw_group
from quiz.db import utcnow
from quiz.draw import control, service
from quiz.models import Draw, DrawVoidRequest
from tests.draw.test_draw_views import RANDOMNESS, closed_with_entrants
from tests.factories import login_as, make_staff

OTHER = "01 02 03 04 05 06 + 07"


def frozen(session: Session, protector: Any) -> Draw:
    campaign, _ = closed_with_entrants(session, protector, 6)
    draw = service.freeze(session, campaign, operator="t", now=utcnow() + timedelta(seconds=1))
    session.commit()
    return draw


def as_user(client: FlaskClient, session: Session, user: Any) -> None:
    login_as(client, user)
    session.commit()  # login_as read the account: end the test's transaction


def status_of(session: Session, draw_id: int) -> str:
    session.expire_all()
    found = session.get(Draw, draw_id)
    assert found is not None
    status = found.status
    session.commit()
    return status


def test_one_admin_alone_cannot_run_or_void_on_the_web(
    client: FlaskClient, session: Session, protector: Any
) -> None:
    draw = frozen(session, protector)
    alone = make_staff(session, "alone", role="admin")
    session.commit()
    as_user(client, session, alone)
    page = client.get("/admin/draw").get_data(as_text=True)
    assert "只有一个有效的管理员账户" in page and "quiz staff create" in page
    assert 'id="enter-form"' not in page
    refused = client.post("/admin/draw/run", data={"randomness": RANDOMNESS, "confirmed": "yes"})
    assert refused.status_code == 409 and "两个不同的总公司管理员账户" in refused.get_data(
        as_text=True
    )
    assert client.post("/admin/draw/confirm", data={"randomness": RANDOMNESS}).status_code == 409
    void = client.post(f"/admin/draw/{draw.id}/void", data={"reason": "一人作废"})
    assert void.status_code == 409 and "两个不同的总公司管理员账户" in void.get_data(as_text=True)
    assert status_of(session, draw.id) == "frozen"
    assert session.scalars(select(DrawVoidRequest)).all() == []


def test_different_entries_are_refused_without_showing_either(
    client: FlaskClient, session: Session, protector: Any
) -> None:
    draw = frozen(session, protector)
    first = make_staff(session, "first", role="admin")
    second = make_staff(session, "second", role="admin")
    session.commit()
    as_user(client, session, first)
    entered = client.post("/admin/draw/run", data={"randomness": RANDOMNESS, "confirmed": "yes"})
    assert entered.status_code == 302
    as_user(client, session, second)
    page = client.get("/admin/draw").get_data(as_text=True)
    assert 'id="confirm-form"' in page and RANDOMNESS not in page
    differ = client.post("/admin/draw/confirm", data={"randomness": OTHER})
    text = differ.get_data(as_text=True)
    assert differ.status_code == 409 and "两次录入不一致" in text
    assert RANDOMNESS not in text and OTHER not in text
    # Both start again: the form asks for a new first entry, nothing waits to be confirmed.
    assert 'id="enter-form"' in text and 'id="confirm-form"' not in text
    assert status_of(session, draw.id) == "frozen"
    again = client.post("/admin/draw/confirm", data={"randomness": RANDOMNESS})
    assert again.status_code == 409 and "还没有待确认" in again.get_data(as_text=True)


def test_the_record_lists_both_operators_the_witnesses_and_the_times(
    client: FlaskClient, session: Session, protector: Any
) -> None:
    draw = frozen(session, protector)
    first = make_staff(session, "first", role="admin")
    second = make_staff(session, "second", role="admin")
    session.commit()
    as_user(client, session, first)
    saved = client.post(
        f"/admin/draw/{draw.id}/witnesses",
        data={"notary_name": "王公证", "supervisor_name": "李监督"},
    )
    assert saved.status_code == 302
    client.post("/admin/draw/run", data={"randomness": RANDOMNESS, "confirmed": "yes"})
    as_user(client, session, second)
    assert client.post("/admin/draw/confirm", data={"randomness": RANDOMNESS}).status_code == 302
    session.expire_all()
    stored = session.get(Draw, draw.id)
    assert stored is not None and stored.status == "drawn"
    times = [stored.frozen_at, stored.entered_at, stored.confirmed_at, stored.drawn_at]
    session.commit()
    record = client.get(f"/admin/draw/{draw.id}/record").get_data(as_text=True)
    assert "录入人 first" in record and "确认人 second" in record
    assert "公证员:王公证" in record and "监督人:李监督" in record
    assert "录入人(first)签字" in record and "公证员(王公证)签字" in record
    from quiz.clock import cn_time

    assert all(cn_time(t) in record for t in times)
    public = client.get("/draw").get_data(as_text=True)
    assert "first 录入" in public and "second 确认" in public
    assert "由服务器控制台执行" not in public


def test_expired_void_request_shows_as_expired_and_cannot_be_approved(
    client: FlaskClient, session: Session, protector: Any
) -> None:
    draw = frozen(session, protector)
    first = make_staff(session, "first", role="admin")
    second = make_staff(session, "second", role="admin")
    request = control.request_void(
        session, draw.id, "过期的申请", first, now=utcnow() - timedelta(hours=25)
    )
    request_id = request.id
    session.commit()
    as_user(client, session, second)
    refused = client.post(f"/admin/draw/void-requests/{request_id}/approve")
    assert refused.status_code == 409 and "已过期" in refused.get_data(as_text=True)
    assert status_of(session, draw.id) == "frozen"
    public = client.get("/draw").get_data(as_text=True)
    assert "过期的申请" in public and "已过期" in public


def test_console_run_and_void_are_marked_on_the_public_page_and_the_record(
    client: FlaskClient, runner: FlaskCliRunner, session: Session, protector: Any
) -> None:
    draw = frozen(session, protector)
    viewer = make_staff(session, "viewer", role="analyst")
    session.commit()
    result = runner.invoke(draw_group, ["run", RANDOMNESS, "--yes"])
    assert result.exit_code == 0, result.output
    session.expire_all()
    stored = session.get(Draw, draw.id)
    assert stored is not None and stored.run_channel == "console"
    os_user = (stored.drawn_by or "").removeprefix("cli:")
    session.commit()
    public = client.get("/draw").get_data(as_text=True)
    section = public[public.index('id="run-channel"') :]
    assert "由服务器控制台执行" in section and f"操作系统用户 {os_user}" in section
    as_user(client, session, viewer)
    record = client.get(f"/admin/draw/{draw.id}/record").get_data(as_text=True)
    assert "由服务器控制台执行" in record and f"操作系统用户 {os_user}" in record
    result = runner.invoke(draw_group, ["void", "--reason", "控制台作废", "--yes"])
    assert result.exit_code == 0, result.output
    public = client.get("/draw").get_data(as_text=True)
    voided = public[public.index('id="voided"') :]
    assert "控制台作废" in voided and "由服务器控制台执行" in voided
    record = client.get(f"/admin/draw/{draw.id}/record").get_data(as_text=True)
    assert record.count("由服务器控制台执行") >= 2


def test_web_void_shows_requester_and_approver_in_public(
    client: FlaskClient, session: Session, protector: Any
) -> None:
    draw = frozen(session, protector)
    first = make_staff(session, "first", role="admin")
    second = make_staff(session, "second", role="admin")
    session.commit()
    as_user(client, session, first)
    asked = client.post(f"/admin/draw/{draw.id}/void", data={"reason": "公证处要求重新抽奖"})
    assert asked.status_code == 302
    waiting = client.get(f"/admin/draw/{draw.id}/void").get_data(as_text=True)
    assert "须由另一位管理员批准" in waiting and "批准作废抽奖" not in waiting
    request_id = session.scalars(select(DrawVoidRequest.id)).one()
    session.commit()
    as_user(client, session, second)
    page = client.get(f"/admin/draw/{draw.id}/void").get_data(as_text=True)
    assert "批准作废抽奖" in page and "拒绝申请" in page
    assert client.post(f"/admin/draw/void-requests/{request_id}/approve").status_code == 302
    assert status_of(session, draw.id) == "voided"
    public = client.get("/draw").get_data(as_text=True)
    voided = public[public.index('id="voided"') :]
    assert "申请人</dt><dd>first" in voided and "批准人</dt><dd>second" in voided
    assert "公证处要求重新抽奖" in voided


def test_head_office_names_the_draw_accounts_on_the_draw_page(
    client: FlaskClient, session: Session, protector: Any
) -> None:
    frozen(session, protector)
    a = make_staff(session, "a", role="admin")
    b = make_staff(session, "b", role="admin")
    c = make_staff(session, "c", role="admin")
    ids = (a.id, b.id, c.id)
    session.commit()
    as_user(client, session, a)
    same = client.post("/admin/draw/accounts", data={"operators": [ids[0]], "confirmers": [ids[0]]})
    assert same.status_code == 422 and "两个不同的账户" in same.get_data(as_text=True)
    saved = client.post(
        "/admin/draw/accounts", data={"operators": [ids[0]], "confirmers": [ids[1]]}
    )
    assert saved.status_code == 302
    as_user(client, session, c)
    page = client.get("/admin/draw").get_data(as_text=True)
    assert "没有指定您录入开奖结果" in page and 'id="enter-form"' not in page
    refused = client.post("/admin/draw/run", data={"randomness": RANDOMNESS, "confirmed": "yes"})
    assert refused.status_code == 409


def test_forged_account_settings_get_a_chinese_message(
    client: FlaskClient, session: Session, protector: Any
) -> None:
    draw_id = frozen(session, protector).id
    a = make_staff(session, "a", role="admin")
    make_staff(session, "b", role="admin")
    viewer = make_staff(session, "viewer", role="analyst")
    viewer_id = viewer.id
    session.commit()
    as_user(client, session, a)
    for forged in (["abc"], [str(viewer_id)], ["99999999999999999999"]):
        page = client.post("/admin/draw/accounts", data={"operators": forged})
        assert page.status_code == 422, forged
        assert "请从列表中选择" in page.get_data(as_text=True)
    long_name = client.post(
        f"/admin/draw/{draw_id}/witnesses",
        data={"notary_name": "王" * 101, "supervisor_name": ""},
    )
    assert long_name.status_code == 422 and "不能超过100个字" in long_name.get_data(as_text=True)


def test_analysts_see_that_an_entry_waits_but_not_the_entry(
    client: FlaskClient, session: Session, protector: Any
) -> None:
    draw = frozen(session, protector)
    first = make_staff(session, "first", role="admin")
    make_staff(session, "second", role="admin")
    viewer = make_staff(session, "viewer", role="analyst")
    control.enter_result(session, draw.id, RANDOMNESS, first)
    session.commit()
    as_user(client, session, viewer)
    page = client.get("/admin/draw").get_data(as_text=True)
    assert 'id="pending-entry"' in page and "first 已于" in page
    assert RANDOMNESS not in page and 'id="confirm-form"' not in page
