"""Head office pages for branches, the mapping and the unassigned queue."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from quiz.branches.routing import AddressInput
from quiz.models import AuditLog, Branch, BranchRoute, Campaign, Participant
from tests.factories import login_as, make_participant, make_staff

NOWHERE = AddressInput(free_text="火星基地一号楼")


def staff(session, role: str, client):
    branch_id = None
    if role == "branch":
        branch_id = session.scalars(select(Branch.id).where(Branch.code == "B42")).one()
    user = make_staff(session, f"{role}1", role, branch_id=branch_id)
    session.commit()
    login_as(client, user)
    return user


def branch_id(session, code: str) -> int:
    found = session.scalars(select(Branch.id).where(Branch.code == code)).one()
    session.commit()  # SQLite: a test's open write transaction would block the app
    return found


def unplaced_lead(session, protector, n: int = 1) -> Participant:
    campaign = session.scalars(select(Campaign)).one()
    lead = make_participant(session, protector, campaign, n, address=NOWHERE)
    session.commit()
    return lead


def test_views_declare_roles():
    from quiz.admin import branches_views

    for name in ("branches_list", "branches_routes", "unassigned", "unassigned_lead"):
        assert getattr(branches_views, name).required_roles == ("admin", "analyst")
    for name in (
        "branches_new",
        "branches_edit",
        "branches_route_default",
        "branches_route_override",
        "branches_route_remove",
        "unassigned_place",
        "unassigned_assign",
    ):
        assert getattr(branches_views, name).required_roles == ("admin",)


def test_branch_list_shows_lead_counts_and_target(client, session, protector):
    campaign = session.scalars(select(Campaign)).one()
    for n in (2, 8):  # both 湖北省武汉市
        make_participant(session, protector, campaign, n)
    b42 = session.get(Branch, branch_id(session, "B42"))
    b42.target = 8
    session.commit()
    staff(session, "analyst", client)
    page = client.get("/admin/branches").get_data(as_text=True)
    row = page[page.index("<td>B42</td>") :].split("</tr>")[0]
    assert "湖北分公司" in row and ">2<" in row and ">8<" in row and "25.0%" in row
    assert "新建机构" not in page  # analysts read only


def test_branch_pages_forbid_branch_staff(client, session):
    staff(session, "branch", client)
    for url in ("/admin/branches", "/admin/branches/routes", "/admin/unassigned"):
        assert client.get(url).status_code == 403, url


def test_analyst_cannot_edit(client, session, protector):
    staff(session, "analyst", client)
    lead = unplaced_lead(session, protector)
    assert client.get("/admin/branches/new").status_code == 403
    resp = client.post(f"/admin/unassigned/{lead.id}/assign", data={"branch_code": "B11"})
    assert resp.status_code == 403
    session.expire_all()
    assert session.get(Participant, lead.id).branch_id is None


def test_admin_creates_and_edits_a_branch_with_audit(client, session):
    staff(session, "admin", client)
    resp = client.post(
        "/admin/branches/new",
        data={
            "code": "WH",
            "name": "武汉中心支公司",
            "level": "中心支公司",
            "parent_code": "B42",
            "contact": "王经理 027-1",
            "target": "5000",
        },
    )
    assert resp.status_code == 302
    wh = session.scalars(select(Branch).where(Branch.code == "WH")).one()
    session.commit()
    assert (wh.parent_id, wh.target, wh.contact) == (
        branch_id(session, "B42"),
        5000,
        "王经理 027-1",
    )
    resp = client.post(
        f"/admin/branches/{wh.id}/edit",
        data={
            "code": "WH",
            "name": "武汉中支",
            "level": "中心支公司",
            "parent_code": "B42",
            "contact": "",
            "target": "",
        },
    )
    assert resp.status_code == 302
    session.expire_all()
    wh = session.get(Branch, wh.id)
    assert (wh.name, wh.target, wh.contact) == ("武汉中支", None, None)
    actions = session.scalars(select(AuditLog.action).order_by(AuditLog.id)).all()
    assert actions == ["branch.create", "branch.update"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"code": "B42", "name": "重复", "level": "支公司"}, "已被"),
        ({"code": "a b", "name": "空格", "level": "支公司"}, "机构代码为1-32位"),
        ({"code": "X", "name": "负数", "level": "支公司", "target": "-1"}, "目标须为0或正整数"),
        ({"code": "X", "name": "坏层级", "level": "县公司"}, "请从列表中选择机构层级"),
        ({"code": "X", "name": "坏上级", "level": "支公司", "parent_code": "NOPE"}, "上级机构"),
    ],
)
def test_branch_form_rejects_bad_input_with_422(client, session, data, message):
    staff(session, "admin", client)
    before = session.scalars(select(Branch.code)).all()
    session.commit()
    resp = client.post("/admin/branches/new", data=data)
    assert resp.status_code == 422
    assert message in resp.get_data(as_text=True)
    assert session.scalars(select(Branch.code)).all() == before


def test_routes_page_add_and_remove_city_override(client, session):
    staff(session, "admin", client)
    page = client.get("/admin/branches/routes").get_data(as_text=True)
    assert "湖北分公司(B42)" in page and "仙桃市" in page
    resp = client.post(
        "/admin/branches/routes/override", data={"place": "429004", "branch_code": "B11"}
    )
    assert resp.status_code == 302
    route = session.scalars(select(BranchRoute).where(BranchRoute.city_code == "429004")).one()
    assert (route.province_code, route.branch_id) == ("420000", branch_id(session, "B11"))
    session.commit()
    assert "仙桃市(429004)→ 北京分公司(B11)" in client.get("/admin/branches/routes").get_data(
        as_text=True
    )
    resp = client.post(
        "/admin/branches/routes/override/remove",
        data={"province_code": "420000", "city_code": "429004"},
    )
    assert resp.status_code == 302
    session.expire_all()
    assert (
        session.scalars(select(BranchRoute).where(BranchRoute.city_code == "429004")).first()
        is None
    )
    actions = session.scalars(select(AuditLog.action).order_by(AuditLog.id)).all()
    assert actions == ["route.set", "route.remove"]


def test_routes_page_changes_province_default_and_refuses_bad_choice(client, session):
    staff(session, "admin", client)
    resp = client.post("/admin/branches/routes/420000/default", data={"branch_code": "B11"})
    assert resp.status_code == 302
    default = session.scalars(
        select(BranchRoute).where(
            BranchRoute.province_code == "420000", BranchRoute.city_code.is_(None)
        )
    ).one()
    assert default.branch_id == branch_id(session, "B11")
    session.commit()
    assert (
        client.post(
            "/admin/branches/routes/override", data={"place": "999999", "branch_code": "B11"}
        ).status_code
        == 422
    )
    assert (
        client.post(
            "/admin/branches/routes/990000/default", data={"branch_code": "B11"}
        ).status_code
        == 404
    )


def test_unassigned_queue_lists_and_resolves_by_place(client, session, protector):
    lead = unplaced_lead(session, protector)
    staff(session, "admin", client)
    page = client.get("/admin/unassigned").get_data(as_text=True)
    assert "火星基地一号楼" in page and "未识别出省市区" in page
    detail = client.get(f"/admin/unassigned/{lead.id}").get_data(as_text=True)
    assert 'value="429004"' in detail and "湖北省(全省)" in detail
    resp = client.post(f"/admin/unassigned/{lead.id}/place", data={"place": "429004"})
    assert resp.status_code == 302
    session.expire_all()
    lead = session.get(Participant, lead.id)
    assert (lead.province_code, lead.city_code) == ("420000", "429004")
    assert lead.branch_id == branch_id(session, "B42")
    session.commit()
    assert "火星基地一号楼" not in client.get("/admin/unassigned").get_data(as_text=True)
    entry = session.scalars(select(AuditLog).where(AuditLog.action == "lead.place")).one()
    assert entry.actor == "admin1" and entry.target == f"participant:{lead.id}"


def test_unassigned_resolves_by_branch_and_refuses_unserved_place(client, session, protector):
    lead = unplaced_lead(session, protector)
    staff(session, "admin", client)
    resp = client.post(f"/admin/unassigned/{lead.id}/place", data={"place": "810000"})
    assert resp.status_code == 422
    assert "没有对应的机构" in resp.get_data(as_text=True)
    resp = client.post(f"/admin/unassigned/{lead.id}/assign", data={"branch_code": "NOPE"})
    assert resp.status_code == 422
    resp = client.post(f"/admin/unassigned/{lead.id}/assign", data={"branch_code": "B44"})
    assert resp.status_code == 302
    session.expire_all()
    assert session.get(Participant, lead.id).branch_id == branch_id(session, "B44")
    assert session.scalars(select(AuditLog.action)).all() == ["lead.assign"]


def test_regions_json_is_cached_and_versioned(client, session):
    with client.get("/static/regions.json") as resp:
        assert resp.status_code == 200
        cache = resp.headers["Cache-Control"]
        etag = resp.headers.get("ETag")
        assert "public" in cache and "max-age=604800" in cache
        assert etag and resp.headers.get("Last-Modified")
    with client.get("/static/regions.json", headers={"If-None-Match": etag}) as again:
        assert again.status_code == 304
    # Unversioned static files keep revalidating: a week-long cache would pin old JS.
    with client.get("/static/js/region-select.js") as js:
        assert "max-age=604800" not in js.headers.get("Cache-Control", "")
    client.post("/consent", data={"agree_rules": "y", "agree_sensitive": "y"})
    page = client.get("/register").get_data(as_text=True)
    version = client.application.jinja_env.globals["regions_version"]
    assert len(version) == 12
    assert f'data-regions-url="/static/regions.json?v={version}"' in page


def test_ambiguous_address_offers_its_cities_as_buttons_postal_code_first(
    client, session, protector
):
    """朝阳区 is in 北京 and in 长春: with a Changchun postal code, 长春 comes first."""
    from quiz.branches.routing import AddressInput

    campaign = session.scalars(select(Campaign)).one()
    lead = make_participant(
        session,
        protector,
        campaign,
        1,
        address=AddressInput(free_text="朝阳区人民大街1号"),
        postal_code="130021",
    )
    session.commit()
    assert (lead.unresolved_reason or "").startswith("ambiguous")
    staff(session, "admin", client)
    page = client.get(f"/admin/unassigned/{lead.id}").get_data(as_text=True)
    buttons = re.findall(r'<button type="submit" name="place" value="(\d+)"', page)
    assert buttons == ["220100", "110000"]
    assert "吉林省长春市(与邮编 130021 相符)" in page
    resp = client.post(f"/admin/unassigned/{lead.id}/place", data={"place": "220100"})
    assert resp.status_code == 302
    session.expire_all()
    assert session.get(Participant, lead.id).city_code == "220100"
