"""Leads list, lead page, follow-up and reveal: branch scoping, masking, keyset pages."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from quiz.campaign.lifecycle import current_campaign
from quiz.leads import exports
from quiz.leads import service as leads
from quiz.leads.service import LeadFilters
from quiz.models import AuditLog, Branch, FollowUp, Participant
from tests.factories import login_as, make_participant, make_staff


def _branch(session, code):
    return session.scalars(select(Branch).where(Branch.code == code)).one()


def _setup(session, protector):
    """A Beijing lead (n=6) and a Shanghai lead (n=1), both completed."""
    campaign = current_campaign(session)
    bj = make_participant(session, protector, campaign, 6, complete=True, name="北京客户")
    sh = make_participant(session, protector, campaign, 1, complete=True, name="上海客户")
    session.commit()
    return bj, sh


def test_branch_staff_see_only_their_branch_in_list_and_lead_pages(client, session, protector):
    bj, sh = _setup(session, protector)
    beijing, shanghai = _branch(session, "B11"), _branch(session, "B31")
    assert (bj.branch_id, sh.branch_id) == (beijing.id, shanghai.id)
    user = make_staff(session, "bj1", role="branch", branch_id=beijing.id)
    session.commit()
    login_as(client, user)

    # Asking for the other branch explicitly changes nothing: the scope wins.
    for url in ("/admin/leads", f"/admin/leads?branch_id={shanghai.id}"):
        page = client.get(url).get_data(as_text=True)
        assert f"/admin/leads/{bj.id}" in page
        assert f"/admin/leads/{sh.id}" not in page

    assert client.get(f"/admin/leads/{bj.id}").status_code == 200
    assert client.get(f"/admin/leads/{sh.id}").status_code == 404
    post = client.post(f"/admin/leads/{sh.id}/follow-up", data={"status": "已联系"})
    assert post.status_code == 404
    session.expire_all()
    assert session.get(Participant, sh.id).follow_up_status == "待联系"


def test_branch_staff_are_sent_from_dashboard_to_leads(client, session, protector):
    _setup(session, protector)
    user = make_staff(session, "bj1", role="branch", branch_id=_branch(session, "B11").id)
    session.commit()
    login_as(client, user)
    # Exports are theirs too (scoped to their branch: tests/leads/test_exports.py).
    assert client.get("/admin/exports").status_code == 200
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/admin/leads")


def test_list_masks_personal_data_without_permission(client, session, protector):
    bj, _ = _setup(session, protector)
    user = make_staff(session, "analyst1", role="analyst")
    session.commit()
    login_as(client, user)
    page = client.get("/admin/leads").get_data(as_text=True)
    assert bj.name_masked in page and "北京客户" not in page
    assert bj.mobile_masked in page and protector.decrypt(bj.mobile_enc) not in page


def test_reveal_needs_permission_and_is_audited(client, session, protector):
    bj, _ = _setup(session, protector)
    full_id = protector.decrypt(bj.id_enc)
    branch_id, lead_id = bj.branch_id, bj.id
    plain = make_staff(session, "plain", role="admin")
    session.commit()
    login_as(client, plain)
    assert "查看完整信息" not in client.get(f"/admin/leads/{lead_id}").get_data(as_text=True)
    assert client.post(f"/admin/leads/{lead_id}/reveal").status_code == 403
    assert session.scalars(select(AuditLog).where(AuditLog.action == "reveal")).all() == []
    session.rollback()

    revealer = make_staff(session, "revealer", role="branch", branch_id=branch_id, can_reveal=True)
    session.commit()
    login_as(client, revealer)
    page = client.get(f"/admin/leads/{lead_id}").get_data(as_text=True)
    assert "查看完整信息" in page and full_id not in page
    response = client.post(f"/admin/leads/{lead_id}/reveal")
    assert response.status_code == 200
    assert full_id in response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    entries = session.scalars(select(AuditLog).where(AuditLog.action == "reveal")).all()
    assert [(e.actor, e.target) for e in entries] == [("revealer", f"participant:{lead_id}")]


def test_follow_up_form_records_history_and_status(client, session, protector):
    bj, _ = _setup(session, protector)
    user = make_staff(session, "bj1", role="branch", branch_id=bj.branch_id)
    session.commit()
    login_as(client, user)
    lead_id = bj.id
    response = client.post(
        f"/admin/leads/{bj.id}/follow-up", data={"status": "已拜访", "note": "周六上门"}
    )
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "已记录跟进结果:已拜访" in page and "周六上门" in page
    session.expire_all()
    assert session.get(Participant, bj.id).follow_up_status == "已拜访"
    rows = session.scalars(select(FollowUp).where(FollowUp.participant_id == bj.id)).all()
    assert [(r.status, r.note, r.staff_id) for r in rows] == [("已拜访", "周六上门", user.id)]
    session.rollback()  # end the test's read: the app's next write needs SQLite's lock

    bad = client.post(f"/admin/leads/{lead_id}/follow-up", data={"status": "已删除"})
    assert bad.status_code == 400
    assert "选项无效" in bad.get_data(as_text=True)


def test_bad_filter_gives_chinese_message_and_400(client, session):
    user = make_staff(session, "admin1")
    session.commit()
    login_as(client, user)
    response = client.get("/admin/leads?score_min=abc&date_from=2026-02-30")
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "请输入整数" in text and "请输入有效日期" in text


def test_dates_at_the_ends_of_the_calendar_are_refused_with_a_message(client, session):
    """Adding a day to 9999-12-31, or turning Beijing midnight of year 1 into UTC,
    overflowed: a 500 on the list and on the export form."""
    user = make_staff(session, "admin1")
    session.commit()
    login_as(client, user)
    for query in ("date_to=9999-12-31", "date_from=0001-01-01"):
        response = client.get(f"/admin/leads?{query}")
        assert response.status_code == 400, query
        assert "日期应在 2000-01-01 至 2099-12-31 之间" in response.get_data(as_text=True)
        export = client.post(f"/admin/exports?{query}", data={"fmt": "csv", "scope": "all"})
        assert export.status_code == 400, query
    assert client.get("/admin/leads?date_from=2000-01-01&date_to=2099-12-31").status_code == 200


def test_empty_state(client, session):
    user = make_staff(session, "admin1")
    session.commit()
    login_as(client, user)
    assert "暂无线索" in client.get("/admin/leads").get_data(as_text=True)


def test_keyset_pages_walk_all_leads_once_newest_first(session, protector):
    campaign = current_campaign(session)
    ids = [make_participant(session, protector, campaign, n).id for n in range(1, 8)]
    user = make_staff(session, "admin1")
    seen, after = [], None
    while True:
        page = leads.list_leads(session, user, LeadFilters(), after_id=after, limit=3)
        seen += [r.id for r in page.rows]
        if page.next_after is None:
            break
        after = page.next_after
    assert seen == sorted(ids, reverse=True)


def test_filters(session, protector):
    campaign = current_campaign(session)
    done = make_participant(session, protector, campaign, 1, complete=True)
    pending = make_participant(session, protector, campaign, 2)
    dup = make_participant(session, protector, campaign, 3, mobile="13812345678")
    dup2 = make_participant(session, protector, campaign, 4, mobile="13812345678")
    pending.branch_id = None
    user = make_staff(session, "admin1")
    session.flush()

    def ids(**kw):
        return {r.id for r in leads.list_leads(session, user, LeadFilters(**kw)).rows}

    assert ids(completed=True) == {done.id}
    assert ids(unassigned=True) == {pending.id}
    assert ids(duplicates=True) == {dup.id, dup2.id}
    assert ids(branch_id=done.branch_id) == {done.id}
    assert ids(province_code=done.province_code) == {done.id}
    assert ids(score_min=done.score, score_max=done.score, completed=True) == {done.id}
    assert ids(score_min=done.score + 1, completed=True) == set()
    assert ids(intent_level=done.intent_level) == {done.id}
    assert done.intent_level
    # Branch staff: a head-office-only filter is ignored, the scope still applies.
    branch_user = make_staff(session, "b1", role="branch", branch_id=done.branch_id)
    got = {r.id for r in leads.list_leads(session, branch_user, LeadFilters(unassigned=True)).rows}
    assert got == {done.id}


def test_filters_round_trip_through_json():
    from datetime import date

    f = LeadFilters(branch_id=3, date_from=date(2026, 11, 1), completed=False, duplicates=True)
    assert LeadFilters.from_dict(f.to_dict()) == f


def test_services_keep_branch_staff_to_their_branch_whatever_the_view_does(session, protector):
    """The views refuse branch staff exports and reveals; the services check again, so a
    future view that forgets cannot leak another branch's leads or full data."""
    campaign = current_campaign(session)
    own = make_participant(session, protector, campaign, 1, complete=True)
    other = make_participant(session, protector, campaign, 2, complete=True)
    assert own.branch_id != other.branch_id
    staff = make_staff(session, "branch1", role="branch", branch_id=own.branch_id)
    session.flush()
    ctx = exports.context_for(session, False, protector)
    rows = list(exports.iter_rows(session, staff, LeadFilters(branch_id=other.branch_id), ctx))
    assert [row[0] for row in rows] == [str(own.id)]
    parts = exports.plan_parts(session, staff, LeadFilters(), "all")
    assert sum(p.rows for p in parts) == 1
    with pytest.raises(leads.NotAllowed):
        leads.reveal(session, protector, staff, own)  # no can_reveal
    staff.can_reveal = True
    assert leads.reveal(session, protector, staff, own).id_number
    with pytest.raises(leads.LeadError):
        leads.reveal(session, protector, staff, other)  # another branch's lead


def test_a_municipalitys_district_filter_finds_its_leads(client, session, protector):
    """For 北京 the second select lists districts (a municipality's entries keep 北京市 as
    their city): choosing 朝阳区 must find the 朝阳区 lead, in the list and the export."""
    import re

    campaign = current_campaign(session)
    chaoyang = make_participant(session, protector, campaign, 6)  # 北京市朝阳区
    assert (chaoyang.city_code, chaoyang.district_code) == ("110000", "110105")
    admin = make_staff(session, "ho", "admin")
    session.commit()
    login_as(client, admin)

    def listed(query):
        page = client.get(f"/admin/leads?province_code=110000&{query}")
        assert page.status_code == 200
        return {int(x) for x in re.findall(r'/admin/leads/(\d+)["?]', page.get_data(as_text=True))}

    assert chaoyang.id in listed("city_code=110105")
    assert chaoyang.id not in listed("city_code=110101")  # 东城区
    assert "全部区县" in client.get("/admin/leads?province_code=110000").get_data(as_text=True)
    # The export reads the same filters.
    user = session.get(type(admin), admin.id)
    found = leads.list_leads(session, user, LeadFilters(province_code="110000", city_code="110105"))
    assert [row.id for row in found.rows] == [chaoyang.id]


def test_leads_placed_with_head_office_can_be_listed_and_the_queue_count_matches(
    client, session, protector
):
    """总公司 can hold leads (the unassigned queue offers it, the dashboard links to it);
    the 待分配线索 count is the queue's own, so an erased entry is in neither."""
    from quiz.privacy.retention import anonymise

    campaign = current_campaign(session)
    head = session.scalars(select(Branch).where(Branch.code == "HO")).one()
    placed = make_participant(session, protector, campaign, 1)
    placed.branch_id = head.id
    waiting, erased = (make_participant(session, protector, campaign, n) for n in (2, 3))
    waiting.branch_id = erased.branch_id = None
    anonymise(session, protector, erased)
    admin = make_staff(session, "ho", "admin")
    session.commit()
    login_as(client, admin)
    page = client.get(f"/admin/leads?branch_id={head.id}")
    assert page.status_code == 200 and f"/admin/leads/{placed.id}?" in page.get_data(as_text=True)
    assert "待分配线索(1)" in client.get("/admin/branches").get_data(as_text=True)
    queue = client.get("/admin/unassigned").get_data(as_text=True)
    assert str(waiting.id) in queue


def test_lists_exports_and_branch_counts_default_to_the_current_campaign(
    client, session, protector
):
    """The dashboard counts the current campaign; the leads list, its export and the
    branches page must agree with it by default, and reach an earlier campaign on request."""
    import dataclasses
    import re
    from datetime import UTC, datetime

    from quiz.campaign.spec import default_campaign_path, install_campaign, load_campaign_file

    current = current_campaign(session)
    earlier = install_campaign(
        session,
        dataclasses.replace(
            load_campaign_file(default_campaign_path()),
            slug="spring-old",
            opens_at=datetime(2025, 3, 1, tzinfo=UTC),
            closes_at=datetime(2025, 4, 1, tzinfo=UTC),
            draw_at=datetime(2025, 4, 10, tzinfo=UTC),
            freeze_deadline=datetime(2025, 4, 5, tzinfo=UTC),
        ),
    )
    now_lead = make_participant(session, protector, current, 6)  # 北京
    old_lead = make_participant(session, protector, current, 12)  # 北京 too
    old_lead.campaign_id, old_lead.created_at = earlier.id, datetime(2025, 3, 2, tzinfo=UTC)
    admin = make_staff(session, "ho", "admin")
    session.commit()
    login_as(client, admin)
    branch = now_lead.branch_id

    def listed(query=""):
        page = client.get(f"/admin/leads?branch_id={branch}{query}")
        assert page.status_code == 200
        return {int(x) for x in re.findall(r'/admin/leads/(\d+)["?]', page.get_data(as_text=True))}

    assert listed() == {now_lead.id}
    assert listed(f"&campaign_id={earlier.id}") == {old_lead.id}
    assert listed("&campaign_id=") == {now_lead.id, old_lead.id}  # 全部活动
    export = client.post(
        f"/admin/exports?branch_id={branch}", data={"fmt": "csv", "scope": "branch"}
    )
    ids = [line.split(",")[0] for line in export.get_data(as_text=True).splitlines()[1:]]
    assert ids == [str(now_lead.id)]
    assert branches_count(client, "北京分公司") == "1"


def branches_count(client, name):
    import re

    page = client.get("/admin/branches").get_data(as_text=True)
    row = page.split(name, 1)[1].split("</tr>", 1)[0]
    return re.findall(r'<td class="num">(\d+)</td>', row)[0]


def test_flagged_referrals_can_be_found_in_the_leads_list_and_on_the_lead(
    client, session, protector
):
    """The leaderboard counts 可疑注册; head office must be able to find and review them."""
    import re

    campaign = current_campaign(session)
    flagged = make_participant(session, protector, campaign, 1)
    flagged.referral_flagged = True
    plain = make_participant(session, protector, campaign, 2)
    admin = make_staff(session, "ho", "admin")
    session.commit()
    login_as(client, admin)
    page = client.get("/admin/leads?flagged=y").get_data(as_text=True)
    assert {int(x) for x in re.findall(r'/admin/leads/(\d+)["?]', page)} == {flagged.id}
    assert "可疑推荐</span>" in page
    assert "可疑推荐</span>" in client.get(f"/admin/leads/{flagged.id}").get_data(as_text=True)
    assert "可疑推荐</span>" not in client.get(f"/admin/leads/{plain.id}").get_data(as_text=True)


@pytest.fixture
def branch_user_without_branch(app):
    """A branch account with no branch, as the request's user. The database refuses such
    an active account (constraint branch_role_has_branch), so it is handed to the
    request directly, as current_staff would return it: the scope must still fail closed."""
    from flask import g

    from quiz.models import StaffUser

    user = StaffUser(
        id=999_999, username="nobranch", role="branch", branch_id=None, can_reveal=True
    )
    user.display_name, user.active, user.session_version = "无机构", True, 1

    def as_user():
        g.staff_user = user

    app.before_request_funcs.setdefault(None, []).insert(0, as_user)
    return user


def test_branch_user_without_branch_sees_nothing_anywhere(
    client, session, protector, branch_user_without_branch
):
    bj, sh = _setup(session, protector)
    unassigned = make_participant(session, protector, current_campaign(session), 7, complete=True)
    unassigned.branch_id = None
    session.commit()
    user = branch_user_without_branch

    page = client.get("/admin/leads")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    for lead in (bj, sh, unassigned):
        assert f"/admin/leads/{lead.id}" not in text
    for lead in (bj, sh, unassigned):
        assert client.get(f"/admin/leads/{lead.id}").status_code == 404
        assert (
            client.post(f"/admin/leads/{lead.id}/follow-up", data={"status": "已联系"}).status_code
            == 404
        )
    # No dashboard (sent to the empty list), no lead export, no winners export.
    assert client.get("/admin/").headers["Location"].endswith("/admin/leads")
    assert client.get("/admin/exports").status_code == 403

    # The services the views call, directly: nothing matches, nothing is exported.
    filters = LeadFilters()
    assert leads.count_leads(session, user, filters) == 0
    assert leads.list_leads(session, user, filters).rows == []
    ctx = exports.context_for(session, False, protector)
    assert list(exports.iter_rows(session, user, filters, ctx)) == []
    assert sum(p.rows for p in exports.plan_parts(session, user, filters, "all")) == 0
    assert exports.plan_parts(session, user, filters, "branch")[0].rows == 0
    with pytest.raises(leads.NotAllowed):
        leads.record_follow_up(session, user, unassigned, "已联系")
    with pytest.raises(leads.NotAllowed):
        leads.reveal(session, protector, user, unassigned)


def test_database_refuses_an_active_branch_account_without_a_branch(session):
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError):
        make_staff(session, "nobranch", role="branch")
    session.rollback()
    assert make_staff(session, "parked", role="branch", active=False).branch_id is None
    assert make_staff(session, "boss", role="admin").branch_id is None
