"""Several campaigns live at once: the public flow, the back office and the draw keep
each campaign's entries apart, and one person may enter each campaign once."""

from __future__ import annotations

import csv
import dataclasses
import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from quiz.campaign.spec import default_campaign_path, install_campaign, load_campaign_file
from quiz.db import utcnow
from quiz.models import Campaign, Draw, Participant
from quiz.reports import stats
from tests.factories import login_as, make_mobile, make_participant, make_resident_id, make_staff

PERSON = {
    "name": "李四",
    "resident_id": make_resident_id("420102", seq=11),
    "address": "湖北省武汉市江岸区沿江大道100号",
    "postal_code": "430014",
    "mobile": make_mobile(4242),
    "landline": "",
}


def second_campaign(session, first: Campaign) -> Campaign:
    spec = load_campaign_file(default_campaign_path())
    return install_campaign(
        session,
        dataclasses.replace(
            spec,
            slug="spring-quiz",
            name="春季保险知识有奖竞答",
            opens_at=first.opens_at,
            closes_at=first.closes_at,
            draw_at=first.draw_at,
            freeze_deadline=first.draw_at - timedelta(days=1),
            sms_verification="off",  # as the test campaign: this test is not about SMS
        ),
    )


def take_part(client, slug: str) -> None:
    """Consent, register and answer every question of /c/<slug>/ in this browser."""
    base = f"/c/{slug}"
    agreed = client.post(f"{base}/consent", data={"agree_rules": "y", "agree_sensitive": "y"})
    assert agreed.status_code == 302 and agreed.headers["Location"] == f"{base}/register"
    registered = client.post(f"{base}/register", data=PERSON)
    assert registered.status_code == 302, registered.get_data(as_text=True)
    assert registered.headers["Location"] == f"{base}/quiz"
    for _ in range(20):
        page = client.get(f"{base}/quiz")
        if page.status_code == 302:
            assert page.headers["Location"] == f"{base}/result"
            return
        text = page.get_data(as_text=True)
        assert f'action="{base}/quiz"' in text  # the page posts within its campaign
        position = re.search(r'name="position" value="(\d+)"', text).group(1)
        choice = re.search(r'name="choice"[^>]*value="([A-Z])"', text).group(1)
        client.post(f"{base}/quiz", data={"position": position, "choice": choice})
    pytest.fail("the quiz did not end")


def listed_leads(client) -> set[int]:
    page = client.get("/admin/leads")
    assert page.status_code == 200
    return {int(x) for x in re.findall(r'/admin/leads/(\d+)["?]', page.get_data(as_text=True))}


def switch(client, campaign: Campaign) -> None:
    reply = client.post(
        "/admin/campaign", data={"campaign_id": str(campaign.id), "next": "/admin/leads"}
    )
    assert reply.status_code == 302 and reply.headers["Location"] == "/admin/leads"


def branch_row(client, branch_name: str) -> list[str]:
    body = client.get("/admin/leaderboard.csv").get_data().decode("utf-8-sig")
    return next(row for row in csv.reader(io.StringIO(body)) if branch_name in row)


def test_two_live_prize_quizzes_keep_entries_leads_stats_exports_boards_and_draws_apart(
    app, client, session, protector
):
    first = session.scalars(select(Campaign)).one()
    second = second_campaign(session, first)
    # Someone else enters only the first campaign, so every figure differs between them.
    other = make_participant(session, protector, first, 7, complete=True)
    session.commit()
    app.extensions["quiz.campaign"].clear()

    # One browser, the same person, both campaigns: each keeps its own entry and result.
    browser = app.test_client()
    take_part(browser, first.slug)
    take_part(browser, second.slug)
    for slug in (first.slug, second.slug):
        result = browser.get(f"/c/{slug}/result")
        assert result.status_code == 200 and "答对" in result.get_data(as_text=True)
    # Entering the same campaign again is still refused (one entry per ID per campaign).
    again = browser.post(f"/c/{second.slug}/register", data=PERSON)
    assert again.status_code == 409

    session.expire_all()
    entries = {
        c.id: set(session.scalars(select(Participant.id).where(Participant.campaign_id == c.id)))
        for c in (first, second)
    }
    assert len(entries[first.id]) == 2 and len(entries[second.id]) == 1
    mine = {
        c.id: session.scalars(
            select(Participant).where(Participant.campaign_id == c.id, Participant.id != other.id)
        ).one()
        for c in (first, second)
    }
    assert mine[first.id].id_hash == mine[second.id].id_hash  # the same person in both
    branch_id = mine[second.id].branch_id
    assert branch_id is not None and branch_id == mine[first.id].branch_id

    # Statistics: each campaign counts its own entries and its own funnel.
    board_first = stats.dashboard(session, first.id)
    board_second = stats.dashboard(session, second.id)
    assert (board_first.entries, board_second.entries) == (2, 1)
    assert (board_first.consents, board_second.consents) == (1, 1)

    # The back office: the switcher decides what every page shows.
    admin = make_staff(session, "ho", "admin")
    branch_user = make_staff(session, "hb", "branch", branch_id=branch_id)
    branch_name = mine[second.id].branch.name
    first_mine, second_mine = mine[first.id].id, mine[second.id].id
    first_here = sum(1 for p in (mine[first.id], other) if p.branch_id == branch_id)
    session.commit()  # the fixture's session writes: it must not hold the app's requests
    login_as(client, admin)
    switch(client, second)
    assert listed_leads(client) == entries[second.id]
    assert "春季保险知识有奖竞答" in client.get("/admin/").get_data(as_text=True)
    export = client.post(f"/admin/exports?branch_id={branch_id}", data={"fmt": "csv"})
    exported = {int(line.split(",")[0]) for line in export.get_data(as_text=True).splitlines()[1:]}
    assert exported == {second_mine}
    assert branch_row(client, branch_name)[5] == "1"  # registrations on the leaderboard
    switch(client, first)
    assert listed_leads(client) == entries[first.id]
    assert branch_row(client, branch_name)[5] == str(first_here)
    session.refresh(admin)
    assert admin.current_campaign_id == first.id  # remembered for the next visit
    session.commit()

    # A branch user sees their branch's leads of each campaign, one campaign at a time.
    branch_client = app.test_client()
    login_as(branch_client, branch_user)
    switch(branch_client, first)
    seen_first = listed_leads(branch_client)
    switch(branch_client, second)
    assert listed_leads(branch_client) == {second_mine}
    assert first_mine in seen_first and second_mine not in seen_first

    # Draws: each campaign freezes its own list.
    session.expire_all()
    for campaign in (first, second):
        campaign = session.get(Campaign, campaign.id)
        # Closed now: every entry above was made before (a second earlier would cut off
        # entries made within the last second on a fast machine).
        campaign.closes_at = utcnow()
    session.commit()
    for campaign, expected in ((first, 2), (second, 1)):
        switch(client, campaign)
        frozen = client.post("/admin/draw/freeze", data={"confirmed": "yes"})
        assert frozen.status_code == 302, frozen.get_data(as_text=True)
        draw = session.scalars(select(Draw).where(Draw.campaign_id == campaign.id)).one()
        assert draw.entrant_count == expected
        session.commit()
    # The public entrant files are each campaign's own.
    for campaign, expected in ((first, 2), (second, 1)):
        body = client.get(f"/c/{campaign.slug}/draw/entrants.txt").get_data(as_text=True)
        assert len([line for line in body.splitlines() if line.strip()]) == expected


def test_the_front_page_lists_live_campaigns_and_old_addresses_keep_their_campaign(
    app, client, session
):
    first = session.scalars(select(Campaign)).one()
    assert client.get("/").headers["Location"] == f"/c/{first.slug}/"  # only one: straight in
    second = second_campaign(session, first)
    second.opens_at = first.opens_at + timedelta(minutes=1)  # opened later, still live
    session.commit()
    app.extensions["quiz.campaign"].clear()
    # The old addresses stay with the campaign they were printed for, not the newer one.
    for path in ("/draw", "/winners"):
        old_page = client.get(path).get_data(as_text=True)
        assert first.name in old_page and second.name not in old_page, path
    page = client.get("/")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    for campaign in (first, second):
        assert campaign.name in text and f'href="/c/{campaign.slug}/"' in text
    assert text.count("进行中") == 2 and "幸运奖" in text
    # A page under /c/<slug>/ links within its campaign; the old address serves one.
    inside = client.get(f"/c/{second.slug}/").get_data(as_text=True)
    assert f'action="/c/{second.slug}/consent"' in inside
    assert f'href="/c/{second.slug}/winners"' in inside
    assert client.get("/register", follow_redirects=True).status_code == 200
    assert client.get("/c/no-such-campaign/").status_code == 404


@pytest.mark.parametrize("kind", ["list_draw", "staff_contest", "artwork_contest"])
def test_another_kind_answers_none_of_the_quizs_steps(app, client, session, kind):
    """Every kind but the prize quiz has its own pages: the quiz's consent, registration,
    paper and result answer 404 under its address, whatever is posted."""
    first = session.scalars(select(Campaign)).one()
    other = second_campaign(session, first)
    other.kind = kind
    session.commit()
    app.extensions["quiz.campaign"].clear()
    base = f"/c/{other.slug}"
    assert client.get(f"{base}/").status_code in (200, 302)
    for path in ("/register", "/quiz", "/result", "/resume"):
        assert client.get(base + path).status_code == 404, path
    consent = client.post(f"{base}/consent", data={"agree_rules": "y", "agree_sensitive": "y"})
    assert consent.status_code == 404


def test_the_drawing_contest_has_its_own_pages_and_none_of_the_quiz(app, client, session):
    first = session.scalars(select(Campaign)).one()
    other = second_campaign(session, first)
    other.kind = "artwork_contest"
    session.commit()
    app.extensions["quiz.campaign"].clear()
    base = f"/c/{other.slug}"
    assert client.get(f"{base}/").headers["Location"].endswith(f"{base}/artwork")
    for path in ("/register", "/quiz", "/result", "/resume", "/draw", "/winners"):
        assert client.get(base + path).status_code == 404, path


def test_a_drafts_public_address_does_not_exist(app, client, session):
    first = session.scalars(select(Campaign)).one()
    draft = second_campaign(session, first)
    draft.status = "draft"
    session.commit()
    app.extensions["quiz.campaign"].clear()
    assert client.get(f"/c/{draft.slug}/").status_code == 404
    assert client.get("/").headers["Location"] == f"/c/{first.slug}/"


def test_the_switcher_refuses_what_names_no_campaign_and_hides_pages_a_kind_lacks(
    app, client, session
):
    first = session.scalars(select(Campaign)).one()
    other = second_campaign(session, first)
    other.kind = "list_draw"
    admin = make_staff(session, "ho", "admin")
    session.commit()
    login_as(client, admin)
    assert client.post("/admin/campaign", data={"campaign_id": "abc"}).status_code == 400
    assert client.post("/admin/campaign", data={"campaign_id": "99999"}).status_code == 404
    assert client.post("/admin/campaign", data={"campaign_id": str(10**30)}).status_code == 400
    # Outside /admin the next address is ignored: no open redirect.
    away = client.post(
        "/admin/campaign", data={"campaign_id": str(first.id), "next": "//evil.example/"}
    )
    assert away.headers["Location"] == "/admin/"
    dashboard = client.get("/admin/").get_data(as_text=True)
    assert "当前活动" in dashboard and "名单抽奖" in dashboard  # every campaign is offered
    assert 'href="/admin/draw"' in dashboard
    switch(client, other)
    # A list draw has its draw pages but no quiz leads or leaderboard: gone from menu and URL.
    page = client.get("/admin/").get_data(as_text=True)
    assert 'href="/admin/draw"' in page and 'href="/admin/leads"' not in page
    for path in ("/admin/leads", "/admin/leaderboard", "/admin/exports"):
        assert client.get(path).status_code == 404, path
    assert client.get("/admin/audit").status_code == 200  # common to every kind


@pytest.mark.parametrize(
    ("kind", "resume", "winners"),
    [
        ("staff_contest", False, False),
        ("artwork_contest", False, False),
        ("list_draw", False, True),
    ],
)
def test_the_footer_links_only_to_the_kinds_own_pages(app, client, session, kind, resume, winners):
    """A contest's privacy page once linked to 继续答题 and 中奖名单, which answer 404 there."""
    first = session.scalars(select(Campaign)).one()
    other = second_campaign(session, first)
    other.kind = kind
    session.commit()
    app.extensions["quiz.campaign"].clear()
    page = client.get(f"/c/{other.slug}/privacy")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "个人信息处理规则" in text
    assert (f'href="/c/{other.slug}/resume"' in text) is resume
    assert (f'href="/c/{other.slug}/winners"' in text) is winners
    quiz_page = client.get(f"/c/{first.slug}/privacy").get_data(as_text=True)
    assert f'href="/c/{first.slug}/resume"' in quiz_page
