"""Public forms; field rules come from quiz.identity so messages stay in one place."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from typing import Any

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, StringField
from wtforms.validators import ValidationError

from quiz import identity
from quiz.db import utcnow
from quiz.entry import age
from quiz.web.forms import SafeForm


class CheckedField(StringField):
    """A text field checked by a quiz.identity rule; `checked` keeps what the rule
    returned (the normalised value), so the view does not run the rule again."""

    checked: Any = None


def _rule(check: Callable[[str], Any]) -> Callable[[FlaskForm, Any], None]:
    def validator(_form: FlaskForm, field: Any) -> None:
        try:
            field.checked = check(field.data or "")
        except identity.IdentityError as exc:
            raise ValidationError(str(exc)) from exc

    return validator


def _short(limit: int, label: str) -> Callable[[FlaskForm, Any], None]:
    def validator(_form: FlaskForm, field: Any) -> None:
        if field.data and len(field.data) > limit:
            raise ValidationError(f"{label}不能超过{limit}个字")

    return validator


class ConsentForm(SafeForm):
    """The two consents asked before 同意参加活动."""

    agree_rules = BooleanField("我已阅读并同意活动规则")
    agree_sensitive = BooleanField(
        "我同意主办方为核验参与资格和奖品发放处理我的身份证号码(敏感个人信息)"
    )

    def validate_agree_rules(self, field: BooleanField) -> None:
        if not field.data:
            raise ValidationError("请阅读并勾选同意活动规则")

    def validate_agree_sensitive(self, field: BooleanField) -> None:
        if not field.data:
            raise ValidationError("参加活动需要您同意处理身份证号码")


class RegistrationForm(SafeForm):
    """姓名, 身份证号码, 邮寄地址, 邮政编码, 手机号码, 固定电话 (optional)."""

    name = CheckedField("姓名", validators=[_short(30, "姓名"), _rule(identity.validate_name)])
    resident_id = CheckedField(
        "身份证号码",
        validators=[_short(30, "身份证号码"), _rule(identity.validate_resident_id)],
    )
    address = StringField("邮寄地址", validators=[_short(200, "邮寄地址")])
    province_code = HiddenField()
    city_code = HiddenField()
    district_code = HiddenField()
    address_detail = StringField("详细地址", validators=[_short(120, "详细地址")])
    postal_code = CheckedField(
        "邮政编码", validators=[_short(10, "邮政编码"), _rule(identity.validate_postal_code)]
    )
    mobile = CheckedField(
        "手机号码", validators=[_short(20, "手机号码"), _rule(identity.validate_mobile)]
    )
    landline = CheckedField(
        "固定电话(选填)",
        validators=[_short(20, "固定电话"), _rule(identity.validate_landline)],
    )
    confirm_postal = BooleanField("邮政编码无误,继续提交")
    # Checked by the view when the campaign asks for it (quiz.fraud.codes.verify_code).
    sms_code = StringField("短信验证码", validators=[_short(10, "短信验证码")])

    def validate_resident_id(self, field: CheckedField) -> None:
        """年满18周岁 on the day of entry, told beside the ID number (quiz.entry.age; the
        registration service checks it again for other callers)."""
        if field.checked is not None and not age.is_adult(
            field.checked.birth_date, age.entry_day(utcnow())
        ):
            raise ValidationError(age.UNDERAGE_MESSAGE)


class ResumeForm(SafeForm):
    """Find an unfinished entry again by ID number and mobile."""

    resident_id = CheckedField(
        "身份证号码",
        validators=[_short(30, "身份证号码"), _rule(identity.validate_resident_id)],
    )
    mobile = CheckedField(
        "手机号码", validators=[_short(20, "手机号码"), _rule(identity.validate_mobile)]
    )


def _four_digits(_form: FlaskForm, field: Any) -> None:
    """Four ASCII digits (full-width ones typed on a phone are folded first)."""
    value = unicodedata.normalize("NFKC", field.data or "").strip()
    if not re.fullmatch(r"[0-9]{4}", value):
        raise ValidationError("请填写报名时所留手机号码的后4位数字")
    field.data = value


class ResumeByLast4Form(SafeForm):
    """Go back to an entry by ID number and the last four digits of its mobile."""

    resident_id = CheckedField(
        "身份证号码",
        validators=[_short(30, "身份证号码"), _rule(identity.validate_resident_id)],
    )
    mobile_last4 = StringField("报名时所留手机号码的后4位", validators=[_four_digits])


def answered_position(form: Mapping[str, str]) -> int | None:
    """The question number an answer POST is for; None when missing or out of range.

    No form class: the answer is the most frequent POST, and CSRFProtect has already
    checked its token before the view runs. The bound keeps a 20-digit number away
    from the database integer.
    """
    raw = form.get("position", "")
    if not (raw.isascii() and raw.isdecimal()) or len(raw) > 5:
        return None
    position = int(raw)
    return position if 1 <= position <= 10_000 else None
