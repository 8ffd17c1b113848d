"""The drawing contest end to end in Chromium: an agent's invitation, a guardian signing a
child up on a phone, staff photographing the work (a real JPEG with GPS EXIF; the served
picture has none), two judges scoring blind, head office confirming the awards, and the
public gallery showing the work under a masked name."""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from PIL import Image
from playwright.sync_api import expect
from sqlalchemy import select

from quiz.db import Database
from quiz.models import Agent, Branch, Campaign, StaffUser
from tests.artwork.pictures import jpeg_with_gps
from tests.e2e.conftest import DESKTOP, PHONE, ROOT, Site, require_browser, serve
from tests.e2e.pages import STAFF_STEP_MS, staff_sign_in

pytestmark = pytest.mark.browser

PASSWORD = "Correct-Horse-Battery-9"
BEIJING = ZoneInfo("Asia/Shanghai")
SLUG = "drawing-contest"
NO_SIDEWAYS = "() => [document.documentElement.scrollWidth, window.innerWidth]"


def contest_file(directory: Path, opens: datetime, closes: datetime, draw: datetime) -> Path:
    """The shipped demo contest with its window moved around now (Beijing local times)."""
    source = (ROOT / "quiz" / "data" / "campaign" / "drawing-contest.toml").read_text("utf-8")
    for key, when in (("opens_at", opens), ("closes_at", closes), ("draw_at", draw)):
        local = when.astimezone(BEIJING).replace(tzinfo=None, microsecond=0)
        source = re.sub(
            rf"^{key} = .*$", f"{key} = {local.isoformat()}", source, count=1, flags=re.M
        )
    path = directory / "drawing-contest.toml"
    path.write_text(source, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def contest_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A server with the contest loaded, an agent in Beijing, staff and two judges."""
    require_browser()
    now = datetime.now(UTC)
    tmp = tmp_path_factory.mktemp("contest-site")
    before = os.environ.get("QUIZ_MEDIA_DIR")
    os.environ["QUIZ_MEDIA_DIR"] = str(tmp / "media")  # serve() hands os.environ over
    try:
        with serve(
            tmp, now - timedelta(days=1), now + timedelta(days=30), now + timedelta(days=40)
        ) as s:
            s.quiz(
                "campaign",
                "load",
                str(
                    contest_file(
                        tmp,
                        now - timedelta(days=1),
                        now + timedelta(days=30),
                        now + timedelta(days=40),
                    )
                ),
            )
            database = Database(s.database_url)
            from quiz.staff import auth

            with database.transaction() as session:
                contest = session.scalars(select(Campaign).where(Campaign.slug == SLUG)).one()
                branch = {b.code: b.id for b in session.scalars(select(Branch))}
                session.add(Agent(branch_id=branch["B11"], code="BJ007", name="钱代理"))
                for name, role, code in (
                    ("bj.clerk", "branch", "B11"),
                    ("hq.admin", "admin", None),
                    ("judge1", "analyst", None),
                    ("judge2", "branch", "B31"),
                ):
                    auth.create_user(
                        session, name, PASSWORD, role, branch_id=branch[code] if code else None
                    )
                session.flush()
                for user in session.scalars(select(StaffUser)):
                    user.current_campaign_id = contest.id
            database.dispose()
            yield s
    finally:
        if before is None:
            os.environ.pop("QUIZ_MEDIA_DIR", None)
        else:
            os.environ["QUIZ_MEDIA_DIR"] = before


def _go(page: Any, click: Any) -> None:
    with page.expect_navigation(wait_until="domcontentloaded", timeout=STAFF_STEP_MS):
        click()


def _staff(browser: Any, site: Site, username: str) -> Any:
    context = browser.new_context(**DESKTOP, base_url=site.url)
    context.set_default_timeout(STAFF_STEP_MS)
    page = context.new_page()
    staff_sign_in(page, username, PASSWORD)
    return page


def _score(page: Any, round_: str, score: str) -> None:
    page.goto(f"/admin/artwork/judge/{round_}")
    sheet = page.locator("main").inner_text()
    # Blind: a number and a picture, no child, family, agent or branch.
    for secret in ("王小明", "王大明", "钱代理", "北京", "B11"):
        assert secret not in sheet, f"the judge sees {secret}"
    expect(page.locator("progress")).to_have_attribute("value", "0")
    page.get_by_label(re.compile(r"作品 \d{5} 评分")).select_option(score)
    _go(page, lambda: page.get_by_role("button", name="保存评分").click())
    expect(page.locator("progress")).to_have_attribute("value", "1")


def _decide(page: Any, button: str) -> None:
    page.goto("/admin/artwork/results")
    _go(page, lambda: page.get_by_role("button", name=re.compile(button)).click())
    expect(page.locator(".flash-success")).to_be_visible()


def test_invitation_to_gallery(browser: Any, contest_site: Site, artifacts: Path) -> None:
    site = contest_site
    # 1. The agent's branch issues an invitation for 钱代理.
    clerk = _staff(browser, site, "bj.clerk")
    clerk.goto("/admin/artwork")
    _go(clerk, lambda: clerk.get_by_role("button", name="发一份邀请函").click())
    link = clerk.locator("code").first.inner_text()
    assert f"/c/{SLUG}/invite/" in link
    expect(clerk.locator(".qr svg")).to_be_visible()

    # 2. The guardian opens the personal link on a phone and signs the child up.
    guardian = browser.new_context(**PHONE, base_url=site.url)
    guardian.set_default_timeout(20_000)
    phone = guardian.new_page()
    phone.goto(link.replace(site.url, ""))
    expect(phone.get_by_text("11周岁归入儿童组", exact=False).first).to_be_visible()
    phone.get_by_label("监护人姓名").fill("王大明")
    phone.get_by_label("监护人手机号码").fill("13912345678")
    phone.get_by_label("与孩子的关系").select_option("父亲")
    phone.get_by_label("孩子姓名").fill("王小明")
    phone.get_by_label("孩子出生日期").fill("2018-03-01")
    phone.get_by_label(re.compile("我是孩子的监护人")).check()
    phone.get_by_label(re.compile("著作权无偿许可")).check()
    phone.get_by_label(re.compile("同意在获奖作品展示页面")).check()
    width, inner = phone.evaluate(NO_SIDEWAYS)
    assert width <= inner, "the sign-up page scrolls sideways"
    phone.screenshot(path=artifacts / "phone-artwork-join.png", full_page=True, scale="css")
    _go(phone, lambda: phone.get_by_role("button", name="提交报名").click())
    expect(phone.get_by_text("报名成功", exact=False)).to_be_visible()
    expect(phone.get_by_text("儿童组", exact=False).first).to_be_visible()

    # 3. On the day, branch staff photograph the A3 work from the check-in list.
    clerk.goto("/admin/artwork/checkin")
    expect(clerk.get_by_text("王小明")).to_be_visible()
    photo = jpeg_with_gps((2400, 1800))
    clerk.get_by_label("拍摄作品").set_input_files(
        {"name": "IMG_0001.jpg", "mimeType": "image/jpeg", "buffer": photo}
    )
    _go(clerk, lambda: clerk.get_by_role("button", name="上传").click())
    expect(clerk.get_by_text("已拍照上传", exact=False)).to_be_visible()
    src = clerk.locator("table.checkin img").first.get_attribute("src")
    served = clerk.request.get(src.replace("thumb", "judging"))
    assert served.ok and served.headers["content-type"] == "image/jpeg"
    picture = Image.open(io.BytesIO(served.body()))
    assert "exif" not in picture.info and dict(picture.getexif()) == {}
    assert b"PhoneMaker" not in served.body()
    # The same page on the clerk's phone (where the photograph is taken) fits the screen.
    on_phone = browser.new_context(**PHONE, base_url=site.url)
    on_phone.set_default_timeout(STAFF_STEP_MS)
    mobile = on_phone.new_page()
    staff_sign_in(mobile, "bj.clerk", PASSWORD)
    mobile.goto("/admin/artwork/checkin")
    expect(mobile.get_by_text("王小明")).to_be_visible()
    width, inner = mobile.evaluate(NO_SIDEWAYS)
    assert width <= inner, "the check-in list scrolls sideways on a phone"
    mobile.screenshot(path=artifacts / "phone-artwork-checkin.png", full_page=True, scale="css")
    on_phone.close()
    # 初评: the branch sends the work on.
    clerk.goto("/admin/artwork/select")
    clerk.get_by_label(re.compile(r"作品 \d{5}")).check()
    _go(clerk, lambda: clerk.get_by_role("button", name="提交初评选送").click())
    expect(clerk.get_by_text("已选送1幅作品", exact=False)).to_be_visible()
    clerk.context.close()

    # 4. Two judges score blind (judge2 is in another branch), head office closes each round.
    # Each signs in once: head office enrols its second factor on the first sign-in.
    judge1, judge2 = _staff(browser, site, "judge1"), _staff(browser, site, "judge2")
    head = _staff(browser, site, "hq.admin")
    _score(judge1, "复评", "9")
    _score(judge2, "复评", "8")
    _decide(head, "结束儿童组复评")
    _score(judge1, "终评", "10")
    _score(judge2, "终评", "9")
    _decide(head, "确认儿童组奖项")
    for page in (judge1, judge2, head):
        page.context.close()

    # 5. The public gallery shows the work with the masked name, age and branch city.
    viewer = browser.new_context(**PHONE, base_url=site.url).new_page()
    viewer.goto(f"/c/{SLUG}/artwork/gallery")
    caption = viewer.locator(".gallery li").first
    expect(caption).to_contain_text("一等奖 王小* (8岁)")
    assert "王小明" not in viewer.content()
    image = viewer.locator(".gallery img").first
    expect(image).to_be_visible()
    assert viewer.evaluate("(img) => img.naturalWidth", image.element_handle()) > 0
    width, inner = viewer.evaluate(NO_SIDEWAYS)
    assert width <= inner
    viewer.screenshot(path=artifacts / "phone-artwork-gallery.png", full_page=True, scale="css")
    viewer.context.close()
    guardian.close()
