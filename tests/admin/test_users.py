"""User management by admins: create, edit, deactivate, reset password and second factor."""

from __future__ import annotations

from typing import Any

import pyotp
import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from quiz.models import AuditLog, Branch, StaffUser
from quiz.staff import auth
from tests.factories import login_as

PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def fast_hashes(monkeypatch):
    """Cheap argon2 parameters in tests (production keeps argon2-cffi's defaults)."""
    monkeypatch.setattr(
        auth, "hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


def make_user(session: Any, username: str, role: str = "admin", **kw: Any) -> StaffUser:
    user = auth.create_user(session, username, PASSWORD, role, **kw)
    session.commit()
    return user


def branch_id(session: Any, n: int = 0) -> int:
    ids = session.scalars(select(Branch.id).order_by(Branch.code)).all()
    session.commit()  # release SQLite's write lock before the next request
    return ids[n]


@pytest.fixture
def admin_client(client, session):
    login_as(client, make_user(session, "root"))
    return client


def reload(session: Any, user: StaffUser) -> StaffUser:
    session.expire_all()
    fresh = session.get(StaffUser, user.id)
    session.commit()
    return fresh


def last_audit(session: Any) -> AuditLog:
    session.expire_all()
    entry = session.scalars(select(AuditLog).order_by(AuditLog.id.desc())).first()
    session.commit()
    return entry


def new_user_form(**kw: Any) -> dict[str, Any]:
    data = {
        "username": "zhang.san",
        "display_name": "张三",
        "role": "analyst",
        "branch_id": "",
        "password": PASSWORD,
        "confirm": PASSWORD,
    }
    data.update(kw)
    return data


def test_admin_creates_a_branch_user_who_can_then_sign_in(app, admin_client, session):
    bid = branch_id(session)
    resp = admin_client.post(
        "/admin/users/new",
        data=new_user_form(role="branch", branch_id=str(bid), can_reveal="y"),
    )
    assert resp.status_code == 302
    user = session.scalars(select(StaffUser).where(StaffUser.username == "zhang.san")).one()
    assert (user.role, user.branch_id, user.can_reveal) == ("branch", bid, True)
    session.commit()
    listing = admin_client.get("/admin/users").get_data(as_text=True)
    assert "zhang.san" in listing and "机构人员" in listing
    entry = last_audit(session)
    assert (entry.action, entry.actor, entry.target) == ("user_create", "root", "user:zhang.san")
    fresh = app.test_client()
    resp = fresh.post("/admin/login", data={"username": "zhang.san", "password": PASSWORD})
    # May see full personal data: the second factor is enrolled at the first sign-in.
    assert resp.status_code == 302 and resp.location.endswith("/admin/login/totp")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"username": "root"}, "该用户名已存在"),
        ({"username": "Bad Name!"}, "用户名为"),
        ({"role": "branch"}, "必须指定所属机构"),
        ({"password": "short", "confirm": "short"}, "密码长度需为"),
        ({"password": "zhang.san", "confirm": "zhang.san"}, "不能与用户名相同"),
        ({"confirm": "something else"}, "两次输入的密码不一致"),
        ({"role": "superuser"}, "请从列表中选择"),
        ({"role": "branch", "branch_id": "999999"}, "请从列表中选择"),
    ],
)
def test_bad_new_user_input_is_a_422_with_a_message(admin_client, session, changes, message):
    resp = admin_client.post("/admin/users/new", data=new_user_form(**changes))
    body = resp.get_data(as_text=True)
    assert resp.status_code == 422 and message in body
    names = session.scalars(select(StaffUser.username)).all()
    session.commit()
    assert names == ["root"]


def test_role_change_is_audited_and_ends_the_users_sessions(app, admin_client, session):
    user = make_user(session, "li.si", "analyst")
    their = app.test_client()
    login_as(their, user)
    assert their.get("/admin/account").status_code == 200
    bid = branch_id(session, 1)
    resp = admin_client.post(
        f"/admin/users/{user.id}",
        data={"display_name": "李四", "role": "branch", "branch_id": str(bid), "active": "y"},
    )
    assert resp.status_code == 302
    user = reload(session, user)
    assert (user.role, user.branch_id, user.display_name) == ("branch", bid, "李四")
    entry = last_audit(session)
    assert entry.action == "user_update"
    assert entry.detail["changes"]["role"] == ["analyst", "branch"]
    assert their.get("/admin/account").status_code == 302  # must sign in again with new rights


def test_head_office_roles_carry_no_branch(admin_client, session):
    user = make_user(session, "li.si", "branch", branch_id=branch_id(session))
    admin_client.post(
        f"/admin/users/{user.id}",
        data={"role": "analyst", "branch_id": str(branch_id(session)), "active": "y"},
    )
    user = reload(session, user)
    assert (user.role, user.branch_id) == ("analyst", None)


def test_deactivated_users_cannot_sign_in(app, admin_client, session):
    user = make_user(session, "wang.wu", "analyst")
    resp = admin_client.post(f"/admin/users/{user.id}", data={"role": "analyst"})
    assert resp.status_code == 302
    assert reload(session, user).active is False
    assert last_audit(session).action == "user_deactivate"
    resp = app.test_client().post(
        "/admin/login", data={"username": "wang.wu", "password": PASSWORD}
    )
    assert resp.status_code == 401


def test_the_last_admin_cannot_be_demoted_or_deactivated(admin_client, session):
    root = session.scalars(select(StaffUser).where(StaffUser.username == "root")).one()
    session.commit()
    for data in ({"role": "analyst", "active": "y"}, {"role": "admin"}):
        resp = admin_client.post(f"/admin/users/{root.id}", data=data)
        assert resp.status_code == 422
        assert "最后一个有效的管理员" in resp.get_data(as_text=True)
    root = reload(session, root)
    assert (root.role, root.active) == ("admin", True)


def test_reset_password_lifts_the_lock_and_ends_sessions(app, admin_client, session):
    user = make_user(session, "zhao.liu", "analyst")
    for _ in range(auth.MAX_FAILED_LOGINS):
        with pytest.raises(auth.AuthError):
            auth.authenticate(session, "zhao.liu", "wrong password")
    session.commit()
    assert auth.is_locked(session, "zhao.liu", None)
    their = app.test_client()
    login_as(their, reload(session, user))
    short = admin_client.post(
        f"/admin/users/{user.id}/password", data={"password": "short", "confirm": "short"}
    )
    assert short.status_code == 422 and "密码长度需为" in short.get_data(as_text=True)
    resp = admin_client.post(
        f"/admin/users/{user.id}/password",
        data={"password": "another long one", "confirm": "another long one"},
    )
    assert resp.status_code == 302
    assert their.get("/admin/account").status_code == 302
    user = reload(session, user)
    assert not auth.is_locked(session, "zhao.liu", None)
    assert auth.authenticate(session, "zhao.liu", "another long one").id == user.id
    session.commit()
    assert last_audit(session).action == "user_reset_password"


def test_reset_second_factor_sends_the_user_to_enrolment(app, admin_client, session, protector):
    user = make_user(session, "qian.qi", "analyst")
    secret = pyotp.random_base32()
    auth.confirm_enrolment(session, protector, user, secret, pyotp.TOTP(secret).now())
    session.commit()
    resp = admin_client.post(f"/admin/users/{user.id}/totp-reset")
    assert resp.status_code == 302
    assert reload(session, user).totp_secret_enc is None
    their = app.test_client()
    their.post("/admin/login", data={"username": "qian.qi", "password": PASSWORD})
    assert "设置两步验证" in their.get("/admin/login/totp").get_data(as_text=True)
    session.expire_all()
    acts = session.scalars(select(AuditLog.action)).all()
    session.commit()
    assert "user_reset_totp" in acts


def test_unknown_user_is_404(admin_client):
    assert admin_client.get("/admin/users/99999").status_code == 404


def test_only_admins_see_user_management_and_its_nav_link(app, admin_client, session):
    assert "用户管理" in admin_client.get("/admin/account").get_data(as_text=True)
    analyst = app.test_client()
    login_as(analyst, make_user(session, "ana", "analyst"))
    assert analyst.get("/admin/users").status_code == 403
    assert analyst.post("/admin/users/new", data=new_user_form()).status_code == 403
    page = analyst.get("/admin/account").get_data(as_text=True)
    assert "用户管理" not in page and "审计日志" not in page and "我的账户" in page
