"""The dashboard page: head office sees figures as SVG and tables; branches are redirected."""

from __future__ import annotations

from quiz import quiz_flow
from tests.factories import login_as, make_participant, make_staff


def test_head_office_sees_charts_and_numbers(client, session, protector):
    campaign = quiz_flow.current_campaign(session)
    for n in (6, 12, 1):
        make_participant(session, protector, campaign, n, complete=(n != 12))
    user = make_staff(session, "analyst1", role="analyst")
    session.commit()
    login_as(client, user)
    response = client.get("/admin/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert page.count('role="img"') >= 5
    assert "北京分公司" in page and "上海分公司" in page
    assert "答题完成率 66.7%" in page
    assert "<script" not in page  # charts are drawn server-side
    assert 'href="/admin/leads"' in page  # nav link to the leads list


def test_dashboard_without_entries_shows_empty_state(client, session):
    user = make_staff(session, "admin1")
    session.commit()
    login_as(client, user)
    page = client.get("/admin/").get_data(as_text=True)
    assert "暂无参与数据" in page


def test_branch_user_is_redirected_to_leads(client, session):
    from sqlalchemy import select

    from quiz.models import Branch

    branch = session.scalars(select(Branch).where(Branch.code == "B11")).one()
    user = make_staff(session, "bj", role="branch", branch_id=branch.id)
    session.commit()
    login_as(client, user)
    response = client.get("/admin/")
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/leads")
