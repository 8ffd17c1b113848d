"""Staff pages (head office and branches): one blueprint, split into modules by topic.

Every view module registers on `bp`; `bp.before_request` refuses anonymous
users for every route except the login pages, so a new route cannot forget it.
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

# Routes reachable without a logged-in staff user (login itself and its second step).
PUBLIC_ENDPOINTS = frozenset({"admin.login", "admin.login_totp"})


def load_views() -> None:
    """Import the view modules so their routes register on bp."""
    from quiz.admin import (  # noqa: F401
        access,
        artwork_views,
        audit_views,
        auth_views,
        branches_views,
        campaign_views,
        contest_views,
        dashboard_views,
        draw_views,
        editor_views,
        exports_views,
        leads_views,
        list_draw_views,
        owners_views,
        race_views,
        referral_views,
        risk_views,
        users_views,
        webhooks_views,
    )
