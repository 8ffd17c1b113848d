"""The public pages through the test client (CSRF on where it is checked)."""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from quiz.models import Campaign, DailyCounter, Participant
from quiz.public import ANSWERED_BY_SCRIPT
from tests.conftest import make_app
from tests.factories import make_mobile, make_resident_id

FIELDS = {
    "name": "李四",
    "resident_id": make_resident_id("420102", seq=11),
    "address": "湖北省武汉市江岸区沿江大道100号",
    "postal_code": "430014",
    "mobile": make_mobile(4242),
    "landline": "",
}


def consent(client):
    return client.post("/consent", data={"agree_rules": "y", "agree_sensitive": "y"})


def test_campaign_page_shows_rules_dates_prize_and_consent(client):
    page = client.get("/", follow_redirects=True).get_data(as_text=True)
    assert "同意参加活动" in page
    assert "幸运奖" in page and "8,888" in page
    assert "个人信息处理规则" in page
    assert 'name="agree_rules"' in page and 'name="agree_sensitive"' in page


def test_consent_requires_both_boxes(client):
    resp = client.post("/consent", data={"agree_rules": "y"})
    assert resp.status_code == 422
    assert "参加活动需要您同意处理身份证号码" in resp.get_data(as_text=True)


def test_the_funnel_counts_each_browser_once_and_each_consent(app, client):
    from quiz.reports import counters

    client.get("/", follow_redirects=True)
    client.get("/", follow_redirects=True)  # the same browser again: still one visit
    app.test_client().get("/", follow_redirects=True)
    assert consent(client).status_code == 302
    cid = app.extensions["quiz.campaign"].get().id  # each campaign counts its own funnel
    assert counters.totals(app.extensions["quiz.db"]) == {f"visit:{cid}": 2, f"consent:{cid}": 1}


def test_register_without_consent_redirects(client):
    resp = client.get("/register")
    assert resp.status_code == 302


def test_form_labels_name_every_field(client):
    consent(client)
    page = client.get("/register").get_data(as_text=True)
    for label in ("姓名", "身份证号码", "邮寄地址", "邮政编码", "手机号码", "固定电话"):
        assert re.search(rf"<label for=\"[a-z_]+\">{label}", page), label


def test_invalid_id_gives_422_message_and_keeps_fields(client, session):
    consent(client)
    bad = dict(
        FIELDS,
        resident_id=FIELDS["resident_id"][:-1] + ("0" if FIELDS["resident_id"][-1] != "0" else "1"),
    )
    resp = client.post("/register", data=bad)
    page = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "身份证号码校验位不正确" in page
    assert 'aria-describedby="resident_id-error"' in page or "resident_id-error" in page
    assert FIELDS["address"] in page and FIELDS["mobile"] in page and "李四" in page
    assert session.scalar(select(func.count()).select_from(Participant)) == 0


@pytest.mark.parametrize(
    ("prefix", "message"),
    [
        # Checksum-valid numbers whose county python-stdnum does not know: they raised
        # KeyError('county') inside stdnum and the registration answered 500.
        ("110199", "身份证号码中的地区码 110199 不存在"),
        ("710101", "身份证号码的地区码 710101 属于台湾地区,本活动仅限中国大陆居民参加"),
        ("810101", "身份证号码的地区码 810101 属于香港特别行政区"),
        ("820101", "身份证号码的地区码 820101 属于澳门特别行政区"),
    ],
)
def test_id_of_an_unknown_or_non_mainland_region_gets_422_naming_the_code(
    client, session, prefix, message
):
    consent(client)
    resp = client.post("/register", data=dict(FIELDS, resident_id=make_resident_id(prefix)))
    page = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert message in page
    assert FIELDS["address"] in page and FIELDS["mobile"] in page
    assert session.scalar(select(func.count()).select_from(Participant)) == 0


def test_full_flow_scores_and_shows_explanations(client, session):
    consent(client)
    resp = client.post("/register", data=FIELDS)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/quiz")
    seen = 0
    while True:
        page = client.get("/quiz")
        if page.status_code == 302:
            break
        html = page.get_data(as_text=True)
        m = re.search(r"第 (\d+) 题 / 共 (\d+) 题", html)
        assert m, html
        position = int(m.group(1))
        key = re.search(r'name="choice" id="choice-([A-Z])"', html).group(1)
        resp = client.post("/quiz", data={"position": position, "choice": key})
        assert resp.status_code == 302
        seen += 1
        last = m.group(1) == m.group(2)
        # Post/Redirect/Get: the next question, and after the last answer the result.
        assert resp.headers["Location"].endswith("/result" if last else "/quiz")
    assert last
    result = client.get("/result").get_data(as_text=True)
    assert "答题完成" in result and "解析" in result and "正确答案" in result
    p = session.scalars(select(Participant)).one()
    assert p.status == "completed" and seen == len(p.items)
    assert f"<strong>{p.score}</strong> / {p.total} 道" in result and p.mobile_masked in result
    knowledge = [it for it in p.items if it.question.kind == "knowledge"]
    assert result.count('<li class="right">') == sum(bool(it.is_correct) for it in knowledge)
    assert result.count('<li class="') == len(knowledge)  # intent questions are not reviewed


def test_an_answer_posted_by_the_page_script_is_answered_with_the_next_question(client, session):
    """One request per question with the script; a wrong answer is refused in place; the
    last answer still redirects to the result."""
    scripted = {ANSWERED_BY_SCRIPT: "1"}
    consent(client)
    assert client.post("/register", data=FIELDS).status_code == 302
    html = client.get("/quiz").get_data(as_text=True)
    shown = []
    while True:
        position = int(re.search(r'name="position" value="(\d+)"', html).group(1))
        shown.append(position)
        key = re.search(r'name="choice" id="choice-([A-Z])"', html).group(1)
        refused = client.post("/quiz", data={"position": position, "choice": "Z"}, headers=scripted)
        assert refused.status_code == 422 and "所选答案无效" in refused.get_data(as_text=True)
        resp = client.post("/quiz", data={"position": position, "choice": key}, headers=scripted)
        if resp.status_code == 302:
            assert resp.headers["Location"].endswith("/result")
            break
        assert resp.status_code == 200
        html = resp.get_data(as_text=True)
    p = session.scalars(select(Participant)).one()
    assert p.status == "completed" and shown == list(range(1, len(p.items) + 1))


def _eighteenth_birthday_today() -> date:
    """The birth date of someone who turns 18 today in Beijing (the entry's date)."""
    today = datetime.now(UTC).astimezone(timezone(timedelta(hours=8))).date()
    try:
        return today.replace(year=today.year - 18)
    except ValueError:  # 29 February: born on 1 March 18 years ago would be one day short
        return date(today.year - 18, 2, 28)


def test_an_under_18_is_refused_on_the_form_and_nothing_is_saved(client, session):
    consent(client)
    birthday = _eighteenth_birthday_today()
    minor = make_resident_id("420102", birth=birthday + timedelta(days=1), seq=12)
    resp = client.post("/register", data=dict(FIELDS, resident_id=minor))
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    assert "本活动仅限年满18周岁的成年人参加(按报名当日计算周岁)" in page
    assert 'aria-invalid="true"' in page  # beside the ID number field
    # Turning 18 today (Beijing date, though UTC may still be on the day before): welcome.
    adult = make_resident_id("420102", birth=birthday, seq=13)
    assert client.post("/register", data=dict(FIELDS, resident_id=adult)).status_code == 302
    assert session.scalar(select(func.count()).select_from(Participant)) == 1


def test_a_known_id_number_with_another_mobile_does_not_confirm_participation(client, session):
    """Anyone can type someone else's ID number: the answer must not say it took part.
    A neutral request for the registered mobile's last 4 digits instead, whose refusal
    reads the same for an ID number that never registered; the right digits lead back to
    the one entry."""
    consent(client)
    assert client.post("/register", data=FIELDS).status_code == 302
    other = client.application.test_client()
    consent(other)
    resp = other.post("/register", data=dict(FIELDS, mobile=make_mobile(9)))
    assert resp.status_code == 409
    page = resp.get_data(as_text=True)
    for telling in ("已经报名", "已报名参加", "已经参加", "当前状态", "尚未完成", "已完成"):
        assert telling not in page, telling
    assert "后4位" in page and 'name="mobile_last4"' in page
    with other.session_transaction() as browser:
        assert "pid" not in browser  # the refused browser is not handed the entry

    def last4(browser, resident_id, digits):
        return browser.post(
            "/resume/last4", data={"resident_id": resident_id, "mobile_last4": digits}
        )

    wrong = last4(other, FIELDS["resident_id"], "0000")
    never = last4(other, make_resident_id("420102", seq=99), FIELDS["mobile"][-4:])
    assert wrong.status_code == never.status_code == 404
    refusal = re.compile(r'<p class="error" id="mobile_last4-error"[^>]*>([^<]*)</p>')
    assert refusal.search(wrong.get_data(as_text=True)).group(1) == refusal.search(
        never.get_data(as_text=True)
    ).group(1)
    with other.session_transaction() as browser:
        assert "pid" not in browser
    back = last4(other, FIELDS["resident_id"], FIELDS["mobile"][-4:])
    assert back.status_code == 302 and back.headers["Location"].endswith("/quiz")
    assert other.get("/quiz").status_code == 200
    # One entry per person: the first browser's goes on, nothing new was saved.
    assert client.get("/quiz").status_code == 200
    assert session.scalar(select(func.count()).select_from(Participant)) == 1


def test_last4_attempts_are_limited_per_id_number_from_any_address(database_url, tmp_path):
    """10,000 possible digits: a few tries an hour per ID number, whatever the address."""
    from quiz.db import Base
    from tests.factories import install_test_campaign

    app = make_app(
        database_url, tmp_path / "instance", RATELIMIT_ENABLED=True, QUIZ_LAST4_LIMIT="3/hour"
    )
    database = app.extensions["quiz.db"]
    Base.metadata.create_all(database.engine)
    with database.transaction() as s:
        install_test_campaign(s)
    try:
        client = app.test_client()
        consent(client)
        assert client.post("/register", data=FIELDS).status_code == 302
        statuses = []
        for n in range(5):
            browser = app.test_client()
            statuses.append(
                browser.post(
                    "/resume/last4",
                    data={"resident_id": FIELDS["resident_id"], "mobile_last4": f"{n:04d}"},
                    environ_base={"REMOTE_ADDR": f"198.51.100.{n + 1}"},
                ).status_code
            )
        assert statuses == [404, 404, 404, 429, 429]
        other = make_resident_id("420102", seq=98)  # another ID number is not held up
        resp = app.test_client().post(
            "/resume/last4", data={"resident_id": other, "mobile_last4": "1234"}
        )
        assert resp.status_code == 404
    finally:
        database.dispose()


def test_duplicate_id_with_its_mobile_is_told_the_status_and_may_go_on(client, session):
    """A double tap, or the person registering again: ID number and mobile are what
    继续答题 asks for, so the refusal shows the status and this browser continues."""
    consent(client)
    assert client.post("/register", data=FIELDS).status_code == 302
    first = client.get("/quiz").get_data(as_text=True)
    again = client.application.test_client()
    consent(again)
    resp = again.post("/register", data=dict(FIELDS, name="李 四", landline="010-12345678"))
    assert resp.status_code == 409
    page = resp.get_data(as_text=True)
    assert "已经报名参加本次活动(当前状态:尚未完成答题)" in page
    assert '<a href="/quiz">继续答题</a>' in page
    shown = again.get("/quiz")
    assert shown.status_code == 200
    position = re.compile(r"第 \d+ 题")
    assert position.search(shown.get_data(as_text=True)).group() == position.search(first).group()
    assert session.scalar(select(func.count()).select_from(Participant)) == 1


def test_postal_mismatch_warns_then_accepts_on_confirm(client, session):
    consent(client)
    data = dict(FIELDS, postal_code="100022")  # Beijing code, Hubei address
    resp = client.post("/register", data=data)
    assert resp.status_code == 422
    assert "邮政编码" in resp.get_data(as_text=True) and "不一致" in resp.get_data(as_text=True)
    resp = client.post("/register", data=dict(data, confirm_postal="y"))
    assert resp.status_code == 302
    assert session.scalars(select(Participant)).one().postal_mismatch is True


@pytest.fixture
def csrf_client(database_url, tmp_path):
    from quiz.db import Base
    from tests.factories import install_test_campaign

    app = make_app(database_url, tmp_path / "inst", WTF_CSRF_ENABLED=True)
    Base.metadata.create_all(app.extensions["quiz.db"].engine)
    with app.extensions["quiz.db"].transaction() as s:
        install_test_campaign(s)
    yield app.test_client()
    app.extensions["quiz.db"].dispose()


def test_csrf_is_enforced(csrf_client):
    resp = csrf_client.post("/consent", data={"agree_rules": "y", "agree_sensitive": "y"})
    assert resp.status_code == 400
    page = csrf_client.get("/", follow_redirects=True).get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    resp = csrf_client.post(
        "/consent", data={"agree_rules": "y", "agree_sensitive": "y", "csrf_token": token}
    )
    assert resp.status_code == 302


def test_security_headers(client):
    resp = client.get("/", follow_redirects=True)
    assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Cache-Control"] == "no-store"


def test_health(client):
    assert client.get("/healthz").get_json() == {"status": "ok", "database": "ok"}


def test_an_answer_names_its_question_by_a_bounded_number() -> None:
    from quiz.public.forms import answered_position

    assert answered_position({"position": "3"}) == 3
    for bad in ("", "0", "-1", "abc", "3.0", " 3", "١", "10001", "9" * 25):
        assert answered_position({"position": bad}) is None, bad
    assert answered_position({}) is None


def test_bodies_no_form_reads_are_refused_not_crashed(client, session):
    """Flask-WTF fed a JSON document's numbers and lists, or an uploaded file, to the
    registration's text fields (a 500); a deeply nested document broke the JSON parser."""
    consent(client)
    as_json = client.post("/register", json=dict(FIELDS, name=1, mobile=[1]))
    assert as_json.status_code == 415
    assert "不支持的提交格式" in as_json.get_data(as_text=True)
    nested = client.post("/register", data="[" * 1000, content_type="application/json")
    assert nested.status_code == 415
    with_file = client.post(
        "/register",
        data=dict(FIELDS, name=(io.BytesIO(b"abc"), "x.txt")),
        content_type="multipart/form-data",
    )
    assert with_file.status_code == 415
    # The same fields as a multipart form without a file are an ordinary registration.
    plain = client.post("/register", data=FIELDS, content_type="multipart/form-data")
    assert plain.status_code == 302
    assert session.scalar(select(func.count()).select_from(Participant)) == 1


def test_name_and_postal_code_are_stored_as_checked_not_as_typed(client, session, protector):
    """The rules fold full-width characters and stray spaces; the view stored the raw
    text (a 7-character postal code overflowed PostgreSQL's varchar(6): a 500)."""
    consent(client)
    typed = dict(FIELDS, name=" 李\x0b四 ", postal_code="４３０ ０１４")
    assert client.post("/register", data=typed).status_code == 302
    entry = session.scalars(select(Participant)).one()
    assert (entry.name, entry.postal_code) == ("李 四", "430014")


def test_digits_of_other_scripts_are_refused_in_a_mobile(client, session):
    """`\\d` matched them: ١٣٩… was stored as typed and never matched the same number typed
    in ASCII (the same-mobile flag, 继续答题 and the winners' self-check)."""
    consent(client)
    arabic = FIELDS["mobile"][:1] + "".join(chr(0x660 + int(d)) for d in FIELDS["mobile"][1:])
    resp = client.post("/register", data=dict(FIELDS, mobile=arabic))
    assert resp.status_code == 422
    assert "手机号码应为以1开头的11位数字" in resp.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(Participant)) == 0


def test_a_too_long_street_address_is_told_beside_its_field(client):
    """The detail field is hidden until the address selects run: its refusal was a 422
    with no message anywhere on the page."""
    consent(client)
    data = dict(
        FIELDS,
        address="",
        province_code="420000",
        city_code="420100",
        district_code="420102",
        address_detail="沿" * 121,
    )
    resp = client.post("/register", data=data)
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    assert '<p class="error" id="address_detail-error" role="alert">详细地址不能超过120个字' in page
    detail = re.search(r'<div class="field has-error" data-region="detail"[^>]*>', page)
    assert detail is not None and "hidden" not in detail.group()


@pytest.mark.parametrize("position", [None, "", "0", "99999", "٣", "1" * 30])
def test_an_answer_without_a_valid_question_number_is_refused_on_the_question(
    client, session, position
):
    """A tampered or truncated answer form: a 422 on the same question with why, not a
    redirect that drops it silently; nothing is stored."""
    consent(client)
    assert client.post("/register", data=FIELDS).status_code == 302
    data = {"choice": "A"} if position is None else {"position": position, "choice": "A"}
    resp = client.post("/quiz", data=data)
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    assert "提交无效,请重新作答。" in page and 'name="position" value="1"' in page
    assert session.scalars(select(Participant)).one().items[0].answer is None


def _close_the_campaign(session) -> None:
    campaign = session.scalars(select(Campaign)).one()
    campaign.closes_at = datetime.now(UTC) - timedelta(minutes=1)
    session.commit()


def test_a_closed_campaign_takes_no_consent_registration_or_answer(client, session):
    """Each public step checks the window itself, not only the service under it."""
    consent(client)
    assert client.post("/register", data=FIELDS).status_code == 302
    question = client.get("/quiz").get_data(as_text=True)
    position = re.search(r'name="position" value="(\d+)"', question).group(1)
    late = client.application.test_client()
    _close_the_campaign(session)

    agreed = consent(late)
    assert agreed.status_code == 409 and "活动已结束" in agreed.get_data(as_text=True)
    with late.session_transaction() as browser:
        assert "consent" not in browser and "consents" not in browser
    form = late.get("/register").get_data(as_text=True)
    assert "活动已结束" in form and 'name="resident_id"' not in form
    another = dict(FIELDS, resident_id=make_resident_id("110101", seq=3))
    refused = client.post("/register", data=another)
    assert refused.status_code == 409 and "活动已结束" in refused.get_data(as_text=True)
    answered = client.post("/quiz", data={"position": position, "choice": "A"})
    assert answered.status_code in (409, 422) and "活动已结束" in answered.get_data(as_text=True)
    # Read only now: the fixture's session is a writer and would hold the app's requests.
    consents = select(func.sum(DailyCounter.count)).where(DailyCounter.metric.like("consent%"))
    assert session.scalar(consents) == 1  # the first browser's consent only
    assert session.scalar(select(func.count()).select_from(Participant)) == 1
    assert session.scalars(select(Participant)).one().items[0].answer is None


def test_an_answer_to_a_question_not_on_the_sheet_is_refused(client, session):
    """A number within bounds that names none of this participant's questions must not
    fall through to answering the current one."""
    consent(client)
    assert client.post("/register", data=FIELDS).status_code == 302
    resp = client.post("/quiz", data={"position": "99", "choice": "A"})
    assert resp.status_code == 422
    assert "题目不存在,请返回继续答题。" in resp.get_data(as_text=True)
    assert all(item.answer is None for item in session.scalars(select(Participant)).one().items)


def test_a_finished_entry_registered_again_with_its_mobile_links_to_the_result(client, session):
    consent(client)
    assert client.post("/register", data=FIELDS).status_code == 302
    html = client.get("/quiz").get_data(as_text=True)
    while (found := re.search(r'name="position" value="(\d+)"', html)) is not None:
        key = re.search(r'name="choice" id="choice-([A-Z])"', html).group(1)
        reply = client.post("/quiz", data={"position": found.group(1), "choice": key})
        html = client.get(reply.headers["Location"]).get_data(as_text=True)
    again = client.application.test_client()
    consent(again)
    resp = again.post("/register", data=FIELDS)
    assert resp.status_code == 409
    page = resp.get_data(as_text=True)
    assert "(当前状态:已完成答题,已获得抽奖资格)" in page
    assert '<a href="/result">查看结果</a>' in page
    assert "您答对了" in again.get("/result").get_data(as_text=True)


def test_an_answer_without_a_choice_is_refused_outside_the_browser(client, session):
    """The page requires a ticked box; a script posting none gets the question again."""
    consent(client)
    assert client.post("/register", data=FIELDS).status_code == 302
    for headers in ({}, {ANSWERED_BY_SCRIPT: "1"}):
        resp = client.post("/quiz", data={"position": 1}, headers=headers)
        assert resp.status_code == 422
        assert "请选择一个答案。" in resp.get_data(as_text=True)
    p = session.scalars(select(Participant)).one()
    assert all(it.answer is None for it in p.items)


def test_cookie_less_visits_are_written_in_batches(app, database_url, tmp_path):
    """Every cookie-less GET / wrote the visit counter under SQLite's write lock: a loop
    of plain GETs queued every registration behind it."""
    from sqlalchemy import event

    from quiz.reports import counters
    from tests.conftest import make_app

    batched = make_app(database_url, tmp_path / "batched", QUIZ_VISIT_FLUSH_SECONDS=3600)
    database = batched.extensions["quiz.db"]
    writes = []

    def count(_conn, _cursor, statement, *_args):
        if "daily_counter" in statement and statement.lstrip().upper().startswith("INSERT"):
            writes.append(statement)

    event.listen(database.engine, "before_cursor_execute", count)
    try:
        for _ in range(30):
            assert batched.test_client().get("/", follow_redirects=True).status_code == 200
        assert writes == []
        visit = counters.of_campaign("visit", batched.extensions["quiz.campaign"].get().id)
        assert counters.totals(database).get(visit, 0) == 0
        counters.flush_all()  # as a worker does when it exits
        assert len(writes) == 1
        assert counters.totals(database)[visit] == 30
    finally:
        event.remove(database.engine, "before_cursor_execute", count)
        database.dispose()
