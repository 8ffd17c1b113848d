"""Referral links: codes, /r/<code>, attribution through the whole flow, CSV import, flags."""

from __future__ import annotations

import csv
import dataclasses
import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from quiz.branches.routing import AddressInput
from quiz.campaign.lifecycle import current_campaign
from quiz.cli import main
from quiz.cli.referrals import referrals_group
from quiz.db import Base
from quiz.entry.signup import register
from quiz.models import Agent, Branch, Participant, ReferralLink
from quiz.referrals import leaderboard
from quiz.referrals import links as referrals
from tests.conftest import make_app
from tests.factories import (
    consent,
    install_test_campaign,
    make_mobile,
    make_resident_id,
    registration,
)

HUBEI_FIELDS = {
    "name": "李四",
    "resident_id": make_resident_id("420102", seq=21),
    "address": "湖北省武汉市江岸区沿江大道100号",
    "postal_code": "430014",
    "mobile": make_mobile(5151),
    "landline": "",
}


def campaign_of(session):
    return current_campaign(session)


def add_agents(session, protector, text: str) -> referrals.ImportResult:
    result = referrals.import_agents(
        session,
        referrals.parse_agents_csv(text),
        hash_mobile=lambda m: protector.lookup_hash("mobile", m),
    )
    session.commit()
    return result


def agent_link(session, branch_code: str, agent_code: str) -> ReferralLink:
    """The agent's link; the read transaction is ended so the app can take SQLite's lock."""
    link = session.scalars(
        select(ReferralLink)
        .join(Agent, Agent.id == ReferralLink.agent_id)
        .join(Branch, Branch.id == Agent.branch_id)
        .where(Branch.code == branch_code, Agent.code == agent_code)
    ).one()
    session.commit()
    return link


def take_part(client, fields=HUBEI_FIELDS) -> None:
    """Consent, register and answer every question (first option) through the site."""
    consent = client.post("/consent", data={"agree_rules": "y", "agree_sensitive": "y"})
    assert consent.status_code == 302
    resp = client.post("/register", data=fields)
    assert resp.status_code == 302, resp.get_data(as_text=True)
    for _ in range(20):
        page = client.get("/quiz")
        if page.status_code == 302:
            break
        html = page.get_data(as_text=True)
        position = html.split('name="position"', 1)[1].split('value="', 1)[1].split('"', 1)[0]
        choice = html.split('name="choice"', 1)[1].split('value="', 1)[1].split('"', 1)[0]
        assert (
            client.post("/quiz", data={"position": position, "choice": choice}).status_code == 302
        )
    assert client.get("/result").status_code == 200


def test_codes_use_the_unambiguous_alphabet():
    codes = {referrals.new_code() for _ in range(200)}
    assert len(codes) == 200
    for code in codes:
        assert len(code) == referrals.CODE_LENGTH
        assert not set(code) & set("01IO")
        assert referrals.normalise_code(code.lower()) == code
    for bad in ("ABC0EFG", "ABCDE", "ABCDEFGHJ", "ABC/EFG", "", None, "A" * 500):
        assert referrals.normalise_code(bad) is None


def test_agent_link_attributes_a_completed_entry_to_the_agent_and_branch(client, session):
    protector = client.application.extensions["quiz.protector"]
    add_agents(session, protector, "机构代码,业务员代码,姓名\nB42,A0001,王小明\nB42,A0002,赵六\n")
    link = agent_link(session, "B42", "A0001")

    slashed = client.application.test_client().get(f"/r/{link.code}/")
    assert referrals.COOKIE_NAME in slashed.headers.get("Set-Cookie", "")
    resp = client.get(f"/r/{link.code.lower()}")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/")
    assert referrals.COOKIE_NAME in resp.headers.get("Set-Cookie", "")
    take_part(client)

    session.expire_all()
    p = session.scalars(select(Participant)).one()
    hubei = session.scalars(select(Branch).where(Branch.code == "B42")).one()
    assert p.status == "completed"
    assert (p.referral_link_id, p.agent_id, p.branch_id) == (link.id, link.agent_id, hubei.id)
    assert p.address_branch_id == hubei.id
    assert not p.referral_flagged
    rows = leaderboard.agent_board(session, campaign_of(session), branch_id=hubei.id)
    assert [(r.code, r.counts.registrations, r.counts.completions) for r in rows] == [
        ("A0001", 1, 1)
    ]


def test_the_cookie_carries_the_referral_when_the_session_is_gone(client, session, app):
    protector = app.extensions["quiz.protector"]
    add_agents(session, protector, "branch_code,agent_code,name\nB42,A0009,钱七\n")
    link = agent_link(session, "B42", "A0009")
    client.get(f"/r/{link.code}")
    with client.session_transaction() as sess:
        sess.pop(referrals.SESSION_KEY)
    take_part(client)
    session.expire_all()
    assert session.scalars(select(Participant.agent_id)).one() == link.agent_id


@pytest.mark.parametrize(
    "path", ["/r/ZZZZZZZ", "/r/0OIl1", "/r/%00%ff", "/r/a/b/c", "/r/" + "X" * 300]
)
def test_an_unknown_code_still_lets_the_person_take_part(client, session, path):
    resp = client.get(path)
    assert resp.status_code == 302
    with client.session_transaction() as sess:
        assert referrals.SESSION_KEY not in sess
    take_part(client)
    session.expire_all()
    p = session.scalars(select(Participant)).one()
    assert p.status == "completed" and p.referral_link_id is None and p.agent_id is None


def test_a_qr_code_is_served_for_a_known_link_only(client, session, app):
    add_agents(session, app.extensions["quiz.protector"], "机构代码,业务员代码,姓名\nB11,A1,甲\n")
    code = agent_link(session, "B11", "A1").code
    svg = client.get(f"/r/{code}/qr.svg")
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    assert b"<path" in svg.data
    png = client.get(f"/r/{code}/qr.png")
    assert png.status_code == 200 and png.data.startswith(b"\x89PNG")
    assert client.get("/r/ZZZZZZZ/qr.svg").status_code == 404


def _register(
    session,
    protector,
    campaign,
    n,
    link,
    *,
    rule="address",
    ip="10.0.0.1",
    name="张小三",
    when=None,
    address=None,
    mobile=None,
):
    referral = {
        "link_id": link.id,
        "agent_id": link.agent_id,
        "channel_id": link.channel_id,
        "branch_id": link.branch_id,
        "rule": rule,
    }
    extra = {"address": address} if address else {}
    if mobile:
        extra["mobile"] = mobile
    return register(
        session,
        protector,
        campaign,
        registration(n, name=name, **extra),
        dataclasses.replace(consent(), ip=ip),
        now=when,
        referral=referral,
    )


@pytest.mark.parametrize(("rule", "owner"), [("address", "B42"), ("referral", "B44")])
def test_referral_rule_decides_the_owner_and_both_branches_are_kept(
    session, protector, rule, owner
):
    add_agents(session, protector, "机构代码,业务员代码,姓名\nB44,G01,广东业务员\n")
    link = agent_link(session, "B44", "G01")
    hubei = AddressInput(free_text="湖北省武汉市江岸区沿江大道100号")
    p = _register(session, protector, campaign_of(session), 3, link, rule=rule, address=hubei)
    codes = {b.id: b.code for b in session.scalars(select(Branch))}
    assert codes[p.branch_id] == owner
    assert codes[p.address_branch_id] == "B42"
    assert p.agent_id == link.agent_id


def test_self_referral_by_name_or_by_mobile_is_flagged(session, protector):
    add_agents(
        session,
        protector,
        "机构代码,业务员代码,姓名,手机号码\nB11,N1,王小明,\nB11,M1,李大伟,"
        + make_mobile(77)
        + "\n",
    )
    campaign = campaign_of(session)
    by_name = _register(
        session,
        protector,
        campaign,
        1,
        agent_link(session, "B11", "N1"),
        name="王小明",
        ip="10.0.0.1",
    )
    other = _register(
        session,
        protector,
        campaign,
        2,
        agent_link(session, "B11", "N1"),
        name="张小三",
        ip="10.0.0.2",
    )
    # With a known mobile the name alone does not count: a namesake customer is not the agent.
    namesake = _register(
        session,
        protector,
        campaign,
        3,
        agent_link(session, "B11", "M1"),
        name="李大伟",
        ip="10.0.0.3",
    )
    by_mobile = _register(
        session,
        protector,
        campaign,
        4,
        agent_link(session, "B11", "M1"),
        name="李先生",
        ip="10.0.0.4",
        mobile=make_mobile(77),
    )
    session.flush()
    assert [by_name.referral_flagged, other.referral_flagged] == [True, False]
    assert [namesake.referral_flagged, by_mobile.referral_flagged] == [False, True]


def test_a_burst_from_one_client_on_one_code_flags_the_whole_burst(session, protector):
    add_agents(session, protector, "机构代码,业务员代码,姓名\nB11,A1,甲\nB11,A2,乙\n")
    campaign = campaign_of(session)
    link, other_link = agent_link(session, "B11", "A1"), agent_link(session, "B11", "A2")
    start = datetime.now(UTC) - timedelta(minutes=50)
    entries = [
        _register(
            session,
            protector,
            campaign,
            n,
            link,
            ip="10.9.9.9",
            when=start + timedelta(minutes=5 * n),
        )
        for n in range(1, 6)
    ]
    # Five within the hour are fine; elsewhere (other client, other code) nothing changes.
    _register(session, protector, campaign, 20, link, ip="10.9.9.8")
    _register(session, protector, campaign, 21, other_link, ip="10.9.9.9")
    session.flush()
    session.expire_all()
    assert not any(session.scalars(select(Participant.referral_flagged)))
    sixth = _register(
        session, protector, campaign, 6, link, ip="10.9.9.9", when=start + timedelta(minutes=40)
    )
    session.flush()
    session.expire_all()
    assert sixth.referral_flagged
    assert all(p.referral_flagged for p in entries)
    flagged = session.scalars(select(Participant.id).where(Participant.referral_flagged)).all()
    assert len(flagged) == 6
    # A recomputation over the table agrees with the flags set at registration.
    assert referrals.reflag(session, campaign) == 6


def test_burst_threshold_is_configurable(database_url, tmp_path):
    # The factory hands QUIZ_REFERRAL_BURST_LIMIT to the flagging rule.
    app = make_app(database_url, tmp_path / "instance", QUIZ_REFERRAL_BURST_LIMIT=2)
    database = app.extensions["quiz.db"]
    Base.metadata.create_all(database.engine)
    protector = app.extensions["quiz.protector"]
    session = database.session(write=True)
    try:
        install_test_campaign(session)
        add_agents(session, protector, "机构代码,业务员代码,姓名\nB11,A1,甲\n")
        link = agent_link(session, "B11", "A1")
        ps = [_register(session, protector, campaign_of(session), n, link) for n in (1, 2)]
        session.flush()
        session.expire_all()
        assert [p.referral_flagged for p in ps] == [False, False]
        ps.append(_register(session, protector, campaign_of(session), 3, link))
        session.flush()
        session.expire_all()
        assert [p.referral_flagged for p in ps] == [True, True, True]
    finally:
        session.rollback()
        session.close()
        database.dispose()


def test_agent_csv_import_is_all_or_nothing_with_line_numbers(session, protector):
    bad = "机构代码,业务员代码,姓名,手机号码\nB11,A1,甲,\nXX,A2,乙,\nB11,A1,丙,\nB11,A3,,123\n"
    with pytest.raises(referrals.ReferralError) as err:
        add_agents(session, protector, bad)
    message = str(err.value)
    assert "第3行" in message and "XX" in message
    assert "第4行" in message and "与第2行重复" in message
    assert "第5行" in message
    session.rollback()
    assert session.scalars(select(Agent)).all() == []
    with pytest.raises(referrals.ReferralError, match="缺少列"):
        referrals.parse_agents_csv("code,who\n1,2\n")


def test_agent_import_accepts_gbk_and_is_idempotent(session, protector):
    data = "机构代码,业务员代码,姓名\nB11,A1,甲\nB11,A2,乙\n".encode("gb18030")
    first = add_agents(session, protector, data.decode("gb18030"))
    rows = referrals.parse_agents_csv(data)
    again = referrals.import_agents(session, rows)
    assert (first.created, first.links_created) == (2, 2)
    assert (again.created, again.links_created, again.updated) == (0, 0, 0)
    assert len(session.scalars(select(ReferralLink)).all()) == 2


def test_cli_creates_channels_imports_agents_and_exports_links(runner, tmp_path, session):
    assert main.get_command(None, "referrals") is referrals_group  # type: ignore[arg-type]
    result = runner.invoke(referrals_group, args=["create-channel", "zhongshao", "中少在线专栏"])
    assert result.exit_code == 0, result.output
    again = runner.invoke(referrals_group, args=["create-channel", "zhongshao", "重复"])
    assert again.exit_code != 0 and "已存在" in again.output
    csv_file = tmp_path / "agents.csv"
    csv_file.write_text("branch_code,agent_code,name\nB11,A1,甲\nB31,S1,乙\n", encoding="utf-8")
    result = runner.invoke(referrals_group, args=["import-agents", str(csv_file)])
    assert result.exit_code == 0, result.output
    assert "2 created" in result.output
    out = tmp_path / "links.csv"
    result = runner.invoke(
        referrals_group,
        args=["export-links", "--base-url", "https://quiz.example.cn/", "-o", str(out)],
    )
    assert result.exit_code == 0, result.output
    text = out.read_bytes().decode("utf-8")
    assert text.startswith("\ufeff类型,短码,链接")
    codes = session.scalars(select(ReferralLink.code)).all()
    branches = session.scalars(select(Branch).where(Branch.active)).all()
    assert len(codes) == 1 + 2 + len(branches)  # channel, agents, every branch
    for code in codes:
        assert f"https://quiz.example.cn/r/{code}" in text


def test_a_referred_lead_shows_under_its_agent_in_the_leads_list_and_export(client, session):
    from tests.factories import login_as, make_staff

    protector = client.application.extensions["quiz.protector"]
    add_agents(session, protector, "机构代码,业务员代码,姓名\nB42,A0001,王小明\nB42,A0002,赵六\n")
    link = agent_link(session, "B42", "A0001")
    other = agent_link(session, "B42", "A0002")
    client.get(f"/r/{link.code}")
    take_part(client)

    staff = client.application.test_client()
    admin = make_staff(session, "hq-admin", "admin", can_reveal=False)
    session.commit()
    login_as(staff, admin)
    page = staff.get(f"/admin/leads?agent_id={link.agent_id}").get_data(as_text=True)
    assert "139****5151" in page
    empty = staff.get(f"/admin/leads?agent_id={other.agent_id}").get_data(as_text=True)
    assert "139****5151" not in empty

    resp = staff.post(
        f"/admin/exports?agent_id={link.agent_id}", data={"fmt": "csv", "scope": "branch"}
    )
    assert resp.status_code == 200
    rows = list(csv.reader(io.StringIO(resp.data.decode("utf-8-sig"))))
    header, body = rows[0], rows[1:]
    assert len(body) == 1
    record = dict(zip(header, body[0], strict=True))
    assert record["推荐业务员"] == "王小明(A0001)"
    assert record["所属机构"] == "湖北分公司" and record["地址所属机构"] == "湖北分公司"


def test_reassign_leaves_branch_link_leads_with_the_branch_under_the_referral_rule(
    session, protector
):
    """Under referral_rule "referral" a lead brought by a branch's own link (no agent)
    belongs to that branch; re-applying the address mapping must not take it back."""
    from quiz.branches.routing import reassign_all

    campaign = campaign_of(session)
    campaign.content = {**campaign.content, "referral_rule": "referral"}
    b44 = session.scalars(select(Branch).where(Branch.code == "B44")).one()
    link = referrals.ensure_link(session, branch=b44)
    session.commit()
    hubei = AddressInput(free_text="湖北省武汉市江岸区沿江大道100号")
    lead = _register(session, protector, campaign, 3, link, rule="referral", address=hubei)
    session.commit()
    assert lead.branch_id == b44.id and lead.agent_id is None
    reassign_all(session)
    session.commit()
    session.expire_all()
    kept = session.get(Participant, lead.id)
    assert kept.branch_id == b44.id
    assert kept.address_branch_id != b44.id  # the address's branch is still refreshed (湖北)


def test_qr_codes_encode_the_configured_public_address_not_the_host_asked(client, session, app):
    """A forged Host must not end up in a QR code that a cache then serves to everyone:
    with QUIZ_PUBLIC_URL the code is fixed; without it caches must key on the Host."""
    from quiz.referrals import posters

    add_agents(session, app.extensions["quiz.protector"], "机构代码,业务员代码,姓名\nB11,A1,甲\n")
    code = agent_link(session, "B11", "A1").code
    forged = {"Host": "evil.example"}
    unset = client.get(f"/r/{code}/qr.svg", headers=forged)
    assert "Host" in unset.headers["Vary"]
    app.config["QUIZ_PUBLIC_URL"] = "https://quiz.example.cn/"
    fixed = client.get(f"/r/{code}/qr.svg", headers=forged)
    assert fixed.get_data(as_text=True) == posters.qr_svg(f"https://quiz.example.cn/r/{code}")
    assert "public" in fixed.headers["Cache-Control"]


@pytest.mark.parametrize(
    ("agent", "typed"),
    [
        ("王小明", "王 小明"),
        ("阿卜杜·热合曼", "阿卜杜\u30fb热合曼"),
        ("阿卜杜\u30fb热合曼", "阿卜杜·热合曼"),
    ],
)
def test_self_referral_by_name_ignores_spaces_and_the_kind_of_middle_dot(
    session, protector, agent, typed
):
    """The registration form accepts inner spaces and any middle dot; an agent without a
    mobile on file must not escape the check by typing their name another way."""
    add_agents(session, protector, f"机构代码,业务员代码,姓名\nB11,N1,{agent}\n")
    campaign = campaign_of(session)
    entry = _register(
        session, protector, campaign, 1, agent_link(session, "B11", "N1"), name=typed, ip="10.0.0.9"
    )
    session.flush()
    assert entry.referral_flagged


def test_a_burst_from_one_ipv6_network_is_one_client(session, protector):
    """Phones rotate through the addresses of their /64: 20 entries from one /64 within
    the window are a burst, as from one IPv4 address; another /64 is another client."""
    add_agents(session, protector, "机构代码,业务员代码,姓名\nB11,A1,甲\n")
    campaign = campaign_of(session)
    link = agent_link(session, "B11", "A1")
    start = datetime.now(UTC) - timedelta(minutes=30)
    rotating = [
        _register(
            session,
            protector,
            campaign,
            n,
            link,
            ip=f"2001:db8:1:2::{n:x}",
            when=start + timedelta(minutes=n),
        )
        for n in range(101, 121)
    ]
    elsewhere = _register(
        session,
        protector,
        campaign,
        200,
        link,
        ip="2001:db8:1:3::1",
        when=start + timedelta(minutes=25),
    )
    session.flush()
    assert all(p.referral_flagged for p in rotating)
    assert not elsewhere.referral_flagged
    assert rotating[0].consent_ip == "2001:0db8:0001:0002:0000:0000:0000:0065"
    # The batch recomputation agrees with the check made at registration.
    assert referrals.reflag(session, campaign) == len(rotating)
