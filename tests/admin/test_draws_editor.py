"""Head office declares further draws (a monthly draw, a final one) in the browser: each
with its own tiers, randomness source and deadline; bad input by field with a 422 and
nothing saved; all of them locked once an entrant list is frozen."""

from __future__ import annotations

import copy
import re
from datetime import timedelta

import pytest

from quiz.db import utcnow
from quiz.draw import service
from quiz.draw.plans import plans_of
from quiz.editor import draws_form
from quiz.models import Campaign
from tests.admin.test_campaign_editor import campaign, settings_form  # noqa: F401
from tests.admin.test_contest_editor import create, editor  # noqa: F401
from tests.draw.test_draw_views import closed_with_entrants

MONTHLY = {
    "draws[0].number": "2",
    "draws[0].name": "月度抽奖(3月)",
    "draws[0].closes_at": "2027-03-31T23:59",
    "draws[0].draw_at": "2027-04-06T10:00",
    "draws[0].freeze_deadline": "2027-04-04T12:00",
    "draws[0].randomness_source": "2027年4月6日中国福利彩票双色球开奖号码",
    "draws[0].randomness_format": r"[0-9]{2}( [0-9]{2}){5} \+ [0-9]{2}",
    "draws[0].randomness_example": "03 07 12 19 25 31 + 09",
    "draws[0].exclude_earlier_winners": "1",
    "draws[0].prizes[0].tier": "月度幸运奖",
    "draws[0].prizes[0].count": "50",
    "draws[0].prizes[0].prize": "价值40元奖品一份",
    "draws[0].prizes[0].value_yuan": "40",
}


def stored(session, campaign_id: int) -> dict:
    session.expire_all()
    content = copy.deepcopy(session.get(Campaign, campaign_id).content)
    session.commit()  # the test session must not hold SQLite's write lock during requests
    return content


def post(client, campaign_id: int, changes: dict[str, str]):
    data = settings_form(client, campaign_id) | changes
    return client.post(f"/admin/campaigns/{campaign_id}/edit", data=data)


def test_a_monthly_draw_declared_in_the_browser_is_a_draw_of_its_own(client, session, editor):  # noqa: F811
    campaign_id = create(client, "list_draw", "policy-reinstatement-2027")
    page = client.get(f"/admin/campaigns/{campaign_id}/edit").get_data(as_text=True)
    assert "新增一次抽奖(不需要时留空)" in page
    assert "答题截止时间" not in page  # a list draw's entrants are its imported list
    changes = {k: v for k, v in MONTHLY.items() if "closes_at" not in k}
    resp = post(client, campaign_id, changes)
    assert resp.status_code == 302, resp.get_data(as_text=True)[:3000]

    plans = plans_of(session.get(Campaign, campaign_id))
    session.commit()
    assert [p.number for p in plans] == [1, 2]
    monthly = plans[1]
    assert monthly.name == "月度抽奖(3月)" and monthly.exclude_earlier_winners
    assert monthly.tiers == [
        {"tier": "月度幸运奖", "count": 50, "prize": "价值40元奖品一份", "value_yuan": 40}
    ]
    assert monthly.randomness_example == "03 07 12 19 25 31 + 09"
    # The page shows it as 第 2 次抽奖, with a new blank draw and the box still ticked.
    page = client.get(f"/admin/campaigns/{campaign_id}/edit").get_data(as_text=True)
    assert "第 2 次抽奖" in page and "新增一次抽奖(不需要时留空)" in page
    assert 'name="draws[0].exclude_earlier_winners" type="checkbox" value="1" checked' in page

    # Unticked, the box is posted as nothing: the draw no longer leaves winners out.
    data = settings_form(client, campaign_id)
    data.pop("draws[0].exclude_earlier_winners", None)
    resp = client.post(f"/admin/campaigns/{campaign_id}/edit", data=data)
    assert resp.status_code == 302, resp.get_data(as_text=True)[-6000:]
    assert stored(session, campaign_id)["draws"][0]["exclude_earlier_winners"] is False

    # Clearing every field of the draw removes it.
    cleared = {k.replace("[0]", "[0]", 1): "" for k in MONTHLY if k.startswith("draws[0].")}
    assert post(client, campaign_id, cleared).status_code == 302
    assert stored(session, campaign_id)["draws"] == []


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("draws[0].draw_at", "下个月", "请填写日期和时间"),
        ("draws[0].number", "1", "不能小于 2"),
        ("draws[0].randomness_example", "3 7 12", "示例与开奖结果格式不符"),
        ("draws[0].freeze_deadline", "2027-04-07T12:00", "必须早于这次的抽奖时间"),
        ("draws[0].prizes[0].count", "五十", "请填写整数"),
        ("draws[0].prizes[0].tier", "", "必填项,不能为空"),
        ("draws[0].randomness_source", "", "必填项,不能为空"),
    ],
)
def test_a_bad_further_draw_is_named_by_field_and_nothing_is_saved(
    client,
    session,
    editor,  # noqa: F811
    campaign,  # noqa: F811
    field,
    value,
    words,
):
    before = stored(session, campaign.id)
    resp = post(client, campaign.id, MONTHLY | {field: value, "campaign.name": "不应保存"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert words in html, html[-6000:]
    fid = "f-" + field.replace(".", "-").replace("[", "-").replace("]", "")
    assert f'id="{fid}-error"' in html  # under its own field
    assert stored(session, campaign.id) == before


def test_once_a_list_is_frozen_the_draws_are_what_was_announced(
    client,
    session,
    editor,  # noqa: F811
    protector,
):
    closed, _ = closed_with_entrants(session, protector, 4, 2)
    service.freeze(session, closed, operator="t", now=utcnow() + timedelta(seconds=1))
    session.commit()
    campaign_id = closed.id
    before = stored(session, campaign_id)
    # (The form shows times to the minute: the draw time moves a day on so that the
    # fixture's draw time, equal to its end, stays valid.)
    later = (utcnow() + timedelta(days=1, hours=8)).strftime("%Y-%m-%dT%H:%M")
    resp = post(client, campaign_id, MONTHLY | {"campaign.draw_at": later})
    assert resp.status_code == 422
    errors = re.findall(r'class="error"[^>]*>([^<]*)', resp.get_data(as_text=True))
    assert draws_form.FROZEN in errors, errors
    assert stored(session, campaign_id) == before
