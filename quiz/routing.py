"""From a mailing address to a division code and the branch (机构) that gets the lead."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from quiz.identity import IdentityError
from quiz.models import Branch, BranchRoute, Participant
from quiz.regions import divisions
from quiz.regions.parser import Location, parse_address

MAX_ADDRESS = 200


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
    detail = " ".join(address.detail.split())
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
        text = " ".join(address.free_text.split())
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
    by_level = {d.level: d for d in chain}
    province = by_level.get(divisions.PROVINCE)
    city = by_level.get(divisions.PREFECTURE)
    district = by_level.get(divisions.COUNTY)
    most = district or city or province
    return Location(
        province_code=province.code if province else None,
        province=province.name if province else None,
        city_code=city.code if city else None,
        city=city.name if city else None,
        district_code=district.code if district else None,
        district=district.name if district else None,
        code=most.code if most else None,
    )


def branch_for(session: Session, province_code: str | None, city_code: str | None) -> Branch | None:
    """The branch for a place: a city override first, else the province's default."""
    if not province_code:
        return None
    routes = session.scalars(
        select(BranchRoute).where(
            BranchRoute.province_code == province_code,
            or_(BranchRoute.city_code.is_(None), BranchRoute.city_code == city_code),
        )
    ).all()
    chosen = next((r for r in routes if r.city_code is not None), None) or next(
        (r for r in routes if r.city_code is None), None
    )
    return chosen.branch if chosen else None


def resolve_and_route(
    session: Session,
    participant: Participant,
    address: AddressInput,
    *,
    referral: dict[str, Any] | None = None,
) -> ResolvedAddress:
    """Store the address and its codes on the participant and assign the branch."""
    resolved = resolve_address(address)
    loc = resolved.location
    participant.address = resolved.text
    participant.province_code = loc.province_code
    participant.city_code = loc.city_code
    participant.district_code = loc.district_code
    participant.division_code = loc.code
    participant.unresolved_reason = loc.unresolved
    branch = branch_for(session, loc.province_code, loc.city_code)
    participant.address_branch_id = branch.id if branch else None
    participant.branch_id = participant.address_branch_id
    if referral:
        participant.referral_link_id = referral.get("link_id")
        participant.agent_id = referral.get("agent_id")
        participant.channel_id = referral.get("channel_id")
        referral_branch = referral.get("branch_id")
        if referral_branch and (referral.get("rule") == "referral" or branch is None):
            participant.branch_id = referral_branch
    return resolved


def reassign_all(session: Session, *, referral_rule: str = "address") -> int:
    """Re-apply the branch mapping to every lead; returns how many leads changed branch."""
    routes = session.scalars(select(BranchRoute)).all()
    province_default = {r.province_code: r.branch_id for r in routes if r.city_code is None}
    city_override = {(r.province_code, r.city_code): r.branch_id for r in routes if r.city_code}
    moved = 0
    rows = session.execute(
        select(
            Participant.id,
            Participant.province_code,
            Participant.city_code,
            Participant.branch_id,
            Participant.address_branch_id,
            Participant.agent_id,
        )
    ).all()
    for pid, province, city, current, _address_branch, agent_id in rows:
        target = city_override.get((province, city)) or province_default.get(province or "")
        # Under "referral wins", a referred lead stays with the referring agent's branch.
        keep = agent_id is not None and referral_rule == "referral"
        new_branch = current if keep else target
        values: dict[str, Any] = {"address_branch_id": target}
        if new_branch != current:
            values["branch_id"] = new_branch
            moved += 1
        session.execute(update(Participant).where(Participant.id == pid).values(**values))
    session.flush()
    return moved
