"""SMS verification codes through the service, without HTTP (SQLite and PostgreSQL)."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import select

from quiz.campaign.lifecycle import current_campaign
from quiz.db import utcnow
from quiz.fraud import codes
from quiz.fraud.codes import (
    CodeRefused,
    CodeRejected,
    MobileTaken,
    SendFailed,
    SmsLimits,
    deliver,
    issue_code,
    verify_code,
    withdraw,
)
from quiz.fraud.sms import ConsoleSender, SmsError
from quiz.identity import IdentityError
from quiz.models import SmsCode
from tests.factories import make_participant

MOBILE = "13912345678"
OTHER = "13812345678"
CLIENT = "203.0.113.7"


def _issue(session, protector, mobile=MOBILE, client=CLIENT, now=None, limits=None):
    campaign = current_campaign(session)
    return issue_code(session, protector, campaign.id, mobile, client, now=now, limits=limits)


def _verify(session, protector, code, mobile=MOBILE, now=None):
    campaign = current_campaign(session)
    return verify_code(session, protector, campaign.id, mobile, code, now=now)


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_a_code_is_six_digits_stored_only_as_a_hash_and_works_once(session, protector):
    issued = _issue(session, protector)
    assert len(issued.code) == 6 and issued.code.isdigit()
    assert issued.expires_at - utcnow() <= timedelta(minutes=5)
    stored = session.scalars(select(SmsCode)).one()
    assert issued.code not in stored.code_hash and MOBILE not in stored.mobile_hash
    assert CLIENT not in stored.client_hash
    assert _verify(session, protector, issued.code) is not None
    with pytest.raises(CodeRejected, match="已使用"):
        _verify(session, protector, issued.code)


def test_full_width_digits_and_spaces_typed_on_a_phone_are_refused_or_folded(session, protector):
    issued = _issue(session, protector)
    with pytest.raises(CodeRejected, match="6位数字"):
        _verify(session, protector, "12345")
    with pytest.raises(CodeRejected, match="6位数字"):
        _verify(session, protector, "１２３４５６")  # full-width: not ASCII digits
    _verify(session, protector, f" {issued.code[:3]} {issued.code[3:]} ")


def test_an_expired_code_is_refused(session, protector):
    start = utcnow() - timedelta(minutes=6)
    issued = _issue(session, protector, now=start)
    with pytest.raises(CodeRejected, match="已过期"):
        _verify(session, protector, issued.code)
    # Just inside five minutes it still works.
    later = _issue(session, protector, now=utcnow() - timedelta(minutes=4, seconds=50))
    _verify(session, protector, later.code)


def test_five_wrong_tries_kill_the_code_even_the_right_one_after(session, protector):
    issued = _issue(session, protector)
    for left in (4, 3, 2, 1):
        with pytest.raises(CodeRejected, match=f"还可尝试{left}次"):
            _verify(session, protector, _wrong(issued.code))
    with pytest.raises(CodeRejected, match="错误次数过多"):
        _verify(session, protector, _wrong(issued.code))
    with pytest.raises(CodeRejected, match="错误次数过多"):
        _verify(session, protector, issued.code)


def test_another_mobiles_code_does_not_prove_this_mobile(session, protector):
    mine = _issue(session, protector, mobile=MOBILE)
    theirs = _issue(session, protector, mobile=OTHER)
    if theirs.code != mine.code:
        with pytest.raises(CodeRejected, match="不正确"):
            _verify(session, protector, theirs.code, mobile=MOBILE)
    with pytest.raises(CodeRejected, match="获取验证码"):
        _verify(session, protector, "123456", mobile="13700001111")  # never sent


def test_only_the_newest_code_of_a_mobile_is_live(session, protector):
    old = _issue(session, protector, now=utcnow() - timedelta(minutes=2))
    new = _issue(session, protector)
    if old.code != new.code:
        with pytest.raises(CodeRejected):
            _verify(session, protector, old.code)
    _verify(session, protector, new.code)


def test_one_code_a_minute_per_mobile_with_the_wait_told(session, protector):
    now = utcnow()
    _issue(session, protector, now=now)
    with pytest.raises(CodeRefused, match="秒后") as refused:
        _issue(session, protector, now=now + timedelta(seconds=20))
    assert 35 <= refused.value.retry_after <= 40
    _issue(session, protector, now=now + timedelta(seconds=61))


def test_five_an_hour_and_ten_a_day_per_mobile(session, protector):
    start = utcnow() - timedelta(hours=23)
    for i in range(5):
        _issue(session, protector, now=start + timedelta(minutes=2 * i))
    with pytest.raises(CodeRefused, match="1小时"):
        _issue(session, protector, now=start + timedelta(minutes=30))
    for i in range(5):
        _issue(session, protector, now=start + timedelta(hours=2, minutes=2 * i))
    with pytest.raises(CodeRefused, match="24小时"):
        _issue(session, protector, now=start + timedelta(hours=5))
    # A day after the first sends the window has room again.
    _issue(session, protector, now=start + timedelta(hours=24, minutes=1))


def test_per_client_limit_across_many_mobiles(session, protector):
    limits = SmsLimits(per_client_day=3)
    for n in range(3):
        _issue(session, protector, mobile=f"1391111000{n}", limits=limits)
    with pytest.raises(CodeRefused, match="当前网络"):
        _issue(session, protector, mobile="13911110009", limits=limits)
    _issue(session, protector, mobile="13911110009", client="198.51.100.1", limits=limits)


def test_campaign_budget_stops_sending_and_alerts(session, protector, caplog):
    limits = SmsLimits(per_client_day=100, per_campaign_day=5)
    with caplog.at_level(logging.WARNING, logger="quiz.fraud"):
        for n in range(5):
            _issue(session, protector, mobile=f"1392222000{n}", client=f"10.0.0.{n}", limits=limits)
        assert "sms-budget-80pct" in caplog.text
        with pytest.raises(CodeRefused, match="繁忙"):
            _issue(session, protector, mobile="13922220009", client="10.0.1.1", limits=limits)
    assert "sms-budget-exhausted" in caplog.text and "budget=5" in caplog.text


def test_only_mainland_mobiles(session, protector):
    for bad in ("85291234567", "12345678901", "1391234567", "+1 415 555 0100"):
        with pytest.raises(IdentityError):
            _issue(session, protector, mobile=bad)
    assert _issue(session, protector, mobile="+86 139 1234 5678").mobile == MOBILE


def test_a_mobile_already_verified_for_an_entry_gets_no_code(session, protector):
    campaign = current_campaign(session)
    participant = make_participant(session, protector, campaign, 5)
    mobile = protector.decrypt(participant.mobile_enc)
    participant.mobile_verified_at = utcnow()
    session.flush()
    with pytest.raises(MobileTaken):
        _issue(session, protector, mobile=mobile)
    assert session.scalars(select(SmsCode)).first() is None


class _Refusing:
    name = "refusing"

    def send_code(self, mobile: str, code: str) -> None:
        raise SmsError("isv.BUSINESS_LIMIT_CONTROL")


def test_a_failed_send_neither_works_nor_counts(session, protector):
    issued = _issue(session, protector)
    with pytest.raises(SendFailed, match="发送失败"):
        deliver(_Refusing(), issued)
    withdraw(session, issued)
    with pytest.raises(CodeRejected):
        _verify(session, protector, issued.code)
    again = _issue(session, protector)  # no one-minute wait after a failure
    sender = ConsoleSender()
    deliver(sender, again)
    assert sender.last_code(MOBILE) == again.code
    _verify(session, protector, again.code)


def test_seconds_until_resend_drives_the_countdown(session, protector):
    campaign = current_campaign(session)
    now = utcnow()
    assert codes.seconds_until_resend(session, protector, campaign.id, MOBILE, now=now) == 0
    _issue(session, protector, now=now)
    left = codes.seconds_until_resend(
        session, protector, campaign.id, MOBILE, now=now + timedelta(seconds=15)
    )
    assert left == 45
