"""From a mailing address to a division code and the branch (机构) that gets the lead."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, or_, select, true, update
from sqlalchemy.orm import Session

from quiz.engine import entry_counts
from quiz.identity import IdentityError
from quiz.models import Branch, BranchRoute, Campaign, Participant, ReferralLink, StaffUser
from quiz.regions import divisions
from quiz.regions.parser import Location, parse_address
from quiz.regions.postal import postal_code_provinces
from quiz.staff import audit
from quiz.text_safety import strip_invisible

MAX_ADDRESS = 200


class RoutingError(ValueError):
    """A place or branch choice that cannot be applied (message is shown to staff)."""


@dataclass(frozen=True)
class AddressInput:
    """The address as submitted: cascading-select codes plus detail, or one free-text line."""

    free_text: str = ""
    province_code: str = ""
    city_code: str = ""
    district_code: str = ""
    detail: str = ""


@dataclass(frozen=True)
class ResolvedAddress:
    """The address text to store and where it lies."""

    text: str
    location: Location


def resolve_address(address: AddressInput) -> ResolvedAddress:
    """Validate the submitted address; selected codes win over free text.

    An address the parser cannot place is accepted (the lead goes to head
    office's unassigned queue) but an empty or codes-that-contradict address is refused.
    """
    # Invisible and direction characters go first: 北京\u200b市 would not parse.
    detail = " ".join(strip_invisible(address.detail).split())
    if address.province_code or address.city_code or address.district_code:
        code = address.district_code or address.city_code or address.province_code
        chain = divisions.path(code) if divisions.get(code) else ()
        given = [c for c in (address.province_code, address.city_code, address.district_code) if c]
        if not chain or any(c not in {d.code for d in chain} for c in given):
            raise IdentityError("所选省市区不正确,请重新选择")
        if len(detail) < 2:
            raise IdentityError("请填写详细地址(街道、门牌号)")
        names = "".join(d.name for d in chain if not _repeats_parent(d, chain))
        text = f"{names}{detail}"
        parsed = parse_address(text)
        # The selects are authoritative; the parser may only add a more specific district.
        parsed_chain = divisions.path(parsed.code) if parsed.code else ()
        if code in {d.code for d in parsed_chain}:
            chain = parsed_chain
        location = _location_from_chain(chain)
    else:
        text = " ".join(strip_invisible(address.free_text).split())
        if not text:
            raise IdentityError("请填写邮寄地址")
        if len(text) < 6:
            raise IdentityError("邮寄地址过短,请填写省、市、区县和详细地址")
        location = parse_address(text)
    if len(text) > MAX_ADDRESS:
        raise IdentityError(f"邮寄地址不能超过{MAX_ADDRESS}个字")
    return ResolvedAddress(text=text, location=location)


def _repeats_parent(division: divisions.Division, chain: tuple[divisions.Division, ...]) -> bool:
    # 北京市 / 北京市 (municipality's city level) would otherwise be written twice.
    return division.level == divisions.PREFECTURE and any(
        d.name == division.name for d in chain if d.level == divisions.PROVINCE
    )


def _location_from_chain(chain: tuple[divisions.Division, ...]) -> Location:
    """Province, city and district of a chain, stored the way parse_address() stores them.

    A municipality is its own city (北京市/朝阳区: city_code 110000) and a county-level
    city directly under a province is a city without a district (湖北省/仙桃市: city_code
    429004), so a city-level branch override can name either.
    """
    if not chain:
        return Location(unresolved="no administrative division found")
    province = chain[0]
    rest = chain[1:]
    city: divisions.Division | None
    district: divisions.Division | None = None
    if province.code in divisions.MUNICIPALITIES or not divisions.children(province.code):
        city = province
        district = rest[-1] if rest else None
    elif not rest:
        city = None
    elif rest[0].level == divisions.COUNTY:  # 仙桃, 济源: county-level, no prefecture above
        city = rest[0]
    else:
        city = rest[0]
        district = rest[1] if len(rest) > 1 else None
    most = district or city or province
    return Location(
        province_code=province.code,
        province=province.name,
        city_code=city.code if city else None,
        city=city.name if city else None,
        district_code=district.code if district else None,
        district=district.name if district else None,
        code=most.code,
        unresolved=None if city else "no city",
    )


# Built once on table columns (it runs on every registration): the statement keeps its
# SQL cache key and skips the ORM's compile step.
_ROUTE = BranchRoute.__table__.c
_ROUTES_FOR = select(_ROUTE.city_code, _ROUTE.branch_id).where(
    _ROUTE.province_code == bindparam("province"),
    or_(_ROUTE.city_code.is_(None), _ROUTE.city_code == bindparam("city")),
)


def branch_id_for(session: Session, province_code: str | None, city_code: str | None) -> int | None:
    """The branch for a place: a city override first, else the province's default."""
    if not province_code:
        return None
    routes = session.execute(_ROUTES_FOR, {"province": province_code, "city": city_code}).all()
    chosen = next((r for r in routes if r.city_code is not None), None) or next(
        (r for r in routes if r.city_code is None), None
    )
    return chosen.branch_id if chosen else None


def branch_for(session: Session, province_code: str | None, city_code: str | None) -> Branch | None:
    """The Branch row for a place (see branch_id_for)."""
    branch_id = branch_id_for(session, province_code, city_code)
    return session.get(Branch, branch_id) if branch_id is not None else None


def route_participant(
    session: Session,
    participant: Participant,
    resolved: ResolvedAddress,
    *,
    referral: dict[str, Any] | None = None,
) -> None:
    """Store the address and its codes on the participant and assign the branch."""
    loc = resolved.location
    participant.address = resolved.text
    participant.province_code = loc.province_code
    participant.city_code = loc.city_code
    participant.district_code = loc.district_code
    participant.division_code = loc.code
    participant.unresolved_reason = loc.unresolved
    branch_id = branch_id_for(session, loc.province_code, loc.city_code)
    participant.address_branch_id = branch_id
    participant.branch_id = branch_id
    if referral:
        participant.referral_link_id = referral.get("link_id")
        participant.agent_id = referral.get("agent_id")
        participant.channel_id = referral.get("channel_id")
        referral_branch = referral.get("branch_id")
        if referral_branch and (referral.get("rule") == "referral" or branch_id is None):
            participant.branch_id = referral_branch


def cities_of(province_code: str) -> tuple[divisions.Division, ...]:
    """The divisions a city-level route may name: prefectures and county-level cities
    directly under the province (仙桃市). Municipalities have none: their city is themselves."""
    if province_code in divisions.MUNICIPALITIES:
        return ()
    return divisions.children(province_code)


@dataclass(frozen=True)
class Candidate:
    """A place an ambiguous address may mean, for the unassigned queue's buttons."""

    code: str
    label: str
    postal_match: bool


def candidate_places(
    reason: str | None, province_code: str | None, postal_code: str
) -> list[Candidate]:
    """The divisions an ambiguous address names (from its unresolved reason), those whose
    province matches the postal code first: "ambiguous: 吉林省吉林市 / 湖北省..." or
    "ambiguous city: 甲 / 乙" (cities of the address's province)."""
    if not reason or not reason.startswith("ambiguous"):
        return []
    kind, _, names = reason.partition(":")
    wanted = [n.strip() for n in names.split(" / ") if n.strip()]
    found: dict[str, Candidate] = {}
    by_postal = postal_code_provinces(postal_code)
    provinces = (
        [divisions.get(province_code)]
        if kind.strip() == "ambiguous city" and province_code
        else list(divisions.provinces())
    )
    for province in provinces:
        if province is None:
            continue
        match = province.code in by_postal
        for name in wanted:
            if kind.strip() == "ambiguous city":
                rest = name
            elif name.startswith(province.name):
                rest = name[len(province.name) :]
            else:
                continue
            if not rest or province.code in divisions.MUNICIPALITIES:
                found.setdefault(province.code, Candidate(province.code, province.name, match))
                continue
            for city in cities_of(province.code):
                if rest.startswith(city.name):
                    label = (
                        city.name
                        if city.name.startswith(province.name)
                        else (province.name + city.name)
                    )
                    found.setdefault(city.code, Candidate(city.code, label, match))
    return sorted(found.values(), key=lambda c: (not c.postal_match, c.code))


@dataclass(frozen=True)
class RouteTable:
    """The whole mapping in memory (branch codes), for bulk work without a query per line."""

    province: dict[str, str]
    city: dict[tuple[str, str], str]

    def branch_code(self, province_code: str | None, city_code: str | None) -> str | None:
        """A city override first, else the province default, else None."""
        if not province_code:
            return None
        if city_code:
            code = self.city.get((province_code, city_code))
            if code is not None:
                return code
        return self.province.get(province_code)

    def for_location(self, location: Location) -> str | None:
        """Branch code for a parsed location (the shape quiz.regions.locate expects)."""
        return self.branch_code(location.province_code, location.city_code)


def load_route_table(session: Session) -> RouteTable:
    """Load every route with one query."""
    rows = session.execute(
        select(BranchRoute.province_code, BranchRoute.city_code, Branch.code).join(
            Branch, Branch.id == BranchRoute.branch_id
        )
    ).all()
    province = {p: b for p, c, b in rows if c is None}
    city = {(p, c): b for p, c, b in rows if c is not None}
    return RouteTable(province, city)


def reassign_all(session: Session) -> int:
    """Re-apply the mapping to every placed lead; returns how many leads changed branch.

    One UPDATE per route (set-based, no row loop), so a million leads take seconds.
    Leads with no province, or in a province no route covers, keep their branch: they
    were placed by hand from the unassigned queue or by a referral, and the mapping has
    nothing better to say. Under a campaign's referral_rule "referral", leads that came
    through a branch's or an agent's link keep their branch; their address_branch_id is
    still refreshed.
    """
    routes = session.execute(
        select(BranchRoute.province_code, BranchRoute.city_code, BranchRoute.branch_id)
    ).all()
    overrides: dict[str, list[str]] = {}
    for province, city, _branch in routes:
        if city is not None:
            overrides.setdefault(province, []).append(city)
    referral_campaigns = [
        cid
        for cid, content in session.execute(select(Campaign.id, Campaign.content)).all()
        if (content or {}).get("referral_rule") == "referral"
    ]
    # The leads registration gave a link's branch (an agent's or a branch's own link):
    # a reassign by address must not take them back from the branch that brought them.
    branch_links = select(ReferralLink.id).where(ReferralLink.branch_id.is_not(None))
    movable: ColumnElement[bool] = (
        or_(
            and_(
                Participant.agent_id.is_(None),
                or_(
                    Participant.referral_link_id.is_(None),
                    Participant.referral_link_id.not_in(branch_links),
                ),
            ),
            Participant.campaign_id.not_in(referral_campaigns),
        )
        if referral_campaigns
        else true()
    )
    moved = 0
    for province, city, branch_id in routes:
        if city is not None:
            where = and_(Participant.province_code == province, Participant.city_code == city)
        elif overrides.get(province):
            where = and_(
                Participant.province_code == province,
                or_(
                    Participant.city_code.is_(None),
                    Participant.city_code.not_in(overrides[province]),
                ),
            )
        else:
            where = Participant.province_code == province
        session.execute(
            update(Participant)
            .where(where, Participant.address_branch_id.is_distinct_from(branch_id))
            .values(address_branch_id=branch_id)
            .execution_options(synchronize_session=False)
        )
        # The entries' dashboard counters move with them (read FOR UPDATE first).
        entry_counts.move(
            session,
            and_(where, movable, Participant.branch_id.is_distinct_from(branch_id)),
            branch_id=branch_id,
        )
        result = session.execute(
            update(Participant)
            .where(where, movable, Participant.branch_id.is_distinct_from(branch_id))
            .values(branch_id=branch_id)
            .execution_options(synchronize_session=False)
        )
        moved += result.rowcount  # type: ignore[attr-defined]
    session.flush()
    session.expire_all()  # loaded participants must not keep their old branch
    return moved


def unassigned_leads() -> Any:
    """The queue head office works through: leads no branch receives, oldest first."""
    return (
        select(Participant)
        .where(Participant.branch_id.is_(None), Participant.anonymised_at.is_(None))
        .order_by(Participant.created_at, Participant.id)
    )


def place_lead(
    session: Session,
    participant: Participant,
    province_code: str,
    city_code: str,
    *,
    actor: StaffUser | None,
    ip: str | None = None,
) -> Branch:
    """Head office places a lead by province and (optionally) city; the mapping picks the branch."""
    province = divisions.get(province_code)
    if province is None or province.level != divisions.PROVINCE:
        raise RoutingError("请选择省份")
    city: str | None = city_code or None
    if province_code in divisions.MUNICIPALITIES or not divisions.children(province_code):
        city = province_code  # a municipality is its own city
    elif city and city not in {c.code for c in cities_of(province_code)}:
        raise RoutingError(f"所选城市不属于{province.name}")
    branch = branch_for(session, province_code, city)
    if branch is None:
        raise RoutingError(f"{province.name}没有对应的机构,请直接选择机构")
    before = (participant.province_code, participant.city_code, participant.unresolved_reason)
    # Before the new values are set (a flush would show them to its read).
    entry_counts.move(
        session, Participant.id == participant.id, branch_id=branch.id, province_code=province_code
    )
    participant.province_code = province_code
    participant.city_code = city
    participant.district_code = None
    participant.division_code = city or province_code
    # Province only: the lead is routed, but the city stays unknown (as the parser says).
    participant.unresolved_reason = None if city else "no city"
    participant.address_branch_id = branch.id
    participant.branch_id = branch.id
    audit.record(
        session,
        actor,
        "lead.place",
        f"participant:{participant.id}",
        {
            "province_code": province_code,
            "city_code": city,
            "branch": branch.code,
            "was": {"province_code": before[0], "city_code": before[1], "reason": before[2]},
        },
        ip,
    )
    return branch


def assign_lead(
    session: Session,
    participant: Participant,
    branch: Branch,
    *,
    actor: StaffUser | None,
    ip: str | None = None,
) -> None:
    """Head office hands a lead straight to a branch (the address stays unplaced)."""
    previous = participant.branch_id
    entry_counts.move(session, Participant.id == participant.id, branch_id=branch.id)
    participant.branch_id = branch.id
    session.flush()
    audit.record(
        session,
        actor,
        "lead.assign",
        f"participant:{participant.id}",
        {"branch": branch.code, "previous_branch_id": previous},
        ip,
    )
