"""分组竞赛 pages: standings with the milestone line and the SVG chart; the daily figures
upload saves a good file and reports every problem of a bad one, saving nothing."""

from __future__ import annotations

import io
from datetime import date, timedelta

from sqlalchemy import select

from quiz.campaign.lifecycle import current_campaign
from quiz.models import Branch, BranchCount, MetricFigure
from tests.factories import login_as, make_staff


def _race(session, metric="registrations"):
    campaign = current_campaign(session)
    branches = list(session.scalars(select(Branch).order_by(Branch.code)))[:3]
    today = date.today()
    campaign.content = {
        **campaign.content,
        "race": {
            "metric": metric,
            "follow_up_days": 7,
            "targets": {b.code: 10 for b in branches},
            "groups": [{"name": "A组", "branches": [b.code for b in branches], "rewards": [3000]}],
            "milestones": [
                {
                    "date": (today + timedelta(days=30)).isoformat(),
                    "percent": 30,
                    "label": "推广阶段",
                }
            ],
        },
    }
    session.add(
        BranchCount(
            campaign_id=campaign.id,
            branch_id=branches[0].id,
            status="registered",
            follow_up_status="待联系",
            day=today,
            count=2,
        )
    )
    session.commit()
    return campaign, branches


def test_the_race_page_shows_each_group_with_its_milestone_line_and_chart(client, session):
    campaign, branches = _race(session)
    login_as(client, make_staff(session, "ho", role="admin"))
    session.commit()
    page = client.get("/admin/race").get_data(as_text=True)
    assert "A组" in page and branches[0].name in page
    assert "应达 30 %, 实际 20 %" in page
    assert "落后 1 人" in page  # 30 % of 10 is 3; 2 so far
    assert "<svg" in page and "A组达成率走势" in page


def test_branch_staff_see_the_race_with_their_row_marked(client, session):
    _, branches = _race(session)
    user = make_staff(session, "br", role="branch", branch_id=branches[0].id)
    session.commit()
    login_as(client, user)
    page = client.get("/admin/race").get_data(as_text=True)
    assert 'class="highlight"' in page
    assert client.post("/admin/race/figures", data={}).status_code == 403


def test_a_good_file_is_saved_and_a_bad_one_saves_nothing(client, session):
    campaign, branches = _race(session, metric="imported:网上注册")
    login_as(client, make_staff(session, "ho", role="admin"))
    session.commit()
    code = branches[0].code
    bad = f"日期,机构代码,指标,数量\n2026-11-01,{code},网上注册,5\n2026-13-01,NOPE,网上注册,-1\n"
    resp = client.post(
        "/admin/race/figures",
        data={"file": (io.BytesIO(bad.encode()), "figures.csv")},
        content_type="multipart/form-data",
    )
    text = resp.get_data(as_text=True)
    assert resp.status_code == 422 and "没有导入任何一行" in text
    assert (
        "第 3 行" in text and "日期「2026-13-01」无效" in text and "机构代码「NOPE」不存在" in text
    )
    assert session.scalars(select(MetricFigure)).all() == []
    session.rollback()  # the fixture's session holds SQLite's write lock until it ends
    good = f"日期,机构代码,指标,数量\n2026-11-01,{code},网上注册,5\n2026/11/02,{code},网上注册,4\n"
    resp = client.post(
        "/admin/race/figures",
        data={"file": (io.BytesIO(good.encode("gb18030")), "figures.csv")},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 200 and "已保存 2 行" in resp.get_data(as_text=True)
    page = client.get("/admin/race").get_data(as_text=True)
    assert "网上注册" in page and "90.0 %" in page  # 9 of 10: the imported figure counts
