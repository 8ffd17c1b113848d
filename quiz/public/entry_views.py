"""Public views: thin wrappers that parse forms, call quiz_flow and render."""

from __future__ import annotations

import json
import secrets
from datetime import datetime
from typing import Any

from flask import (
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from limits.storage import MemoryStorage
from sqlalchemy.exc import IntegrityError

from quiz import identity
from quiz.branches.routing import AddressInput, resolve_address
from quiz.campaign import kinds
from quiz.campaign.cache import Served
from quiz.campaign.lifecycle import FlowError, current_campaign, listed_campaigns, window_state
from quiz.db import utcnow
from quiz.engine.bank import QuestionBank
from quiz.engine.sheets import AnswerSheet, answer_on_sheet, outcome_of, sheet_of
from quiz.engine.shuffle import shown_options
from quiz.entry import signup
from quiz.entry.signup import (
    AlreadyRegistered,
    Consent,
    NotFound,
    Registration,
    prepare_registration,
    resume_by_last4,
    save_registration,
)
from quiz.extensions import client_address, limiter
from quiz.fraud import challenge, signals
from quiz.fraud.codes import (
    MOBILE_TAKEN_MESSAGE,
    CodeRejected,
    MobileTaken,
    mainland_mobile,
    seconds_until_resend,
    sms_required,
    verified_entry,
    verify_code,
)
from quiz.identity import IdentityError
from quiz.models import Campaign, Participant
from quiz.privacy.protection import KeyError_
from quiz.public import ANSWERED_BY_SCRIPT, KIND_PAGES, bp
from quiz.public.forms import (
    ConsentForm,
    RegistrationForm,
    ResumeByLast4Form,
    ResumeForm,
    answered_position,
)
from quiz.regions.postal import postal_code_province_mismatch
from quiz.reports import counters
from quiz.web import sms_step
from quiz.web.request import database, db, protector


def _register_limit() -> str:
    return str(current_app.config["QUIZ_REGISTER_LIMIT"])


def _answer_limit() -> str:
    return str(current_app.config["QUIZ_ANSWER_LIMIT"])


# The public step (quiz.campaign.kinds.PUBLIC_STEPS) each page belongs to: a campaign
# whose kind lacks the step answers 404 there (the privacy notice is common to all).
STEP_OF_ENDPOINT = {
    "public.consent": "consent",
    "public.register": "register",
    "public.resume": "register",
    "public.resume_last4": "register",
    "public.question": "quiz",
    "public.answer": "quiz",
    "public.result": "result",
}


def served_or_404() -> tuple[Campaign, QuestionBank]:
    """The request's campaign (/c/<slug>/, else the old addresses' one) and its questions,
    from the worker's short cache (read-only, detached); 404 for a step its kind lacks."""
    served: Served = current_app.extensions["quiz.campaign"].served(g.get("campaign_slug"))
    if served is None:
        abort(404)
    step = STEP_OF_ENDPOINT.get(request.endpoint or "")
    if step is not None and not kinds.has_public_step(served[0].kind, step):
        abort(404)
    return served


# The participant's entry and consent are kept per campaign (campaign id -> value), so one
# browser can take part in two campaigns. "pid"/"consent" are read for cookies set
# before; the entry a pid names is looked up within the campaign, so it cannot leak over.
def entry_of_browser(campaign: Campaign) -> str | None:
    """The public id of this browser's entry in `campaign`, if any."""
    pids: dict[str, str] = session.get("pids") or {}
    return pids.get(str(campaign.id)) or session.get("pid")


def remember_entry(campaign: Campaign, public_id: str) -> None:
    session.permanent = True
    session["pids"] = {**(session.get("pids") or {}), str(campaign.id): public_id}


def campaign_or_404() -> Campaign:
    return served_or_404()[0]


def current_sheet() -> tuple[Campaign, QuestionBank, AnswerSheet | None]:
    """The served campaign, its questions, and the answer sheet of the entry this browser
    registered or resumed (None without one).

    The questions come from the worker's cache. A campaign file loaded moments ago may
    have given this entry a question another worker knows and this one does not yet:
    then the cache is read again rather than failing the page.
    """
    campaign, bank = served_or_404()
    public_id = entry_of_browser(campaign)
    if not public_id:
        return campaign, bank, None
    sheet = sheet_of(db(), campaign.id, public_id)
    if sheet is not None and any(it.question_id not in bank.by_id for it in sheet.items):
        current_app.extensions["quiz.campaign"].clear()
        campaign, bank = served_or_404()
    return campaign, bank, sheet


def home() -> ResponseReturnValue:
    """/ : the live, upcoming and recently closed campaigns, one card each; straight to the
    campaign when there is only one (or none listed, but one served before)."""
    listed = listed_campaigns(db())
    if len(listed) == 1:
        return redirect(url_for("public.campaign_page", slug=listed[0].slug))
    if not listed:
        fallback = current_campaign(db())
        if fallback is None:
            abort(404)
        return redirect(url_for("public.campaign_page", slug=fallback.slug))
    now = utcnow()
    cards = [(c, window_state(c, now), kinds.label(c.kind)) for c in listed]
    return render_template("public/home.html", cards=cards)


@bp.get("/")
def campaign_page() -> ResponseReturnValue:
    if g.get("campaign_slug") is None:
        return home()
    campaign = campaign_or_404()
    own_page = KIND_PAGES.get(campaign.kind)
    if own_page is not None:
        return own_page(campaign)  # type: ignore[no-any-return]
    visited = session.get("visited")
    visited = visited if isinstance(visited, list) else []  # True: a cookie from before
    if campaign.id not in visited:
        # Counted in this process, written in batches (before the request's session
        # begins, when a batch is due: see counters.VisitBatch).
        current_app.extensions["quiz.visits"].add(counters.of_campaign("visit", campaign.id))
        session["visited"] = [*visited[-19:], campaign.id]
    kind = kinds.kind_of(campaign.kind)
    if campaign.kind == "artwork_contest":  # its own pages (public/artwork_views.py)
        return redirect(url_for("public.artwork_home"))
    # A kind registered without its flow yet shows the campaign, never the quiz's steps.
    state = window_state(campaign) if kind.has_flow else "preparing"
    if campaign.kind == "list_draw":
        from quiz.public.list_draw_views import render_list_draw

        return render_list_draw(campaign, state)
    return render_template(
        "public/campaign.html",
        campaign=campaign,
        state=state,
        form=ConsentForm(),
        kind_label=kind.label,
    )


@bp.post("/consent")
def consent() -> ResponseReturnValue:
    campaign = campaign_or_404()
    state = window_state(campaign)
    form = ConsentForm()
    if state != "open":
        return render_template(
            "public/campaign.html", campaign=campaign, state=state, form=form
        ), 409
    if not form.validate_on_submit():
        return render_template(
            "public/campaign.html", campaign=campaign, state=state, form=form
        ), 422
    session.permanent = True
    session["consents"] = {
        **(session.get("consents") or {}),
        str(campaign.id): {
            "campaign": campaign.id,
            "rules_version": campaign.content.get("rules_version", ""),
            "privacy_version": campaign.content.get("privacy_version", ""),
            "at": utcnow().isoformat(),
        },
    }
    counters.bump(db(), counters.of_campaign("consent", campaign.id))
    db().commit()
    return redirect(url_for("public.register"))


def _consent_of(campaign: Campaign) -> Consent | None:
    data: dict[str, Any] | None = (session.get("consents") or {}).get(
        str(campaign.id)
    ) or session.get("consent")
    if not data or data.get("campaign") != campaign.id:
        return None
    # Rules or privacy notice changed since this browser agreed: agree to the new ones.
    if data.get("rules_version") != campaign.content.get("rules_version") or data.get(
        "privacy_version"
    ) != campaign.content.get("privacy_version"):
        return None
    return Consent(
        rules_version=data["rules_version"],
        privacy_version=data["privacy_version"],
        sensitive=True,
        at=datetime.fromisoformat(data["at"]),
        ip=request.remote_addr,
    )


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit(_register_limit, methods=["POST"])
def register() -> ResponseReturnValue:
    campaign, bank = served_or_404()
    state = window_state(campaign)
    if state != "open":
        return render_template(
            "public/campaign.html", campaign=campaign, state=state, form=ConsentForm()
        ), 409 if request.method == "POST" else 200
    consent_given = _consent_of(campaign)
    if consent_given is None:
        flash("请先阅读活动规则和个人信息处理规则,并勾选同意。", "warning")
        return redirect(url_for("public.campaign_page") + "#consent")
    needs_sms = sms_required(campaign)
    if request.method == "GET":
        return _register_page(campaign, needs_sms)
    form = RegistrationForm()
    if needs_sms and "send_code" in request.form:
        return _send_code(form, campaign)
    if form.validate_on_submit():
        address = AddressInput(
            free_text=form.address.data or "",
            province_code=(form.province_code.data or "").strip()[:6],
            city_code=(form.city_code.data or "").strip()[:6],
            district_code=(form.district_code.data or "").strip()[:6],
            detail=form.address_detail.data or "",
        )
        try:
            resolved = resolve_address(address)
        except IdentityError as exc:
            form.address.errors = [*form.address.errors, str(exc)]
            return render_template("public/register.html", form=form, campaign=campaign), 422
        postal = form.postal_code.checked
        province = resolved.location.province_code
        mismatch = bool(province and postal_code_province_mismatch(postal, province))
        if mismatch and not form.confirm_postal.data:
            warning = (
                f"邮政编码 {postal} 与地址所在的{resolved.location.province}不一致,"
                "请核对;如确认无误,请勾选下方确认后再次提交。"
            )
            return render_template(
                "public/register.html", form=form, campaign=campaign, postal_warning=warning
            ), 422
        try:
            _check_bot(campaign)
        except challenge.ChallengeRefused as exc:
            return render_template(
                "public/register.html", form=form, campaign=campaign, bot_error=str(exc)
            ), exc.status
        reg = Registration(
            name=form.name.checked,
            resident_id=form.resident_id.checked,
            mobile=form.mobile.checked,
            landline=form.landline.checked,
            postal_code=postal,
            address=resolved,
        )
        from quiz.public.referral_views import referral_for_request

        try:
            # Read and compute in a read session; the write lock is held only to save.
            with database().session(per_statement=True) as reader:
                prepared = prepare_registration(
                    reader,
                    protector(),
                    campaign,
                    reg,
                    consent_given,
                    referral=referral_for_request(reader, campaign),
                    bank=bank,
                )
            prepared.participant.postal_mismatch = mismatch
            if needs_sms:
                # Checked last, just before the save: the code is used in the same
                # transaction, so a refused registration leaves it usable.
                prepared.participant.mobile_verified_at = _verified_mobile(
                    campaign,
                    form.mobile.checked,
                    form.sms_code.data or "",
                    prepared.participant.id_hash,
                )
            participant = save_registration(db(), prepared)
            signals.record_entry(
                db(),
                protector(),
                participant,
                signals.EntryFacts(
                    mobile=reg.mobile,
                    resident_id=reg.resident_id.number,
                    birth_date=reg.resident_id.birth_date,
                    device_cookie=request.cookies.get(signals.DEVICE_COOKIE),
                    ip=consent_given.ip,
                ),
                signals.limits_of(campaign),
            )
            db().commit()
        except CodeRejected as exc:
            db().commit()  # the wrong try counts against the code's five
            form.sms_code.errors = [*form.sms_code.errors, str(exc)]
            return render_template("public/register.html", form=form, campaign=campaign), 422
        except (MobileTaken, IntegrityError):
            # IntegrityError: a concurrent entry verified the same mobile (the partial index).
            db().rollback()
            form.mobile.errors = [*form.mobile.errors, MOBILE_TAKEN_MESSAGE]
            return render_template("public/register.html", form=form, campaign=campaign), 409
        except AlreadyRegistered as exc:
            entry = exc.participant  # read before the rollback expires it
            completed, public_id = entry.status == "completed", entry.public_id
            db().rollback()
            if not exc.same_mobile:
                return _confirm_by_last4(form.resident_id.checked.number, campaign)
            # The same ID number and mobile: a double tap, or the person registering again.
            # 继续答题 asks for just these two, so this browser may go on with the entry.
            remember_entry(campaign, public_id)
            return _already_registered(form, campaign, completed)
        except FlowError as exc:
            db().rollback()
            flash(str(exc), "error")
            return render_template("public/register.html", form=form, campaign=campaign), 409
        remember_entry(campaign, participant.public_id)
        session.pop(DRAFT_KEY, None)
        return redirect(url_for("public.question"))
    return render_template("public/register.html", form=form, campaign=campaign), 422


def _count(key: str, seconds: int) -> int:
    """A shared counter in the rate-limit storage (Redis across hosts): the count after
    adding one, forgotten after `seconds`. With rate limiting switched off the limiter
    has no storage: then one in memory per app. Keys carry RATELIMIT_KEY_PREFIX, as the
    limiter's own do, so sites sharing one Redis keep their allowances apart."""
    storage = getattr(limiter, "_storage", None) or current_app.extensions.setdefault(
        "quiz.local_counts", MemoryStorage()
    )
    prefix = current_app.config.get("RATELIMIT_KEY_PREFIX") or ""
    return int(storage.incr(f"{prefix}/{key}" if prefix else key, seconds))


def _challenge_keys() -> challenge.Keys:
    return challenge.derive_keys(current_app.config["SECRET_KEY"])


@bp.get("/altcha/challenge")
@limiter.limit("60/minute")
def bot_challenge() -> ResponseReturnValue:
    """A signed proof-of-work challenge for the registration form's background check;
    harder for a client that keeps asking (quiz.fraud.challenge)."""
    campaign = campaign_or_404()
    if not challenge.bot_challenge(campaign.content):
        abort(404)
    asked = _count(f"altcha-rate:{client_address()}", 60)
    body = challenge.new_challenge(_challenge_keys(), challenge.max_number_for(asked))
    response = current_app.response_class(json.dumps(body), mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response


def _check_bot(campaign: Campaign) -> None:
    """The campaign's proof of work on a registration: a solved challenge, used once; or
    without one (no JavaScript) the client's small hourly allowance."""
    if not challenge.bot_challenge(campaign.content):
        return
    payload = request.form.get("altcha", "")
    if payload:
        challenge.verify(payload, _challenge_keys(), _count)
    else:
        challenge.allow_without_script(client_address(), _count)


@bp.after_request
def _device_cookie(response: Any) -> Any:
    """Give the browser a long-lived random device id on the registration page (after
    consent): entries from one device in a short time are a risk signal (quiz.fraud)."""
    if (
        request.endpoint == "public.register"
        and signals.DEVICE_COOKIE not in request.cookies
        and response.status_code < 400
    ):
        response.set_cookie(
            signals.DEVICE_COOKIE,
            secrets.token_urlsafe(16),
            max_age=signals.DEVICE_COOKIE_DAYS * 86400,
            httponly=True,
            samesite="Lax",
            secure=bool(current_app.config.get("QUIZ_HTTPS")),
        )
    return response


# The typed registration kept across 获取验证码's Post/Redirect/Get, encrypted with the
# data key: the session cookie is signed, not secret, and this holds the ID number.
DRAFT_KEY = "reg_draft"
_DRAFT_FIELDS = (
    "name",
    "resident_id",
    "address",
    "province_code",
    "city_code",
    "district_code",
    "address_detail",
    "postal_code",
    "mobile",
    "landline",
)


def _save_draft(campaign: Campaign) -> None:
    fields: dict[str, object] = {name: request.form.get(name, "")[:300] for name in _DRAFT_FIELDS}
    fields["campaign"] = campaign.id  # a draft fills only its own campaign's form
    session[DRAFT_KEY] = protector().encrypt(json.dumps(fields, ensure_ascii=False)).decode()


def _draft(campaign: Campaign) -> dict[str, str]:
    token = session.get(DRAFT_KEY)
    if not isinstance(token, str):
        return {}
    try:
        data = json.loads(protector().decrypt(token.encode()))
    except (KeyError_, ValueError):  # an old key or a damaged cookie: start afresh
        return {}
    if not isinstance(data, dict) or data.get("campaign") != campaign.id:
        return {}
    return {k: str(v) for k, v in data.items() if k in _DRAFT_FIELDS}


def _register_page(campaign: Campaign, needs_sms: bool) -> ResponseReturnValue:
    """The empty form, or after 获取验证码 the fields typed before it, with the countdown."""
    draft = _draft(campaign) if needs_sms else {}
    form = RegistrationForm(formdata=None, data=draft) if draft else RegistrationForm()
    resend_in = 0
    if draft.get("mobile"):
        try:
            mobile = mainland_mobile(draft["mobile"])
        except IdentityError:
            mobile = ""
        if mobile:
            resend_in = seconds_until_resend(db(), protector(), campaign.id, mobile)
    return render_template(
        "public/register.html", form=form, campaign=campaign, resend_in=resend_in
    )


def _send_code(form: RegistrationForm, campaign: Campaign) -> ResponseReturnValue:
    """获取验证码: a submit of the whole form, so every typed field is kept (PRG)."""

    def refused(field: Any, message: str, status: int) -> ResponseReturnValue:
        field.errors = [message]
        return render_template("public/register.html", form=form, campaign=campaign), status

    try:
        mobile = mainland_mobile(form.mobile.data or "")
    except IdentityError as exc:
        return refused(form.mobile, str(exc), 422)
    try:
        sms_step.send_code_to(campaign.id, mobile)
    except sms_step.StepRefused as exc:
        field = form.mobile if exc.field == "mobile" else form.sms_code
        return refused(field, str(exc), exc.status)
    _save_draft(campaign)
    flash(f"验证码已发送至 {identity.mask_mobile(mobile)},5分钟内有效。", "info")
    return redirect(url_for("public.register") + "#sms_code")


def _verified_mobile(campaign: Campaign, mobile: str, code: str, id_hash: str) -> datetime:
    """When the SMS code proves the mobile; the refusals as domain errors."""
    try:
        _refuse_taken(campaign, mobile, id_hash)
        return verify_code(db(), protector(), campaign.id, mobile, code)
    except CodeRejected:
        # A double tap: its twin used the code and saved the entry a moment ago.
        _refuse_taken(campaign, mobile, id_hash)
        raise


def _refuse_taken(campaign: Campaign, mobile: str, id_hash: str) -> None:
    """The mobile's verified entry, if any, refuses this one: as the same person's entry
    (the same ID number too, so 继续答题 as for any second registration) or not."""
    existing = verified_entry(db(), protector(), campaign.id, mobile)
    if existing is None:
        return
    if existing.id_hash == id_hash:
        raise AlreadyRegistered(existing, same_mobile=True)
    raise MobileTaken(MOBILE_TAKEN_MESSAGE)


def _already_registered(
    form: RegistrationForm, campaign: Campaign, completed: bool
) -> ResponseReturnValue:
    """The refusal of a second entry to whoever gave its ID number and mobile, the proof
    继续答题 asks for: it may be told the entry's status and go on with it."""
    status = "已完成答题,已获得抽奖资格" if completed else "尚未完成答题"
    message = f"该身份证号码已经报名参加本次活动(当前状态:{status}),每人限参加一次。"
    if completed:
        link = (url_for("public.result"), "查看结果")
    else:
        link = (url_for("public.question"), "继续答题")
    form.resident_id.errors = [*form.resident_id.errors, message]
    return render_template(
        "public/register.html", form=form, campaign=campaign, continue_link=link
    ), 409


# Neutral: the same words whether or not the ID number took part (a stranger may type
# someone else's); whoever registered can go on by giving their mobile's last 4 digits.
CONFIRM_NOTICE = (
    "无法使用以上信息完成报名。如您本人此前已用该身份证号码报名,"
    "请填写报名时所留手机号码的后4位继续;否则请返回核对身份证号码。每人限参加一次。"
)


def _confirm_by_last4(resident_id: str, campaign: Campaign) -> ResponseReturnValue:
    """A registration whose ID number has an entry under another mobile: no word of the
    entry, only the way back by the mobile's last four digits."""
    form = ResumeByLast4Form(formdata=None, resident_id=resident_id)
    return render_template(
        "public/resume_last4.html", form=form, campaign=campaign, notice=CONFIRM_NOTICE
    ), 409


def _last4_limit() -> str:
    return str(current_app.config.get("QUIZ_LAST4_LIMIT", "5/hour;20/day"))


def _claimed_id_number() -> str:
    """Rate-limit key of a last-four attempt: the ID number it is for (keyed hash), so
    guessing the 10,000 possible digits from many addresses gets nowhere either."""
    try:
        number = identity.validate_resident_id(request.form.get("resident_id", "")[:30]).number
    except IdentityError:
        return "last4-ip:" + client_address()
    return "last4:" + protector().lookup_hash("rid", number)


@bp.route("/resume/last4", methods=["GET", "POST"])
@limiter.limit(_register_limit, methods=["POST"])
@limiter.limit(_last4_limit, methods=["POST"], key_func=_claimed_id_number)
def resume_last4() -> ResponseReturnValue:
    campaign = campaign_or_404()
    form = ResumeByLast4Form()
    if request.method == "GET":
        return render_template("public/resume_last4.html", form=form, campaign=campaign)
    if not form.validate_on_submit():
        return render_template("public/resume_last4.html", form=form, campaign=campaign), 422
    try:
        participant = resume_by_last4(
            db(), protector(), campaign, form.resident_id.checked.number, form.mobile_last4.data
        )
    except NotFound as exc:
        form.mobile_last4.errors = [*form.mobile_last4.errors, str(exc)]
        return render_template("public/resume_last4.html", form=form, campaign=campaign), 404
    remember_entry(campaign, participant.public_id)
    if participant.status == "completed":
        return redirect(url_for("public.result"))
    return redirect(url_for("public.question"))


@bp.route("/resume", methods=["GET", "POST"])
@limiter.limit(_register_limit, methods=["POST"])
def resume() -> ResponseReturnValue:
    campaign = campaign_or_404()
    form = ResumeForm()
    if request.method == "GET":
        return render_template("public/resume.html", form=form, campaign=campaign)
    if not form.validate_on_submit():
        return render_template("public/resume.html", form=form, campaign=campaign), 422
    try:
        participant = signup.resume(
            db(),
            protector(),
            campaign,
            form.resident_id.checked.number,
            form.mobile.checked,
        )
    except NotFound as exc:
        form.mobile.errors = [*form.mobile.errors, str(exc)]
        return render_template("public/resume.html", form=form, campaign=campaign), 404
    remember_entry(campaign, participant.public_id)
    if participant.status == "completed":
        return redirect(url_for("public.result"))
    return redirect(url_for("public.question"))


@bp.get("/quiz")
def question() -> ResponseReturnValue:
    campaign, bank, sheet = current_sheet()
    if sheet is None:
        return redirect(url_for("public.campaign_page"))
    return _question_page(campaign, bank, sheet)


def _question_page(
    campaign: Campaign,
    bank: QuestionBank,
    sheet: AnswerSheet,
    error: str | None = None,
) -> ResponseReturnValue:
    """The next question with progress (422 when it shows a refused answer); the result
    page once every question is answered."""
    item = sheet.next
    if item is None:
        return redirect(url_for("public.result"))
    question = bank.by_id[item.question_id]
    page = render_template(
        "public/question.html",
        campaign=campaign,
        question=question,
        options=shown_options(entry_of_browser(campaign) or "", question.key, question.options),
        number=item.position,
        total=sheet.total,
        answered=sheet.answered,
        error=error,
        state=window_state(campaign),
    )
    return (page, 422) if error else page


@bp.post("/quiz")
@limiter.limit(_answer_limit)
def answer() -> ResponseReturnValue:
    campaign, bank, sheet = current_sheet()
    if sheet is None:
        return redirect(url_for("public.campaign_page"))
    position = answered_position(request.form)
    if position is None:  # a tampered or truncated form: the question again, with why
        return _question_page(campaign, bank, sheet, error="提交无效,请重新作答。")
    choices = [c[:8] for c in request.form.getlist("choice")[:20]]
    try:
        sheet = answer_on_sheet(
            db(), campaign, bank, sheet, position, choices, shown_to=entry_of_browser(campaign)
        )
        db().commit()
    except FlowError as exc:
        db().rollback()
        return _question_page(campaign, bank, sheet, error=str(exc))
    if sheet.status == "completed":
        _check_speed(campaign, sheet)
        return redirect(url_for("public.result"))
    if request.headers.get(ANSWERED_BY_SCRIPT) == "1":
        # The page's script swaps this in: one request per question, not POST + GET.
        # Without it the browser gets Post/Redirect/Get, so a reload never re-posts.
        return _question_page(campaign, bank, sheet)
    return redirect(url_for("public.question"))


def _check_speed(campaign: Campaign, sheet: AnswerSheet) -> None:
    """Answers faster than a person reads are a risk signal, checked once at completion."""
    participant = db().get(Participant, sheet.participant_id)
    if participant is not None and signals.check_answer_speed(
        db(), participant, signals.limits_of(campaign)
    ):
        db().commit()


@bp.get("/result")
def result() -> ResponseReturnValue:
    campaign, bank, sheet = current_sheet()
    if sheet is None:
        return redirect(url_for("public.campaign_page"))
    outcome = outcome_of(db(), sheet, bank)
    if outcome is None:
        return redirect(url_for("public.question"))
    return render_template("public/result.html", campaign=campaign, outcome=outcome)


@bp.get("/privacy")
def privacy() -> ResponseReturnValue:
    campaign = campaign_or_404()
    return render_template("public/privacy.html", campaign=campaign)
