"""The public site: campaign page, registration, quiz, result, referral links, draw pages.

Every view module of the public blueprint registers on `bp`; the draw pages keep their
own blueprint (`draw_public`), so their endpoint names stay as printed and published.

Several campaigns are live at once, each under /c/<slug>/. Both blueprints are
CampaignBlueprints: every route is registered twice under the same endpoint, at its old
address (which serves the campaign the site served before there were several, see
lifecycle.current_campaign) and under /c/<slug>. The slug never reaches a view: a URL
value preprocessor moves it into `g.campaign_slug`, and `url_for` puts it back into every
public address built during that request, so a page under /c/<slug>/ links only within
its campaign and the view bodies stay as they were.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, current_app, g

PREFIX = "/c/<slug>"
# Sent by static/js/quiz-answer.js with each answer it posts for the page (the quiz's
# and the staff contest's): the reply is the next page itself, not a redirect to it.
ANSWERED_BY_SCRIPT = "X-Quiz-Answer-Fetch"


class CampaignBlueprint(Blueprint):
    """A blueprint whose routes also answer under /c/<slug> (pass unscoped=True to a route
    that belongs to no campaign, e.g. a QR image of a link)."""

    def add_url_rule(
        self,
        rule: str,
        endpoint: str | None = None,
        view_func: Any = None,
        provide_automatic_options: bool | None = None,
        **options: Any,
    ) -> None:
        unscoped = options.pop("unscoped", False)
        super().add_url_rule(rule, endpoint, view_func, provide_automatic_options, **options)
        if not unscoped:
            # Same endpoint: url_for builds the /c/ form whenever a slug is given (werkzeug
            # tries the rule with more arguments first) and the old one otherwise.
            endpoint = endpoint or (view_func.__name__ if view_func else None)
            super().add_url_rule(
                PREFIX + rule, endpoint, view_func, provide_automatic_options, **options
            )

    def scope_by_campaign(self) -> None:
        """Move the slug into g on the way in and back into public URLs on the way out."""

        @self.url_value_preprocessor
        def _take_slug(_endpoint: str | None, values: dict[str, Any] | None) -> None:
            g.campaign_slug = values.pop("slug", None) if values else None

        @self.url_defaults
        def _give_slug(endpoint: str, values: dict[str, Any]) -> None:
            slug = g.get("campaign_slug")
            if (
                slug
                and "slug" not in values
                and current_app.url_map.is_endpoint_expecting(endpoint, "slug")
            ):
                values["slug"] = slug


bp = CampaignBlueprint("public", __name__)
bp.scope_by_campaign()

# A kind with its own campaign page (/c/<slug>/) registers the view here, by kind code
# (e.g. the staff contest's sign-in); the others get the prize quiz's campaign page.
KIND_PAGES: dict[str, Callable[[Any], Any]] = {}


def load_views() -> None:
    """Import the view modules so their routes register on bp."""
    from quiz.public import (  # noqa: F401
        agent_views,
        artwork_views,
        contest_views,
        entry_views,
        preview_views,
        referral_views,
    )
