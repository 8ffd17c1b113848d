"""Access control in one place: who is logged in, roles, and branch scoping."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Response, abort, g, redirect, request, session, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from quiz.admin import PUBLIC_ENDPOINTS, bp
from quiz.leads.scope import HEAD_OFFICE, scope_leads
from quiz.models import Participant, StaffUser
from quiz.staff.auth import PERMISSIONS
from quiz.web.request import db

F = TypeVar("F", bound=Callable[..., Any])

SESSION_KEY = "staff"


def current_staff() -> StaffUser | None:
    """The logged-in staff user, if the session cookie is still valid."""
    if "staff_user" in g:
        return g.staff_user  # type: ignore[no-any-return]
    user: StaffUser | None = None
    data = session.get(SESSION_KEY)
    if isinstance(data, dict) and data.get("totp_ok"):
        candidate = db().get(StaffUser, data.get("id"))
        # A bumped session_version (logout everywhere, password change) kills old cookies.
        if (
            candidate is not None
            and candidate.active
            and candidate.session_version == data.get("ver")
        ):
            user = candidate
    g.staff_user = user
    return user


@bp.before_request
def _require_login() -> ResponseReturnValue | None:
    if request.endpoint in PUBLIC_ENDPOINTS or request.endpoint is None:
        return None
    if current_staff() is None:
        if request.method == "GET":
            return redirect(url_for("admin.login", next=request.full_path))
        abort(401)
    return None


@bp.after_request
def _never_stored(response: Response) -> Response:
    """Staff pages and downloads hold personal data: no cache may keep them. send_file
    (posters.zip, export jobs) would say no-cache, which still lets a browser store."""
    response.headers["Cache-Control"] = "no-store"
    return response


def roles_required(*roles: str) -> Callable[[F], F]:
    """Allow only these roles; everyone else gets 403."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            user = current_staff()
            if user is None:
                abort(401)
            if user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        wrapped.required_roles = roles  # type: ignore[attr-defined]
        return wrapped  # type: ignore[return-value]

    return decorator


head_office_required = roles_required(*HEAD_OFFICE)
# 活动管理: the campaign editor (quiz.staff.auth.PERMISSIONS says which roles hold it).
manage_campaigns = roles_required(*PERMISSIONS["manage_campaigns"])
# 风控审核: the fraud review queue (quiz.staff.auth.PERMISSIONS says which roles hold it).
review_risk = roles_required(*PERMISSIONS["review_risk"])
admin_required = roles_required("admin")
any_staff = roles_required("admin", "analyst", "branch")


def scoped_staff(view: F) -> F:
    """Any staff user with a lead scope: head office, or branch staff who have a branch.
    A branch account without one (the database refuses it; fail closed anyway) gets 403."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        user = current_staff()
        if user is None:
            abort(401)
        if user.role not in HEAD_OFFICE and (user.role != "branch" or user.branch_id is None):
            abort(403)
        return view(*args, **kwargs)

    wrapped.required_roles = ("admin", "analyst", "branch")  # type: ignore[attr-defined]
    return wrapped  # type: ignore[return-value]


def lead_or_404(participant_id: int, user: StaffUser) -> Participant:
    """One lead the user may see; another branch's lead is a 404 (no existence leak)."""
    stmt = scope_leads(select(Participant).where(Participant.id == participant_id), user)
    participant = db().scalars(stmt).first()
    if participant is None:
        abort(404)
    return participant


def can_reveal(user: StaffUser) -> bool:
    """Seeing personal data in full is a separate permission."""
    return bool(user.can_reveal) and user.role in ("admin", "branch", "analyst")
