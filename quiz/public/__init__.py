"""The public site: campaign page, registration, quiz, result, referral links, draw pages.

Every view module of the public blueprint registers on `bp`; the draw pages keep their
own blueprint (`draw_public`), so their endpoint names stay as printed and published.
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("public", __name__)


def load_views() -> None:
    """Import the view modules so their routes register on bp."""
    from quiz.public import entry_views, preview_views, referral_views  # noqa: F401
