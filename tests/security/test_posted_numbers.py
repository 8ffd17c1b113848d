"""Numbers as posted or asked for by an attacker: a digit only Unicode calls one ("²"
passes str.isdigit, then int() raised), one too big for the database's integer, dates
and periods past what date arithmetic holds. Each gets a 4xx, never a 500, and the
editor's a Chinese message under its field."""

from __future__ import annotations

import pytest

from quiz.campaign.lifecycle import current_campaign
from tests.admin.test_campaign_editor import settings_form, token
from tests.factories import login_as, make_staff

HUGE = str(10**30)


@pytest.fixture
def admin(client, session):
    user = make_staff(session, "admin.numbers", "admin")
    session.commit()
    login_as(client, user)
    return user


@pytest.fixture
def quiz_id(session) -> int:
    campaign_id = current_campaign(session).id
    session.commit()
    return campaign_id


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("privacy.follow_up_retention_days", "²", "请填写整数"),
        ("privacy.follow_up_retention_days", "999999999", "不能大于 3650"),
        ("privacy.winner_retention_days", "3651", "不能大于 3650"),
        ("prizes[0].count", "²", "请填写整数"),
        ("prizes[0].count", "999999999", "不能大于 1000000"),
        ("campaign.opens_at", "0001-01-01T00:00", "年份应在 2000 至 2100 之间"),
        ("campaign.draw_at", "9999-12-31T23:59", "年份应在 2000 至 2100 之间"),
    ],
)
def test_the_editor_answers_odd_numbers_and_dates_by_field(
    client, admin, quiz_id, field, value, words
):
    resp = client.post(
        f"/admin/campaigns/{quiz_id}/edit",
        data=settings_form(client, quiz_id) | {field: value},
    )
    assert resp.status_code == 422
    fid = "f-" + field.replace(".", "-").replace("[", "-").replace("]", "")
    html = resp.get_data(as_text=True)
    assert f'id="{fid}-error"' in html and words in html, html[-4000:]


@pytest.mark.parametrize("ident", ["²", HUGE, "0"])
def test_copying_an_odd_campaign_id_is_a_404(client, admin, ident):
    resp = client.post(
        "/admin/campaigns/new",
        data={
            "csrf_token": token(client, "/admin/campaigns"),
            "source": f"copy:{ident}",
            "name": "复制",
            "slug": "copy-of-nothing",
        },
    )
    assert resp.status_code == 404


@pytest.mark.parametrize("value", ["²", HUGE, "0", "-1"])
def test_the_public_draw_pages_answer_an_odd_draw_number(client, value):
    for path in ("/draw", "/draw/winners", "/draw/entrants.txt"):
        assert client.get(f"{path}?draw={value}").status_code == 404, path


def test_assigning_leads_to_odd_ids_is_refused_not_failed(client, admin):
    from quiz.admin.campaign_views import selected_campaign  # noqa: F401 - the switcher's

    resp = client.post(
        "/admin/owners/assign",
        data={"branch": HUGE, "agent": ["²", HUGE], "lead": ["²", HUGE], "count": HUGE},
    )
    assert 400 <= resp.status_code < 500
