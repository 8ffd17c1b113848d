"""The campaign switcher: which campaign every staff page shows, remembered per user.

Dashboard, leads, exports, referral links and leaderboard, draw and branch counts all
read `selected_campaign()`; a small form in the page header (POST /admin/campaign)
changes it and StaffUser.current_campaign_id keeps it across sign-ins. A staff page the
selected campaign's kind does not have (quiz.campaign.kinds) answers 404.
"""

from __future__ import annotations

from typing import Any

from flask import abort, g, redirect, request, url_for
from flask.typing import ResponseReturnValue

from quiz.admin import PUBLIC_ENDPOINTS, bp
from quiz.admin.access import any_staff, current_staff
from quiz.admin.auth_views import safe_next
from quiz.admin.forms import ActionForm
from quiz.campaign import kinds
from quiz.campaign.lifecycle import STAGES
from quiz.campaign.workspace import (
    UnknownCampaign,
    campaign_rows,
    choose_campaign,
)
from quiz.campaign.workspace import selected_campaign as _selected
from quiz.models import MAX_ID, Campaign
from quiz.web.request import db

# The staff page (kinds.STAFF_PAGES) each endpoint belongs to; endpoints not named here
# (accounts, branches, audit, sign-in) are common to every kind.
PAGE_OF_ENDPOINT_PREFIX = (
    ("admin.dashboard", "dashboard"),
    ("admin.intent_analysis", "dashboard"),
    ("admin.leads", "leads"),
    ("admin.lead_", "leads"),
    ("admin.export", "exports"),
    ("admin.referrals", "referrals"),
    ("admin.leaderboard", "leaderboard"),
    ("admin.draw", "draw"),
    ("admin.artwork", "artwork"),
    # 风控审核 reviews the entries before the draw: a kind without a draw has no queue.
    ("admin.risk", "draw"),
)


def selected_campaign() -> Campaign | None:
    """The campaign the signed-in user works on (read once per request)."""
    if "selected_campaign" not in g:
        user = current_staff()
        g.selected_campaign = _selected(db(), user) if user is not None else None
    return g.selected_campaign  # type: ignore[no-any-return]


def _page_of(endpoint: str) -> str | None:
    for prefix, page in PAGE_OF_ENDPOINT_PREFIX:
        if endpoint.startswith(prefix):
            return page
    return None


@bp.before_request
def _kind_has_the_page() -> ResponseReturnValue | None:
    endpoint = request.endpoint or ""
    if endpoint in PUBLIC_ENDPOINTS or current_staff() is None:
        return None  # the sign-in check answers first
    page = _page_of(endpoint)
    if endpoint == "admin.dashboard":
        page = None  # the start page: it sends a kind without figures to its own page
    campaign = selected_campaign() if page else None
    if campaign is not None and page and not kinds.has_staff_page(campaign.kind, page):
        abort(404)
    return None


@bp.context_processor
def _switcher_context() -> dict[str, Any]:
    if request.endpoint in PUBLIC_ENDPOINTS or current_staff() is None:
        return {}
    selected = selected_campaign()
    return {
        "switcher": {
            "selected": selected,
            "selected_kind": kinds.label(selected.kind) if selected else "",
            "choices": [
                (row.id, f"{row.name}({kinds.label(row.kind)} · {STAGES[row.stage]})")
                for row in campaign_rows(db(), count_entries=False)
            ],
            "form": ActionForm(formdata=None),
            "next": request.full_path if request.method == "GET" else None,
        },
        "staff_page_of": lambda endpoint: _page_of(endpoint),
        "kind_has_page": lambda endpoint: (
            selected is None
            or _page_of(endpoint) is None
            or kinds.has_staff_page(selected.kind, _page_of(endpoint) or "")
        ),
    }


@bp.post("/campaign")
@any_staff
def switch_campaign() -> ResponseReturnValue:
    """Remember the chosen campaign for this user, then go back to the page they were on."""
    form = ActionForm()
    raw = request.form.get("campaign_id", "")
    if not form.validate_on_submit() or not (raw.isascii() and raw.isdigit()):
        abort(400)
    campaign_id = int(raw)
    if not 1 <= campaign_id <= MAX_ID:
        abort(400)
    user = current_staff()
    assert user is not None
    try:
        choose_campaign(db(), user, campaign_id)
    except UnknownCampaign:
        abort(404)
    db().commit()
    target = safe_next(request.form.get("next"))
    if not target or not target.startswith("/admin"):
        target = url_for("admin.dashboard")
    # The page's own campaign filter (leads) would otherwise keep the old campaign.
    return redirect(target.split("?", 1)[0])
