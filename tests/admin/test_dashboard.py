"""The dashboard page: head office sees figures as SVG and tables; branches are redirected."""

from __future__ import annotations

from quiz.campaign.lifecycle import current_campaign
from quiz.engine import entry_counts
from tests.factories import login_as, make_participant, make_staff


def test_head_office_sees_charts_and_numbers(client, session, protector):
    campaign = current_campaign(session)
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


def _board_page(client, session, protector, query=""):
    """Three completed entries today (two Beijing, one Shanghai), one five days ago."""
    from datetime import UTC, datetime, timedelta

    campaign = current_campaign(session)
    made = [make_participant(session, protector, campaign, n, complete=True) for n in (6, 12, 1)]
    old = make_participant(session, protector, campaign, 18, complete=True)
    old.created_at = datetime.now(UTC) - timedelta(days=5)
    made[0].intent = {**made[0].intent, "i01-products": ["重疾险", "医疗险"]}
    # Everyone scored: the charts test an empty 0-point bucket. (Answering every first
    # option no longer guarantees a point: the demo's answer key is spread.)
    for entry in [*made, old]:
        entry.score = max(entry.score, 1)
    session.flush()
    # Changed behind the app's back (no path re-dates an entry or edits its answers).
    entry_counts.rebuild(session, campaign.id)
    user = make_staff(session, "analyst1", role="analyst")
    session.commit()
    login_as(client, user)
    return client.get(f"/admin/{query}"), made


def test_dashboard_periods_count_only_their_entries(client, session, protector):
    response, _ = _board_page(client, session, protector, "?range=today")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert '<p class="kpi">3</p>' in page  # today's three, not the older fourth
    assert '<p class="kpi">4</p>' in client.get("/admin/?range=all").get_data(as_text=True)
    assert '<p class="kpi">4</p>' in client.get("/admin/?range=7d").get_data(as_text=True)
    bad = client.get("/admin/?date_from=2026-12-05&date_to=2026-12-01")
    assert bad.status_code == 400 and "结束日期不能早于开始日期" in bad.get_data(as_text=True)


def test_every_intent_question_has_its_chart_and_branch_table(client, session, protector):
    import re

    response, _ = _board_page(client, session, protector)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    campaign = current_campaign(session)
    intent = [q for q in campaign.questions if q.kind == "intent"]
    assert len(intent) == 3
    for q in intent:
        assert f"投保意向:{q.text}" in page
    section = page[page.index(f"投保意向:{intent[0].text}") :]
    section = section[: section.index("</section>")]
    # Multiple choice counts each option chosen: 医疗险 came from one entry's second pick;
    # an option nobody chose is on the chart as a zero.
    assert "医疗险:1人" in section and "重疾险:4人" in section and "寿险:0人" in section
    assert "作答 4 人" in section
    assert "各机构 × 选项" in section and "北京分公司" in section
    # Labels stay legible: no text under 12 px in any chart.
    sizes = [int(s) for s in re.findall(r'font-size="(\d+)"', page)]
    assert sizes and min(sizes) >= 12
    # Today's period leaves the five-day-old entry out of every question's figures.
    today = client.get("/admin/?range=today").get_data(as_text=True)
    section = today[today.index(f"投保意向:{intent[0].text}") :]
    assert "作答 3 人" in section[: section.index("</section>")]
    # The old 意向分析 page's links land on the dashboard's intent section.
    moved = client.get("/admin/intent?range=7d")
    assert moved.status_code == 302
    assert moved.headers["Location"].endswith("/admin/?range=7d#intent")


def test_score_buckets_without_entries_show_as_zero_and_follow_up_is_a_bar(
    client, session, protector
):
    response, _ = _board_page(client, session, protector)
    page = response.get_data(as_text=True)
    scores = page[page.index("得分分布") :]
    scores = scores[: scores.index("</section>")]
    assert "0分:0人" in scores  # nobody scored 0, and the axis still has it
    progress = page[page.index("各机构跟进率") :][:3000]
    assert "北京分公司:0.0%" in progress and 'fill="#eaeef2"' in progress  # an empty track


def test_a_campaign_without_quiz_figures_opens_on_its_own_page(client, session):
    """A staff contest, a drawing contest or a list draw has no funnel or intent: 数据概览
    is not offered and the start page is the kind's own (a branch of a list draw: its
    winners to notify)."""
    from quiz.models import Branch
    from tests.admin.test_list_draw_views import switch
    from tests.artwork.conftest import install_contest as install_artwork
    from tests.contest.conftest import install_contest
    from tests.draw.test_lists import install_list_campaign

    campaigns = {
        "/admin/contest": install_contest(session),
        "/admin/artwork": install_artwork(session),
        "/admin/draw": install_list_campaign(session),
    }
    branch = session.query(Branch).filter_by(code="B11").one()
    admin = make_staff(session, "ho", "admin")
    clerk = make_staff(session, "b11", role="branch", branch_id=branch.id)
    session.commit()
    login_as(client, admin)
    session.commit()
    for target, campaign in campaigns.items():
        switch(client, session, campaign)
        reply = client.get("/admin/")
        assert reply.status_code == 302 and reply.headers["Location"].startswith(target)
        page = client.get(reply.headers["Location"]).get_data(as_text=True)
        assert "数据概览" not in page and "参与漏斗" not in page
    client.post("/admin/logout")
    login_as(client, clerk)
    session.commit()
    switch(client, session, campaigns["/admin/draw"])
    reply = client.get("/admin/")
    assert reply.status_code == 302 and reply.headers["Location"].endswith("/admin/draw/winners")
