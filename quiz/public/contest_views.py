"""The staff knowledge contest on a phone (kind staff_contest), under /c/<slug>/:
sign-in with 工号 + one-time code, the timed paper one question a page, the result.

Thin: quiz.contest.paper holds every rule. The browser's session names the contestant
and a token; a sign-in elsewhere replaces the token, so this browser is signed out.
"""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import IntegrityError
from wtforms import HiddenField, StringField
from wtforms.validators import InputRequired, Length

from quiz.campaign import kinds
from quiz.campaign.contest_spec import group_names
from quiz.campaign.lifecycle import window_state
from quiz.contest import paper as papers
from quiz.db import utcnow
from quiz.engine.bank import QuestionBank
from quiz.extensions import client_address, limiter
from quiz.fraud.codes import sms_required
from quiz.models import Campaign, Contestant
from quiz.public import ANSWERED_BY_SCRIPT, KIND_PAGES, bp
from quiz.web import sms_step
from quiz.web.errors import render_error
from quiz.web.forms import SafeForm
from quiz.web.request import db, protector

SESSION_KEY = "contest"


class SignInForm(SafeForm):
    staff_no = StringField("工号", validators=[InputRequired("请填写工号。"), Length(max=32)])
    code = StringField("邀请码", validators=[Length(max=16)])
    action = HiddenField()


def _limit() -> str:
    # The answer limit, not registration's: a branch's staff may all sign in at the start
    # from one office address (an 8-character code is not guessed at this rate anyway).
    return str(current_app.config["QUIZ_ANSWER_LIMIT"])


def _answer_limit() -> str:
    return str(current_app.config["QUIZ_ANSWER_LIMIT"])


def _served(fresh: bool = False) -> tuple[Campaign, QuestionBank]:
    """The contest and its bank from the worker's short cache (`fresh`: read again, for a
    paper drawn by another worker from a question added moments ago)."""
    cache = current_app.extensions["quiz.campaign"]
    if fresh:
        cache.clear()
    served = cache.served(g.get("campaign_slug"))
    if served is None or not kinds.has_public_step(served[0].kind, "contest"):
        abort(404)
    return served  # type: ignore[no-any-return]


def _covering(bank: QuestionBank, view: papers.PaperView | None) -> QuestionBank:
    """`bank`, or the bank read again when it lacks a question of the paper."""
    if view is not None and any(it.question_id not in bank.by_id for it in view.items):
        return _served(fresh=True)[1]
    return bank


def _me(campaign: Campaign) -> Contestant | None:
    held = (session.get(SESSION_KEY) or {}).get(str(campaign.id))
    if not isinstance(held, list) or len(held) != 2:
        return None
    return papers.signed_in(db(), campaign.id, held[0], held[1])


def _remember(campaign: Campaign, contestant: Contestant, token: str) -> None:
    session.permanent = True
    session[SESSION_KEY] = {
        **(session.get(SESSION_KEY) or {}),
        str(campaign.id): [contestant.id, token],
    }


def _signed_out(campaign: Campaign) -> ResponseReturnValue:
    if (session.get(SESSION_KEY) or {}).get(str(campaign.id)):
        flash("您已在其他设备登录,本设备已退出。如需在本设备继续答题,请重新登录。", "error")
        held = dict(session.get(SESSION_KEY) or {})
        held.pop(str(campaign.id), None)
        session[SESSION_KEY] = held
    return redirect(url_for("public.campaign_page"))


def _sign_in_page(campaign: Campaign, form: SignInForm, status: int = 200) -> ResponseReturnValue:
    settings = papers.settings_of(campaign)
    if sms_required(campaign):
        form.code.label.text = "短信验证码"
    page = render_template(
        "contest/sign_in.html",
        campaign=campaign,
        form=form,
        state=window_state(campaign),
        sms=sms_required(campaign),
        settings=settings,
    )
    return page, status


def contest_page(campaign: Campaign) -> ResponseReturnValue:
    """/c/<slug>/ of a contest: the sign-in (or straight to the paper when signed in)."""
    _served()
    if _me(campaign) is not None:
        return redirect(url_for("public.contest_paper"))
    form = SignInForm(formdata=None)
    # A QR link from the invitation list fills the form; the contestant still taps 登录.
    form.staff_no.data = (request.args.get("no") or "")[:32]
    form.code.data = (request.args.get("code") or "")[:16]
    return _sign_in_page(campaign, form)


KIND_PAGES["staff_contest"] = contest_page


@bp.post("/contest/sign-in")
@limiter.limit(_limit)
def contest_sign_in() -> ResponseReturnValue:
    campaign, _bank = _served()
    form = SignInForm()
    if not form.validate_on_submit():
        return _sign_in_page(campaign, form, 422)
    staff_no = (form.staff_no.data or "").strip()
    code = form.code.data or ""
    try:
        if sms_required(campaign) and form.action.data == "send":
            return _send_code(campaign, form, staff_no)
        if not code.strip():
            raise papers.ContestError(
                "请填写邀请码。" if not sms_required(campaign) else "请填写短信验证码。"
            )
        sign_in = papers.sign_in_with_sms if sms_required(campaign) else papers.sign_in_with_invite
        contestant, token = sign_in(db(), protector(), campaign, staff_no, code)
        db().commit()
    except papers.ContestError as exc:
        if isinstance(exc, papers.WrongCode):
            db().commit()  # the wrong try is counted: five of them void the code
        else:
            db().rollback()
        form.code.errors = [*form.code.errors, str(exc)]
        return _sign_in_page(campaign, form, exc.status)
    _remember(campaign, contestant, token)
    return redirect(url_for("public.contest_paper"))


def _send_code(campaign: Campaign, form: SignInForm, staff_no: str) -> ResponseReturnValue:
    try:
        issued = sms_step.send_code(
            lambda: papers.send_sign_in_code(
                db(),
                protector(),
                campaign,
                staff_no,
                client_address(),
                limits=current_app.extensions["quiz.sms_limits"],
            )
        )
    except sms_step.StepRefused as exc:
        form.code.errors = [str(exc)]
        return _sign_in_page(campaign, form, exc.status)
    form.code.data = ""
    # Only the last four digits: anyone may type a 工号, and learns no more than that.
    flash(f"验证码已发送至名单中尾号为 {issued.mobile[-4:]} 的手机。", "info")
    return _sign_in_page(campaign, form)


def _paper_page(
    campaign: Campaign,
    bank: QuestionBank,
    contestant: Contestant,
    view: papers.PaperView | None,
    error: str | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    bank = _covering(bank, view)
    names = group_names(papers.settings_of(campaign))
    common: dict[str, Any] = {
        "campaign": campaign,
        "contestant": contestant,
        "group_name": names.get(contestant.group_code, contestant.group_code),
        "settings": papers.settings_of(campaign),
        "error": error,
    }
    if view is None:
        return render_template("contest/start.html", state=window_state(campaign), **common), status
    item = view.next
    if view.closed or item is None:
        ended = utcnow() >= campaign.closes_at
        reviews = [(it, bank.by_id[it.question_id]) for it in view.items] if ended else []
        return render_template(
            "contest/done.html", view=view, ended=ended, reviews=reviews, **common
        ), status
    question = bank.by_id[item.question_id]
    return (
        render_template(
            "contest/question.html",
            view=view,
            item=item,
            question=question,
            kind=papers.question_type(question),
            options=papers.shown(question, item.option_order),
            **common,
        ),
        status,
    )


@bp.get("/contest/paper")
def contest_paper() -> ResponseReturnValue:
    campaign, bank = _served()
    me = _me(campaign)
    if me is None:
        return _signed_out(campaign)
    return _paper_page(campaign, bank, me, papers.paper_of(db(), me.id))


@bp.post("/contest/start")
@limiter.limit(_limit)
def contest_start() -> ResponseReturnValue:
    campaign, bank = _served()
    me = _me(campaign)
    if me is None:
        return _signed_out(campaign)
    try:
        papers.start_paper(db(), campaign, bank, me)
        db().commit()
    except IntegrityError:  # a double tap started it in another request: that paper counts
        db().rollback()
    except papers.ContestError as exc:
        db().rollback()
        return _paper_page(campaign, bank, me, None, str(exc), exc.status)
    return redirect(url_for("public.contest_paper"))


def _int_field(name: str) -> int | None:
    raw = request.form.get(name, "")
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 10 else None


@bp.post("/contest/paper")
@limiter.limit(_answer_limit)
def contest_answer() -> ResponseReturnValue:
    campaign, bank = _served()
    me = _me(campaign)
    if me is None:
        return _signed_out(campaign)
    paper_id, position = _int_field("paper"), _int_field("position")
    if paper_id is None or position is None:
        abort(400)
    choices = [c[:8] for c in request.form.getlist("choice")[:20]]
    try:
        try:
            view = papers.answer(db(), campaign, bank, me, paper_id, position, choices)
        except papers.StaleBank:
            db().rollback()
            campaign, bank = _served(fresh=True)
            view = papers.answer(db(), campaign, bank, me, paper_id, position, choices)
        db().commit()
    except papers.NotYourPaper as exc:
        db().rollback()
        return render_error(exc.status, str(exc))
    except papers.ContestError as exc:
        db().rollback()
        return _paper_page(campaign, bank, me, papers.paper_of(db(), me.id), str(exc), exc.status)
    if request.headers.get(ANSWERED_BY_SCRIPT) == "1":
        # The page's script swaps the next question in: one request per answer (the
        # moment a province starts together, half the requests of POST + GET).
        return _paper_page(campaign, bank, me, view)
    return redirect(url_for("public.contest_paper"))


@bp.post("/contest/submit")
def contest_submit() -> ResponseReturnValue:
    campaign, bank = _served()
    me = _me(campaign)
    if me is None:
        return _signed_out(campaign)
    paper_id = _int_field("paper")
    if paper_id is None:
        abort(400)
    try:
        papers.submit(db(), me, paper_id)
        db().commit()
    except papers.NotYourPaper as exc:
        db().rollback()
        return render_error(exc.status, str(exc))
    return redirect(url_for("public.contest_paper"))


@bp.post("/contest/away")
@limiter.limit(_answer_limit)
def contest_away() -> ResponseReturnValue:
    """The page's script reports each time the paper's page was hidden (left)."""
    campaign, _bank = _served()
    me = _me(campaign)
    paper_id = _int_field("paper")
    if me is None or paper_id is None:
        return "", 204
    papers.count_away(db(), me, paper_id)
    db().commit()
    return "", 204


@bp.post("/contest/sign-out")
def contest_sign_out() -> ResponseReturnValue:
    campaign, _bank = _served()
    me = _me(campaign)
    if me is not None:
        papers.sign_out(db(), me)
        db().commit()
    held = dict(session.get(SESSION_KEY) or {})
    held.pop(str(campaign.id), None)
    session[SESSION_KEY] = held
    return redirect(url_for("public.campaign_page"))
