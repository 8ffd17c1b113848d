"""Test data builders: a campaign open now, valid identities, participants."""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session
from stdnum.cn import ric

from quiz.branches.routing import AddressInput, resolve_address
from quiz.branches.service import seed_default_branches
from quiz.campaign.spec import default_campaign_path, install_campaign, load_campaign_file
from quiz.engine.sheets import record_answer
from quiz.entry.signup import Consent, Registration, items_of, register
from quiz.identity import validate_resident_id
from quiz.models import Campaign, Participant
from quiz.privacy.protection import Protector

# Real county-level prefixes and matching addresses/postal codes.
PLACES = [
    ("110105", "北京市朝阳区建国路88号", "100022"),
    ("310115", "上海市浦东新区张江路100号", "201203"),
    ("420102", "湖北省武汉市江岸区沿江大道100号", "430014"),
    ("440305", "广东省深圳市南山区科技园路1号", "518057"),
    ("330106", "浙江省杭州市西湖区文三路90号", "310012"),
    ("510107", "四川省成都市武侯区人民南路四段1号", "610041"),
]


def make_resident_id(prefix: str = "110105", birth: date | None = None, seq: int = 1) -> str:
    """A valid 18-digit resident ID number."""
    birth = birth or date(1985, 6, 15)
    body = f"{prefix}{birth:%Y%m%d}{seq % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")


def make_mobile(n: int) -> str:
    """A valid mainland mobile number, distinct for each n."""
    return f"139{n % 100_000_000:08d}"


def install_test_campaign(session: Session, **changes: Any) -> Campaign:
    """The shipped campaign, its window moved so that it is open now, plus default branches."""
    spec = load_campaign_file(default_campaign_path())
    now = datetime.now(UTC)
    defaults: dict[str, Any] = {
        "opens_at": now - timedelta(days=1),
        "closes_at": now + timedelta(days=30),
        "draw_at": now + timedelta(days=40),
        "freeze_deadline": now + timedelta(days=35),
        # The existing flow tests register without a code; tests/fraud turn it on.
        "sms_verification": "off",
        # Likewise without the bot challenge and the one-winner-per-address rule (tests/fraud).
        "bot_challenge": "off",
        "one_winner_per_address": False,
    }
    defaults.update(changes)
    campaign = install_campaign(session, dataclasses.replace(spec, **defaults))
    seed_default_branches(session)
    return campaign


def registration(n: int = 1, **kw: Any) -> Registration:
    """A valid registration; n varies the ID number and mobile."""
    prefix, address, postal = PLACES[n % len(PLACES)]
    rid = kw.pop("resident_id", None) or make_resident_id(prefix, seq=n)
    return Registration(
        name=kw.pop("name", "张小三"),
        resident_id=validate_resident_id(rid),
        mobile=kw.pop("mobile", None) or make_mobile(n),
        landline=kw.pop("landline", None),
        postal_code=kw.pop("postal_code", postal),
        address=resolve_address(kw.pop("address", AddressInput(free_text=address))),
    )


def consent(now: datetime | None = None) -> Consent:
    return Consent(
        rules_version="test",
        privacy_version="test",
        sensitive=True,
        at=now or datetime.now(UTC),
        ip="127.0.0.1",
    )


def make_participant(
    session: Session,
    protector: Protector,
    campaign: Campaign,
    n: int = 1,
    *,
    complete: bool = False,
    seed: int | None = None,
    **kw: Any,
) -> Participant:
    """A registered participant; with complete=True every question answered (first option)."""
    rng = random.Random(seed if seed is not None else n)
    participant = register(session, protector, campaign, registration(n, **kw), consent(), rng=rng)
    if complete:
        for item in items_of(session, participant):
            record_answer(session, participant, item.position, [item.question.options[0]["key"]])
    session.flush()
    return participant


def make_staff(session: Session, username: str = "admin1", role: str = "admin", **kw: Any) -> Any:
    """A staff user (password hashing is done by quiz.staff.auth once it exists)."""
    from quiz.models import StaffUser

    user = StaffUser(username=username, role=role, password_hash=kw.pop("password_hash", "!"), **kw)
    session.add(user)
    session.flush()
    return user


def login_as(client: Any, user: Any) -> None:
    """Put a fully authenticated staff session (password and second factor done) in the client."""
    with client.session_transaction() as sess:
        sess["staff"] = {"id": user.id, "ver": user.session_version, "totp_ok": True}
