"""Staff sign-in, account, user-management and audit-filter forms (messages in Chinese)."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField, StringField
from wtforms.validators import EqualTo, InputRequired, Length, Optional, ValidationError

from quiz.staff.auth import PASSWORD_MAX, PASSWORD_MIN, ROLE_LABELS
from quiz.web.forms import SafeForm

REQUIRED = "此项为必填项。"
BAD_CHOICE = "请从列表中选择。"
PASSWORD_LENGTH = Length(
    min=PASSWORD_MIN,
    max=PASSWORD_MAX,
    message=f"密码长度需为 {PASSWORD_MIN}-{PASSWORD_MAX} 个字符。",
)
# wtforms 3.3 deprecates (value, label) tuples; a {value: label} dict is its shorthand.
ROLE_CHOICES = dict(ROLE_LABELS)


class LoginForm(SafeForm):
    """Username and password, the first factor."""

    username = StringField("用户名", [InputRequired(REQUIRED), Length(max=64)])
    # No length rule here: a too-long password is simply wrong, with the usual message.
    password = PasswordField("密码", [InputRequired(REQUIRED), Length(max=1024)])


class CodeForm(SafeForm):
    """A TOTP code, or a recovery code at login."""

    code = StringField("验证码", [InputRequired(REQUIRED), Length(max=32)])


class PasswordChangeForm(SafeForm):
    """Change one's own password."""

    current = PasswordField("当前密码", [InputRequired(REQUIRED), Length(max=1024)])
    password = PasswordField("新密码", [InputRequired(REQUIRED), PASSWORD_LENGTH])
    confirm = PasswordField(
        "再次输入新密码", [InputRequired(REQUIRED), EqualTo("password", "两次输入的密码不一致。")]
    )


class PasswordConfirmForm(SafeForm):
    """Re-enter the password before a sensitive action (new recovery codes)."""

    password = PasswordField("当前密码", [InputRequired(REQUIRED), Length(max=1024)])


class ActionForm(SafeForm):
    """A button that only carries the CSRF token (logout, reset second factor...)."""


class UserEditForm(SafeForm):
    """What an admin may change on an account."""

    display_name = StringField(
        "姓名", [Optional(), Length(max=100, message="姓名不能超过100个字。")]
    )
    role = SelectField(
        "角色",
        choices=ROLE_CHOICES,
        validators=[InputRequired(REQUIRED)],
        invalid_choice_message=BAD_CHOICE,
    )
    branch_id = SelectField("所属机构", default="", choices={}, invalid_choice_message=BAD_CHOICE)
    can_reveal = BooleanField("可查看完整个人信息(身份证号、手机号)")
    can_call = BooleanField("可查看联系电话(手机号、固定电话,不含身份证号)")
    active = BooleanField("账户有效")

    def set_branches(self, branches: list[tuple[int, str]]) -> None:
        self.branch_id.choices = {"": "(总公司,无)", **{str(i): n for i, n in branches}}

    def branch_value(self) -> int | None:
        return int(self.branch_id.data) if self.branch_id.data else None


class UserCreateForm(UserEditForm):
    """A new account, with its initial password."""

    username = StringField(
        "用户名", [InputRequired(REQUIRED), Length(min=2, max=64, message="用户名为 2-64 个字符。")]
    )
    password = PasswordField("初始密码", [InputRequired(REQUIRED), PASSWORD_LENGTH])
    confirm = PasswordField(
        "再次输入密码", [InputRequired(REQUIRED), EqualTo("password", "两次输入的密码不一致。")]
    )


class ResetPasswordForm(SafeForm):
    """An admin sets a new password for someone else."""

    password = PasswordField("新密码", [InputRequired(REQUIRED), PASSWORD_LENGTH])
    confirm = PasswordField(
        "再次输入新密码", [InputRequired(REQUIRED), EqualTo("password", "两次输入的密码不一致。")]
    )


# Filter dates a campaign can have: at the ends of Python's date range, adding a day or
# turning Beijing midnight into UTC overflows (a 500 before this bound).
EARLIEST_DAY = date(2000, 1, 1)
LATEST_DAY = date(2099, 12, 31)
DAY_OUT_OF_RANGE = "日期应在 2000-01-01 至 2099-12-31 之间。"


def _date_rule(_form: FlaskForm, field: Any) -> None:
    try:
        day = date.fromisoformat(field.data.strip())
    except ValueError as exc:
        raise ValidationError("日期格式应为 年-月-日,例如 2024-08-08。") from exc
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise ValidationError(DAY_OUT_OF_RANGE)


def parse_date(value: str | None) -> date | None:
    """A validated date field's value as a date (None when empty)."""
    return date.fromisoformat(value.strip()) if value and value.strip() else None


class AuditFilterForm(SafeForm):
    """Filters of the audit-log viewer (a GET form: no CSRF token needed)."""

    class Meta:
        csrf = False

    actor = StringField("操作人", [Optional(), Length(max=64)])
    action = SelectField("操作", choices=[], validate_choice=False)
    # Choices set by the view (every campaign); the view refuses an unknown one (422).
    campaign = SelectField("活动", choices=[], validate_choice=False)
    start = StringField("开始日期", [Optional(), _date_rule])
    end = StringField("结束日期", [Optional(), _date_rule])
