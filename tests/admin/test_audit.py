"""Audit-log viewer: admin only, newest first, filters, keyset pages, no way to edit."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from quiz.admin.audit_views import PAGE_SIZE
from quiz.models import AuditLog
from tests.factories import login_as, make_staff


@pytest.fixture
def admin_client(client, session):
    login_as(client, make_staff(session, "root", "admin"))
    session.commit()
    return client


def add(session: Any, n: int, **kw: Any) -> None:
    for i in range(n):
        session.add(
            AuditLog(
                at=kw.get("at", datetime(2024, 8, 8, 4, 0, tzinfo=UTC)),
                actor=kw.get("actor", "someone"),
                action=kw.get("action", "login"),
                target=f"t{i}",
                detail={"i": i},
            )
        )
    session.commit()


def ids_on(page: str) -> list[int]:
    return [int(x) for x in re.findall(r'<td class="num">(\d+)</td>', page)]


def test_pages_are_newest_first_without_gaps_or_overlap(admin_client, session):
    add(session, PAGE_SIZE * 2 + 7)
    all_ids = sorted(session.scalars(select(AuditLog.id)).all(), reverse=True)
    session.commit()
    seen: list[int] = []
    url = "/admin/audit"
    pages = 0
    while url:
        page = admin_client.get(url).get_data(as_text=True)
        ids = ids_on(page)
        assert ids == sorted(ids, reverse=True) and len(ids) <= PAGE_SIZE
        seen += ids
        pages += 1
        match = re.search(r'<a href="([^"]+)">更早', page)
        url = match.group(1).replace("&amp;", "&") if match else ""
    assert seen == all_ids and pages == 3


def test_filters_by_actor_action_and_beijing_dates(admin_client, session):
    add(session, 3, actor="alice", action="login")
    add(session, 2, actor="bob", action="user_create")
    # 2024-08-09 23:30 in Beijing is 15:30 UTC the same day; 2024-08-10 00:30 is 16:30 UTC.
    add(session, 1, actor="carol", action="logout", at=datetime(2024, 8, 9, 15, 30, tzinfo=UTC))
    add(session, 1, actor="dave", action="logout", at=datetime(2024, 8, 9, 16, 30, tzinfo=UTC))

    def rows(**query: str) -> int:
        return len(
            ids_on(admin_client.get("/admin/audit", query_string=query).get_data(as_text=True))
        )

    assert rows(actor="alice") == 3
    assert rows(action="user_create") == 2
    assert rows(actor="alice", action="user_create") == 0
    assert rows(start="2024-08-09", end="2024-08-09") == 1  # carol only (Beijing date)
    assert rows(start="2024-08-10") == 1  # dave
    assert rows(end="2024-08-08") == 5
    page = admin_client.get("/admin/audit", query_string={"action": "user_create"}).get_data(
        as_text=True
    )
    assert "创建用户" in page  # Chinese labels for known actions


def test_bad_date_is_a_422_in_chinese(admin_client):
    resp = admin_client.get("/admin/audit", query_string={"start": "8月8日"})
    assert resp.status_code == 422
    assert "日期格式应为" in resp.get_data(as_text=True)


def test_sign_in_and_user_changes_land_in_the_log(app, admin_client, session):
    admin_client.post(
        "/admin/users/new",
        data={
            "username": "new.one",
            "role": "analyst",
            "password": "pass word 1",
            "confirm": "pass word 1",
        },
    )
    app.test_client().post("/admin/login", data={"username": "new.one", "password": "nope nope"})
    page = admin_client.get("/admin/audit").get_data(as_text=True).split("<tbody>")[1]
    assert page.index("登录失败") < page.index("创建用户")  # newest first


def test_the_log_is_read_only_and_admin_only(app, client, session):
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/admin/audit"):
            assert rule.methods <= {"GET", "HEAD", "OPTIONS"}, rule
    login_as(client, make_staff(session, "ana", "analyst"))
    session.commit()
    assert client.get("/admin/audit").status_code == 403


def test_dates_at_the_ends_of_the_calendar_are_refused_with_a_message(admin_client):
    for query in ("end=9999-12-31", "start=0001-01-01"):
        response = admin_client.get(f"/admin/audit?{query}")
        assert response.status_code == 422, query
        assert "日期应在 2000-01-01 至 2099-12-31 之间" in response.get_data(as_text=True)


def test_entries_read_in_plain_chinese_with_the_raw_json_behind_details(admin_client, session):
    """导出线索 · 广东分公司 · 含完整个人信息, filters as words; the stored JSON stays
    available under 详情, and an old action code still shows (as itself)."""
    from quiz.models import Branch

    guangdong = session.scalars(select(Branch).where(Branch.code == "B44")).one()
    session.add(
        AuditLog(
            actor="ho",
            action="export",
            target="export_job:7",
            detail={
                "format": "xlsx",
                "scope": "branch",
                "filters": {"branch_id": guangdong.id, "duplicates": True, "score_min": 60},
                "rows": 12,
                "full_personal_data": True,
            },
        )
    )
    session.add(
        AuditLog(
            actor="bj",
            action="contact_view",
            target="participant:42",
            detail={"fields": ["mobile", "landline"]},
        )
    )
    session.add(AuditLog(actor="x", action="made_up", target="thing", detail={}))
    session.commit()
    page = admin_client.get("/admin/audit").get_data(as_text=True)
    row = page[page.index("<td>导出线索</td>") :][:1500]
    assert f"{guangdong.name}(导出任务 7)" in row
    assert "含完整个人信息" in row and "仅手机号重复" in row and "最低得分:60" in row
    assert "Excel" in row and "条数:12" in row
    assert "<summary>详情</summary>" in row and "full_personal_data" in row
    assert f"<td>{guangdong.name}(导出任务 7)</td>" in page and "filters=" not in page
    assert "查看联系电话" in page and "线索 42" in page and "查看:手机号码、固定电话" in page
    assert "made_up" in page


def test_each_entry_files_under_the_campaign_its_actor_worked_on(admin_client, session):
    """The switcher's campaign goes on every entry made while it is chosen (unless the
    caller names one); the viewer filters by it and refuses a campaign that does not exist."""
    from quiz.models import Campaign, StaffUser
    from quiz.staff.audit import record
    from tests.campaign.test_workspace import second_campaign, switch

    first = session.scalars(select(Campaign)).one()
    second = second_campaign(session, first)
    session.commit()
    root = session.scalars(select(StaffUser).where(StaffUser.username == "root")).one()
    session.commit()  # the test's session writes: it must not hold SQLite's lock meanwhile
    made: dict[str, int] = {}
    for campaign in (first, second):
        switch(admin_client, campaign)  # through the page, as staff do
        session.refresh(root)
        entry = record(session, root, "export", f"export_job:{campaign.id}")
        assert entry.campaign_id == campaign.id
        made[campaign.slug] = entry.id
        session.commit()
    named = record(session, root, "export", "export_job:9", campaign_id=first.id)
    assert named.campaign_id == first.id
    session.commit()

    def listed(**query: str) -> set[int]:
        page = admin_client.get("/admin/audit", query_string={"action": "export", **query})
        assert page.status_code == 200
        return set(ids_on(page.get_data(as_text=True)))

    assert listed(campaign=str(second.id)) == {made[second.slug]}
    assert listed(campaign=str(first.id)) == {made[first.slug], named.id}
    assert listed() == {made[first.slug], made[second.slug], named.id}  # all campaigns
    refused = admin_client.get("/admin/audit", query_string={"campaign": "999"})
    assert refused.status_code == 422
