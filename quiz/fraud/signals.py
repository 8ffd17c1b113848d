"""Risk signals (防刷): reasons to doubt an entry, stored with the cluster they share.

Every entry gets risk keys (`risk_key`): the folded mailing address, the device cookie,
the client network (/24 or /64) and the ID number's region + birth date. At registration
`record_entry` stores them and counts, by index, the entries sharing each key; a key
shared by more entries than its limit puts every entry of that cluster in `risk_signal`.
Signals without a cluster of their own (a virtual-operator mobile, answers faster than a
person reads, a referral burst) are stored the same way, clustered by segment, by speed
and by referral link. `recompute` rebuilds a whole campaign's signals (`quiz risk
recompute`, and after the limits change).
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from quiz.db import utcnow
from quiz.models import Campaign, Participant, QuizItem, ReferralLink, RiskKey, RiskSignal
from quiz.privacy.protection import KeyError_, Protector
from quiz.regions import divisions

# Signal codes and their Chinese names on the review page and in the report.
SIGNALS: dict[str, str] = {
    "address": "同一邮寄地址",
    "device": "同一设备短时间多次报名",
    "network": "同一网段短时间多次报名",
    "segment": "虚拟运营商或物联网号段",
    "idrun": "身份证号同地区同出生日期",
    "fast": "答题过快",
    "referral": "推广链接集中注册",
}
KEY_KINDS = ("address", "device", "network", "idrun")
# The device cookie set on the public pages (quiz.public), a random value kept a year.
DEVICE_COOKIE = "quiz_dev"
DEVICE_COOKIE_DAYS = 365


@dataclass(frozen=True)
class Limits:
    """How many entries may share a key before they are a cluster (more than the limit).

    `address` comes from the campaign file ([quiz] risk_address_limit, default 3); the
    device and network counts are within `window`."""

    address: int = 3
    device: int = 3
    network: int = 5
    idrun: int = 3
    window: timedelta = timedelta(minutes=30)
    fast_seconds: float = 1.0

    def of(self, kind: str) -> int:
        return int(getattr(self, kind))


def limits_of(campaign: Campaign) -> Limits:
    """The campaign's limits: the campaign file's address limit, the rest as shipped."""
    value = (campaign.content or {}).get("risk_address_limit")
    return Limits(address=int(value)) if value else Limits()


# --- keys -------------------------------------------------------------------------------

_DIGITS = str.maketrans("〇零一二三四五六七八九", "00123456789")
_NOT_WORD = re.compile(r"[\W_]+")
# Words that vary in how people write one flat: 号楼/栋/幢 are one building, 单元 a unit.
_SAME_WORDS = (("号楼", "栋"), ("幢", "栋"), ("单元", "单"), ("室", ""), ("号", ""))


def fold_street(text: str, division_code: str | None) -> str:
    """The street part of a mailing address, folded so that one flat typed two ways is
    one key: NFKC (full-width), no spaces or punctuation, Chinese digits as digits, the
    division names (and their short forms) taken out, 号楼/栋/幢 as one word."""
    folded = unicodedata.normalize("NFKC", text).lower()
    for division in divisions.path(division_code) if division_code else ():
        for name in (division.name, _short(division.name)):  # the full name first
            if len(name) >= 2:
                folded = folded.replace(name, "")
    folded = _NOT_WORD.sub("", folded.translate(_DIGITS))
    for old, new in _SAME_WORDS:
        folded = folded.replace(old, new)
    return folded


def _short(name: str) -> str:
    for suffix in ("维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "自治州", "省", "市"):
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            return name[: -len(suffix)]
    return name


def address_key(text: str, division_code: str | None) -> str:
    """The address's key: division code + folded street, hashed (the address itself is
    on the entry already; the hash only makes the key short and fixed)."""
    raw = f"{division_code or ''}|{fold_street(text, division_code)}"
    return hashlib.sha256(raw.encode()).hexdigest()


def address_label(text: str, division_code: str | None) -> str:
    """A masked form of the address for reviewers: the divisions and two street characters."""
    names = "".join(d.name for d in divisions.path(division_code)) if division_code else ""
    street = fold_street(text, division_code)
    return f"{names}{street[:2]}***"


def network_of(ip: str | None) -> str | None:
    """The client's network: an IPv4 address's /24, an IPv6 address's /64."""
    if not ip:
        return None
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    prefix = 24 if address.version == 4 else 64
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def network_label(network: str) -> str:
    """A masked network: 10.1.*.0/24, 2001:db8:*::/64."""
    if ":" in network:
        head = network.split(":")
        return f"{head[0]}:{head[1]}:*::/64"
    a, b, _c, _ = network.split("/")[0].split(".")
    return f"{a}.{b}.*.0/24"


def device_key(cookie: str | None) -> str | None:
    """The device cookie's key (a hash: the cookie is a bearer value)."""
    if not cookie or len(cookie) > 64:
        return None
    return hashlib.sha256(f"device:{cookie}".encode()).hexdigest()


def idrun_key(protector: Protector, number: str, birth: date) -> str:
    """A keyed hash of the ID number's region and birth date (neither is stored in the
    clear: with the masked ID number the birth date would give the whole number back)."""
    return protector.lookup_hash("idrun", f"{number[:6]}{birth.isoformat()}")


@functools.cache
def virtual_segments() -> tuple[str, ...]:
    """The virtual-operator and IoT prefixes (quiz/data/risk/virtual_segments.txt),
    longest first."""
    path = Path(__file__).resolve().parent.parent / "data" / "risk" / "virtual_segments.txt"
    prefixes = [
        line.strip()
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    return tuple(sorted(prefixes, key=len, reverse=True))


def segment_of(mobile: str) -> str | None:
    """The virtual-operator or IoT prefix the mobile starts with, if any."""
    return next((p for p in virtual_segments() if mobile.startswith(p)), None)


@dataclass(frozen=True)
class EntryFacts:
    """What the signals of one new entry are computed from (the view has them in clear)."""

    mobile: str
    resident_id: str
    birth_date: date
    device_cookie: str | None
    ip: str | None


def keys_of(
    protector: Protector, participant: Participant, facts: EntryFacts
) -> dict[str, tuple[str, str]]:
    """kind -> (key, masked label) of the entry's risk keys."""
    keys = {
        "address": (
            address_key(participant.address, participant.division_code),
            address_label(participant.address, participant.division_code),
        ),
        "idrun": (
            idrun_key(protector, facts.resident_id, facts.birth_date),
            f"{facts.resident_id[:6]}(出生日期相同)",
        ),
    }
    device = device_key(facts.device_cookie)
    if device:
        keys["device"] = (device, f"设备 {device[:8]}")
    network = network_of(facts.ip)
    if network:
        keys["network"] = (network, network_label(network))
    return keys


# --- storing ----------------------------------------------------------------------------


def _upsert(session: Session, table: Any) -> Any:
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing()


def _flag(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    if rows:
        session.execute(_upsert(session, RiskSignal.__table__), list(rows))


_WINDOWED = ("device", "network")


def record_entry(
    session: Session,
    protector: Protector,
    participant: Participant,
    facts: EntryFacts,
    limits: Limits,
    *,
    now: datetime | None = None,
) -> list[str]:
    """Store a new entry's keys and the signals they raise; returns the entry's signals.

    Indexed look-ups only: per key, the count of entries sharing it (within the window
    for device and network); the whole cluster is written once, when it first goes over
    its limit, and each later entry of it adds only itself."""
    now = now or participant.created_at or utcnow()
    campaign_id = participant.campaign_id
    keys = keys_of(protector, participant, facts)
    session.execute(
        _upsert(session, RiskKey.__table__),
        [
            {
                "participant_id": participant.id,
                "kind": kind,
                "campaign_id": campaign_id,
                "key": key,
                "created_at": now,
            }
            for kind, (key, _) in keys.items()
        ],
    )
    raised: list[str] = []
    for kind, (key, label) in keys.items():
        where = [RiskKey.campaign_id == campaign_id, RiskKey.kind == kind, RiskKey.key == key]
        if kind in _WINDOWED:
            where += [RiskKey.created_at > now - limits.window, RiskKey.created_at <= now]
        limit = limits.of(kind)
        count = session.scalar(select(func.count()).select_from(RiskKey).where(*where)) or 0
        if count <= limit:
            continue
        raised.append(kind)
        ids = (
            list(session.scalars(select(RiskKey.participant_id).where(*where)))
            if count == limit + 1
            else [participant.id]
        )
        _flag(session, [_row(campaign_id, pid, kind, key, label, now) for pid in ids])
    segment = segment_of(facts.mobile)
    if segment:
        raised.append("segment")
        _flag(
            session, [_row(campaign_id, participant.id, "segment", segment, f"{segment} 号段", now)]
        )
    if participant.referral_flagged and participant.referral_link_id is not None:
        raised.append("referral")
        _flag(session, [_referral_row(session, participant, now)])
    return raised


def _row(
    campaign_id: int, participant_id: int, signal: str, key: str, detail: str, now: datetime
) -> dict[str, Any]:
    return {
        "campaign_id": campaign_id,
        "participant_id": participant_id,
        "signal": signal,
        "cluster_key": key,
        "detail": detail[:200],
        "created_at": now,
    }


def _referral_row(session: Session, participant: Participant, now: datetime) -> dict[str, Any]:
    code = session.scalar(
        select(ReferralLink.code).where(ReferralLink.id == participant.referral_link_id)
    )
    return _row(
        participant.campaign_id,
        participant.id,
        "referral",
        f"link:{participant.referral_link_id}",
        f"推广链接 {code or participant.referral_link_id}",
        now,
    )


def seconds_per_question(created_at: datetime, answered: Iterable[datetime | None]) -> float | None:
    """Average seconds per answered question from registration to the last answer."""
    times = [t for t in answered if t is not None]
    if not times:
        return None
    return max((max(times) - created_at).total_seconds(), 0.0) / len(times)


def check_answer_speed(
    session: Session, participant: Participant, limits: Limits, *, now: datetime | None = None
) -> bool:
    """At completion: flag answers faster than a person reads (< 1 s a question)."""
    answered = session.scalars(
        select(QuizItem.answered_at).where(QuizItem.participant_id == participant.id)
    )
    speed = seconds_per_question(participant.created_at, answered)
    if speed is None or speed >= limits.fast_seconds:
        return False
    _flag(
        session,
        [
            _row(
                participant.campaign_id,
                participant.id,
                "fast",
                "fast",
                "平均每题不到1秒",
                now or utcnow(),
            )
        ],
    )
    return True


# --- the whole campaign ------------------------------------------------------------------


def recompute(
    session: Session, protector: Protector, campaign: Campaign, *, limits: Limits | None = None
) -> int:
    """Rebuild every signal of the campaign from its entries (keys added where missing:
    entries made before; their device is unknown). Returns the entries with a signal."""
    limits = limits or limits_of(campaign)
    now = utcnow()
    entries = session.execute(
        select(
            Participant.id,
            Participant.address,
            Participant.division_code,
            Participant.consent_ip,
            Participant.created_at,
            Participant.id_enc,
            Participant.mobile_enc,
            Participant.referral_flagged,
            Participant.referral_link_id,
            Participant.status,
        ).where(Participant.campaign_id == campaign.id, Participant.anonymised_at.is_(None))
    ).all()
    stored: dict[tuple[int, str], tuple[str, datetime]] = {
        (pid, kind): (key, created)
        for pid, kind, key, created in session.execute(
            select(RiskKey.participant_id, RiskKey.kind, RiskKey.key, RiskKey.created_at).where(
                RiskKey.campaign_id == campaign.id
            )
        )
    }
    new_keys: list[dict[str, Any]] = []
    labels: dict[tuple[str, str], str] = {}
    members: dict[tuple[str, str], list[tuple[int, datetime]]] = defaultdict(list)
    rows: list[dict[str, Any]] = []
    codes = dict(session.execute(select(ReferralLink.id, ReferralLink.code)).all())
    for e in entries:
        number, mobile = _clear(protector, e.id_enc), _clear(protector, e.mobile_enc)
        computed = {
            "address": (
                address_key(e.address, e.division_code),
                address_label(e.address, e.division_code),
            )
        }
        network = network_of(e.consent_ip)
        if network:
            computed["network"] = (network, network_label(network))
        birth = _birth(number)
        if birth is not None:
            computed["idrun"] = (idrun_key(protector, number, birth), f"{number[:6]}(出生日期相同)")
        for kind in KEY_KINDS:
            if (e.id, kind) in stored:
                key, created = stored[(e.id, kind)]
                label = computed[kind][1] if kind in computed else f"设备 {key[:8]}"
            elif kind in computed:
                (key, label), created = computed[kind], e.created_at
                new_keys.append(
                    {
                        "participant_id": e.id,
                        "kind": kind,
                        "campaign_id": campaign.id,
                        "key": key,
                        "created_at": created,
                    }
                )
            else:
                continue
            labels[(kind, key)] = label
            members[(kind, key)].append((e.id, created))
        segment = segment_of(mobile)
        if segment:
            rows.append(_row(campaign.id, e.id, "segment", segment, f"{segment} 号段", now))
        if e.referral_flagged and e.referral_link_id is not None:
            code = codes.get(e.referral_link_id, e.referral_link_id)
            rows.append(
                _row(
                    campaign.id,
                    e.id,
                    "referral",
                    f"link:{e.referral_link_id}",
                    f"推广链接 {code}",
                    now,
                )
            )
    for (kind, key), people in members.items():
        for pid in _clustered(
            people, limits.of(kind), limits.window if kind in _WINDOWED else None
        ):
            rows.append(_row(campaign.id, pid, kind, key, labels[(kind, key)], now))
    rows.extend(_fast_rows(session, campaign, limits, now))
    if new_keys:
        for start in range(0, len(new_keys), 500):
            session.execute(_upsert(session, RiskKey.__table__), new_keys[start : start + 500])
    session.execute(delete(RiskSignal).where(RiskSignal.campaign_id == campaign.id))
    for start in range(0, len(rows), 500):
        _flag(session, rows[start : start + 500])
    session.flush()
    return len({r["participant_id"] for r in rows})


def _clustered(
    people: list[tuple[int, datetime]], limit: int, window: timedelta | None
) -> set[int]:
    """The entries of a key that are in a cluster: all of them when more than `limit`
    share it; with a window, those in any window holding more than `limit`."""
    if len(people) <= limit:
        return set()
    if window is None:
        return {pid for pid, _ in people}
    people = sorted(people, key=lambda p: (p[1], p[0]))
    flagged: set[int] = set()
    start = 0
    for end in range(len(people)):
        while people[end][1] - people[start][1] >= window:
            start += 1
        if end - start + 1 > limit:
            flagged.update(pid for pid, _ in people[start : end + 1])
    return flagged


def _fast_rows(
    session: Session, campaign: Campaign, limits: Limits, now: datetime
) -> list[dict[str, Any]]:
    rows = session.execute(
        select(
            Participant.id,
            Participant.created_at,
            func.max(QuizItem.answered_at),
            func.count(QuizItem.answered_at),
        )
        .join(QuizItem, QuizItem.participant_id == Participant.id)
        .where(Participant.campaign_id == campaign.id, Participant.status == "completed")
        .group_by(Participant.id, Participant.created_at)
    ).all()
    found = []
    for pid, created, last, answered in rows:
        if last is None or not answered:
            continue
        speed = max((_aware(last) - created).total_seconds(), 0.0) / answered
        if speed < limits.fast_seconds:
            found.append(_row(campaign.id, pid, "fast", "fast", "平均每题不到1秒", now))
    return found


def _aware(value: datetime) -> datetime:
    # func.max over the UTC column comes back naive on SQLite (no type on an aggregate).
    from datetime import UTC

    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _clear(protector: Protector, token: bytes) -> str:
    try:
        return protector.decrypt(token)
    except (KeyError_, ValueError):
        return ""


def _birth(number: str) -> date | None:
    try:
        return date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return None
