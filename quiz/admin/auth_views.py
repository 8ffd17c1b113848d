"""Staff sign-in (password, then TOTP or enrolment), logout, session timeouts, own account."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

from flask import (
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue

from quiz.admin import PUBLIC_ENDPOINTS, bp
from quiz.admin.access import SESSION_KEY, any_staff, current_staff
from quiz.admin.forms import (
    ActionForm,
    CodeForm,
    LoginForm,
    PasswordChangeForm,
    PasswordConfirmForm,
)
from quiz.extensions import limiter
from quiz.models import StaffUser
from quiz.staff import auth
from quiz.web.request import db, protector

PENDING_KEY = "staff_pending"
PENDING_SECONDS = 10 * 60  # time allowed between the password and the second factor
IDLE_SECONDS_DEFAULT = 30 * 60
SEEN_REFRESH_SECONDS = 60  # rewrite the cookie at most once a minute for the idle clock


# --- navigation helpers (shared by every staff template) ------------------------------


def allowed(endpoint: str, user: StaffUser | None = None) -> bool:
    """Whether the endpoint exists and its roles_required admits the user."""
    user = user or current_staff()
    view = current_app.view_functions.get(endpoint)
    roles = getattr(view, "required_roles", None)
    return user is not None and roles is not None and user.role in roles


def landing_url(user: StaffUser) -> str:
    """Where a signed-in user starts: the dashboard once it exists, else a page they may see."""
    for endpoint in ("admin.dashboard", "admin.users"):
        if allowed(endpoint, user):
            return url_for(endpoint)
    return url_for("admin.account")


@bp.context_processor
def _nav_context() -> dict[str, Any]:
    user = current_staff() if request.endpoint not in PUBLIC_ENDPOINTS else None
    return {
        "endpoints": frozenset(current_app.view_functions),
        "allowed": allowed,
        "home_url": landing_url(user) if user else url_for("admin.login"),
        # Not bound to the request: reading an oversized body here would turn the 413 page
        # into a 500 (this also runs while error pages render).
        "logout_form": ActionForm(formdata=None),
    }


def safe_next(value: str | None) -> str | None:
    """A same-site relative path, or None (no open redirect to another host)."""
    if not value or len(value) > 2000 or any(ord(c) < 32 for c in value) or "\\" in value:
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not value.startswith("/") or value.startswith("//"):
        return None
    return value


# --- session timeouts --------------------------------------------------------------------


@bp.before_request
def _session_timeouts() -> ResponseReturnValue | None:
    """Idle timeout (30 minutes) and absolute lifetime, checked on the server."""
    if request.endpoint in PUBLIC_ENDPOINTS or request.endpoint is None:
        return None
    data = session.get(SESSION_KEY)
    if not isinstance(data, dict):
        return None  # access._require_login has already refused anonymous users
    now = int(time.time())
    idle = int(current_app.config.get("QUIZ_STAFF_IDLE_SECONDS", IDLE_SECONDS_DEFAULT))
    lifetime = current_app.permanent_session_lifetime.total_seconds()
    seen = int(data.get("seen", now))
    started = int(data.get("at", now))
    if now - seen > idle or now - started > lifetime:
        session.clear()
        g.staff_user = None
        flash("登录已超时,请重新登录。", "warning")
        if request.method == "GET":
            return redirect(url_for("admin.login", next=request.full_path))
        abort(401)
    if now - seen >= SEEN_REFRESH_SECONDS or "seen" not in data or "at" not in data:
        session[SESSION_KEY] = {**data, "seen": now, "at": started}
    return None


# --- sign-in -------------------------------------------------------------------------------


def _login_limit() -> str:
    return str(current_app.config["QUIZ_LOGIN_LIMIT"])


def _account_key() -> str:
    """Rate-limit key for the account being tried, whatever client tries it."""
    return "account:" + auth.normalise_username(request.form.get("username", ""))[:64]


def _signed_in_key() -> str:
    """Rate-limit key for password re-entry: the signed-in account, whatever client."""
    data = session.get(SESSION_KEY)
    return f"account-id:{data.get('id') if isinstance(data, dict) else '-'}"


def _pending_key() -> str:
    data = session.get(PENDING_KEY)
    return f"account-id:{data.get('id') if isinstance(data, dict) else '-'}"


def _start_session(user: StaffUser, next_url: str | None) -> None:
    """Issue a fresh cookie once both factors passed (nothing of the old session survives)."""
    session.clear()
    session.permanent = True
    now = int(time.time())
    session[SESSION_KEY] = {
        "id": user.id,
        "ver": user.session_version,
        "totp_ok": True,
        "at": now,
        "seen": now,
    }
    g.staff_user = user
    if next_url:
        session["staff_next"] = next_url


def _after_login(user: StaffUser) -> ResponseReturnValue:
    return redirect(session.pop("staff_next", None) or landing_url(user))


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
@limiter.limit(_login_limit, methods=["POST"], key_func=_account_key)
def login() -> ResponseReturnValue:
    """Step one: username and password."""
    next_url = safe_next(request.args.get("next"))
    user = current_staff()
    if user is not None and request.method == "GET":
        return redirect(next_url or landing_url(user))
    form = LoginForm()
    if request.method == "GET":
        return render_template("admin/login.html", form=form, next_url=next_url)
    if not form.validate_on_submit():
        return render_template("admin/login.html", form=form, next_url=next_url), 422
    try:
        user = auth.authenticate(
            db(), form.username.data or "", form.password.data or "", ip=request.remote_addr
        )
    except auth.AuthError as exc:
        db().commit()  # keep the failure count and the audit entry
        form.password.errors = [exc.message]
        return render_template("admin/login.html", form=form, next_url=next_url), 401
    # A new cookie: whatever the browser held before (a planted session) is dropped.
    session.clear()
    if not auth.second_factor_required(user, bool(current_app.config.get("QUIZ_BRANCH_TOTP"))):
        auth.complete_login(db(), user, "none", ip=request.remote_addr)
        db().commit()
        _start_session(user, next_url)
        return _after_login(user)
    db().commit()
    session[PENDING_KEY] = {
        "id": user.id,
        "ver": user.session_version,
        "at": int(time.time()),
        "next": next_url,
    }
    return redirect(url_for("admin.login_totp"))


def _pending_user() -> tuple[StaffUser, dict[str, Any]] | None:
    data = session.get(PENDING_KEY)
    if not isinstance(data, dict) or time.time() - data.get("at", 0) > PENDING_SECONDS:
        return None
    user = db().get(StaffUser, data.get("id"))
    if user is None or not user.active or user.session_version != data.get("ver"):
        return None
    return user, data


@bp.route("/login/totp", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
@limiter.limit(_login_limit, methods=["POST"], key_func=_pending_key)
def login_totp() -> ResponseReturnValue:
    """Step two: the TOTP code or a recovery code; enrolment on first login."""
    pending = _pending_user()
    if pending is None:
        session.pop(PENDING_KEY, None)
        flash("请先输入用户名和密码。", "warning")
        return redirect(url_for("admin.login"))
    user, data = pending
    if user.totp_secret_enc is None:
        return _enrol(user, data)
    form = CodeForm()
    if request.method == "GET":
        return render_template("admin/login_totp.html", form=form, user=user)
    if not form.validate_on_submit():
        return render_template("admin/login_totp.html", form=form, user=user), 422
    try:
        method = auth.verify_second_factor(
            db(), protector(), user, form.code.data or "", ip=request.remote_addr
        )
    except auth.AuthError as exc:
        db().commit()
        form.code.errors = [exc.message]
        return render_template("admin/login_totp.html", form=form, user=user), 401
    auth.complete_login(db(), user, method, ip=request.remote_addr)
    left = len(user.recovery_codes or [])
    db().commit()
    _start_session(user, data.get("next"))
    if method == "recovery":
        flash(f"您使用了一个恢复码,还剩 {left} 个。用完前请在“我的账户”中重新生成。", "warning")
    return _after_login(user)


def _enrol(user: StaffUser, data: dict[str, Any]) -> ResponseReturnValue:
    """First login: show a new secret (text and QR), confirm it with a code, show recovery codes."""
    token = data.get("enrol")
    if token:
        secret = protector().decrypt(token.encode())
    else:
        # Kept encrypted in the (signed, readable) cookie until the user confirms it.
        secret = auth.new_totp_secret()
        session[PENDING_KEY] = {**data, "enrol": protector().encrypt(secret).decode()}
    form = CodeForm()
    uri = auth.provisioning_uri(user, secret)

    def page(status: int = 200) -> ResponseReturnValue:
        return render_template(
            "admin/totp_enrol.html",
            form=form,
            user=user,
            secret=" ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
            qr=auth.qr_svg(uri),
        ), status

    if request.method == "GET":
        return page()
    if not form.validate_on_submit():
        return page(422)
    try:
        codes = auth.confirm_enrolment(
            db(), protector(), user, secret, form.code.data or "", ip=request.remote_addr
        )
    except auth.AuthError as exc:
        db().commit()
        form.code.errors = [exc.message]
        return page(422)
    auth.complete_login(db(), user, "totp", ip=request.remote_addr)
    db().commit()
    _start_session(user, data.get("next"))
    # Shown once, in this response only (never stored in the cookie or the database).
    return render_template(
        "admin/recovery_codes.html",
        codes=codes,
        continue_url=session.pop("staff_next", None) or landing_url(user),
    )


# --- logout and own account -------------------------------------------------------------


def _me() -> StaffUser:
    user = current_staff()
    if user is None:  # pragma: no cover - access._require_login runs first
        abort(401)
    return user


@bp.post("/logout")
@any_staff
def logout() -> ResponseReturnValue:
    """End the session; the account's session version moves on, so copied cookies die too."""
    if not ActionForm().validate_on_submit():
        abort(400)
    auth.end_sessions(db(), _me(), "logout", ip=request.remote_addr)
    db().commit()
    session.clear()
    flash("您已安全退出。", "success")
    return redirect(url_for("admin.login"))


def _account_page(status: int = 200, **forms: Any) -> ResponseReturnValue:
    context = {
        "password_form": PasswordChangeForm(formdata=None),
        "codes_form": PasswordConfirmForm(formdata=None),
        "action_form": ActionForm(formdata=None),
        **forms,
    }
    return render_template("admin/account.html", user=_me(), **context), status


@bp.get("/account")
@any_staff
def account() -> ResponseReturnValue:
    """The signed-in user's account: password, sessions, recovery codes."""
    return _account_page()


@bp.post("/account/password")
@limiter.limit(_login_limit, methods=["POST"])
@limiter.limit(_login_limit, methods=["POST"], key_func=_signed_in_key)
@any_staff
def account_password() -> ResponseReturnValue:
    """Change one's own password; other devices are signed out, this one stays."""
    form = PasswordChangeForm()
    if not form.validate_on_submit():
        return _account_page(422, password_form=form)
    user = _me()
    try:
        auth.change_password(
            db(), user, form.current.data or "", form.password.data or "", ip=request.remote_addr
        )
    except auth.AuthError as exc:
        db().commit()  # keep the failure count and the audit entry
        target = form.current if exc.field == "current" else form.password
        target.errors = [exc.message]
        return _account_page(422, password_form=form)
    db().commit()
    _start_session(user, None)
    flash("密码已修改,其他设备上的登录已全部退出。", "success")
    return redirect(url_for("admin.account"))


@bp.post("/account/sessions/end")
@any_staff
def account_end_sessions() -> ResponseReturnValue:
    """退出所有设备: every cookie of this account stops working, this one included."""
    if not ActionForm().validate_on_submit():
        abort(400)
    auth.end_sessions(db(), _me(), "logout_all", ip=request.remote_addr)
    db().commit()
    session.clear()
    flash("已退出所有设备上的登录,请重新登录。", "success")
    return redirect(url_for("admin.login"))


@bp.post("/account/recovery-codes")
@limiter.limit(_login_limit, methods=["POST"])
@limiter.limit(_login_limit, methods=["POST"], key_func=_signed_in_key)
@any_staff
def account_recovery_codes() -> ResponseReturnValue:
    """New recovery codes after re-entering the password; the old ones stop working."""
    form = PasswordConfirmForm()
    if not form.validate_on_submit():
        return _account_page(422, codes_form=form)
    try:
        codes = auth.regenerate_recovery_codes(
            db(), _me(), form.password.data or "", ip=request.remote_addr
        )
    except auth.AuthError as exc:
        db().commit()  # keep the failure count and the audit entry
        form.password.errors = [exc.message]
        return _account_page(422, codes_form=form)
    db().commit()
    return render_template(
        "admin/recovery_codes.html", codes=codes, continue_url=url_for("admin.account")
    )
