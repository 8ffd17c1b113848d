"""Public draw pages: the frozen entrant file and digest, winners, look-ups and self-check."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

from flask import Response, abort, current_app, g, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session
from wtforms import StringField
from wtforms.validators import ValidationError

from quiz import identity
from quiz.campaign import kinds
from quiz.campaign.lifecycle import campaign_by_slug, current_campaign
from quiz.db import Database
from quiz.draw import control, service
from quiz.extensions import limiter
from quiz.models import Campaign, Draw
from quiz.public import CampaignBlueprint
from quiz.web.forms import SafeForm
from quiz.web.request import page_arg, protector

bp = CampaignBlueprint("draw_public", __name__)
bp.scope_by_campaign()

WINNERS_PER_PAGE = 100


def db() -> Session:
    """A read session, even for the POST look-ups: they must not queue on SQLite's write lock."""
    if "draw_reader" not in g:
        g.draw_reader = current_app.extensions["quiz.db"].session(write=False)
    return g.draw_reader  # type: ignore[no-any-return]


@bp.teardown_app_request
def _close_reader(_exc: BaseException | None) -> None:
    reader = g.pop("draw_reader", None)
    if reader is not None:
        reader.close()


def _lookup_limit() -> str:
    return str(current_app.config.get("QUIZ_LOOKUP_LIMIT", "10/minute;60/hour"))


class _LookupForm(SafeForm):
    """A mobile and the last four characters of something only its owner knows: enough to
    find one's own entry, never anyone else's. Each kind of draw says which four."""

    HINT: ClassVar[str]
    LAST4_ERROR: ClassVar[str]
    normalise_last4: ClassVar[Callable[[str], str | None]]
    mobile = StringField("手机号码")

    def validate_mobile(self, field: Any) -> None:
        try:
            field.data = identity.validate_mobile((field.data or "")[:20])
        except identity.IdentityError as exc:
            raise ValidationError(str(exc)) from exc

    def validate_id_last4(self, field: Any) -> None:
        value = type(self).normalise_last4((field.data or "")[:8])
        if value is None:
            raise ValidationError(self.LAST4_ERROR)
        field.data = value


class ContactForm(_LookupForm):
    """A quiz participant: the mobile and the last four characters of the ID number."""

    HINT = "请输入报名时填写的手机号码和身份证号码后四位。"
    LAST4_ERROR = "请填写身份证号码的后四位(数字或字母X)"
    normalise_last4 = staticmethod(service.normalise_last4)
    id_last4 = StringField("身份证号码后四位")


class ListContactForm(_LookupForm):
    """A list draw's people never registered: the mobile and the last four characters of
    the 客户号 (or 保单号) the insurer's list holds for them. The field keeps ContactForm's
    name so that one macro renders both."""

    HINT = "请输入保单登记的手机号码和客户号(或保单号)后四位。"
    LAST4_ERROR = "请填写客户号或保单号的后四位(数字或字母)"
    normalise_last4 = staticmethod(service.normalise_customer_last4)
    id_last4 = StringField("客户号或保单号后四位")


def _campaign() -> Campaign:
    """The campaign at /c/<slug>/, else the old addresses' one; 404 if its kind has no draw."""
    slug = g.get("campaign_slug")
    campaign = current_campaign(db()) if slug is None else campaign_by_slug(db(), slug)
    if campaign is None or not kinds.has_public_step(campaign.kind, "draw"):
        abort(404)
    return campaign


def _number() -> int | None:
    """?draw=N: which of the campaign's draws (default: the newest frozen or drawn one)."""
    raw = request.args.get("draw", "")
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 1000:
        abort(404)
    return int(raw)


def _published(campaign: Campaign) -> Draw | None:
    return service.published_draw(db(), campaign, _number())


def _draw_or_404(campaign: Campaign) -> Draw:
    draw = _published(campaign)
    if draw is None:
        abort(404)
    return draw


@bp.get("/draw")
def draw_page() -> ResponseReturnValue:
    campaign = _campaign()
    draw = _published(campaign)
    return render_template(
        "draw/draw.html",
        list_draw=campaign.kind == "list_draw",
        campaign=campaign,
        draw=draw,
        voided=service.voided_draws(db(), campaign),
        void_requests=control.campaign_void_requests(db(), campaign.id),
        approved_request=control.approved_request,
        request_state=control.request_state,
        void_labels=control.VOID_STATUS_LABELS,
        freeze_deadline=service.freeze_deadline_of(campaign),
        winners=service.winner_count(db(), draw) if draw else 0,
        form=ContactForm(),
    )


@cache
def verification_program() -> str:
    """The stand-alone checker (Python 3, standard library only) from the draw's documented
    verification section, the same text the tests run against the algorithm; read once
    per process."""
    section = (Path(__file__).parent.parent / "draw" / "README_SECTION.md").read_text("utf-8")
    match = re.search(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert match is not None, "README_SECTION.md lost its Python block"
    return match.group(1)


@bp.get("/draw/verify_draw.py")
def verification_program_file() -> ResponseReturnValue:
    """Outsiders need the algorithm without this site's code: the checker as a download."""
    response = Response(verification_program(), content_type="text/plain; charset=utf-8")
    response.headers["Content-Disposition"] = "attachment; filename=verify_draw.py"
    response.cache_control.public = True
    response.cache_control.max_age = 3600
    return response


@bp.get("/draw/entrants.txt")
def entrants_file() -> ResponseReturnValue:
    campaign = _campaign()
    draw = _draw_or_404(campaign)
    database: Database = current_app.extensions["quiz.db"]
    draw_id = draw.id

    def generate() -> Iterator[bytes]:
        # Its own session: the file streams after the request's session is closed.
        session = database.session()
        try:
            frozen = session.get(Draw, draw_id)
            if frozen is not None:
                yield from service.entrant_file_chunks(session, frozen)
        finally:
            session.close()

    response = Response(generate(), content_type="text/plain; charset=utf-8")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="entrants-{campaign.slug}-{draw.id}.txt"'
    )
    return response


@bp.get("/draw/entrants.sha256")
def entrants_digest() -> ResponseReturnValue:
    campaign = _campaign()
    draw = _draw_or_404(campaign)
    body = f"{draw.entrant_digest}  entrants-{campaign.slug}-{draw.id}.txt\n"
    return Response(body, content_type="text/plain; charset=utf-8")


@bp.route("/draw/check", methods=["GET", "POST"])
@limiter.limit(_lookup_limit, methods=["POST"])
def entry_check() -> ResponseReturnValue:
    """A participant finds their own entry number in the published list."""
    campaign = _campaign()
    if campaign.kind == "list_draw":
        # Not offered: finding one entry would scan the whole list (no index on the mobile's
        # hash, see ListEntrant); the winner look-up reads only the winners.
        abort(404)
    draw = _published(campaign)
    form = ContactForm()
    context: dict[str, Any] = {"campaign": campaign, "draw": draw, "form": form}
    if request.method == "GET":
        return render_template("draw/check.html", **context)
    if not form.validate_on_submit():
        return render_template("draw/check.html", **context), 422
    numbers: list[int] = []
    if draw is not None:
        ids = service.participants_by_contact(
            db(), protector(), campaign, form.mobile.data, form.id_last4.data
        )
        numbers = service.entry_numbers_of(db(), draw, ids)
    return render_template("draw/check.html", numbers=numbers, checked=True, **context)


@bp.get("/winners")
def winners() -> ResponseReturnValue:
    campaign = _campaign()
    draw = _published(campaign)
    if draw is None or draw.status != "drawn":
        return render_template(
            "draw/winners.html", campaign=campaign, draw=draw, number=_number(), rows=[]
        )
    total = service.winner_count(db(), draw)
    pages = max(1, -(-total // WINNERS_PER_PAGE))
    page = page_arg(pages)
    rows = service.winner_rows(
        db(), draw, offset=(page - 1) * WINNERS_PER_PAGE, limit=WINNERS_PER_PAGE
    )
    return render_template(
        "draw/winners.html",
        campaign=campaign,
        draw=draw,
        number=_number(),
        rows=rows,
        page=page,
        pages=pages,
        total=total,
    )


@bp.route("/winners/lookup", methods=["GET", "POST"])
@limiter.limit(_lookup_limit, methods=["POST"])
def winner_lookup() -> ResponseReturnValue:
    """中奖 with the prize, or 未中奖; nothing else (not even whether the person entered)."""
    campaign = _campaign()
    draw = _published(campaign)
    on_list = campaign.kind == "list_draw"
    form = ListContactForm() if on_list else ContactForm()
    context: dict[str, Any] = {
        "campaign": campaign,
        "draw": draw,
        "form": form,
        "number": _number(),
    }
    if request.method == "GET":
        return render_template("draw/lookup.html", **context)
    if not form.validate_on_submit():
        return render_template("draw/lookup.html", **context), 422
    prizes = []
    if draw is not None and draw.status == "drawn":
        mobile, last4 = form.mobile.data, form.id_last4.data
        if on_list:
            prizes = service.list_prizes_by_contact(db(), protector(), draw, mobile, last4)
        else:
            ids = service.participants_by_contact(db(), protector(), campaign, mobile, last4)
            prizes = service.prizes_of(db(), draw, ids)
    return render_template("draw/lookup.html", prizes=prizes, checked=True, **context)
