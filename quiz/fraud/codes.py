"""SMS verification codes: issue, limit, verify.

A code is 6 digits, lives 5 minutes, allows 5 attempts and works once; only its keyed
hash (bound to the campaign and the mobile, so another mobile's code never matches) is
stored. Each mobile has one live code: the newest. Sending is limited per mobile
(1 a minute, 5 an hour, 10 a day), per client per day, and per campaign per day (the SMS
budget: SMS pumping costs money, so reaching it stops sending and alerts in the log).
Windows are rolling (the last 60 s, 3,600 s, 86,400 s).

Services flush; the caller commits. `issue_code` does not send: the view commits the
row first, so no database write lock is held while the provider answers, then calls
`deliver`, and `withdraw` when sending failed.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from quiz import identity
from quiz.campaign.lifecycle import FlowError
from quiz.db import utcnow
from quiz.fraud.sms import SmsError, SmsSender
from quiz.models import Campaign, Participant, SmsCode
from quiz.privacy.protection import Protector

log = logging.getLogger("quiz.fraud")

CODE_DIGITS = 6
CODE_LIFETIME = timedelta(minutes=5)
MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class SmsLimits:
    """How many codes may be sent; the per-client and per-campaign numbers are settings."""

    per_mobile_minute: int = 1
    per_mobile_hour: int = 5
    per_mobile_day: int = 10
    per_client_day: int = 20
    per_campaign_day: int = 20_000


class CodeRefused(FlowError):
    """No code was sent; the message says why and, when known, when to try again."""

    def __init__(self, message: str, retry_after: int = 0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SendFailed(FlowError):
    """The provider did not take the message."""


class CodeRejected(FlowError):
    """The code typed does not prove the mobile (wrong, expired, used up or never sent)."""


class MobileTaken(FlowError):
    """This mobile has already been verified for an entry of the campaign."""


@dataclass(frozen=True)
class IssuedCode:
    """A code saved (as its hash) and to be delivered; `code` lives only in memory."""

    row_id: int
    mobile: str
    code: str
    expires_at: datetime
    resend_at: datetime


def sms_required(campaign: Campaign) -> bool:
    """Whether the campaign file asks for an SMS code at registration."""
    return (campaign.content or {}).get("sms_verification") == "required"


def mainland_mobile(value: str) -> str:
    """The 11 digits of a mainland mobile (+86, valid segment via phonenumbers), or
    IdentityError with the form's Chinese message."""
    return identity.validate_mobile(value)


def _mobile_hash(protector: Protector, mobile: str) -> str:
    # The same hash as Participant.mobile_hash, so the verified-entry check is one look-up.
    return protector.lookup_hash("mobile", mobile)


def client_hash(protector: Protector, client: str) -> str:
    """The client address as a keyed hash: counted, never stored in the clear."""
    return protector.lookup_hash("sms-client", client)


def _code_hash(protector: Protector, campaign_id: int, mobile: str, code: str) -> str:
    return protector.lookup_hash("sms-code", f"{campaign_id}:{mobile}:{code}")


def _count(session: Session, *conditions: object) -> int:
    return int(session.scalar(select(func.count()).select_from(SmsCode).where(*conditions)) or 0)


def _check_limits(
    session: Session,
    campaign_id: int,
    mobile_hash: str,
    client: str,
    now: datetime,
    limits: SmsLimits,
) -> None:
    in_campaign = SmsCode.campaign_id == campaign_id
    same_mobile = SmsCode.mobile_hash == mobile_hash
    last = session.scalar(
        select(func.max(SmsCode.created_at)).where(in_campaign, same_mobile, ~SmsCode.failed)
    )
    if last is not None and now - last < timedelta(minutes=1):
        wait = 60 - int((now - last).total_seconds())
        raise CodeRefused(f"验证码已发送,请{wait}秒后再重新获取。", retry_after=wait)
    sent = ~SmsCode.failed
    for window, allowed, words in (
        (timedelta(hours=1), limits.per_mobile_hour, "1小时"),
        (timedelta(days=1), limits.per_mobile_day, "24小时"),
    ):
        if _count(session, in_campaign, same_mobile, sent, SmsCode.created_at > now - window) >= (
            allowed
        ):
            raise CodeRefused(
                f"该手机号码{words}内获取验证码次数已达上限,请稍后再试。",
                retry_after=int(window.total_seconds()),
            )
    day_ago = SmsCode.created_at > now - timedelta(days=1)
    if (
        _count(session, in_campaign, SmsCode.client_hash == client, sent, day_ago)
        >= limits.per_client_day
    ):
        raise CodeRefused("当前网络获取验证码次数过多,请明天再试。", retry_after=86_400)
    campaign_sent = _count(session, in_campaign, sent, day_ago)
    if campaign_sent >= limits.per_campaign_day:
        # The operator's alert: one line per refused send while the budget is spent.
        log.error(
            "sms-budget-exhausted campaign=%s sent_24h=%d budget=%d",
            campaign_id,
            campaign_sent,
            limits.per_campaign_day,
        )
        raise CodeRefused("验证码发送繁忙,请稍后再试。", retry_after=3600)
    if campaign_sent + 1 == limits.per_campaign_day * 8 // 10:
        log.warning(
            "sms-budget-80pct campaign=%s sent_24h=%d budget=%d",
            campaign_id,
            campaign_sent + 1,
            limits.per_campaign_day,
        )


def verified_entry(
    session: Session, protector: Protector, campaign_id: int, mobile: str
) -> Participant | None:
    """The campaign's entry that already proved this mobile, if any."""
    entry_id = session.scalar(
        select(Participant.id).where(
            Participant.campaign_id == campaign_id,
            Participant.mobile_hash == _mobile_hash(protector, mobile),
            Participant.mobile_verified_at.is_not(None),
        )
    )
    return None if entry_id is None else session.get(Participant, entry_id)


MOBILE_TAKEN_MESSAGE = "该手机号码已用于本次活动报名,每个手机号码限报名一次。"


def issue_code(
    session: Session,
    protector: Protector,
    campaign_id: int,
    mobile: str,
    client: str,
    *,
    now: datetime | None = None,
    limits: SmsLimits | None = None,
) -> IssuedCode:
    """Check the limits and save a new code for the mobile (older ones stop working).

    `mobile`: 11 digits from mainland_mobile; `client`: the client's address.
    CodeRefused when a limit is reached, MobileTaken when the mobile already has a
    verified entry (no SMS is spent on it).
    """
    now = now or utcnow()
    limits = limits or SmsLimits()
    mobile = mainland_mobile(mobile)
    if verified_entry(session, protector, campaign_id, mobile) is not None:
        raise MobileTaken(MOBILE_TAKEN_MESSAGE)
    mobile_hash = _mobile_hash(protector, mobile)
    client_key = client_hash(protector, client)
    _check_limits(session, campaign_id, mobile_hash, client_key, now, limits)
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    row = SmsCode(
        campaign_id=campaign_id,
        mobile_hash=mobile_hash,
        client_hash=client_key,
        code_hash=_code_hash(protector, campaign_id, mobile, code),
        attempts=0,
        created_at=now,
        expires_at=now + CODE_LIFETIME,
        failed=False,
    )
    session.add(row)
    session.flush()
    return IssuedCode(row.id, mobile, code, row.expires_at, now + timedelta(minutes=1))


def deliver(sender: SmsSender, issued: IssuedCode) -> None:
    """Send the code; SendFailed (call `withdraw` then) when the provider refuses."""
    try:
        sender.send_code(issued.mobile, issued.code)
    except SmsError as exc:
        log.error("sms-send-failed backend=%s error=%s", sender.name, exc)
        raise SendFailed("短信发送失败,请稍后重试。") from exc


def withdraw(session: Session, issued: IssuedCode) -> None:
    """A code the provider did not send: it neither works nor counts against the limits."""
    session.execute(
        update(SmsCode).where(SmsCode.id == issued.row_id).values(failed=True, used_at=utcnow())
    )


def seconds_until_resend(
    session: Session,
    protector: Protector,
    campaign_id: int,
    mobile: str,
    *,
    now: datetime | None = None,
) -> int:
    """Seconds before this mobile may ask for another code (0: now); drives the countdown."""
    now = now or utcnow()
    last = session.scalar(
        select(func.max(SmsCode.created_at)).where(
            SmsCode.campaign_id == campaign_id,
            SmsCode.mobile_hash == _mobile_hash(protector, mobile),
            ~SmsCode.failed,
        )
    )
    if last is None:
        return 0
    return max(0, 60 - int((now - last).total_seconds()))


def verify_code(
    session: Session,
    protector: Protector,
    campaign_id: int,
    mobile: str,
    code: str,
    *,
    now: datetime | None = None,
) -> datetime:
    """Accept the mobile's live code once; returns when (the entry's mobile_verified_at).

    CodeRejected with a Chinese message otherwise. Every wrong try counts against the
    live code's five, so guessing costs SMS sends, which are limited.
    """
    now = now or utcnow()
    typed = "".join(ch for ch in code if not ch.isspace())
    if not (typed.isascii() and typed.isdecimal() and len(typed) == CODE_DIGITS):
        raise CodeRejected("请填写短信中的6位数字验证码。")
    live = session.scalars(
        select(SmsCode)
        .where(
            SmsCode.campaign_id == campaign_id,
            SmsCode.mobile_hash == _mobile_hash(protector, mobile),
            ~SmsCode.failed,
        )
        .order_by(SmsCode.created_at.desc(), SmsCode.id.desc())
        .limit(1)
    ).first()
    if live is None:
        raise CodeRejected("请先点击“获取验证码”,验证码将发送到您填写的手机号码。")
    if live.used_at is not None:
        raise CodeRejected("该验证码已使用,请重新获取验证码。")
    if live.expires_at <= now:
        raise CodeRejected("验证码已过期(有效期5分钟),请重新获取。")
    if live.attempts >= MAX_ATTEMPTS:
        raise CodeRejected("验证码错误次数过多,已失效,请重新获取。")
    expected = _code_hash(protector, campaign_id, mobile, typed)
    if not hmac.compare_digest(live.code_hash, expected):
        # The count is raised in the database, so concurrent wrong tries all count.
        attempts = session.execute(
            update(SmsCode)
            .where(SmsCode.id == live.id)
            .values(attempts=SmsCode.attempts + 1)
            .returning(SmsCode.attempts)
        ).scalar_one()
        left = MAX_ATTEMPTS - attempts
        if left <= 0:
            raise CodeRejected("验证码错误次数过多,已失效,请重新获取。")
        raise CodeRejected(f"验证码不正确,还可尝试{left}次。")
    # Used once: a concurrent request with the same code finds used_at already set.
    claimed = session.execute(
        update(SmsCode).where(SmsCode.id == live.id, SmsCode.used_at.is_(None)).values(used_at=now)
    ).rowcount
    if not claimed:
        raise CodeRejected("该验证码已使用,请重新获取验证码。")
    return now
