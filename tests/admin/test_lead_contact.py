"""The contact permission (查看联系电话), do-not-call leads, and the CRM basics of the
leads list: search, count, views, sorting, next-contact date, 保存并下一条, bulk status."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select

from quiz.campaign.lifecycle import current_campaign
from quiz.leads import service as leads
from quiz.leads.service import CHINA, LeadFilters
from quiz.models import AuditLog, Branch, FollowUp, Participant, StaffUser
from tests.factories import login_as, make_participant, make_staff


def _beijing(session):
    return session.scalars(select(Branch).where(Branch.code == "B11")).one()


def _leads(session, protector, count=3, **kw):
    """Beijing leads (n = 6, 12, 18 ... all route to B11), completed."""
    campaign = current_campaign(session)
    made = [
        make_participant(session, protector, campaign, 6 * (i + 1), complete=True, **kw)
        for i in range(count)
    ]
    session.commit()
    return made


def _caller(session, **kw):
    user = make_staff(session, "caller", role="branch", branch_id=_beijing(session).id, **kw)
    session.commit()
    return user


def _contact_audits(session):
    """(target, actor) of each contact_view entry; the test session's write lock is let go."""
    session.expire_all()
    entries = session.scalars(select(AuditLog).where(AuditLog.action == "contact_view"))
    found = [(a.target, a.actor) for a in entries]
    session.rollback()
    return found


def test_contact_permission_shows_numbers_as_tel_links_and_never_the_id_number(
    client, session, protector
):
    (lead,) = _leads(session, protector, 1, landline="010-62345678")
    mobile, full_id = protector.decrypt(lead.mobile_enc), protector.decrypt(lead.id_enc)
    plain = make_staff(session, "plain", role="branch", branch_id=lead.branch_id)
    session.commit()
    login_as(client, plain)
    page = client.get(f"/admin/leads/{lead.id}").get_data(as_text=True)
    assert mobile not in page and lead.mobile_masked in page and "查看联系电话" in page

    login_as(client, _caller(session, can_call=True))
    page = client.get(f"/admin/leads/{lead.id}").get_data(as_text=True)
    assert f'href="tel:{mobile}"' in page
    assert 'href="tel:01062345678"' in page and "010-62345678" in page
    assert full_id not in page and "查看完整信息" not in page
    listing = client.get("/admin/leads").get_data(as_text=True)
    assert f'href="tel:{mobile}"' in listing and full_id not in listing


def test_do_not_call_lead_keeps_its_number_masked_without_full_data_permission(
    client, session, protector
):
    declined, willing = _leads(session, protector, 2)
    declined.contact_opt_out = True
    session.commit()
    mobile = protector.decrypt(declined.mobile_enc)
    login_as(client, _caller(session, can_call=True))
    for url in (f"/admin/leads/{declined.id}", "/admin/leads"):
        page = client.get(url).get_data(as_text=True)
        assert mobile not in page and "暂不需要联系" in page
    assert protector.decrypt(willing.mobile_enc) in client.get("/admin/leads").get_data(
        as_text=True
    )
    # Nothing was shown, so nothing is audited for the declined lead.
    assert f"participant:{declined.id}" not in {t for t, _ in _contact_audits(session)}

    # The filter leaves declined leads out of the list.
    page = client.get("/admin/leads?hide_opt_out=y").get_data(as_text=True)
    assert f"/admin/leads/{declined.id}?" not in page
    assert f"/admin/leads/{willing.id}?" in page

    # Full-data permission (with the contact one) does show it, still with the badge.
    full = make_staff(
        session, "full", role="branch", branch_id=declined.branch_id, can_call=True, can_reveal=True
    )
    session.commit()
    login_as(client, full)
    page = client.get(f"/admin/leads/{declined.id}").get_data(as_text=True)
    assert f'href="tel:{mobile}"' in page and "请勿致电" in page


def test_each_number_view_is_audited_once_per_lead_user_and_day(client, session, protector):
    first, second = _leads(session, protector, 2)
    login_as(client, _caller(session, can_call=True))
    client.get(f"/admin/leads/{first.id}")
    client.get(f"/admin/leads/{first.id}")
    client.get("/admin/leads")  # shows both numbers
    audits = _contact_audits(session)
    assert sorted(audits) == [
        (f"participant:{first.id}", "caller"),
        (f"participant:{second.id}", "caller"),
    ]

    # The next Beijing day starts a new line.
    user = session.scalars(select(StaffUser).where(StaffUser.username == "caller")).one()
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    assert leads.audit_contact_views(session, user, [first.id], now=tomorrow) == 1
    assert leads.audit_contact_views(session, user, [first.id], now=tomorrow) == 0


def test_without_contact_permission_nothing_is_decrypted_or_audited(session, protector):
    (lead,) = _leads(session, protector, 1)
    user = _caller(session)
    assert leads.contact_numbers(session, protector, user, [lead.id]) == {}
    other = make_staff(session, "sh", role="branch", branch_id=lead.branch_id + 1, can_call=True)
    # Another branch's lead is out of scope even with the permission.
    assert leads.contact_numbers(session, protector, other, [lead.id]) == {}


def test_search_by_mobile_last_four_and_name_with_a_total(client, session, protector):
    a, b, c = _leads(session, protector, 3)
    a.name, b.name = "王小明", "王大明"
    session.commit()
    login_as(client, _caller(session))

    def found(query):
        page = client.get(f"/admin/leads?{query}")
        assert page.status_code == 200
        text = page.get_data(as_text=True)
        return {int(x) for x in re.findall(r"/admin/leads/(\d+)\?", text)}, text

    ids, text = found("q=" + protector.decrypt(c.mobile_enc))
    assert ids == {c.id} and "共 1 条" in text
    assert "mobile_hash" not in text  # the number's hash never travels in links
    ids, _ = found("q=" + b.id_last4)
    assert ids == {p.id for p in (a, b, c) if p.id_last4 == b.id_last4}
    ids, text = found("q=王")
    assert ids == {a.id, b.id} and "共 2 条" in text
    ids, text = found("")
    assert "共 3 条" in text
    bad = client.get("/admin/leads?q=12345")
    assert bad.status_code == 400 and "请输入完整的11位手机号码或身份证号码后四位" in bad.get_data(
        as_text=True
    )


def test_views_mine_and_overdue_and_sort_by_next_contact(client, session, protector):
    fresh, called, overdue = _leads(session, protector, 3)
    today = datetime.now(CHINA).date()
    called.follow_up_status = "已联系"
    called.next_contact_on = today + timedelta(days=3)
    overdue.follow_up_status = "已联系"
    overdue.next_contact_on = today - timedelta(days=2)
    session.commit()
    user = _caller(session)

    def ids(**kw):
        return [r.id for r in leads.list_leads(session, user, LeadFilters(**kw)).rows]

    assert set(ids(due_on=today)) == {fresh.id, overdue.id}
    assert ids(overdue_before=today) == [overdue.id]
    by_next = leads.list_leads(session, user, LeadFilters(), sort="next").rows
    assert [r.id for r in by_next] == [overdue.id, called.id, fresh.id]

    login_as(client, user)
    page = client.get("/admin/leads?view=mine").get_data(as_text=True)
    assert f"/admin/leads/{called.id}?" not in page and f"/admin/leads/{fresh.id}?" in page
    page = client.get("/admin/leads?view=overdue").get_data(as_text=True)
    assert "共 1 条" in page and f"/admin/leads/{overdue.id}?" in page


def test_follow_up_with_next_contact_date_then_next_lead(client, session, protector):
    newest_first = sorted((p.id for p in _leads(session, protector, 3)), reverse=True)
    login_as(client, _caller(session))
    when = (datetime.now(CHINA).date() + timedelta(days=2)).isoformat()
    response = client.post(
        f"/admin/leads/{newest_first[0]}/follow-up?view=mine",
        data={"status": "已联系", "note": "约周五", "next_contact_on": when, "then": "next"},
    )
    assert response.status_code == 302
    target = urlsplit(response.headers["Location"])
    assert target.path == f"/admin/leads/{newest_first[1]}"
    assert parse_qs(target.query)["view"] == ["mine"]  # still walking 我的待联系
    session.expire_all()
    saved = session.get(Participant, newest_first[0])
    assert (saved.follow_up_status, saved.next_contact_on) == ("已联系", date.fromisoformat(when))
    session.rollback()

    past = client.post(
        f"/admin/leads/{newest_first[1]}/follow-up",
        data={"status": "已联系", "next_contact_on": "2020-01-01"},
    )
    assert past.status_code == 400 and "下次联系日期不能早于今天" in past.get_data(as_text=True)


def test_bulk_status_change_skips_other_branches(client, session, protector):
    mine = _leads(session, protector, 2)
    campaign = current_campaign(session)
    other = make_participant(session, protector, campaign, 1, complete=True)  # Shanghai
    session.commit()
    login_as(client, _caller(session))
    ids = [p.id for p in mine] + [other.id]
    response = client.post("/admin/leads/bulk-status", data={"ids": ids, "status": "无效"})
    assert response.status_code == 302
    session.expire_all()
    assert [session.get(Participant, p.id).follow_up_status for p in mine] == ["无效", "无效"]
    assert session.get(Participant, other.id).follow_up_status == "待联系"
    assert len(session.scalars(select(FollowUp)).all()) == 2
    session.rollback()
    empty = client.post("/admin/leads/bulk-status", data={"status": "无效"}, follow_redirects=True)
    assert "请先勾选要修改的线索" in empty.get_data(as_text=True)


def test_a_refused_follow_up_shows_the_number_again_and_audits_it(client, session, protector):
    (lead,) = _leads(session, protector, 1)
    lead_id, mobile = lead.id, protector.decrypt(lead.mobile_enc)
    login_as(client, _caller(session, can_call=True))
    refused = client.post(f"/admin/leads/{lead_id}/follow-up", data={"status": "未知"})
    assert refused.status_code == 400 and f'href="tel:{mobile}"' in refused.get_data(as_text=True)
    assert _contact_audits(session) == [(f"participant:{lead_id}", "caller")]


def test_intent_filter_per_question_is_multi_select_aware(client, session, protector):
    """Any chosen option of one question matches; two questions must both match."""
    a, b, c = _leads(session, protector, 3)
    a.intent = {"i01-products": ["重疾险", "医疗险"], "i02-budget": ["3万元以上"]}
    b.intent = {"i01-products": ["医疗险"], "i02-budget": ["3000元以下"]}
    c.intent = {"i01-products": ["寿险"], "i02-budget": ["3万元以上"]}
    session.commit()
    user = _caller(session)

    def ids(*chosen):
        return {r.id for r in leads.list_leads(session, user, LeadFilters(intent=chosen)).rows}

    assert ids("i01-products=医疗险") == {a.id, b.id}  # a chose it second
    assert ids("i01-products=医疗险", "i01-products=寿险") == {a.id, b.id, c.id}
    assert ids("i01-products=医疗险", "i02-budget=3万元以上") == {a.id}
    session.rollback()
    login_as(client, user)
    page = client.get("/admin/leads?intent=i01-products%3D医疗险&intent=i02-budget%3D3万元以上")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "共 1 条" in text and f"/admin/leads/{a.id}?" in text
    bad = client.get("/admin/leads?intent=nonsense")
    assert bad.status_code == 400 and "选项无效" in bad.get_data(as_text=True)
    assert LeadFilters.from_dict(LeadFilters(intent=("i01-products=寿险",)).to_dict()) == (
        LeadFilters(intent=("i01-products=寿险",))
    )
