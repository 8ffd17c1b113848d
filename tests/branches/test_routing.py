"""Address -> codes -> branch, registration through the form's select path, and reassign."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from quiz.branches.routing import (
    AddressInput,
    RoutingError,
    assign_lead,
    load_route_table,
    place_lead,
    reassign_all,
    resolve_address,
)
from quiz.branches.service import BranchData, save_branch, set_route
from quiz.identity import IdentityError
from quiz.models import Agent, AuditLog, Branch, Campaign, Participant
from tests.factories import make_mobile, make_participant, make_resident_id

NOWHERE = AddressInput(free_text="火星基地一号楼")  # accepted, but no division in it


def branch(session, code: str) -> Branch:
    return session.scalars(select(Branch).where(Branch.code == code)).one()


def campaign(session) -> Campaign:
    return session.scalars(select(Campaign)).one()


def test_select_path_county_level_city_is_stored_as_city():
    resolved = resolve_address(
        AddressInput(province_code="420000", city_code="429004", detail="干河街道仙桃大道1号")
    )
    loc = resolved.location
    assert resolved.text == "湖北省仙桃市干河街道仙桃大道1号"
    assert (loc.province_code, loc.city_code, loc.district_code, loc.code) == (
        "420000",
        "429004",
        None,
        "429004",
    )
    assert loc.unresolved is None


def test_select_path_municipality_is_its_own_city():
    loc = resolve_address(
        AddressInput(
            province_code="110000", city_code="110000", district_code="110105", detail="建国路88号"
        )
    ).location
    assert (loc.province_code, loc.city_code, loc.district_code) == ("110000", "110000", "110105")
    assert (loc.city, loc.district) == ("北京市", "朝阳区")


def test_select_path_refuses_city_of_another_province():
    with pytest.raises(IdentityError):
        resolve_address(AddressInput(province_code="110000", city_code="429004", detail="xx路1号"))


def register_with_codes(client, n: int, codes: dict[str, str], postal: str) -> None:
    client.post("/consent", data={"agree_rules": "y", "agree_sensitive": "y"})
    resp = client.post(
        "/register",
        data={
            "name": "王五",
            "resident_id": make_resident_id("420102", seq=n),
            # What region-select.js leaves in the hidden text field: the selected names.
            "address": "",
            "address_detail": "建设路1号",
            "postal_code": postal,
            "mobile": make_mobile(7000 + n),
            "landline": "",
            **codes,
        },
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)


def test_registration_with_codes_stores_codes_text_and_branch(client, session):
    register_with_codes(client, 1, {"province_code": "420000", "city_code": "429004"}, "433000")
    register_with_codes(
        client.application.test_client(),
        2,
        {"province_code": "110000", "city_code": "110000", "district_code": "110105"},
        "100020",
    )
    rows = {p.province_code: p for p in session.scalars(select(Participant))}
    xiantao, beijing = rows["420000"], rows["110000"]
    assert xiantao.address == "湖北省仙桃市建设路1号"
    assert (xiantao.city_code, xiantao.district_code, xiantao.division_code) == (
        "429004",
        None,
        "429004",
    )
    assert xiantao.branch_id == branch(session, "B42").id
    assert beijing.address == "北京市朝阳区建设路1号"
    assert (beijing.city_code, beijing.district_code, beijing.division_code) == (
        "110000",
        "110105",
        "110105",
    )
    assert beijing.branch_id == branch(session, "B11").id


def test_city_override_routes_a_county_level_city(client, session):
    xt = save_branch(session, BranchData(code="XT", name="仙桃支公司", level="支公司"))
    set_route(session, "420000", "429004", xt)
    session.commit()
    register_with_codes(client, 3, {"province_code": "420000", "city_code": "429004"}, "433000")
    lead = session.scalars(select(Participant)).one()
    assert lead.branch_id == xt.id and lead.address_branch_id == xt.id


def test_route_table_prefers_city_override(session):
    wuhan = save_branch(session, BranchData(code="WH", name="武汉中支", level="中心支公司"))
    set_route(session, "420000", "420100", wuhan)
    table = load_route_table(session)
    assert table.branch_code("420000", "420100") == "WH"
    assert table.branch_code("420000", "420500") == "B42"
    assert table.branch_code("810000", "810000") is None  # Hong Kong: not served
    assert table.branch_code(None, None) is None


def test_reassign_moves_leads_after_a_route_change(session, protector):
    c = campaign(session)
    wuhan = make_participant(session, protector, c, 2)  # 湖北省武汉市江岸区
    beijing = make_participant(session, protector, c, 0)
    assert wuhan.branch_id == branch(session, "B42").id
    wh = save_branch(session, BranchData(code="WH", name="武汉中支", level="中心支公司"))
    set_route(session, "420000", "420100", wh)
    assert reassign_all(session) == 1
    session.refresh(wuhan)
    session.refresh(beijing)
    assert wuhan.branch_id == wh.id and wuhan.address_branch_id == wh.id
    assert beijing.branch_id == branch(session, "B11").id
    assert reassign_all(session) == 0  # idempotent


def test_reassign_respects_referral_rule(session, protector):
    c = campaign(session)
    referred = make_participant(session, protector, c, 2)
    plain = make_participant(session, protector, c, 8)  # also 湖北 (PLACES repeats every 6)
    agent = Agent(branch_id=branch(session, "B11").id, code="A1", name="张代理")
    session.add(agent)
    session.flush()
    referred.agent_id = agent.id
    referred.branch_id = agent.branch_id  # routed by referral at registration
    c.content = {**c.content, "referral_rule": "referral"}
    session.flush()
    wh = save_branch(session, BranchData(code="WH", name="武汉中支", level="中心支公司"))
    set_route(session, "420000", "420100", wh)

    assert reassign_all(session) == 1
    session.refresh(referred)
    session.refresh(plain)
    assert referred.branch_id == branch(session, "B11").id  # stays with the agent's branch
    assert referred.address_branch_id == wh.id  # but its address branch is refreshed
    assert plain.branch_id == wh.id

    c.content = {**c.content, "referral_rule": "address"}
    session.flush()
    assert reassign_all(session) == 1
    session.refresh(referred)
    assert referred.branch_id == wh.id


def test_reassign_leaves_unplaced_and_hand_assigned_leads(session, protector):
    c = campaign(session)
    lead = make_participant(
        session, protector, c, 1, address=AddressInput(free_text="火星基地一号楼")
    )
    assert lead.branch_id is None and lead.unresolved_reason
    assign_lead(session, lead, branch(session, "B31"), actor=None)
    assert reassign_all(session) == 0
    session.refresh(lead)
    assert lead.branch_id == branch(session, "B31").id


def test_place_lead_sets_codes_branch_and_audits(session, protector):
    c = campaign(session)
    lead = make_participant(
        session, protector, c, 1, address=AddressInput(free_text="火星基地一号楼")
    )
    chosen = place_lead(session, lead, "420000", "429004", actor=None, ip="10.0.0.1")
    assert chosen.code == "B42"
    assert (lead.province_code, lead.city_code, lead.division_code) == (
        "420000",
        "429004",
        "429004",
    )
    assert lead.unresolved_reason is None and lead.branch_id == chosen.id
    entry = session.scalars(select(AuditLog).where(AuditLog.action == "lead.place")).one()
    assert entry.target == f"participant:{lead.id}" and entry.detail["branch"] == "B42"


def test_place_lead_refuses_city_outside_province_and_unserved_province(session, protector):
    c = campaign(session)
    lead = make_participant(
        session, protector, c, 1, address=AddressInput(free_text="火星基地一号楼")
    )
    with pytest.raises(RoutingError, match="不属于"):
        place_lead(session, lead, "420000", "330100", actor=None)
    with pytest.raises(RoutingError, match="没有对应的机构"):
        place_lead(session, lead, "810000", "", actor=None)
    assert lead.branch_id is None
