"""Staff authentication: passwords, accounts, lockout, TOTP second factor, recovery codes.

Plain functions taking a Session first; they flush, never commit, and raise AuthError
with a message fit to show to staff (in Chinese).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import math
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pyotp
import segno
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from quiz.db import utcnow
from quiz.models import ROLES, Branch, LoginThrottle, StaffUser
from quiz.privacy.protection import Protector
from quiz.staff.audit import record
from quiz.text_safety import strip_invisible

PASSWORD_MIN = 8
PASSWORD_MAX = 128
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
# Failed attempts are counted per (account name, client address): the fifth in a row from
# one client locks that client out of that account for FIRST_LOCK, and every further
# failure doubles the wait (up to MAX_LOCK). The account's owner elsewhere is not locked
# out by a stranger's guesses; the per-account rate limit on the login view still caps
# guesses from many addresses.
MAX_FAILED_LOGINS = 5
FIRST_LOCK = timedelta(minutes=1)
MAX_LOCK = timedelta(hours=24)
FORGET_FAILURES = timedelta(days=1)  # failures older than this no longer count
RECOVERY_CODE_COUNT = 10
TOTP_ISSUER = "有奖竞答管理后台"
HEAD_OFFICE_ROLES = ("admin", "analyst")
ROLE_LABELS = {"admin": "总公司管理员", "analyst": "总公司分析员", "branch": "机构人员"}
# Permissions beyond a role's pages, and the roles that hold them. 活动管理 (building and
# changing campaigns in the editor) is head office's: branch staff never have it.
PERMISSIONS: dict[str, tuple[str, ...]] = {
    "manage_campaigns": HEAD_OFFICE_ROLES,
    # 风控审核: the fraud review queue (quiz.fraud.review), head office only.
    "review_risk": HEAD_OFFICE_ROLES,
}
PERMISSION_LABELS = {"manage_campaigns": "活动管理", "review_risk": "风控审核"}


def has_permission(user: StaffUser, permission: str) -> bool:
    """Whether the user's role holds the permission (an unknown one: nobody)."""
    return user.active and user.role in PERMISSIONS.get(permission, ())


# Unambiguous alphabet for recovery codes (no 0/O, 1/I/L): 16 chars ~ 80 bits.
_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"

hasher = PasswordHasher()
# Verified against when the username is unknown, so both paths cost one argon2 run.
_DUMMY_HASH = hasher.hash(secrets.token_urlsafe(16))


class AuthError(Exception):
    """A refused staff operation; str(error) is the Chinese message to show."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class UserChanges:
    """What an admin may change on an account."""

    display_name: str
    role: str
    branch_id: int | None
    active: bool
    can_reveal: bool
    can_call: bool = False


# --- passwords ---------------------------------------------------------------


@functools.cache
def common_passwords() -> frozenset[str]:
    """The 30,000 most common passwords of zxcvbn's list (leaked password dumps), lower case.

    Loaded on first use: the list is a few megabytes that only password changes need.
    """
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(word.casefold() for word in FREQUENCY_LISTS["passwords"])


def check_password_rules(password: str, username: str) -> None:
    """Length 8-128, any characters, not the username, not a commonly used password."""
    if len(password) < PASSWORD_MIN:
        raise AuthError(f"密码至少需要 {PASSWORD_MIN} 个字符。", "password")
    if len(password) > PASSWORD_MAX:
        raise AuthError(f"密码最多 {PASSWORD_MAX} 个字符。", "password")
    if password.strip().casefold() == username.strip().casefold():
        raise AuthError("密码不能与用户名相同。", "password")
    if password.strip().casefold() in common_passwords():
        raise AuthError("这是一个常见密码,很容易被猜中,请换一个。", "password")


def hash_password(password: str) -> str:
    """An argon2id hash with the current parameters."""
    return hasher.hash(password)


def verify_password(user: StaffUser, password: str) -> bool:
    """Check a password; upgrade the stored hash when the parameters changed."""
    try:
        hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    return True


# --- accounts ----------------------------------------------------------------


def normalise_username(username: str) -> str:
    return username.strip().lower()


def _check_role(session: Session, role: str, branch_id: int | None) -> int | None:
    if role not in ROLES:
        raise AuthError("角色无效。", "role")
    if role in HEAD_OFFICE_ROLES:
        return None  # head office sees every branch: a branch would only confuse scoping
    if branch_id is None or session.get(Branch, branch_id) is None:
        raise AuthError("机构人员必须指定所属机构。", "branch_id")
    return branch_id


def branch_by_code(session: Session, code: str) -> Branch:
    """The branch with this code, or AuthError."""
    branch = session.scalars(select(Branch).where(Branch.code == code.strip())).first()
    if branch is None:
        raise AuthError(f"机构代码 {code} 不存在。", "branch_id")
    return branch


def create_user(
    session: Session,
    username: str,
    password: str,
    role: str,
    *,
    branch_id: int | None = None,
    can_reveal: bool = False,
    can_call: bool = False,
    display_name: str = "",
    actor: StaffUser | None = None,
    actor_name: str | None = None,
    ip: str | None = None,
) -> StaffUser:
    """Create an account; it must enrol a second factor at first login when required."""
    username = normalise_username(username)
    if not USERNAME_RE.fullmatch(username):
        raise AuthError("用户名为 2-64 位小写字母、数字或 . _ -,并以字母或数字开头。", "username")
    if session.scalars(select(StaffUser.id).where(StaffUser.username == username)).first():
        raise AuthError("该用户名已存在。", "username")
    check_password_rules(password, username)
    branch_id = _check_role(session, role, branch_id)
    user = StaffUser(
        username=username,
        display_name=strip_invisible(display_name).strip()[:100],
        password_hash=hash_password(password),
        role=role,
        branch_id=branch_id,
        can_reveal=can_reveal,
        can_call=can_call,
        session_version=1,
        active=True,
    )
    session.add(user)
    session.flush()
    record(
        session,
        actor,
        "user_create",
        f"user:{user.username}",
        {"role": role, "branch_id": branch_id, "can_reveal": can_reveal, "can_call": can_call},
        ip,
        actor_name=actor_name,
    )
    return user


def _active_admins(session: Session) -> int:
    stmt = select(func.count()).where(StaffUser.role == "admin", StaffUser.active.is_(True))
    return int(session.scalar(stmt) or 0)


def update_user(
    session: Session,
    user: StaffUser,
    changes: UserChanges,
    *,
    actor: StaffUser | None,
    ip: str | None = None,
) -> dict[str, list[object]]:
    """Apply an admin's edit; refuse to leave the site without an active admin."""
    branch_id = _check_role(session, changes.role, changes.branch_id)
    losing_admin = (
        user.role == "admin" and user.active and (changes.role != "admin" or not changes.active)
    )
    if losing_admin and _active_admins(session) <= 1:
        raise AuthError("不能停用或降级最后一个有效的管理员账户。", "role")
    before = {
        "display_name": user.display_name,
        "role": user.role,
        "branch_id": user.branch_id,
        "active": user.active,
        "can_reveal": user.can_reveal,
        "can_call": user.can_call,
    }
    after = {
        "display_name": strip_invisible(changes.display_name).strip()[:100],
        "role": changes.role,
        "branch_id": branch_id,
        "active": changes.active,
        "can_reveal": changes.can_reveal,
        "can_call": changes.can_call,
    }
    diff = {k: [before[k], after[k]] for k in before if before[k] != after[k]}
    if not diff:
        return diff
    for key, value in after.items():
        setattr(user, key, value)
    if {"role", "branch_id", "active", "can_reveal", "can_call"} & diff.keys():
        # New rights (or none) apply at once: the user signs in again.
        user.session_version += 1
    session.flush()
    action = "user_deactivate" if "active" in diff and not changes.active else "user_update"
    record(session, actor, action, f"user:{user.username}", {"changes": diff}, ip)
    return diff


def admin_reset_password(
    session: Session,
    user: StaffUser,
    new_password: str,
    *,
    actor: StaffUser | None,
    actor_name: str | None = None,
    ip: str | None = None,
) -> None:
    """Set a new password chosen by an admin; ends the user's sessions and lifts every lock."""
    check_password_rules(new_password, user.username)
    user.password_hash = hash_password(new_password)
    session.execute(delete(LoginThrottle).where(LoginThrottle.username == user.username))
    user.session_version += 1
    session.flush()
    record(
        session,
        actor,
        "user_reset_password",
        f"user:{user.username}",
        {},
        ip,
        actor_name=actor_name,
    )


def admin_reset_totp(
    session: Session,
    user: StaffUser,
    *,
    actor: StaffUser | None,
    actor_name: str | None = None,
    ip: str | None = None,
) -> None:
    """Forget the second factor: the user enrols again at next login."""
    user.totp_secret_enc = None
    user.recovery_codes = None
    user.totp_last_step = None
    user.session_version += 1
    session.flush()
    record(
        session, actor, "user_reset_totp", f"user:{user.username}", {}, ip, actor_name=actor_name
    )


# --- login ---------------------------------------------------------------------


def _client(ip: str | None) -> str:
    return (ip or "-")[:64]


def _throttle_insert(dialect: Any) -> Any:
    table = LoginThrottle.__table__
    return (
        dialect.insert(table)
        .values(failures=0)
        .on_conflict_do_nothing(index_elements=[table.c.username, table.c.client])
    )


# A first failure from two requests at once must not collide on the unique pair.
_THROTTLE_INSERTS = {"postgresql": _throttle_insert(postgresql), "sqlite": _throttle_insert(sqlite)}


def lock_remaining(
    session: Session, name: str, ip: str | None, now: datetime | None = None
) -> timedelta | None:
    """How long this client is still locked out of this account name, or None."""
    now = now or utcnow()
    until = session.scalar(
        select(LoginThrottle.locked_until).where(
            LoginThrottle.username == name, LoginThrottle.client == _client(ip)
        )
    )
    return until - now if until is not None and until > now else None


def is_locked(session: Session, name: str, ip: str | None, now: datetime | None = None) -> bool:
    return lock_remaining(session, name, ip, now) is not None


def locked_names(session: Session, now: datetime | None = None) -> set[str]:
    """Account names locked for at least one client (shown on the staff accounts pages)."""
    now = now or utcnow()
    stmt = select(LoginThrottle.username).where(LoginThrottle.locked_until > now).distinct()
    return set(session.scalars(stmt))


def _fail(session: Session, name: str, ip: str | None, now: datetime) -> None:
    """Count a failed attempt of this client on this name; lock it with a doubling back-off."""
    client = _client(ip)
    session.execute(
        _THROTTLE_INSERTS[session.get_bind().dialect.name].values(
            username=name, client=client, last_failure_at=now
        )
    )
    row = session.scalars(
        select(LoginThrottle)
        .where(LoginThrottle.username == name, LoginThrottle.client == client)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    if row.failures and row.last_failure_at < now - FORGET_FAILURES:
        row.failures = 0
    row.failures += 1
    row.last_failure_at = now
    over = row.failures - MAX_FAILED_LOGINS
    if over >= 0:
        row.locked_until = now + min(FIRST_LOCK * 2 ** min(over, 20), MAX_LOCK)
    # Forget stale pairs now and then, so names tried once do not pile up.
    session.execute(
        delete(LoginThrottle).where(
            LoginThrottle.last_failure_at < now - FORGET_FAILURES,
            (LoginThrottle.locked_until.is_(None)) | (LoginThrottle.locked_until < now),
        )
    )
    session.flush()


def _succeed(session: Session, name: str, ip: str | None) -> None:
    """The right password from this client: its earlier failures stop counting."""
    session.execute(
        delete(LoginThrottle).where(
            LoginThrottle.username == name, LoginThrottle.client == _client(ip)
        )
    )


def locked_message(wait: timedelta | None) -> str:
    minutes = max(1, math.ceil((wait or FIRST_LOCK).total_seconds() / 60))
    return f"失败次数过多,已暂时禁止从您的网络登录该账户,请 {minutes} 分钟后再试或联系管理员。"


LOCKED_MESSAGE = locked_message(FIRST_LOCK)
BAD_CREDENTIALS = "用户名或密码错误。"


def authenticate(
    session: Session,
    username: str,
    password: str,
    *,
    ip: str | None = None,
    now: datetime | None = None,
) -> StaffUser:
    """First factor: the password. Failures are audited and counted towards the lock."""
    now = now or utcnow()
    name = normalise_username(username)[:64]
    user = session.scalars(select(StaffUser).where(StaffUser.username == name)).first()
    usable = user is not None and user.active
    wait = lock_remaining(session, name, ip, now)
    if wait is not None:
        # Unknown and inactive names lock exactly as real ones do (no enumeration).
        record(
            session,
            user,
            "login_failed",
            f"user:{name}",
            {"reason": "locked"},
            ip,
            actor_name=name,
        )
        raise AuthError(locked_message(wait))
    if not usable:
        # Same work and same messages for unknown and inactive accounts (no enumeration).
        with contextlib.suppress(VerificationError):
            hasher.verify(_DUMMY_HASH, password)
        reason = "unknown" if user is None else "inactive"
        ok = False
    else:
        assert user is not None
        ok = verify_password(user, password)
        reason = "password"
    if not ok:
        _fail(session, name, ip, now)
        record(
            session,
            user,
            "login_failed",
            f"user:{name}",
            {"reason": reason},
            ip,
            actor_name=name,
        )
        wait = lock_remaining(session, name, ip, now)
        raise AuthError(locked_message(wait) if wait else BAD_CREDENTIALS)
    assert user is not None
    session.flush()
    return user


def second_factor_required(user: StaffUser, branch_totp: bool) -> bool:
    """Head office always; anyone who may see full personal data (can_reveal); other
    branch staff when configured, or once they have enrolled."""
    return (
        user.role in HEAD_OFFICE_ROLES
        or bool(user.can_reveal)
        or branch_totp
        or user.totp_secret_enc is not None
    )


def complete_login(
    session: Session,
    user: StaffUser,
    method: str,
    *,
    ip: str | None = None,
    now: datetime | None = None,
) -> None:
    """Both factors passed: this client's failures stop counting; audit the login."""
    _succeed(session, user.username, ip)
    user.last_login_at = now or utcnow()
    session.flush()
    record(session, user, "login", f"user:{user.username}", {"second_factor": method}, ip)


# --- TOTP and recovery codes ----------------------------------------------------


def new_totp_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(user: StaffUser, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=TOTP_ISSUER)


def qr_svg(uri: str) -> str:
    """The otpauth:// URI as an inline SVG QR code, drawn here (no external service)."""
    return str(segno.make(uri, error="m").svg_inline(scale=4, title="二维码"))


def _matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step (±1 for clock drift) whose code equals `code`, if any."""
    code = re.sub(r"\s", "", code)
    if not re.fullmatch(r"[0-9]{6}", code):
        return None
    totp = pyotp.TOTP(secret)
    step = totp.timecode(now)
    for candidate in (step - 1, step, step + 1):
        if hmac.compare_digest(totp.generate_otp(candidate), code):
            return candidate
    return None


def _hash_code(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def _normalise_code(code: str) -> str:
    return re.sub(r"[\s-]", "", code).upper()


def _new_recovery_codes(user: StaffUser) -> list[str]:
    codes = [
        "".join(secrets.choice(_CODE_ALPHABET) for _ in range(16))
        for _ in range(RECOVERY_CODE_COUNT)
    ]
    user.recovery_codes = [_hash_code(c) for c in codes]
    return ["-".join(c[i : i + 4] for i in range(0, 16, 4)) for c in codes]


def confirm_enrolment(
    session: Session,
    protector: Protector,
    user: StaffUser,
    secret: str,
    code: str,
    *,
    ip: str | None = None,
    now: datetime | None = None,
) -> list[str]:
    """Store the secret once the user proves their app has it; return fresh recovery codes."""
    now = now or utcnow()
    step = _matching_step(secret, code, now)
    if step is None:
        _fail(session, user.username, ip, now)
        record(session, user, "totp_failed", f"user:{user.username}", {"stage": "enrol"}, ip)
        raise AuthError("验证码不正确,请确认手机时间准确后重试。", "code")
    user.totp_secret_enc = protector.encrypt(secret)
    user.totp_last_step = step
    codes = _new_recovery_codes(user)
    session.flush()
    record(session, user, "totp_enrol", f"user:{user.username}", {}, ip)
    return codes


def verify_second_factor(
    session: Session,
    protector: Protector,
    user: StaffUser,
    code: str,
    *,
    ip: str | None = None,
    now: datetime | None = None,
) -> str:
    """Check a TOTP code (each accepted once) or a recovery code (each usable once)."""
    now = now or utcnow()
    wait = lock_remaining(session, user.username, ip, now)
    if wait is not None:
        raise AuthError(locked_message(wait))
    if user.totp_secret_enc is None:
        raise AuthError("尚未设置两步验证。")
    secret = protector.decrypt(user.totp_secret_enc)
    step = _matching_step(secret, code, now)
    if step is not None and (user.totp_last_step is None or step > user.totp_last_step):
        user.totp_last_step = step
        session.flush()
        return "totp"
    normalised = _normalise_code(code)
    if len(normalised) == 16:
        digest = _hash_code(normalised)
        stored = list(user.recovery_codes or [])
        if digest in stored:
            stored.remove(digest)
            user.recovery_codes = stored  # a new list, so the JSON column sees the change
            session.flush()
            record(
                session,
                user,
                "recovery_code_used",
                f"user:{user.username}",
                {"left": len(stored)},
                ip,
            )
            return "recovery"
    _fail(session, user.username, ip, now)
    record(session, user, "totp_failed", f"user:{user.username}", {"stage": "login"}, ip)
    wait = lock_remaining(session, user.username, ip, now)
    raise AuthError(locked_message(wait) if wait else "验证码或恢复码不正确。", "code")


def _reenter_password(
    session: Session,
    user: StaffUser,
    password: str,
    purpose: str,
    field: str,
    ip: str | None,
    now: datetime | None,
) -> None:
    """Check a re-entered password like a sign-in: locked clients are refused, failures
    count towards the lock, and every refusal is audited (the caller audits success)."""
    now = now or utcnow()
    target = f"user:{user.username}"
    wait = lock_remaining(session, user.username, ip, now)
    if wait is not None:
        detail = {"purpose": purpose, "reason": "locked"}
        record(session, user, "password_reentry_failed", target, detail, ip)
        raise AuthError(locked_message(wait), field)
    if not verify_password(user, password):
        _fail(session, user.username, ip, now)
        detail = {"purpose": purpose, "reason": "password"}
        record(session, user, "password_reentry_failed", target, detail, ip)
        wait = lock_remaining(session, user.username, ip, now)
        raise AuthError(locked_message(wait) if wait else "当前密码不正确。", field)
    _succeed(session, user.username, ip)


def regenerate_recovery_codes(
    session: Session,
    user: StaffUser,
    password: str,
    *,
    ip: str | None = None,
    now: datetime | None = None,
) -> list[str]:
    """New recovery codes (old ones stop working), after re-entering the password."""
    if user.totp_secret_enc is None:
        raise AuthError("尚未设置两步验证。")
    _reenter_password(session, user, password, "recovery_codes", "password", ip, now)
    codes = _new_recovery_codes(user)
    session.flush()
    record(session, user, "recovery_codes_new", f"user:{user.username}", {}, ip)
    return codes


# --- own account and sessions ----------------------------------------------------


def change_password(
    session: Session,
    user: StaffUser,
    current: str,
    new: str,
    *,
    ip: str | None = None,
    now: datetime | None = None,
) -> None:
    """Change one's own password; every other session of the account ends."""
    _reenter_password(session, user, current, "password_change", "current", ip, now)
    check_password_rules(new, user.username)
    if verify_password(user, new):
        raise AuthError("新密码不能与当前密码相同。", "password")
    user.password_hash = hash_password(new)
    user.session_version += 1
    session.flush()
    record(session, user, "password_change", f"user:{user.username}", {}, ip)


def end_sessions(
    session: Session, user: StaffUser, action: str = "logout", *, ip: str | None = None
) -> None:
    """Invalidate every session cookie of this account (logout, logout everywhere)."""
    user.session_version += 1
    session.flush()
    record(session, user, action, f"user:{user.username}", {}, ip)
