"""Head office sets a staff contest (and a list draw) up in the browser: the kind's
template, its own settings (time limit, scoring, awards, groups and their quotas), bad
input by field with a 422 and nothing saved, and the locks once contestants are in."""

from __future__ import annotations

import copy
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from quiz.contest import paper
from quiz.editor import contest_form
from quiz.editor.contest_form import parse_quotas, quotas_text
from quiz.engine.bank import question_bank
from quiz.models import AuditLog, Campaign, Contestant
from tests.admin.test_campaign_editor import settings_form, token
from tests.contest.conftest import save_demo_roster
from tests.factories import login_as, make_staff


@pytest.fixture
def editor(client, session):
    user = make_staff(session, "editor1", "admin")
    session.commit()
    login_as(client, user)
    return user


def create(client, kind: str, slug: str) -> Campaign:
    resp = client.post(
        "/admin/campaigns/new",
        data={
            "csrf_token": token(client, "/admin/campaigns"),
            "source": f"template:{kind}",
            "name": "2027 年理赔服务知识竞赛",
            "slug": slug,
        },
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    assert resp.headers["Location"].endswith("/edit")
    return int(resp.headers["Location"].split("/")[-2])


def rostered(session, campaign_id: int, protector) -> Campaign:
    """The demo roster saved for the campaign, which starts in an hour (committed)."""
    campaign = session.get(Campaign, campaign_id)
    campaign.opens_at = paper.utcnow() + timedelta(hours=1)
    campaign.closes_at = paper.utcnow() + timedelta(hours=3)
    save_demo_roster(session, campaign, protector)
    session.commit()
    return campaign


def begin(session, campaign: Campaign, staff_no: str) -> paper.PaperView:
    """The contest open since a minute ago, and `staff_no` begins the paper (committed)."""
    # To the minute, as the form shows it (so a save that keeps it keeps it exactly).
    campaign.opens_at = (paper.utcnow() - timedelta(minutes=1)).replace(second=0, microsecond=0)
    session.flush()
    who = session.scalar(select(Contestant).where(Contestant.staff_no == staff_no))
    view = paper.start_paper(session, campaign, question_bank(session, campaign.id), who)
    session.commit()
    return view


def content(session, campaign_id: int) -> dict:
    """The campaign's stored settings; the test session then lets go of SQLite's lock."""
    session.expire_all()
    stored = copy.deepcopy(session.get(Campaign, campaign_id).content)
    session.commit()
    return stored


def test_quotas_read_as_typed_and_written_back():
    assert parse_quotas("理赔流程=4,理赔时效 = 3;服务规范:2") == {
        "理赔流程": 4,
        "理赔时效": 3,
        "服务规范": 2,
    }
    assert parse_quotas("理赔流程=4\n理赔时效=3\n") == {"理赔流程": 4, "理赔时效": 3}
    for bad in ("", "理赔流程", "理赔流程=四", "理赔流程=-1", "=3"):
        assert parse_quotas(bad) is None, bad
    assert parse_quotas(quotas_text({"理赔流程": 4, "服务规范": 5})) == {
        "理赔流程": 4,
        "服务规范": 5,
    }


def test_the_campaigns_page_offers_the_contest_and_list_draw_templates(client, editor):
    html = client.get("/admin/campaigns").get_data(as_text=True)
    for code in ("staff_contest", "list_draw", "prize_quiz"):
        option = html.split(f'value="template:{code}"')[1].split(">")[0]
        assert "disabled" not in option, code


def test_a_contest_set_up_in_the_browser_is_the_paper_contestants_get(
    client, session, editor, protector
):
    campaign_id = create(client, "staff_contest", "claims-contest-2027")
    stored = session.get(Campaign, campaign_id)
    assert (stored.kind, stored.status) == ("staff_contest", "draft")
    session.commit()

    page = client.get(f"/admin/campaigns/{campaign_id}/edit").get_data(as_text=True)
    assert "竞赛设置" in page and "理赔流程 6 道" in page  # the bank's categories, counted
    assert "每人抽取知识题数" not in page and "随机数来源" not in page  # nothing drawn here
    data = settings_form(client, campaign_id)
    assert data["contest.time_limit_minutes"] == "20"
    assert data["contest.groups[1].quotas"] == "理赔流程=3,理赔时效=2,服务规范=5"

    data |= {
        "contest.time_limit_minutes": "30",
        "contest.points_per_question": "5",
        "contest.multiple_choice": "all_or_nothing",
        "contest.branch_weights.participation": "30",
        "contest.branch_weights.average": "70",
        "contest.awards[3].name": "优秀奖",  # the blank row adds an award
        "contest.awards[3].count": "10",
        "contest.groups[1].quotas": "理赔流程=2,服务规范=4",
    }
    resp = client.post(f"/admin/campaigns/{campaign_id}/edit", data=data)
    assert resp.status_code == 302, resp.get_data(as_text=True)[:3000]
    settings = content(session, campaign_id)["contest"]
    assert settings["time_limit_minutes"] == 30
    assert settings["multiple_choice"] == "all_or_nothing"
    assert settings["branch_weights"] == {"participation": 30, "average": 70}
    assert settings["awards"][-1] == {"name": "优秀奖", "count": 10}
    assert settings["groups"][1]["quotas"] == {"理赔流程": 2, "服务规范": 4}

    # What contestants get: a 30-minute paper of the office group's 6 questions at 5 each.
    view = begin(session, rostered(session, campaign_id, protector), "NQ0001")
    assert view.deadline_at - view.started_at == timedelta(minutes=30)
    assert (len(view.items), view.max_score) == (6, 30)


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("contest.time_limit_minutes", "二十", "请填写整数"),
        ("contest.time_limit_minutes", "0", "请填写 1 至 600 之间的整数"),
        ("contest.multiple_choice", "half", "只能是 partial"),
        ("contest.branch_weights.average", "70", "两者之和为 100"),
        ("contest.awards[0].count", "0", "1 至 10000 个名额"),
        ("contest.awards[0].count", "999999999", "1 至 10000 个名额"),
        ("contest.groups[0].code", "Sales!", "组别代码只能由"),
        ("contest.groups[1].name", "业务员组", "两个组别的代码或名称相同"),
        ("contest.groups[0].quotas", "理赔流程 四道", "请按“分类=题数”填写"),
        ("contest.groups[0].quotas", "理赔流程=99", "题库中这个分类只有 6 道知识题"),
        ("contest.groups[0].quotas", "车险=1", "“车险”要抽 1 道题"),
    ],
)
def test_bad_contest_settings_are_named_in_chinese_and_nothing_is_saved(
    client, session, editor, field, value, words
):
    campaign_id = create(client, "staff_contest", "claims-contest-2027")
    before = content(session, campaign_id)
    data = settings_form(client, campaign_id) | {field: value, "campaign.name": "不应保存"}
    resp = client.post(f"/admin/campaigns/{campaign_id}/edit", data=data)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert words in html, html[:4000]
    assert f'value="{value}"' in html  # the form comes back as typed
    assert content(session, campaign_id) == before


def test_a_begun_contest_keeps_its_scoring_and_its_rostered_groups(
    client, session, editor, protector
):
    campaign_id = create(client, "staff_contest", "claims-contest-2027")
    campaign = rostered(session, campaign_id, protector)
    # The roster names both groups: neither can go, not even before anyone begins.
    data = settings_form(client, campaign_id)
    for key in ("code", "name", "quotas"):
        data[f"contest.groups[1].{key}"] = ""
    resp = client.post(f"/admin/campaigns/{campaign_id}/edit", data=data)
    assert resp.status_code == 422
    assert "参赛名单中已有这个组别的人员" in resp.get_data(as_text=True)

    begin(session, campaign, "YW0001")
    before = content(session, campaign_id)
    page = client.get(f"/admin/campaigns/{campaign_id}/edit").get_data(as_text=True)
    assert "已有人答题,不能修改" in page
    for field, value, words in (
        ("contest.time_limit_minutes", "5", contest_form.STARTED),
        ("contest.multiple_choice", "all_or_nothing", contest_form.STARTED),
        ("contest.groups[0].quotas", "理赔流程=5,理赔时效=3,服务规范=2", contest_form.STARTED),
        # The invitation links and QR codes handed out name the address.
        ("campaign.slug", "claims-contest-2027b", "活动地址不能修改"),
        ("campaign.opens_at", "2026-11-01T00:00", "开始时间不能修改"),
    ):
        data = settings_form(client, campaign_id) | {field: value}
        resp = client.post(f"/admin/campaigns/{campaign_id}/edit", data=data)
        assert resp.status_code == 422, field
        assert words in resp.get_data(as_text=True), field
        assert content(session, campaign_id) == before
    # What does not change a paper still does: the awards, the freeze, the weights.
    data = settings_form(client, campaign_id) | {"contest.freeze_minutes": "15"}
    assert client.post(f"/admin/campaigns/{campaign_id}/edit", data=data).status_code == 302
    assert content(session, campaign_id)["contest"]["freeze_minutes"] == 15


def test_a_list_draw_from_its_template_has_no_quiz_settings(client, session, editor):
    campaign_id = create(client, "list_draw", "policy-reinstatement-2027")
    assert session.get(Campaign, campaign_id).kind == "list_draw"
    session.commit()
    page = client.get(f"/admin/campaigns/{campaign_id}/edit").get_data(as_text=True)
    assert "随机数来源" in page and "名单冻结截止时间" in page
    assert "每人抽取知识题数" not in page and "竞赛设置" not in page
    data = settings_form(client, campaign_id) | {"draw.freeze_deadline": "2027-05-17T12:00"}
    resp = client.post(f"/admin/campaigns/{campaign_id}/edit", data=data)
    assert resp.status_code == 302, resp.get_data(as_text=True)[:3000]
    assert content(session, campaign_id)["freeze_deadline"].startswith("2027-05-17T04:00")
    created = session.scalars(select(AuditLog).where(AuditLog.action == "campaign.create")).all()
    assert [a.detail["from"] for a in created] == ["template:list_draw"]


@pytest.mark.parametrize(
    ("kind", "slug", "first_page"),
    [
        ("staff_contest", "claims-contest-2027", ["工号", "每人限答一次,限时20分钟"]),
        ("list_draw", "policy-reinstatement-2027", ["一等奖", "二等奖", "三等奖"]),
    ],
)
def test_the_preview_shows_the_kinds_own_public_pages(client, editor, kind, slug, first_page):
    campaign_id = create(client, kind, slug)
    html = client.get(f"/admin/campaigns/{campaign_id}/preview").get_data(as_text=True)
    frames = re.findall(r'<iframe title="[^"]+" width="390" height="844" src="([^"]+)"', html)
    assert [f.rsplit("/", 1)[-1] for f in frames] == ["campaign", "privacy"]
    first = client.get(frames[0])
    assert first.status_code == 200
    text = first.get_data(as_text=True)
    assert all(words in text for words in first_page), text[:3000]
    assert "同意参加活动" not in text  # never the prize quiz's consent page
    assert client.get(frames[1]).status_code == 200
    # The quiz's own steps are not pages of these kinds.
    assert client.get(frames[0].replace("/campaign", "/register")).status_code == 404


def test_a_save_keeps_the_seconds_of_the_campaign_file(client, session, editor):
    """The shipped file closes at 23:59:59; saving another field in the browser must not
    move the close (the form once showed minutes only, and a save cut the 59 seconds)."""
    campaign_id = create(client, "list_draw", "policy-reinstatement-2027")
    before = session.get(Campaign, campaign_id).closes_at
    session.commit()
    assert before.second == 59
    data = settings_form(client, campaign_id)
    assert data["campaign.closes_at"] == "2027-04-30T23:59:59"
    data["campaign.name"] = "保单复效客户抽奖(改名)"
    assert client.post(f"/admin/campaigns/{campaign_id}/edit", data=data).status_code == 302
    session.expire_all()
    assert session.get(Campaign, campaign_id).closes_at == before
    windows = session.scalars(select(AuditLog).where(AuditLog.action == "campaign.window"))
    assert list(windows) == []  # nobody changed the window
