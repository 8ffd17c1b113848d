"""Public referral routes: /r/<code> remembers who referred the visitor; QR images."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, g, redirect, session, url_for
from flask.typing import ResponseReturnValue
from flask.wrappers import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from quiz.extensions import limiter
from quiz.models import Campaign, ReferralLink
from quiz.public import bp
from quiz.referrals import links as referrals
from quiz.referrals import posters
from quiz.referrals.links import COOKIE_NAME, SESSION_KEY, normalise_code
from quiz.web.request import db, public_base_url


def _campaign_page_of(link: ReferralLink | None) -> str:
    """Where a link leads: under /c/<slug>/ the campaign it names; at /r/<code> the
    campaign the link was made for (migration 0010 gave old links the one there was),
    else the site's front page."""
    if g.get("campaign_slug"):
        return url_for("public.campaign_page")
    if link is not None and link.campaign_id is not None:
        campaign = db().get(Campaign, link.campaign_id)
        if campaign is not None and campaign.status == "published":
            return url_for("public.campaign_page", slug=campaign.slug)
    return url_for("public.campaign_page")


@bp.get("/r/<path:code>")
def referral(code: str) -> ResponseReturnValue:
    """Store a known code in the session and a cookie, then show the campaign page."""
    # Chat apps and people pasting the link add a trailing slash: the code is the same.
    link = referrals.link_by_code(db(), code.rstrip("/"))
    response = redirect(_campaign_page_of(link))
    if link is None:
        # Unknown or malformed: ignored, the visitor takes part unattributed.
        return response
    session.permanent = True
    session[referrals.SESSION_KEY] = link.code
    response.set_cookie(
        referrals.COOKIE_NAME,
        link.code,
        max_age=referrals.COOKIE_MAX_AGE,
        httponly=True,
        samesite="Lax",
        secure=bool(current_app.config.get("QUIZ_HTTPS")),
    )
    return response


def _link_url(code: str) -> str:
    link = referrals.link_by_code(db(), code)
    if link is None:
        abort(404)
    return referrals.short_url(public_base_url(), link.code)


@bp.get("/r/<code>/qr.svg", unscoped=True)
@limiter.limit("120/minute")
def referral_qr_svg(code: str) -> ResponseReturnValue:
    """The QR code of a link as SVG."""
    return _qr_response(posters.qr_svg(_link_url(code)), "image/svg+xml")


@bp.get("/r/<code>/qr.png", unscoped=True)
@limiter.limit("120/minute")
def referral_qr_png(code: str) -> ResponseReturnValue:
    """The QR code of a link as PNG."""
    return _qr_response(posters.qr_png(_link_url(code)), "image/png")


def _qr_response(body: str | bytes, mimetype: str) -> Response:
    """Cacheable for a day. Without QUIZ_PUBLIC_URL the image encodes the request's Host,
    so caches must key on it: one forged Host must not plant its QR for everyone."""
    response = Response(body, mimetype=mimetype)
    response.cache_control.public = True
    response.cache_control.max_age = 86400
    if not current_app.config.get("QUIZ_PUBLIC_URL"):
        response.vary.add("Host")
    return response


def referral_for_request(db: Session, campaign: Campaign) -> dict[str, Any] | None:
    """The referral carried in the visitor's session or cookie, resolved against the links.

    A code that is malformed or no longer exists yields None: the person still takes part.
    """
    from flask import request
    from flask import session as web_session

    code = normalise_code(web_session.get(SESSION_KEY) or request.cookies.get(COOKIE_NAME))
    if code is None:
        return None
    link = db.scalars(select(ReferralLink).where(ReferralLink.code == code)).first()
    if link is None:
        return None
    return {
        "link_id": link.id,
        "agent_id": link.agent_id,
        "channel_id": link.channel_id,
        "branch_id": link.branch_id,
        "rule": campaign.content.get("referral_rule", "address"),
    }
