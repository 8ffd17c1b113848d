"""Contest sign-in by SMS code (sms_verification = "required"), through the test client:
wrong codes are counted, the site's SMS budget holds but one office may sign its whole
branch in, the page names no more of the mobile than its last four digits; and signing
out ends the session on the server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from quiz.contest import paper, roster
from quiz.db import Base
from quiz.models import SmsCode
from tests.conftest import make_app
from tests.contest.conftest import install_contest
from tests.factories import install_test_campaign, make_mobile

STAFF = 30  # more than the public's 20 codes a day from one network


def roster_csv(n: int) -> bytes:
    lines = ["工号,姓名,机构代码,组别,手机号码"]
    lines += [f"YW{i:04d},员工{i},B41,业务员组,{make_mobile(7000 + i)}" for i in range(1, n + 1)]
    return "\n".join(lines).encode()


def sms_contest_app(database_url: str, tmp_path: Any, **config: Any) -> Flask:
    app = make_app(database_url, tmp_path / "instance", **config)
    database = app.extensions["quiz.db"]
    Base.metadata.create_all(database.engine)
    protector = app.extensions["quiz.protector"]
    with database.transaction() as session:
        install_test_campaign(session)  # and the branches the roster names
        campaign = install_contest(session, sms_verification="required")
        report = roster.check_roster(session, campaign, roster.read_roster(roster_csv(STAFF)))
        roster.save_roster(session, campaign, report, protector)
        campaign.opens_at = paper.utcnow() - timedelta(minutes=5)
    return app


@pytest.fixture
def sms_app(database_url: str, tmp_path: Any) -> Iterator[Flask]:
    app = sms_contest_app(database_url, tmp_path)
    yield app
    app.extensions["quiz.db"].dispose()


def send(client: Any, staff_no: str) -> Any:
    return client.post(
        "/c/claims-contest-2026/contest/sign-in", data={"staff_no": staff_no, "action": "send"}
    )


def sign_in(client: Any, staff_no: str, code: str) -> Any:
    return client.post(
        "/c/claims-contest-2026/contest/sign-in", data={"staff_no": staff_no, "code": code}
    )


def test_five_wrong_codes_void_the_code_sent(sms_app: Flask) -> None:
    client = sms_app.test_client()
    sent = send(client, "YW0001")
    assert sent.status_code == 200
    code = sms_app.extensions["quiz.sms"].last_code(make_mobile(7001))
    assert code is not None
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(5):
        refused = sign_in(client, "YW0001", wrong)
        assert refused.status_code == 422
    with sms_app.extensions["quiz.db"].session() as session:
        assert session.scalars(select(SmsCode.attempts)).all() == [5]
    # Every wrong try was kept: the right code no longer signs in; a new one is needed.
    late = sign_in(client, "YW0001", code)
    assert late.status_code == 422, late.headers
    assert "验证码" in late.get_data(as_text=True)


def test_a_right_code_signs_in_once(sms_app: Flask) -> None:
    client = sms_app.test_client()
    assert send(client, "YW0002").status_code == 200
    code = sms_app.extensions["quiz.sms"].last_code(make_mobile(7002))
    ok = sign_in(client, "YW0002", code)
    assert ok.status_code == 302 and ok.headers["Location"].endswith("/contest/paper")
    again = sign_in(sms_app.test_client(), "YW0002", code)
    assert again.status_code == 422


def test_the_page_shows_only_the_last_four_digits(sms_app: Flask) -> None:
    page = send(sms_app.test_client(), "YW0003").get_data(as_text=True)
    mobile = make_mobile(7003)
    assert f"验证码已发送至名单中尾号为 {mobile[-4:]} 的手机" in page
    assert mobile[:3] + "****" not in page


def test_one_office_signs_its_branch_in_but_the_sms_budget_holds(
    database_url: str, tmp_path: Any
) -> None:
    """Thirty staff from one address all get their code (the public's limit is 20 a day
    from one network); the campaign's daily budget, a site setting, still stops codes."""
    app = sms_contest_app(database_url, tmp_path, QUIZ_SMS_CAMPAIGN_DAY_BUDGET=STAFF)
    try:
        office = app.test_client()
        for i in range(1, STAFF + 1):
            assert send(office, f"YW{i:04d}").status_code == 200, i
        assert app.extensions["quiz.sms"].last_code(make_mobile(7000 + STAFF)) is not None
        # The budget is spent: the next code (the first staff member's, a minute later) waits.
        with app.extensions["quiz.db"].transaction() as session:
            for row in session.scalars(select(SmsCode)):
                row.created_at -= timedelta(minutes=2)
        refused = send(office, "YW0001")
        assert refused.status_code == 429
        assert "验证码发送繁忙" in refused.get_data(as_text=True)
    finally:
        app.extensions["quiz.db"].dispose()


def test_signing_out_ends_the_session_on_the_server(client, session, protector) -> None:
    from tests.contest.conftest import running_contest

    campaign = running_contest(session, protector)
    session.commit()
    issued = roster.issue_invitations(session, campaign, protector, staff_nos=["YW0001"])
    session.commit()
    slug = campaign.slug
    signed = client.post(
        f"/c/{slug}/contest/sign-in", data={"staff_no": "YW0001", "code": issued[0].code}
    )
    assert signed.status_code == 302
    cookie = client.get_cookie("quiz_session")
    assert cookie is not None
    assert client.get(f"/c/{slug}/contest/paper").status_code == 200
    assert client.post(f"/c/{slug}/contest/sign-out").status_code == 302
    # The cookie as it was before signing out, replayed from another browser.
    thief = client.application.test_client()
    thief.set_cookie("quiz_session", cookie.value, domain=cookie.domain or "localhost")
    replayed = thief.get(f"/c/{slug}/contest/paper")
    assert replayed.status_code == 302  # back to the sign-in: the token was ended
