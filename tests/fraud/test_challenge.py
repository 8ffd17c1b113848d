"""ALTCHA proof of work at registration: signing, verifying, replay, difficulty, the
no-JavaScript allowance, and the registration form through the test client."""

from __future__ import annotations

import base64
import json
import time

import pytest

from quiz.fraud import challenge
from tests.conftest import make_app
from tests.factories import install_test_campaign, make_mobile, make_resident_id

KEYS = challenge.derive_keys("app secret")


def _store() -> challenge.Counter:
    counts: dict[str, int] = {}

    def incr(key: str, _seconds: int) -> int:
        counts[key] = counts.get(key, 0) + 1
        return counts[key]

    return incr


def _tampered(payload: str, change) -> str:
    data = json.loads(base64.b64decode(payload))
    change(data)
    return base64.b64encode(json.dumps(data).encode()).decode()


def test_keys_are_derived_per_purpose_and_from_the_secret() -> None:
    assert challenge.derive_keys("app secret") == KEYS
    assert KEYS.challenge != KEYS.solution
    assert challenge.derive_keys("another secret").challenge != KEYS.challenge
    assert "app secret" not in (KEYS.challenge + KEYS.solution)


def test_a_solved_challenge_is_accepted_once() -> None:
    payload = challenge.solve(challenge.new_challenge(KEYS, 2_000))
    used = _store()
    challenge.verify(payload, KEYS, used)
    with pytest.raises(challenge.ChallengeRefused) as replay:
        challenge.verify(payload, KEYS, used)
    assert replay.value.status == 409 and "已使用" in str(replay.value)


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d["solution"].update(derivedKey="00" * 32),
        lambda d: d["challenge"]["parameters"].update(keyPrefix="00"),
        lambda d: d["challenge"].update(signature="ab" * 32),
        lambda d: d.pop("solution"),
    ],
    ids=["wrong key", "easier prefix", "forged signature", "no solution"],
)
def test_a_wrong_or_tampered_solution_is_refused(change) -> None:
    payload = challenge.solve(challenge.new_challenge(KEYS, 2_000))
    with pytest.raises(challenge.ChallengeRefused) as refused:
        challenge.verify(_tampered(payload, change), KEYS, _store())
    assert refused.value.status == 422 and "人机验证未通过" in str(refused.value)


@pytest.mark.parametrize("payload", ["", "not base64!", "e30=", "x" * 5000])
def test_garbage_is_refused_not_a_crash(payload: str) -> None:
    with pytest.raises(challenge.ChallengeRefused):
        challenge.verify(payload, KEYS, _store())


def test_another_sites_or_an_expired_challenge_is_refused() -> None:
    foreign = challenge.solve(challenge.new_challenge(challenge.derive_keys("other"), 2_000))
    with pytest.raises(challenge.ChallengeRefused):
        challenge.verify(foreign, KEYS, _store())
    old = challenge.new_challenge(KEYS, 2_000, now=time.time() - challenge.EXPIRES_SECONDS - 5)
    with pytest.raises(challenge.ChallengeRefused):
        challenge.verify(challenge.solve(old), KEYS, _store())


def test_the_work_doubles_for_a_client_that_keeps_asking() -> None:
    base = challenge.BASE_MAX_NUMBER
    assert [challenge.max_number_for(n) for n in (1, 10, 11, 20, 21, 31)] == [
        base,
        base,
        2 * base,
        2 * base,
        4 * base,
        8 * base,
    ]
    assert challenge.max_number_for(10_000) == challenge.MAX_MAX_NUMBER


def test_without_javascript_a_few_registrations_an_hour() -> None:
    count = _store()
    for _ in range(challenge.NO_SCRIPT_PER_HOUR):
        challenge.allow_without_script("203.0.113.9", count)
    with pytest.raises(challenge.ChallengeRefused) as refused:
        challenge.allow_without_script("203.0.113.9", count)
    assert refused.value.status == 429 and "JavaScript" in str(refused.value)
    challenge.allow_without_script("198.51.100.1", count)  # another network is not affected


# --- through the registration form -------------------------------------------------------


def _altcha_site(database_url, instance, **overrides):
    """The app with the test campaign asking for the proof of work. make_app gives each
    app its own RATELIMIT_KEY_PREFIX, so its counters are its own even on a shared Redis."""
    from quiz.db import Base

    app = make_app(database_url, instance, **overrides)
    database = app.extensions["quiz.db"]
    Base.metadata.create_all(database.engine)
    with database.transaction() as session:
        install_test_campaign(session, bot_challenge="altcha")
    return app


@pytest.fixture
def altcha_app(database_url, tmp_path):
    app = _altcha_site(database_url, tmp_path / "instance")
    yield app
    app.extensions["quiz.db"].dispose()


def _fields(n: int) -> dict[str, str]:
    return {
        "name": "李四",
        "resident_id": make_resident_id("420102", seq=n),
        "address": f"湖北省武汉市江岸区沿江大道{n}号",
        "postal_code": "430014",
        "mobile": make_mobile(7000 + n),
    }


def _browser(app):
    client = app.test_client()
    client.post("/consent", data={"agree_rules": "y", "agree_sensitive": "y"})
    return client


def test_the_form_registers_with_a_solved_challenge_once(altcha_app) -> None:
    web = _browser(altcha_app)
    page = web.get("/register").get_data(as_text=True)
    assert 'name="altcha"' in page and "bot-check.js" in page and "<noscript>" in page
    reply = web.get("/altcha/challenge")
    assert reply.status_code == 200 and reply.headers["Cache-Control"] == "no-store"
    payload = challenge.solve(reply.get_json())
    done = web.post("/register", data={**_fields(1), "altcha": payload})
    assert done.status_code == 302
    again = _browser(altcha_app).post("/register", data={**_fields(2), "altcha": payload})
    body = again.get_data(as_text=True)
    assert again.status_code == 409 and "该人机验证已使用过" in body
    assert "沿江大道2号" in body  # the typed fields are kept


def test_a_forged_payload_gets_a_chinese_422(altcha_app) -> None:
    web = _browser(altcha_app)
    bad = web.post("/register", data={**_fields(3), "altcha": "e30="})
    assert bad.status_code == 422 and "人机验证未通过" in bad.get_data(as_text=True)


def test_without_javascript_the_fourth_registration_in_an_hour_waits(altcha_app) -> None:
    for n in range(challenge.NO_SCRIPT_PER_HOUR):
        assert _browser(altcha_app).post("/register", data=_fields(10 + n)).status_code == 302
    refused = _browser(altcha_app).post("/register", data=_fields(20))
    assert refused.status_code == 429
    assert "未启用JavaScript" in refused.get_data(as_text=True)


def test_campaigns_without_the_check_ask_nothing(client) -> None:
    client.post("/consent", data={"agree_rules": "y", "agree_sensitive": "y"})
    assert 'name="altcha"' not in client.get("/register").get_data(as_text=True)
    assert client.get("/altcha/challenge").status_code == 404


def test_the_demo_campaign_has_the_check() -> None:
    from quiz.campaign.spec import default_campaign_path, load_campaign_file

    demo = load_campaign_file(default_campaign_path())
    assert demo.bot_challenge == "altcha" and demo.one_winner_per_address


def test_sites_sharing_the_counter_store_keep_their_no_script_allowances_apart(tmp_path) -> None:
    # The limiter's storage is one per process (Redis across hosts); two sites on it, each
    # with its own RATELIMIT_KEY_PREFIX, must not spend each other's allowance.
    def site(name: str):
        return _altcha_site(
            f"sqlite:///{tmp_path / f'{name}.sqlite3'}",
            tmp_path / name,
            RATELIMIT_ENABLED=True,  # the limiter then keeps a storage (the last app's)
            QUIZ_REGISTER_LIMIT="100/minute",
        )

    first, second = site("a"), site("b")
    assert first.config["RATELIMIT_KEY_PREFIX"] != second.config["RATELIMIT_KEY_PREFIX"]
    try:
        for n in range(challenge.NO_SCRIPT_PER_HOUR):
            assert _browser(first).post("/register", data=_fields(30 + n)).status_code == 302
        assert _browser(first).post("/register", data=_fields(40)).status_code == 429
        assert _browser(second).post("/register", data=_fields(41)).status_code == 302
    finally:
        for app in (first, second):
            app.extensions["quiz.db"].dispose()
