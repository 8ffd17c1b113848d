"""Preview links: a staff page frames a draft campaign's public pages by a signed token.

The editor (admin) issues the token; the public blueprint renders the draft with the
real templates and forms when it carries one. Neither blueprint imports the other: both
use this module. A token names one campaign and lasts an hour; only staff pages that hold
the 活动管理 permission hand one out.
"""

from __future__ import annotations

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer

MAX_AGE_SECONDS = 3600
# A preview page may be framed by the site's own staff page, nothing else.
PREVIEW_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'none'; frame-ancestors 'self'; "
    "base-uri 'none'; object-src 'none'"
)


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key or "", salt="campaign-preview")


def preview_token(campaign_id: int) -> str:
    """A token that shows the campaign's pages in the preview for an hour."""
    return _serializer().dumps({"c": campaign_id})


def campaign_of_token(token: str) -> int | None:
    """The campaign id a valid, unexpired token names; None otherwise."""
    try:
        data = _serializer().loads(token, max_age=MAX_AGE_SECONDS)
    except BadSignature:
        return None
    value = data.get("c") if isinstance(data, dict) else None
    return value if isinstance(value, int) else None


PREVIEW_PAGES = ("campaign", "register", "question", "intent", "result", "privacy")
# The public pages of the kinds without the quiz's steps: their own first page, the rules.
KIND_PREVIEW_PAGES = {
    "list_draw": ("campaign", "privacy"),
    "staff_contest": ("campaign", "privacy"),
}


def preview_pages(kind: str) -> tuple[str, ...]:
    """The pages the editor previews for a campaign of `kind`."""
    return KIND_PREVIEW_PAGES.get(kind, PREVIEW_PAGES)
