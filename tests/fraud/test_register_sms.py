"""Registration with sms_verification = "required", through the test client: 获取验证码
without JavaScript (Post/Redirect/Get keeping every field), and hostile input on the code
step answered with a Chinese 4xx, never a 500."""

from __future__ import annotations

import html
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from quiz.campaign.lifecycle import current_campaign
from quiz.db import utcnow
from quiz.fraud.sms import ConsoleSender, SmsError
from quiz.models import Campaign, Participant, SmsCode
from tests.conftest import make_app
from tests.factories import install_test_campaign, make_mobile, make_resident_id

FIELDS = {
    "name": "李四",
    "resident_id": make_resident_id("420102", seq=11),
    "address": "湖北省武汉市江岸区沿江大道100号",
    "postal_code": "430014",
    "mobile": make_mobile(4242),
    "landline": "010-12345678",
}


@pytest.fixture
def sms_app(database_url, tmp_path):
    from quiz.db import Base

    app = make_app(database_url, tmp_path / "instance")
    database = app.extensions["quiz.db"]
    Base.metadata.create_all(database.engine)
    with database.transaction() as session:
        install_test_campaign(session, sms_verification="required")
    yield app
    database.dispose()


@pytest.fixture
def web(sms_app):
    client = sms_app.test_client()
    assert client.post("/consent", data={"agree_rules": "y", "agree_sensitive": "y"}).status_code
    return client


def _sender(app):
    return app.extensions["quiz.sms"]


def _count(app, model) -> int:
    with app.extensions["quiz.db"].session() as s:
        return s.scalar(select(func.count()).select_from(model))


def _send(web, **changes):
    return web.post("/register", data={**FIELDS, **changes, "send_code": "1"})


def test_the_form_asks_for_the_code_beside_the_mobile(web):
    page = web.get("/register").get_data(as_text=True)
    assert 'name="sms_code"' in page and "短信验证码" in page
    assert 'name="send_code"' in page and "获取验证码" in page
    assert "sms-code.js" in page


def test_get_code_keeps_every_typed_field_after_the_redirect(sms_app, web):
    resp = _send(web)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/register#sms_code")
    assert _sender(sms_app).last_code(FIELDS["mobile"]) is not None
    page = html.unescape(web.get("/register").get_data(as_text=True))
    for name in ("name", "resident_id", "address", "postal_code", "mobile", "landline"):
        assert FIELDS[name] in page, name
    assert "验证码已发送至 139****4242,5分钟内有效" in page
    assert 'data-wait="' in page and "重新获取(" in page  # the countdown starts
    # The ID number is not readable in the cookie (it is signed, not secret).
    cookie = web.get_cookie("quiz_session")
    assert cookie is not None and FIELDS["resident_id"] not in cookie.value


def test_the_right_code_registers_once_and_marks_the_mobile_verified(sms_app, web):
    _send(web)
    code = _sender(sms_app).last_code(FIELDS["mobile"])
    resp = web.post("/register", data={**FIELDS, "sms_code": code})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/quiz")
    with sms_app.extensions["quiz.db"].session() as s:
        entry = s.scalars(select(Participant)).one()
        assert entry.mobile_verified_at is not None


def test_without_a_code_or_with_a_wrong_one_every_field_is_kept(sms_app, web):
    resp = web.post("/register", data=FIELDS)
    page = html.unescape(resp.get_data(as_text=True))
    assert resp.status_code == 422 and "请填写短信中的6位数字验证码" in page
    _send(web)
    code = _sender(sms_app).last_code(FIELDS["mobile"])
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    resp = web.post("/register", data={**FIELDS, "sms_code": wrong})
    page = html.unescape(resp.get_data(as_text=True))
    assert resp.status_code == 422 and "验证码不正确,还可尝试4次" in page
    for name in ("name", "resident_id", "address", "postal_code", "mobile", "landline"):
        assert FIELDS[name] in page, name
    assert 'aria-describedby="sms_code-hint sms_code-error"' in page
    assert _count(sms_app, Participant) == 0


def test_an_expired_code_is_refused_with_the_fields_kept(sms_app, web):
    _send(web)
    code = _sender(sms_app).last_code(FIELDS["mobile"])
    with sms_app.extensions["quiz.db"].transaction() as s:
        s.execute(update(SmsCode).values(expires_at=utcnow() - timedelta(seconds=1)))
    resp = web.post("/register", data={**FIELDS, "sms_code": code})
    page = html.unescape(resp.get_data(as_text=True))
    assert resp.status_code == 422 and "验证码已过期" in page and FIELDS["address"] in page


def test_a_used_code_does_not_register_a_second_id_number(sms_app, web):
    _send(web)
    code = _sender(sms_app).last_code(FIELDS["mobile"])
    assert web.post("/register", data={**FIELDS, "sms_code": code}).status_code == 302
    other = sms_app.test_client()
    other.post("/consent", data={"agree_rules": "y", "agree_sensitive": "y"})
    again = {**FIELDS, "resident_id": make_resident_id("420102", seq=12), "sms_code": code}
    resp = other.post("/register", data=again)
    page = resp.get_data(as_text=True)
    # One entry per verified mobile: refused before the used code is even looked at.
    assert resp.status_code == 409 and "每个手机号码限报名一次" in page
    resp = other.post("/register", data={**again, "send_code": "1"})
    assert resp.status_code == 409 and "每个手机号码限报名一次" in resp.get_data(as_text=True)
    assert _count(sms_app, Participant) == 1


def test_another_mobiles_code_is_refused(sms_app, web):
    mine, theirs = FIELDS["mobile"], make_mobile(777)
    _send(web)
    stranger = sms_app.test_client()
    stranger.post("/consent", data={"agree_rules": "y", "agree_sensitive": "y"})
    _send(stranger, mobile=theirs)
    their_code = _sender(sms_app).last_code(theirs)
    if their_code == _sender(sms_app).last_code(mine):
        pytest.skip("the two random codes happen to be equal")
    resp = web.post("/register", data={**FIELDS, "sms_code": their_code})
    assert resp.status_code == 422 and "验证码不正确" in resp.get_data(as_text=True)


def test_a_second_code_within_the_minute_gets_429_with_the_wait(sms_app, web):
    assert _send(web).status_code == 302
    resp = _send(web)
    page = resp.get_data(as_text=True)
    assert resp.status_code == 429 and "秒后再重新获取" in page and FIELDS["address"] in page
    assert _count(sms_app, SmsCode) == 1


def test_get_code_for_a_bad_mobile_is_a_422_beside_the_mobile(sms_app, web):
    for bad in ("", "12345", "85291234567", "1" * 200):
        resp = _send(web, mobile=bad)
        assert resp.status_code == 422, bad
        assert 'id="mobile-error"' in resp.get_data(as_text=True)
    assert _count(sms_app, SmsCode) == 0


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "abcdef",
        "12345",
        "1234567",
        "１２３４５６",
        "12 34 5",
        "' OR 1=1 --",
        "9" * 5000,
        "\x00" * 6,
    ],
)
def test_hostile_codes_get_a_chinese_4xx(sms_app, web, typed):
    _send(web)
    resp = web.post("/register", data={**FIELDS, "sms_code": typed})
    assert 400 <= resp.status_code < 500
    assert "验证码" in resp.get_data(as_text=True)
    assert _count(sms_app, Participant) == 0


def test_many_tries_across_clients_cannot_guess_the_code(sms_app, web):
    _send(web)
    code = _sender(sms_app).last_code(FIELDS["mobile"])
    statuses = set()
    guesses = [f"{n:06d}" for n in range(200) if f"{n:06d}" != code]
    for start in range(0, len(guesses), 20):  # ten browsers, twenty guesses each
        client = sms_app.test_client()
        client.post("/consent", data={"agree_rules": "y", "agree_sensitive": "y"})
        for guess in guesses[start : start + 20]:
            statuses.add(client.post("/register", data={**FIELDS, "sms_code": guess}).status_code)
    assert statuses == {422}
    # After five wrong tries even the right code is dead: a new code must be sent.
    resp = web.post("/register", data={**FIELDS, "sms_code": code})
    assert resp.status_code == 422 and "错误次数过多" in resp.get_data(as_text=True)
    assert _count(sms_app, Participant) == 0


def test_a_provider_failure_is_a_503_with_a_chinese_message_and_no_charge(sms_app, web):
    class Down:
        name = "down"

        def send_code(self, mobile: str, code: str) -> None:
            raise SmsError("timeout")

    sms_app.extensions["quiz.sms"] = Down()
    resp = _send(web)
    assert resp.status_code == 503 and "短信发送失败" in resp.get_data(as_text=True)
    sms_app.extensions["quiz.sms"] = ConsoleSender()
    assert _send(web).status_code == 302  # no one-minute wait after a failed send


def test_campaign_with_sms_off_registers_without_a_code(client):
    client.post("/consent", data={"agree_rules": "y", "agree_sensitive": "y"})
    assert 'name="sms_code"' not in client.get("/register").get_data(as_text=True)
    resp = client.post("/register", data=FIELDS)
    assert resp.status_code == 302


def test_the_demo_campaign_asks_for_the_code(session):
    from quiz.campaign.spec import default_campaign_path, load_campaign_file

    assert load_campaign_file(default_campaign_path()).sms_verification == "required"
    assert current_campaign(session).content["sms_verification"] == "off"  # tests' default


def test_a_double_tap_after_the_code_was_used_is_told_to_continue_its_entry(sms_app, web):
    _send(web)
    code = _sender(sms_app).last_code(FIELDS["mobile"])
    data = {**FIELDS, "sms_code": code}
    assert web.post("/register", data=data).status_code == 302
    # The same person again (a double tap, or a second browser): the same ID number and
    # mobile, the code already used. The usual refusal with 继续答题, not a code error.
    resp = web.post("/register", data=data)
    page = resp.get_data(as_text=True)
    assert resp.status_code == 409
    assert "该身份证号码已经报名参加本次活动" in page and "继续答题" in page
    assert _count(sms_app, Participant) == 1


def test_a_draft_typed_in_one_campaign_does_not_fill_anothers_form(sms_app, web):
    """The fields kept across 获取验证码 belong to their campaign, as the consent does."""
    import dataclasses

    from quiz.campaign.spec import default_campaign_path, install_campaign, load_campaign_file

    assert _send(web).status_code == 302  # a draft in the first campaign
    with sms_app.extensions["quiz.db"].transaction() as session:
        first = session.scalars(select(Campaign)).one()
        spec = dataclasses.replace(
            load_campaign_file(default_campaign_path()),
            slug="spring-quiz",
            opens_at=first.opens_at,
            closes_at=first.closes_at,
            draw_at=first.draw_at,
            freeze_deadline=first.draw_at,
            sms_verification="required",
        )
        install_campaign(session, spec)
    sms_app.extensions["quiz.campaign"].clear()
    agreed = web.post("/c/spring-quiz/consent", data={"agree_rules": "y", "agree_sensitive": "y"})
    assert agreed.status_code == 302
    other = html.unescape(web.get("/c/spring-quiz/register").get_data(as_text=True))
    # (The address is the form's own example, so it is no witness here.)
    assert FIELDS["resident_id"] not in other and FIELDS["mobile"] not in other
    own = html.unescape(web.get("/register").get_data(as_text=True))
    assert FIELDS["resident_id"] in own
