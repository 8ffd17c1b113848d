"""The drawing contest's public pages: invitation, guardian sign-up, upload, gallery.

Everything answers only for a campaign of kind artwork_contest (404 otherwise). The
browser keeps the families it signed up (per campaign) in the session cookie: that is
what lets a guardian add a brother or sister and upload their works, and see those
pictures before any award. Pictures are served from the re-encoded copies only.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import (
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms import BooleanField, DateField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import ValidationError

from quiz import identity
from quiz.artwork import images, invitations
from quiz.artwork.awards import gallery
from quiz.artwork.images import ImageRefused, Processed
from quiz.artwork.invitations import InvitationError
from quiz.artwork.signup import (
    RELATIONS,
    Child,
    Consents,
    Guardian,
    SignupError,
    add_child,
    family_by_public_id,
    sign_up,
)
from quiz.artwork.works import WorkError, attach_work
from quiz.campaign.artwork_settings import ArtworkSettings, from_content
from quiz.db import utcnow
from quiz.extensions import client_address
from quiz.fraud.codes import (
    CodeRejected,
    mainland_mobile,
    sms_required,
    verify_code,
)
from quiz.identity import IdentityError
from quiz.models import ArtworkChild, ArtworkFamily, ArtworkWork, Campaign
from quiz.public import bp
from quiz.public.entry_views import served_or_404
from quiz.public.forms import CheckedField, _rule, _short
from quiz.web import sms_step
from quiz.web.forms import SafeForm
from quiz.web.request import db, protector, takes_uploads

UPLOAD_ENDPOINTS = frozenset({"public.artwork_upload"})
FAMILIES_KEY = "artwork_families"


@bp.url_value_preprocessor
def _upload_limit(endpoint: str | None, _values: dict[str, Any] | None) -> None:
    # Runs before CSRF reads the body: a photograph may be 15 MB, any other form 2 MB.
    if endpoint in UPLOAD_ENDPOINTS:
        request.max_content_length = images.UPLOAD_BODY_LIMIT


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(exc: RequestEntityTooLarge) -> ResponseReturnValue:
    if request.endpoint in UPLOAD_ENDPOINTS:
        return render_template("error.html", code=413, message=images.TOO_LARGE), 413
    from quiz.web.errors import render_error

    return render_error(413)


def contest() -> tuple[Campaign, ArtworkSettings]:
    """The request's campaign if it is a drawing contest (404 otherwise) and its settings."""
    campaign = served_or_404()[0]
    settings = from_content(campaign.content) if campaign.kind == "artwork_contest" else None
    if settings is None:
        abort(404)
    return campaign, settings


def _families(campaign: Campaign) -> list[str]:
    stored = session.get(FAMILIES_KEY) or {}
    value = stored.get(str(campaign.id)) if isinstance(stored, dict) else None
    return value if isinstance(value, list) else []


def _remember(campaign: Campaign, public_id: str) -> None:
    stored = session.get(FAMILIES_KEY) or {}
    stored = stored if isinstance(stored, dict) else {}
    mine = [*_families(campaign), public_id][-3:]
    session.permanent = True
    session[FAMILIES_KEY] = {**stored, str(campaign.id): mine}


def my_family(campaign: Campaign) -> ArtworkFamily | None:
    for public_id in reversed(_families(campaign)):
        family = family_by_public_id(db(), campaign, public_id)
        if family is not None:
            return family
    return None


class ChildForm(SafeForm):
    child_name = CheckedField(
        "孩子姓名", validators=[_short(30, "孩子姓名"), _rule(identity.validate_name)]
    )
    birth_date = DateField("孩子出生日期", format="%Y-%m-%d")
    school = StringField("学校(选填)", validators=[_short(50, "学校")])

    def validate_birth_date(self, field: DateField) -> None:
        if field.data is None:
            raise ValidationError("请填写孩子的出生日期(年-月-日)。")


class JoinForm(ChildForm):
    code = StringField("邀请码", validators=[_short(20, "邀请码")])
    guardian_name = CheckedField(
        "监护人姓名", validators=[_short(30, "监护人姓名"), _rule(identity.validate_name)]
    )
    mobile = CheckedField(
        "监护人手机号码", validators=[_short(20, "手机号码"), _rule(identity.validate_mobile)]
    )
    # Checked when the campaign asks for it (quiz.fraud.codes), as at the prize quiz.
    sms_code = StringField("短信验证码", validators=[_short(10, "短信验证码")])
    relation = SelectField(
        "与孩子的关系",
        choices=[SelectChoice("", "请选择"), *[SelectChoice(r, r) for r in RELATIONS]],
    )
    consent_child = BooleanField(
        "我是孩子的监护人,同意主办方按上述说明处理孩子的个人信息(单独同意)"
    )
    consent_licence = BooleanField(
        "我同意参赛作品由主办方保留、不予返还,并将作品著作权无偿许可给主办方使用"
    )
    consent_publish = BooleanField(
        "(选填)作品获奖后,同意在获奖作品展示页面展示作品及孩子的姓氏、年龄和城市"
    )

    def validate_relation(self, field: SelectField) -> None:
        if field.data not in RELATIONS:
            raise ValidationError("请选择您与孩子的关系。")


class UploadForm(SafeForm):
    pass


def _child_input(form: ChildForm) -> Child:
    birth: date = form.birth_date.data  # type: ignore[assignment]
    return Child(form.child_name.checked, birth, (form.school.data or "").strip() or None)


@bp.get("/artwork")
def artwork_home() -> ResponseReturnValue:
    campaign, settings = contest()
    return render_template(
        "public/artwork/home.html",
        campaign=campaign,
        settings=settings,
        family=my_family(campaign),
    )


@bp.get("/invite/<code>")
def artwork_invite(code: str) -> ResponseReturnValue:
    """A personal link or QR code: remember the code, then the sign-up form."""
    campaign, _settings = contest()
    normal = invitations.normalise(code)
    if normal:
        session["artwork_code"] = normal
    return redirect(url_for("public.artwork_join"))


def _join_page(
    campaign: Campaign, settings: ArtworkSettings, form: JoinForm, status: int = 200
) -> ResponseReturnValue:
    return (
        render_template(
            "public/artwork/join.html",
            campaign=campaign,
            settings=settings,
            form=form,
            sms=sms_required(campaign),
        ),
        status,
    )


def _send_code(
    campaign: Campaign, settings: ArtworkSettings, form: JoinForm
) -> ResponseReturnValue:
    """获取验证码: the whole form comes back filled in, with the code sent to the mobile."""
    form.validate()  # fills `checked` values; the page shows only the code's outcome
    for field in form:
        field.errors = []
    try:
        mobile = mainland_mobile(form.mobile.data or "")
    except IdentityError as exc:
        form.mobile.errors = [str(exc)]
        return _join_page(campaign, settings, form, 422)
    try:
        sms_step.send_code_to(campaign.id, mobile)
    except sms_step.StepRefused as exc:
        field = form.mobile if exc.field == "mobile" else form.sms_code
        field.errors = [str(exc)]
        return _join_page(campaign, settings, form, exc.status)
    flash(f"验证码已发送至 {identity.mask_mobile(mobile)},5分钟内有效。", "info")
    return _join_page(campaign, settings, form)


@bp.route("/artwork/join", methods=["GET", "POST"])
def artwork_join() -> ResponseReturnValue:
    campaign, settings = contest()
    form = JoinForm()
    if request.method == "GET":
        form.code.data = form.code.data or session.get("artwork_code", "")
        return _join_page(campaign, settings, form)
    if sms_required(campaign) and request.form.get("send_code"):
        return _send_code(campaign, settings, form)
    if not form.validate_on_submit():
        return _join_page(campaign, settings, form, 422)
    now = utcnow()
    try:
        invitation = invitations.find(db(), campaign, form.code.data)
        if sms_required(campaign):
            verify_code(
                db(), protector(), campaign.id, form.mobile.checked, form.sms_code.data or ""
            )
        child = sign_up(
            db(),
            protector(),
            campaign,
            settings,
            invitation,
            Guardian(form.guardian_name.checked, form.mobile.checked, form.relation.data or ""),
            _child_input(form),
            Consents(
                child_data=bool(form.consent_child.data),
                licence=bool(form.consent_licence.data),
                publish=bool(form.consent_publish.data),
                version=str(campaign.content.get("privacy_version", "")),
                at=now,
                ip=client_address(),
            ),
        )
    except InvitationError as exc:
        db().rollback()
        form.code.errors = [str(exc)]
        return _join_page(campaign, settings, form, 422)
    except CodeRejected as exc:
        db().commit()  # the wrong try counts against the code (quiz.fraud.codes)
        form.sms_code.errors = [str(exc)]
        return _join_page(campaign, settings, form, 422)
    except SignupError as exc:
        db().rollback()
        target = getattr(form, exc.field or "", None)
        if target is not None:
            target.errors = [str(exc)]
        else:
            flash(str(exc), "error")
        return _join_page(campaign, settings, form, 422)
    family_id = child.family.public_id
    db().commit()
    session.pop("artwork_code", None)
    _remember(campaign, family_id)
    flash(f"报名成功:{child.name_masked},{child.age_group},报名编号 {child.id:05d}。", "success")
    return redirect(url_for("public.artwork_family"))


@bp.get("/artwork/family")
def artwork_family() -> ResponseReturnValue:
    campaign, settings = contest()
    family = my_family(campaign)
    if family is None:
        return redirect(url_for("public.artwork_join"))
    return render_template(
        "public/artwork/family.html",
        campaign=campaign,
        settings=settings,
        family=family,
        form=ChildForm(),
        upload=UploadForm(),
    )


@bp.post("/artwork/family/child")
def artwork_add_child() -> ResponseReturnValue:
    campaign, settings = contest()
    family = my_family(campaign)
    if family is None:
        return redirect(url_for("public.artwork_join"))
    form = ChildForm()
    if form.validate_on_submit():
        try:
            child = add_child(db(), protector(), settings, family, _child_input(form))
        except SignupError as exc:
            db().rollback()
            target = getattr(form, exc.field or "", None) or form.birth_date
            target.errors = [str(exc)]
        else:
            db().commit()
            flash(
                f"已为{child.name_masked}报名:{child.age_group},报名编号 {child.id:05d}。",
                "success",
            )
            return redirect(url_for("public.artwork_family"))
    family = my_family(campaign)
    return (
        render_template(
            "public/artwork/family.html",
            campaign=campaign,
            settings=settings,
            family=family,
            form=form,
            upload=UploadForm(),
        ),
        422,
    )


def read_picture() -> Processed:
    """The uploaded photograph, checked and re-encoded (ImageRefused otherwise)."""
    try:
        upload = request.files.get("picture")
    except RequestEntityTooLarge:
        raise ImageRefused(images.TOO_LARGE) from None
    if upload is None or not upload.filename:
        raise ImageRefused(images.EMPTY)
    return images.process(images.read_limited(upload.stream))


def media_store() -> images.MediaStore:
    return images.store_for(current_app.config.get("QUIZ_MEDIA_DIR"), current_app.instance_path)


@bp.post("/artwork/family/<int:child_id>/work")
@takes_uploads
def artwork_upload(child_id: int) -> ResponseReturnValue:
    campaign, _settings = contest()
    family = my_family(campaign)
    child = db().get(ArtworkChild, child_id) if child_id < 2**31 else None
    if family is None or child is None or child.family_id != family.id:
        abort(404)
    UploadForm().validate_on_submit()  # the CSRF check is done by CSRFProtect itself
    try:
        attach_work(db(), media_store(), child, read_picture(), "监护人")
    except (ImageRefused, WorkError) as exc:
        db().rollback()
        flash(str(exc), "error")
        return redirect(url_for("public.artwork_family")), 303
    db().commit()
    flash(f"{child.name_masked}的作品已上传。", "success")
    return redirect(url_for("public.artwork_family")), 303


@bp.get("/artwork/gallery")
def artwork_gallery() -> ResponseReturnValue:
    campaign, settings = contest()
    return render_template(
        "public/artwork/gallery.html",
        campaign=campaign,
        settings=settings,
        items=gallery(db(), campaign, settings),
    )


@bp.get("/artwork/image/<key>/<size>")
def artwork_image(key: str, size: str) -> ResponseReturnValue:
    """A re-encoded picture: public when awarded and consented, else only its family's."""
    campaign, _settings = contest()
    if size not in images.SIZES:
        abort(404)
    row = (
        db()
        .execute(
            select(ArtworkWork, ArtworkFamily)
            .join(ArtworkChild, ArtworkWork.child_id == ArtworkChild.id)
            .join(ArtworkFamily, ArtworkChild.family_id == ArtworkFamily.id)
            .where(ArtworkWork.image_key == key, ArtworkWork.campaign_id == campaign.id)
        )
        .first()
    )
    if row is None:
        abort(404)
    work, family = row
    public = work.stage == "awarded" and family.consent_publish and family.anonymised_at is None
    if not public and family.public_id not in _families(campaign):
        abort(404)
    try:
        path = media_store().path(key, size)
    except KeyError:
        abort(404)
    if not path.exists():
        abort(404)
    # A few hundred kilobytes at most (re-encoded): read whole, no file handle left open.
    response = Response(path.read_bytes(), mimetype="image/jpeg")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "public, max-age=3600" if public else "private, no-store"
    return response
