"""Staff sign-in: passwords, lockout, TOTP enrolment and login, recovery codes, sessions, CLI."""

from __future__ import annotations

import re
import time
import uuid
from datetime import timedelta
from typing import Any

import pyotp
import pytest
from argon2 import PasswordHasher
from sqlalchemy import select, update

from quiz.cli.staff import staff
from quiz.db import utcnow
from quiz.extensions import limiter
from quiz.models import AuditLog, Branch, LoginThrottle, StaffUser
from quiz.staff import auth
from tests.conftest import make_app
from tests.factories import login_as

PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def fast_hashes(monkeypatch):
    """Cheap argon2 parameters in tests (production keeps argon2-cffi's defaults)."""
    monkeypatch.setattr(
        auth, "hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


@pytest.fixture
def other_app(database_url, tmp_path):
    """Build more apps on the test database with other settings; dispose their engines after."""
    made: list[Any] = []

    def factory(name: str, **overrides: Any) -> Any:
        made.append(make_app(database_url, tmp_path / name, **overrides))
        return made[-1]

    yield factory
    for application in made:
        application.extensions["quiz.db"].dispose()


def make_user(session: Any, username: str = "alice", role: str = "admin", **kw: Any) -> StaffUser:
    if role == "branch" and "branch_id" not in kw:
        kw["branch_id"] = session.scalars(select(Branch.id).order_by(Branch.code)).first()
    user = auth.create_user(session, username, kw.pop("password", PASSWORD), role, **kw)
    session.commit()
    return user


def enrol(session: Any, protector: Any, user: StaffUser) -> tuple[str, list[str]]:
    """Give the user a second factor directly; returns the secret and recovery codes."""
    secret = pyotp.random_base32()
    # A code from the previous window, so the test's login code (current window) is fresh.
    code = pyotp.TOTP(secret).at(time.time() - 30)
    codes = auth.confirm_enrolment(session, protector, user, secret, code)
    session.commit()
    return secret, codes


def actions(session: Any) -> list[str]:
    session.expire_all()
    return [a.action for a in session.scalars(select(AuditLog).order_by(AuditLog.id))]


def post_login(client: Any, username: str, password: str = PASSWORD, **kw: Any) -> Any:
    return client.post("/admin/login", data={"username": username, "password": password}, **kw)


def full_login(client: Any, username: str, secret: str) -> None:
    assert post_login(client, username).status_code == 302
    code = pyotp.TOTP(secret).now()
    resp = client.post("/admin/login/totp", data={"code": code})
    assert resp.status_code == 302, resp.get_data(as_text=True)


# --- services ----------


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short7!", "至少需要 8"),
        ("x" * 129, "最多 128"),
        ("Alice", "至少需要 8"),
        ("alice.admin", "不能与用户名相同"),
        ("ALICE.ADMIN", "不能与用户名相同"),
    ],
)
def test_password_rules_refuse(session, password, message):
    with pytest.raises(auth.AuthError, match=message):
        make_user(session, "alice.admin", password=password)
    assert session.scalars(select(StaffUser)).first() is None


@pytest.mark.parametrize(
    "password", ["k7#Lm2q!", "密码很长很长很长的一句话", "y" * 128, "  sp a ce  "]
)
def test_password_rules_accept_any_characters_up_to_128(session, password):
    user = make_user(session, "bob", password=password)
    assert user.password_hash.startswith("$argon2id$")
    assert auth.authenticate(session, "bob", password).id == user.id


@pytest.mark.parametrize("password", ["12345678", "Password1", "QWERTYUIOP", "iloveyou2"])
def test_common_passwords_are_refused(session, password):
    """Only length was checked: 12345678 was a valid staff password."""
    with pytest.raises(auth.AuthError, match="常见密码"):
        make_user(session, "bob", password=password)
    user = make_user(session, "bob")
    with pytest.raises(auth.AuthError, match="常见密码"):
        auth.change_password(session, user, PASSWORD, password)


def test_hash_is_upgraded_when_parameters_change(session):
    user = make_user(session, "bob")
    weak = PasswordHasher(time_cost=1, memory_cost=256, parallelism=1)
    user.password_hash = weak.hash(PASSWORD)
    session.commit()
    auth.authenticate(session, "bob", PASSWORD)
    assert not auth.hasher.check_needs_rehash(user.password_hash)
    assert user.password_hash != weak.hash(PASSWORD)
    assert auth.verify_password(user, PASSWORD)


def test_lockout_after_five_failures_even_with_the_right_password(session):
    user = make_user(session, "bob")
    for _ in range(auth.MAX_FAILED_LOGINS):
        with pytest.raises(auth.AuthError):
            auth.authenticate(session, "bob", "wrong password", ip="203.0.113.9")
    assert auth.is_locked(session, "bob", "203.0.113.9")
    with pytest.raises(auth.AuthError, match="暂时禁止"):
        auth.authenticate(session, "bob", PASSWORD, ip="203.0.113.9")
    # After the lock expires the right password works again.
    later = utcnow() + auth.FIRST_LOCK + timedelta(seconds=1)
    assert auth.authenticate(session, "bob", PASSWORD, ip="203.0.113.9", now=later) is user
    assert actions(session).count("login_failed") == auth.MAX_FAILED_LOGINS + 1


def test_a_strangers_failures_do_not_lock_the_owner_out(session):
    """Five wrong passwords from anywhere locked the account for everyone for 15 minutes:
    a denial of service for the price of five requests."""
    user = make_user(session, "bob")
    for _ in range(auth.MAX_FAILED_LOGINS + 3):
        with pytest.raises(auth.AuthError):
            auth.authenticate(session, "bob", "wrong password", ip="198.51.100.66")
    with pytest.raises(auth.AuthError, match="暂时禁止"):
        auth.authenticate(session, "bob", PASSWORD, ip="198.51.100.66")
    assert auth.authenticate(session, "bob", PASSWORD, ip="10.1.2.3") is user


def test_each_failure_past_the_lock_doubles_the_wait(session):
    make_user(session, "bob")
    now = utcnow()
    waits = []
    for n in range(auth.MAX_FAILED_LOGINS + 3):
        with pytest.raises(auth.AuthError):
            auth.authenticate(session, "bob", "wrong password", ip="198.51.100.66", now=now)
        if n + 1 >= auth.MAX_FAILED_LOGINS:
            waits.append(auth.lock_remaining(session, "bob", "198.51.100.66", now))
            now += waits[-1]  # try again the moment the lock ends
    assert waits == [auth.FIRST_LOCK * 2**k for k in range(4)]
    assert "8 分钟" in auth.locked_message(waits[-1])


def test_unknown_and_inactive_accounts_get_the_generic_message(session):
    user = make_user(session, "bob")
    user.active = False
    for name in ("bob", "nobody"):
        with pytest.raises(auth.AuthError) as info:
            auth.authenticate(session, name, PASSWORD)
        assert info.value.message == auth.BAD_CREDENTIALS


def test_unknown_names_lock_like_real_accounts(session):
    """Only real accounts used to answer the sixth wrong password with the lock message,
    which told an attacker which names exist."""

    def messages(name: str) -> list[str]:
        shown = []
        for _ in range(auth.MAX_FAILED_LOGINS + 1):
            with pytest.raises(auth.AuthError) as info:
                auth.authenticate(session, name, "wrong password")
            shown.append(info.value.message)
        return shown

    make_user(session, "bob")
    real, unknown = messages("bob"), messages("nobody")
    assert real == unknown
    assert real[0] == auth.BAD_CREDENTIALS and real[-1] == auth.LOCKED_MESSAGE
    # The wait passes for the unknown name as it does for the real account.
    later = utcnow() + 2 * auth.FIRST_LOCK + timedelta(seconds=1)
    assert auth.lock_remaining(session, "nobody", None, later) is None
    assert auth.lock_remaining(session, "bob", None, later) is None


def test_totp_code_is_accepted_once_and_recovery_codes_once_each(session, protector):
    user = make_user(session, "bob")
    secret, codes = enrol(session, protector, user)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert user.totp_secret_enc and secret.encode() not in user.totp_secret_enc
    assert all(c not in str(user.recovery_codes) for c in codes)  # only hashes stored
    now = pyotp.TOTP(secret).now()
    assert auth.verify_second_factor(session, protector, user, now) == "totp"
    with pytest.raises(auth.AuthError):
        auth.verify_second_factor(session, protector, user, now)  # replay
    assert auth.verify_second_factor(session, protector, user, codes[0].lower()) == "recovery"
    with pytest.raises(auth.AuthError):
        auth.verify_second_factor(session, protector, user, codes[0])
    assert len(user.recovery_codes or []) == 9


# --- first login: enrolment ----------


def test_first_login_enrols_totp_then_shows_recovery_codes_once(client, session, protector):
    make_user(session, "alice")
    resp = post_login(client, "alice")
    assert resp.status_code == 302 and resp.location.endswith("/admin/login/totp")
    assert client.get("/admin/account").status_code == 302  # password alone is not a login
    page = client.get("/admin/login/totp").get_data(as_text=True)
    assert "<svg" in page and "二维码" in page
    secret = re.search(r'<code class="secret">([A-Z2-7 ]+)</code>', page).group(1).replace(" ", "")
    # The same secret is shown again on reload (not a new one each time).
    assert secret.replace(" ", "") in client.get("/admin/login/totp").get_data(
        as_text=True
    ).replace(" ", "")
    bad = client.post("/admin/login/totp", data={"code": "000000"})
    assert bad.status_code == 422 and "验证码不正确" in bad.get_data(as_text=True)
    resp = client.post("/admin/login/totp", data={"code": pyotp.TOTP(secret).now()})
    assert resp.status_code == 200
    codes = re.findall(r"<code>([A-Z0-9-]{19})</code>", resp.get_data(as_text=True))
    assert len(codes) == 10
    assert client.get("/admin/account").status_code == 200
    user = session.scalars(select(StaffUser).where(StaffUser.username == "alice")).one()
    session.refresh(user)
    assert protector.decrypt(user.totp_secret_enc) == secret
    assert actions(session)[-3:] == ["totp_failed", "totp_enrol", "login"]


def test_later_login_needs_the_code_and_accepts_a_recovery_code_once(client, session, protector):
    user = make_user(session, "alice")
    secret, codes = enrol(session, protector, user)
    post_login(client, "alice")
    wrong = client.post("/admin/login/totp", data={"code": "123456"})
    assert wrong.status_code == 401 and "不正确" in wrong.get_data(as_text=True)
    ok = client.post("/admin/login/totp", data={"code": codes[3]})
    assert ok.status_code == 302
    assert client.get("/admin/account").status_code == 200
    other = client.application.test_client()
    post_login(other, "alice")
    again = other.post("/admin/login/totp", data={"code": codes[3]})
    assert again.status_code == 401
    assert other.get("/admin/account").status_code == 302
    assert "recovery_code_used" in actions(session)


def test_totp_page_without_a_password_step_sends_back_to_login(client):
    resp = client.get("/admin/login/totp")
    assert resp.status_code == 302 and resp.location.endswith("/admin/login")
    assert client.post("/admin/login/totp", data={"code": "123456"}).status_code == 302


def test_branch_staff_skip_totp_unless_configured(client, session, protector, other_app):
    make_user(session, "branch1", role="branch")
    resp = post_login(client, "branch1")
    assert resp.status_code == 302 and "/login" not in resp.location
    assert client.get("/admin/account").status_code == 200
    strict = other_app("strict", QUIZ_BRANCH_TOTP=True).test_client()
    resp = post_login(strict, "branch1")
    assert resp.location.endswith("/admin/login/totp")
    assert "设置两步验证" in strict.get("/admin/login/totp").get_data(as_text=True)
    assert strict.get("/admin/account").status_code == 302


def test_staff_who_may_see_full_data_always_need_the_second_factor(client, session):
    """A branch user with can_reveal signed in with the password alone unless the site
    set QUIZ_BRANCH_TOTP=1."""
    make_user(session, "revealer", role="branch", can_reveal=True)
    resp = post_login(client, "revealer")
    assert resp.location.endswith("/admin/login/totp")
    assert "设置两步验证" in client.get("/admin/login/totp").get_data(as_text=True)
    assert client.get("/admin/account").status_code == 302


def test_wrong_password_shows_chinese_error_and_is_audited(client, session):
    make_user(session, "alice")
    resp = post_login(client, "alice", "not the password")
    assert resp.status_code == 401
    assert "用户名或密码错误" in resp.get_data(as_text=True)
    assert actions(session)[-1] == "login_failed"
    empty = client.post("/admin/login", data={"username": "", "password": ""})
    assert empty.status_code == 422 and "此项为必填项" in empty.get_data(as_text=True)


def test_login_clears_whatever_the_session_held(client, session, protector):
    user = make_user(session, "alice")
    secret, _ = enrol(session, protector, user)
    with client.session_transaction() as sess:
        sess["planted"] = "by an attacker"
    full_login(client, "alice", secret)
    with client.session_transaction() as sess:
        assert "planted" not in sess
        assert sess["staff"]["id"] == user.id and sess["staff"]["totp_ok"] is True
        assert sess.permanent


@pytest.mark.parametrize(
    ("next_url", "expected"),
    [
        ("/admin/audit?actor=x", "/admin/audit?actor=x"),
        ("//evil.example/admin", None),
        ("https://evil.example/", None),
        ("/\\evil.example", None),
    ],
)
def test_next_parameter_only_follows_same_site_paths(
    app, client, session, protector, next_url, expected
):
    user = make_user(session, "alice")
    secret, _ = enrol(session, protector, user)
    post_login(client, "alice", query_string={"next": next_url})
    resp = client.post("/admin/login/totp", data={"code": pyotp.TOTP(secret).now()})
    if expected is None:  # the landing page: the dashboard once it exists, else user management
        expected = "/admin/" if "admin.dashboard" in app.view_functions else "/admin/users"
    assert resp.location == expected


# --- ending sessions ----------


def _cookie(client: Any) -> str:
    return client.get_cookie("quiz_session").value


def test_logout_kills_a_copied_cookie(app, client, session, protector):
    user = make_user(session, "alice")
    secret, _ = enrol(session, protector, user)
    full_login(client, "alice", secret)
    copied = _cookie(client)
    resp = client.post("/admin/logout")
    assert resp.status_code == 302 and resp.location.endswith("/admin/login")
    thief = app.test_client()
    thief.set_cookie("quiz_session", copied)
    assert thief.get("/admin/account").status_code == 302
    assert client.get("/admin/account").status_code == 302
    assert actions(session)[-1] == "logout"


def test_logout_needs_post(client, session):
    user = make_user(session, "alice")
    login_as(client, user)
    assert client.get("/admin/logout").status_code == 405
    assert client.get("/admin/account").status_code == 200


def test_password_change_ends_other_sessions_but_keeps_this_one(app, client, session):
    user = make_user(session, "alice")
    login_as(client, user)
    other = app.test_client()
    login_as(other, user)
    bad = client.post(
        "/admin/account/password",
        data={"current": "wrong", "password": "new password 1", "confirm": "new password 1"},
    )
    assert bad.status_code == 422 and "当前密码不正确" in bad.get_data(as_text=True)
    mismatch = client.post(
        "/admin/account/password",
        data={"current": PASSWORD, "password": "new password 1", "confirm": "other"},
    )
    assert mismatch.status_code == 422 and "两次输入的密码不一致" in mismatch.get_data(as_text=True)
    ok = client.post(
        "/admin/account/password",
        data={"current": PASSWORD, "password": "new password 1", "confirm": "new password 1"},
    )
    assert ok.status_code == 302
    assert client.get("/admin/account").status_code == 200
    assert other.get("/admin/account").status_code == 302
    session.expire_all()
    assert auth.authenticate(session, "alice", "new password 1")
    assert "password_change" in actions(session)


def test_logout_everywhere(app, client, session):
    user = make_user(session, "alice")
    login_as(client, user)
    other = app.test_client()
    login_as(other, user)
    assert client.post("/admin/account/sessions/end").status_code == 302
    assert client.get("/admin/account").status_code == 302
    assert other.get("/admin/account").status_code == 302
    assert actions(session)[-1] == "logout_all"


def test_idle_timeout_and_absolute_lifetime(client, session):
    user = make_user(session, "alice")
    login_as(client, user)
    assert client.get("/admin/account").status_code == 200  # stamps the idle clock
    with client.session_transaction() as sess:
        assert sess["staff"]["seen"] >= time.time() - 5
        sess["staff"] = {**sess["staff"], "seen": int(time.time()) - 31 * 60}
    resp = client.get("/admin/account")
    assert resp.status_code == 302 and "/admin/login" in resp.location
    login_as(client, user)
    with client.session_transaction() as sess:
        sess["staff"] = {
            **sess["staff"],
            "seen": int(time.time()),
            "at": int(time.time()) - 9 * 3600,
        }
    assert client.get("/admin/account").status_code == 302
    assert client.post("/admin/account/sessions/end").status_code == 401


def test_recovery_codes_can_be_regenerated_with_the_password(client, session, protector):
    user = make_user(session, "alice")
    _, old = enrol(session, protector, user)
    login_as(client, user)
    bad = client.post("/admin/account/recovery-codes", data={"password": "nope"})
    assert bad.status_code == 422
    resp = client.post("/admin/account/recovery-codes", data={"password": PASSWORD})
    new = re.findall(r"<code>([A-Z0-9-]{19})</code>", resp.get_data(as_text=True))
    assert len(new) == 10 and not set(new) & set(old)
    session.expire_all()
    with pytest.raises(auth.AuthError):
        auth.verify_second_factor(session, protector, session.get(StaffUser, user.id), old[0])


@pytest.mark.parametrize(
    ("url", "form"),
    [
        ("/admin/account/recovery-codes", lambda pw: {"password": pw}),
        (
            "/admin/account/password",
            lambda pw: {"current": pw, "password": "a new pass 42", "confirm": "a new pass 42"},
        ),
    ],
)
def test_password_reentry_counts_towards_the_lock_and_is_audited(
    client, session, protector, url, form
):
    """50 wrong passwords in a row here, then the right one, issued new recovery codes:
    no lock, no audit."""
    user = make_user(session, "alice")
    enrol(session, protector, user)
    login_as(client, user)
    for _ in range(auth.MAX_FAILED_LOGINS):
        assert client.post(url, data=form("wrong password")).status_code == 422
    right = client.post(url, data=form(PASSWORD))
    assert right.status_code == 422 and "暂时禁止" in right.get_data(as_text=True)
    assert actions(session).count("password_reentry_failed") == auth.MAX_FAILED_LOGINS + 1
    # The same client cannot sign in either while the lock lasts.
    assert auth.is_locked(session, "alice", "127.0.0.1")
    session.commit()
    # Once the lock is over, the right password works and its success is audited.
    session.execute(update(LoginThrottle).values(locked_until=utcnow()))
    session.commit()
    assert client.post(url, data=form(PASSWORD)).status_code in (200, 302)
    assert actions(session)[-1] in ("recovery_codes_new", "password_change")


def test_password_reentry_is_rate_limited_like_the_login(session, protector, other_app):
    user = make_user(session, "alice")
    enrol(session, protector, user)
    limited = other_app("rl-reentry", RATELIMIT_ENABLED=True, QUIZ_LOGIN_LIMIT="3/minute")
    limiter.reset()
    client = limited.test_client()
    login_as(client, user)
    ip = f"10.{uuid.uuid4().int % 250}.0.2"
    codes = [
        client.post(
            "/admin/account/recovery-codes",
            data={"password": f"guess {i}"},
            environ_base={"REMOTE_ADDR": ip},
        ).status_code
        for i in range(4)
    ]
    limiter.reset()
    assert codes == [422, 422, 422, 429]


# --- rate limits and CSRF ----------


def test_login_is_rate_limited_per_client_and_per_account(session, other_app):
    make_user(session, "alice")
    limited = other_app("rl", RATELIMIT_ENABLED=True, QUIZ_LOGIN_LIMIT="3/minute")
    limiter.reset()
    client = limited.test_client()
    # Per client: one address trying several accounts.
    ip = f"10.{uuid.uuid4().int % 250}.0.1"
    codes = [
        post_login(
            client, f"u{i}{uuid.uuid4().hex[:6]}", "x" * 8, environ_base={"REMOTE_ADDR": ip}
        ).status_code
        for i in range(4)
    ]
    assert codes == [401, 401, 401, 429]
    # Per account: one account tried from several addresses.
    name = f"v{uuid.uuid4().hex[:8]}"
    codes = [
        post_login(client, name, "x" * 8, environ_base={"REMOTE_ADDR": f"10.9.{i}.1"}).status_code
        for i in range(4)
    ]
    assert codes == [401, 401, 401, 429]
    assert "操作过于频繁" in post_login(
        client, name, environ_base={"REMOTE_ADDR": "10.9.99.1"}
    ).get_data(as_text=True)
    limiter.reset()


def test_login_form_needs_the_csrf_token(session, other_app):
    make_user(session, "alice")
    client = other_app("csrf", WTF_CSRF_ENABLED=True).test_client()
    assert post_login(client, "alice").status_code == 400
    page = client.get("/admin/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    resp = client.post(
        "/admin/login", data={"username": "alice", "password": PASSWORD, "csrf_token": token}
    )
    assert resp.status_code == 302 and resp.location.endswith("/admin/login/totp")


# --- CLI ----------


def test_there_is_no_default_account(session):
    assert session.scalars(select(StaffUser)).all() == []


def test_cli_creates_the_first_admin_from_stdin(runner, client, session):
    result = runner.invoke(
        staff, ["create", "Root", "--role", "admin", "--password-stdin"], input=PASSWORD + "\n"
    )
    assert result.exit_code == 0, result.output
    user = session.scalars(select(StaffUser).where(StaffUser.username == "root")).one()
    assert user.role == "admin" and auth.verify_password(user, PASSWORD)
    session.commit()  # release SQLite's write lock before the request
    assert post_login(client, "root").location.endswith("/admin/login/totp")
    entry = session.scalars(select(AuditLog).where(AuditLog.action == "user_create")).one()
    assert entry.actor == "cli"


def test_cli_prompts_twice_and_checks_the_rules(runner, session):
    mismatch = runner.invoke(
        staff, ["create", "ana", "--role", "analyst"], input="password one\npassword two\n"
    )
    assert mismatch.exit_code != 0
    same = runner.invoke(
        staff, ["create", "ana.lyst", "--role", "analyst", "--password-stdin"], input="ana.lyst\n"
    )
    assert same.exit_code != 0 and "不能与用户名相同" in same.output
    ok = runner.invoke(
        staff, ["create", "ana", "--role", "analyst"], input=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert ok.exit_code == 0, ok.output
    assert [u.username for u in session.scalars(select(StaffUser))] == ["ana"]


def test_cli_branch_accounts_need_an_existing_branch(runner, session):
    code = session.scalars(select(Branch.code).order_by(Branch.code)).first()
    session.commit()
    missing = runner.invoke(
        staff, ["create", "b1", "--role", "branch", "--password-stdin"], input=PASSWORD + "\n"
    )
    assert missing.exit_code != 0 and "--branch" in missing.output
    unknown = runner.invoke(
        staff,
        ["create", "b1", "--role", "branch", "--branch", "NOPE", "--password-stdin"],
        input=PASSWORD + "\n",
    )
    assert unknown.exit_code != 0 and "不存在" in unknown.output
    ok = runner.invoke(
        staff,
        ["create", "b1", "--role", "branch", "--branch", code, "--can-reveal", "--password-stdin"],
        input=PASSWORD + "\n",
    )
    assert ok.exit_code == 0, ok.output
    user = session.scalars(select(StaffUser)).one()
    assert user.branch.code == code and user.can_reveal


def test_cli_rescues_a_locked_out_admin(runner, session, protector):
    user = make_user(session, "alice")
    enrol(session, protector, user)
    for _ in range(auth.MAX_FAILED_LOGINS):
        with pytest.raises(auth.AuthError):
            auth.authenticate(session, "alice", "wrong password")
    assert auth.is_locked(session, "alice", None)
    session.commit()
    assert runner.invoke(staff, ["reset-2fa", "alice"]).exit_code == 0
    result = runner.invoke(
        staff, ["set-password", "alice", "--password-stdin"], input="brand new password\n"
    )
    assert result.exit_code == 0, result.output
    session.expire_all()
    user = session.get(StaffUser, user.id)
    assert user.totp_secret_enc is None and not auth.is_locked(session, "alice", None)
    assert auth.authenticate(session, "alice", "brand new password") is user
    listing = runner.invoke(staff, ["list"]).output
    assert "alice\tadmin\t-\tactive\tno-totp" in listing
