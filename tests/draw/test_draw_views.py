"""Draw pages: public draw page and files, winners, look-ups, staff actions, notary record."""

from __future__ import annotations

import csv
import hashlib
import io
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from quiz.campaign.lifecycle import current_campaign
from quiz.db import Database, utcnow
from quiz.draw import service
from quiz.models import AuditLog, Branch, Campaign, Draw, DrawVoidRequest, Participant, Winner
from quiz.public import draw_views as views_public
from tests.conftest import make_app
from tests.factories import install_test_campaign, login_as, make_participant, make_staff

RANDOMNESS = "03 08 14 22 27 33 + 05"  # as the campaign's randomness_format asks
EXAMPLE = "03 07 12 19 25 31 + 09"  # the campaign file's randomness_example


def campaign_of(session: Session) -> Campaign:
    campaign = current_campaign(session)
    assert campaign is not None
    return campaign


def closed_with_entrants(
    session: Session, protector: Any, n: int, prizes: int = 3
) -> tuple[Campaign, list[Participant]]:
    campaign = campaign_of(session)
    people = [
        make_participant(session, protector, campaign, i, complete=True) for i in range(1, n + 1)
    ]
    campaign.closes_at = utcnow()
    campaign.draw_at = utcnow()  # the lottery result is out
    content = dict(campaign.content)
    content["prizes"] = [
        {"tier": "幸运奖", "count": prizes, "prize": "纪念品一份", "value_yuan": 20}
    ]
    campaign.content = content
    session.commit()
    return campaign, people


def drawn(
    session: Session, protector: Any, n: int = 6, prizes: int = 3
) -> tuple[Draw, list[Participant]]:
    campaign, people = closed_with_entrants(session, protector, n, prizes)
    draw = service.freeze(session, campaign, operator="t", now=utcnow() + timedelta(seconds=1))
    service.run_draw(session, draw, RANDOMNESS, operator="t")
    session.commit()
    return draw, people


def contact(protector: Any, person: Participant) -> dict[str, str]:
    return {"mobile": protector.decrypt(person.mobile_enc), "id_last4": person.id_last4}


# --- public ------------------------------------------------------------------------------------


def test_draw_page_before_freeze_announces_source_and_has_no_file(
    client: FlaskClient, session: Session
) -> None:
    source = campaign_of(session).content["randomness_source"]
    session.commit()
    page = client.get("/draw").get_data(as_text=True)
    assert source in page
    assert "活动截止后冻结" in page
    assert client.get("/draw/entrants.txt").status_code == 404
    assert client.get("/winners").status_code == 200
    assert "抽奖尚未进行" in client.get("/winners").get_data(as_text=True)


def test_draw_page_shows_voided_draws_and_the_source_the_list_was_frozen_under(
    client: FlaskClient, session: Session, protector: Any
) -> None:
    """A void and a new freeze happen in public view; loading another campaign file
    afterwards does not change the source the current list was frozen under."""
    campaign, _ = closed_with_entrants(session, protector, 5)
    first = service.freeze(session, campaign, now=utcnow() + timedelta(seconds=1))
    service.run_draw(session, first, RANDOMNESS)
    service.void_draw(session, first, "快递信息有误,重新抽奖须另行公布", operator="boss")
    content = dict(campaign.content)
    content["randomness_source"] = "2027年3月4日双色球开奖号码"
    campaign.content = content
    second = service.freeze(session, campaign, now=utcnow() + timedelta(seconds=2))
    content = dict(campaign.content)
    content["randomness_source"] = "换成另一个来源"
    campaign.content = content
    session.commit()
    page = client.get("/draw").get_data(as_text=True)
    assert "2027年3月4日双色球开奖号码" in page and "换成另一个来源" not in page
    voided = page[page.index('id="voided"') :]
    assert first.entrant_digest in voided and RANDOMNESS in voided
    assert "快递信息有误,重新抽奖须另行公布" in voided
    assert second.entrant_digest in page[: page.index('id="voided"')]
    assert "03 07 12 19 25 31 + 09" in page[page.index('id="randomness-format"') :]


def test_entrant_file_download_matches_published_digest(
    client: FlaskClient, session: Session, protector: Any
) -> None:
    campaign, people = closed_with_entrants(session, protector, 5)
    draw = service.freeze(session, campaign, now=utcnow() + timedelta(seconds=1))
    session.commit()
    page = client.get("/draw").get_data(as_text=True)
    assert draw.entrant_digest in page and campaign.content["randomness_source"] in page
    response = client.get("/draw/entrants.txt")
    assert response.status_code == 200
    assert response.content_type == "text/plain; charset=utf-8"
    assert "attachment" in response.headers["Content-Disposition"]
    body = response.get_data()
    assert hashlib.sha256(body).hexdigest() == draw.entrant_digest
    assert body.count(b"\n") == 5 and not body.startswith(b"\xef\xbb\xbf")
    assert body.decode().splitlines()[0] == f"1\t{people[0].name_masked}\t{people[0].mobile_masked}"
    sha = client.get("/draw/entrants.sha256").get_data(as_text=True)
    assert sha.split()[0] == draw.entrant_digest


def test_self_check_shows_own_entry_number(
    client: FlaskClient, session: Session, protector: Any
) -> None:
    campaign, people = closed_with_entrants(session, protector, 3)
    service.freeze(session, campaign, now=utcnow() + timedelta(seconds=1))
    session.commit()
    page = client.post("/draw/check", data=contact(protector, people[1])).get_data(as_text=True)
    assert "您的抽奖编号为:<strong>2</strong>" in page
    wrong = dict(
        contact(protector, people[1]), id_last4="0000" if people[1].id_last4 != "0000" else "1111"
    )
    assert "未在抽奖名单中找到" in client.post("/draw/check", data=wrong).get_data(as_text=True)
    assert client.post("/draw/check", data={"mobile": "123", "id_last4": "ab"}).status_code == 422


def test_winners_page_is_paginated_and_masked(
    client: FlaskClient, session: Session, protector: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    draw, people = drawn(session, protector, n=6, prizes=5)
    monkeypatch.setattr(views_public, "WINNERS_PER_PAGE", 2)
    rows = service.winner_rows(session, draw)
    session.commit()
    first = client.get("/winners").get_data(as_text=True)
    assert "第 1 / 3 页" in first and rows[0].masked_name in first
    assert f"<td>{rows[0].entry_no}</td>" in first and f"<td>{rows[2].entry_no}</td>" not in first
    third = client.get("/winners?page=3").get_data(as_text=True)
    assert f"<td>{rows[4].entry_no}</td>" in third
    assert client.get("/winners?page=abc").status_code == 200
    for person in people:  # never a full name or mobile
        assert protector.decrypt(person.mobile_enc) not in first + third


def test_winner_lookup_answers_only_won_or_not(
    client: FlaskClient, session: Session, protector: Any
) -> None:
    draw, people = drawn(session, protector, n=5, prizes=2)
    won = set(session.scalars(select(Winner.participant_id)))
    session.commit()
    winner = next(p for p in people if p.id in won)
    loser = next(p for p in people if p.id not in won)
    page = client.post("/winners/lookup", data=contact(protector, winner)).get_data(as_text=True)
    assert "<strong>中奖</strong>" in page and "纪念品一份" in page
    page = client.post("/winners/lookup", data=contact(protector, loser)).get_data(as_text=True)
    assert "<strong>未中奖</strong>" in page
    # An unregistered mobile gets the same answer: nothing about who took part.
    stranger = client.post("/winners/lookup", data={"mobile": "13700000000", "id_last4": "1234"})
    assert "<strong>未中奖</strong>" in stranger.get_data(as_text=True)
    assert loser.name_masked not in page
    assert client.post("/winners/lookup", data={"mobile": "", "id_last4": ""}).status_code == 422


def test_lookup_is_rate_limited(database_url: str, tmp_path: Path) -> None:
    app = make_app(
        database_url,
        tmp_path / "inst",
        RATELIMIT_ENABLED=True,
        QUIZ_LOOKUP_LIMIT="2/minute",
        RATELIMIT_STORAGE_URI="memory://",
    )
    database: Database = app.extensions["quiz.db"]
    from quiz.db import Base

    Base.metadata.create_all(database.engine)
    with database.transaction() as s:
        install_test_campaign(s)
    client = app.test_client()
    data = {"mobile": "13700000000", "id_last4": "1234"}
    codes = [client.post("/winners/lookup", data=data).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    database.dispose()


def test_campaign_page_discloses_the_promotion_rules(client: FlaskClient, session: Session) -> None:
    content = campaign_of(session).content
    session.commit()
    page = client.get("/", follow_redirects=True).get_data(as_text=True)
    for tier in content["prizes"]:
        assert tier["tier"] in page and "{:,}".format(tier["count"]) in page  # types and counts
    for key in ("entry_conditions", "draw_method", "prize_claim", "randomness_source"):
        assert content[key] in page, key
    assert "抽奖时间" in page  # draw time
    assert content["organiser_name"] in page and content["organiser_contact"] in page
    assert "中奖名单" in page  # footer link to the winners page


# --- staff --------------------------------------------------------------------------------------


def test_notary_record_needs_login_and_head_office(
    client: FlaskClient, session: Session, protector: Any
) -> None:
    draw, _ = drawn(session, protector, n=6, prizes=5)
    url = f"/admin/draw/{draw.id}/record"
    assert client.get(url).status_code in (302, 303)
    branch_id = session.scalars(select(Branch.id)).first()
    clerk = make_staff(session, "clerk", role="branch", branch_id=branch_id)
    analyst = make_staff(session, "analyst", role="analyst")
    session.commit()
    login_as(client, clerk)
    assert client.get(url).status_code == 403
    login_as(client, analyst)
    page = client.get(url).get_data(as_text=True)
    assert draw.entrant_digest in page and RANDOMNESS in page
    assert draw.randomness_source in page and "v1" in page
    rows = service.winner_rows(session, draw)
    session.commit()
    assert all(r.masked_name in page for r in rows)
    assert page.count("<tr><td>") == 2  # 5 winners, 4 per printed row
    with client.get("/static/css/print.css") as response:
        css = response.get_data(as_text=True)
    assert "@page{size:A4" in css and "@media print" in css


def test_admin_freeze_confirm_and_run_once(
    client: FlaskClient, session: Session, protector: Any
) -> None:
    closed_with_entrants(session, protector, 4)
    admin = make_staff(session, "boss", role="admin")
    peer = make_staff(session, "peer", role="admin")
    analyst = make_staff(session, "viewer", role="analyst")
    session.commit()
    login_as(client, analyst)
    overview = client.get("/admin/draw")
    assert overview.status_code == 200
    # Staff see the one accepted writing and the deadline before they freeze or type.
    assert "例如 <code>03 07 12 19 25 31 + 09</code>" in overview.get_data(as_text=True)
    assert "名单冻结截止:20" in overview.get_data(as_text=True)
    assert client.post("/admin/draw/freeze").status_code == 403
    login_as(client, admin)
    # The first click spells out the consequences and freezes nothing.
    ask = client.post("/admin/draw/freeze")
    text = ask.get_data(as_text=True)
    assert ask.status_code == 200 and "确认冻结 4 人的名单" in text and "不能撤销" in text
    assert "立即在公开页面公布" in text
    assert session.scalars(select(Draw)).all() == []
    session.rollback()
    assert client.post("/admin/draw/freeze", data={"confirmed": "yes"}).status_code == 302
    draw = session.scalars(select(Draw)).one()
    session.commit()
    # Not in the announced format: refused on the form, with the announced example.
    for odd in (" 03 07 12 19 25 31 + 09", "03 07 12 19 25 31 ＋ 09", "3 7 12 19 25 31 + 9"):
        refused = client.post("/admin/draw/run", data={"randomness": odd, "confirmed": "yes"})
        assert refused.status_code == 422
        assert "例如:03 07 12 19 25 31 + 09" in refused.get_data(as_text=True) or (
            "首尾不能有空格" in refused.get_data(as_text=True)
        )
    confirm = client.post("/admin/draw/run", data={"randomness": RANDOMNESS})
    page = confirm.get_data(as_text=True)
    assert confirm.status_code == 200 and f"[{RANDOMNESS}]" in page
    session.expire_all()
    assert session.get(Draw, draw.id).status == "frozen"  # type: ignore[union-attr]
    session.commit()
    # The confirmed first entry runs nothing: it waits for a second account.
    entered = client.post("/admin/draw/run", data={"randomness": RANDOMNESS, "confirmed": "yes"})
    assert entered.status_code == 302
    session.expire_all()
    assert session.get(Draw, draw.id).status == "frozen"  # type: ignore[union-attr]
    session.commit()
    mine = client.post("/admin/draw/confirm", data={"randomness": RANDOMNESS})
    assert mine.status_code == 409 and "不能确认自己录入" in mine.get_data(as_text=True)
    login_as(client, peer)
    session.commit()  # login_as read the account: end the test's transaction
    waiting = client.get("/admin/draw").get_data(as_text=True)
    assert "boss 已于" in waiting and RANDOMNESS not in waiting  # the entry is not shown
    done = client.post("/admin/draw/confirm", data={"randomness": RANDOMNESS})
    assert done.status_code == 302
    again = client.post("/admin/draw/run", data={"randomness": RANDOMNESS, "confirmed": "yes"})
    assert again.status_code == 409
    session.expire_all()
    stored = session.get(Draw, draw.id)
    assert stored is not None and stored.randomness_value == RANDOMNESS
    assert (stored.entered_by, stored.confirmed_by, stored.run_channel) == ("boss", "peer", "web")
    session.commit()
    assert client.post("/admin/draw/run", data={"randomness": "  "}).status_code == 422
    # Voiding lives on the draw's own page, not in the history rows, with its consequences.
    login_as(client, admin)
    session.commit()
    assert f"/admin/draw/{draw.id}/void" not in client.get("/admin/draw").get_data(as_text=True)
    record = client.get(f"/admin/draw/{draw.id}/record").get_data(as_text=True)
    assert f"/admin/draw/{draw.id}/void" in record
    ask = client.get(f"/admin/draw/{draw.id}/void").get_data(as_text=True)
    assert "名获奖者全部失效" in ask and "申请作废抽奖" in ask
    refused = client.post(f"/admin/draw/{draw.id}/void", data={"reason": ""})
    assert refused.status_code == 422 and "作废抽奖必须填写原因" in refused.get_data(as_text=True)
    assert (
        client.post(f"/admin/draw/{draw.id}/void", data={"reason": "公证要求重抽"}).status_code
        == 302
    )
    request_id = session.scalars(select(DrawVoidRequest.id)).one()
    session.commit()
    # The requester cannot approve alone; the draw stays drawn.
    alone = client.post(f"/admin/draw/void-requests/{request_id}/approve")
    assert alone.status_code == 409
    session.expire_all()
    assert session.get(Draw, draw.id).status == "drawn"  # type: ignore[union-attr]
    session.commit()
    login_as(client, peer)
    session.commit()
    assert client.post(f"/admin/draw/void-requests/{request_id}/approve").status_code == 302
    session.expire_all()
    assert session.get(Draw, draw.id).status == "voided"  # type: ignore[union-attr]
    actions = session.scalars(select(AuditLog.action).where(AuditLog.actor == "boss")).all()
    assert {"draw.freeze", "draw.enter", "draw.void_request"} <= set(actions)
    actions = session.scalars(select(AuditLog.action).where(AuditLog.actor == "peer")).all()
    assert {"draw.confirm", "draw.run", "draw.void", "draw.void_approve"} <= set(actions)


def test_admin_exclusion_form(client: FlaskClient, session: Session, protector: Any) -> None:
    _, people = closed_with_entrants(session, protector, 2)
    admin = make_staff(session, "boss", role="admin")
    session.commit()
    login_as(client, admin)
    assert (
        client.post("/admin/draw/exclude", data={"participant_id": people[0].id}).status_code == 422
    )
    ok = client.post("/admin/draw/exclude", data={"participant_id": people[0].id, "reason": "员工"})
    assert ok.status_code == 302
    session.expire_all()
    assert session.get(Participant, people[0].id).excluded  # type: ignore[union-attr]
    session.commit()
    assert '<strong id="eligible">1</strong>' in client.get("/admin/draw").get_data(as_text=True)


def test_winner_export_and_shipping_are_branch_scoped(
    client: FlaskClient, session: Session, protector: Any
) -> None:
    draw, _ = drawn(session, protector, n=6, prizes=6)
    winners = session.scalars(select(Winner).order_by(Winner.rank)).all()
    own_branch = winners[0].participant.branch_id
    assert own_branch is not None
    other = session.scalars(select(Branch.id).where(Branch.id != own_branch)).first()
    clerk = make_staff(session, "clerk", role="branch", branch_id=own_branch, can_reveal=True)
    stranger = make_staff(session, "other", role="branch", branch_id=other)
    analyst = make_staff(session, "viewer", role="analyst")
    session.commit()
    mine = [w for w in winners if w.participant.branch_id == own_branch]

    login_as(client, analyst)
    assert client.get("/admin/draw/winners.csv").status_code == 403
    login_as(client, stranger)
    url = f"/admin/draw/winners/{draw.id}/{winners[0].rank}/shipping"
    assert client.post(url, data={"status": "已寄送", "tracking_no": "SF1"}).status_code == 404
    login_as(client, clerk)
    response = client.get("/admin/draw/winners.csv")
    assert response.status_code == 200
    text = response.get_data().decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert len(rows) - 1 == len(mine)
    assert rows[1][6] == protector.decrypt(mine[0].participant.mobile_enc)
    session.commit()
    assert client.post(url, data={"status": "已寄送", "tracking_no": "SF1"}).status_code == 302
    session.expire_all()
    assert session.get(Winner, (draw.id, winners[0].rank)).tracking_no == "SF1"  # type: ignore[union-attr]
    actions = set(session.scalars(select(AuditLog.action).where(AuditLog.actor == "clerk")))
    assert {"draw.winners_export", "draw.shipping"} <= actions
    page = client.get("/admin/draw/winners").get_data(as_text=True)
    assert page.count('name="tracking_no"') == len(mine)


def _winners_file(client: FlaskClient, url: str = "/admin/draw/winners.csv") -> list[dict]:
    response = client.get(url)
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    return [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]


def test_winners_file_follows_the_full_data_permission_like_the_staff_pages(
    client: FlaskClient, session: Session, protector: Any
) -> None:
    """Masked without 可查看完整个人信息, in full with it; a branch gets its own winners
    only, whatever it asks for; every download is audited with what it showed."""
    draw, _ = drawn(session, protector, n=6, prizes=6)
    winners = session.scalars(select(Winner).order_by(Winner.rank)).all()
    own_branch = winners[0].participant.branch_id
    other = next(w.participant.branch_id for w in winners if w.participant.branch_id != own_branch)
    mine = [w.participant for w in winners if w.participant.branch_id == own_branch]
    clerk = make_staff(session, "clerk", role="branch", branch_id=own_branch)
    revealer = make_staff(session, "clerk2", role="branch", branch_id=own_branch, can_reveal=True)
    admin = make_staff(session, "admin1", role="admin")
    session.commit()
    full_mobiles = {protector.decrypt(w.participant.mobile_enc) for w in winners}
    full_names = {w.participant.name for w in winners}
    full_addresses = {w.participant.address for w in winners}

    def shows_full_data(rows: list[dict]) -> bool:
        return bool(
            {r["手机号码"] for r in rows} & full_mobiles
            or {r["姓名"] for r in rows} & full_names
            or {r["邮寄地址"] for r in rows} & full_addresses
        )

    login_as(client, clerk)
    rows = _winners_file(client, f"/admin/draw/winners.csv?branch={other}")
    assert sorted(r["手机号码"] for r in rows) == sorted(p.mobile_masked for p in mine)
    assert sorted(r["姓名"] for r in rows) == sorted(p.name_masked for p in mine)
    assert not shows_full_data(rows)
    assert all(r["邮寄地址"].endswith("****") for r in rows)
    login_as(client, admin)
    rows = _winners_file(client)
    assert len(rows) == len(winners) and not shows_full_data(rows)
    login_as(client, revealer)
    rows = _winners_file(client)
    assert {r["手机号码"] for r in rows} == {protector.decrypt(p.mobile_enc) for p in mine}
    assert {r["邮寄地址"] for r in rows} == {p.address for p in mine}
    audits = session.scalars(
        select(AuditLog).where(AuditLog.action == "draw.winners_export").order_by(AuditLog.id)
    ).all()
    assert [(a.actor, a.detail["full_personal_data"]) for a in audits] == [
        ("clerk", False),
        ("admin1", False),
        ("clerk2", True),
    ]


def test_public_pages_render_for_app(app: Flask) -> None:
    rules = {r.rule for r in app.url_map.iter_rules()}
    assert {
        "/draw",
        "/draw/entrants.txt",
        "/draw/entrants.sha256",
        "/winners",
        "/winners/lookup",
        "/draw/check",
    } <= rules


def test_an_outsider_checks_the_winners_with_the_sites_own_download(
    client: FlaskClient, session: Session, protector: Any, tmp_path: Path
) -> None:
    """Everything needed comes from the public site: the entrant file, the result shown on
    /draw and the checker program, which runs without this project's code."""
    import subprocess
    import sys

    draw, _ = drawn(session, protector, n=9, prizes=4)
    page = client.get("/draw").get_data(as_text=True)
    assert "/draw/verify_draw.py" in page and RANDOMNESS in page
    program = client.get("/draw/verify_draw.py")
    assert program.status_code == 200 and "attachment" in program.headers["Content-Disposition"]
    (tmp_path / "verify_draw.py").write_bytes(program.data)
    (tmp_path / "entrants.txt").write_bytes(client.get("/draw/entrants.txt").data)
    run = subprocess.run(
        [sys.executable, "-I", "verify_draw.py", "entrants.txt", RANDOMNESS, "4"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    winners = session.scalars(
        select(Winner.entry_no).where(Winner.draw_id == draw.id).order_by(Winner.rank)
    )
    assert run.stderr.split() == ["entrant", "digest:", draw.entrant_digest]
    assert [int(x) for x in run.stdout.split()] == list(winners)


def test_the_web_refuses_to_run_before_draw_at_and_the_example(
    client: FlaskClient, session: Session, protector: Any
) -> None:
    campaign, _ = closed_with_entrants(session, protector, 4)
    service.freeze(session, campaign, now=utcnow() + timedelta(seconds=1))
    campaign.draw_at = utcnow() + timedelta(days=4)
    admin = make_staff(session, "boss", role="admin")
    make_staff(session, "peer", role="admin")
    session.commit()
    login_as(client, admin)
    early = client.post("/admin/draw/run", data={"randomness": RANDOMNESS, "confirmed": "yes"})
    assert early.status_code == 422 and "开奖时间" in early.get_data(as_text=True)
    campaign = campaign_of(session)
    campaign.draw_at = utcnow()
    session.commit()
    example = client.post("/admin/draw/run", data={"randomness": EXAMPLE, "confirmed": "yes"})
    assert example.status_code == 422 and "书写示例" in example.get_data(as_text=True)
    session.expire_all()
    assert session.scalars(select(Draw)).one().status == "frozen"
    session.commit()


def test_freeze_confirmation_names_the_address_rules_exclusions(
    client: FlaskClient, session: Session, protector: Any
) -> None:
    from quiz.branches.routing import AddressInput

    campaign = campaign_of(session)
    for n in (11, 12):  # two entries to one flat: the later one is left out
        make_participant(
            session,
            protector,
            campaign,
            n,
            complete=True,
            address=AddressInput(free_text="湖北省武汉市江岸区沿江大道100号"),
        )
    session.commit()
    campaign, _ = closed_with_entrants(session, protector, 3)
    campaign.content = {**campaign.content, "one_winner_per_address": True}
    admin = make_staff(session, "boss", role="admin")
    session.commit()
    login_as(client, admin)
    text = client.post("/admin/draw/freeze").get_data(as_text=True)
    drawn = re.search(r"确认冻结 (\d+) 人的名单", text)
    left_out = re.search(r"冻结时另将排除 (\d+) 人", text)
    assert drawn and left_out and int(left_out[1]) >= 1
    assert int(drawn[1]) + int(left_out[1]) == 5  # every entry, counted once
    session.rollback()
    assert client.post("/admin/draw/freeze", data={"confirmed": "yes"}).status_code == 302
    # The button named the number the freeze then draws from.
    assert session.scalars(select(Draw)).one().entrant_count == int(drawn[1])
