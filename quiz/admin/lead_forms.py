"""Forms of the leads pages: the list's filters (GET), follow-up, reveal and export (POST)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import NumberRange, Optional, ValidationError

from quiz.admin.forms import DAY_OUT_OF_RANGE, EARLIEST_DAY, LATEST_DAY
from quiz.identity import IdentityError, validate_mobile
from quiz.leads.service import CHINA, NOTE_MAX, SORTS, LeadFilters
from quiz.models import FOLLOW_UP_STATUSES, StaffUser
from quiz.regions import divisions
from quiz.web.forms import SafeForm


def _optional_int(value: Any) -> int | None:
    return int(value) if value not in (None, "", "None") else None


class Select(SelectField):
    """A select whose refusal of an unknown value reads in Chinese."""

    def pre_validate(self, form: Any) -> None:
        try:
            super().pre_validate(form)
        except ValidationError as exc:
            raise ValidationError("选项无效,请重新选择") from exc


class Radio(RadioField):
    """Radio buttons whose refusal of an unknown value reads in Chinese."""

    def pre_validate(self, form: Any) -> None:
        try:
            super().pre_validate(form)
        except ValidationError as exc:
            raise ValidationError("选项无效,请重新选择") from exc


class Integer(IntegerField):
    """An integer field with a Chinese parse error."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError as exc:
            raise ValueError("请输入整数") from exc


class Day(DateField):
    """A YYYY-MM-DD date field with a Chinese parse error."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError as exc:
            raise ValueError("请输入有效日期(年-月-日)") from exc
        if self.data is not None and not EARLIEST_DAY <= self.data <= LATEST_DAY:
            self.data = None
            raise ValueError(DAY_OUT_OF_RANGE)


# Saved views of the leads list: key -> label.
VIEWS = {"": "全部线索", "today": "今日新增", "mine": "我的待联系", "overdue": "逾期未跟进"}
SEARCH_MAX = 100


def today_in_china() -> Any:
    """Today's Beijing calendar date (the views' and next-contact dates' day)."""
    return datetime.now(CHINA).date()


class LeadFilterForm(SafeForm):
    """Filters of the leads list and exports, read from the query string (no CSRF: GET)."""

    class Meta:
        csrf = False

    view = Select("常用视图", choices=[SelectChoice(k, v) for k, v in VIEWS.items()], default="")
    q = StringField("搜索(姓名、手机号或身份证后四位)")
    sort = Select("排序", choices=[SelectChoice(k, v) for k, v in SORTS.items()], default="new")
    hide_opt_out = BooleanField("不显示暂不需要联系的线索")
    intent = SelectMultipleField("意向选项(可多选)", choices=[], validate_choice=False)

    campaign_id = Select("活动", coerce=_optional_int)
    branch_id = Select("机构", coerce=_optional_int)
    unassigned = BooleanField("仅未分配机构")
    province_code = Select("省份", default="")
    city_code = Select("城市", default="")
    intent_level = Select("关注险种", default="")
    score_min = Integer(
        "最低得分", validators=[Optional(), NumberRange(0, 100, "得分应在0到100之间")]
    )
    score_max = Integer(
        "最高得分", validators=[Optional(), NumberRange(0, 100, "得分应在0到100之间")]
    )
    date_from = Day("登记日期从", validators=[Optional()])
    date_to = Day("登记日期至", validators=[Optional()])
    follow_up_status = Select("跟进状态", default="")
    completed = Select(
        "答题状态",
        choices=[
            SelectChoice("", "全部"),
            SelectChoice("1", "已完成"),
            SelectChoice("0", "未完成"),
        ],
        default="",
    )
    duplicates = BooleanField("仅手机号重复")
    flagged = BooleanField("仅可疑推荐")
    # Set by the leaderboard's and referral pages' links ("this agent's leads").
    agent_id = Integer(
        "推荐业务员编号", validators=[Optional(), NumberRange(1, 2**31 - 1, "业务员编号无效")]
    )

    def setup(
        self,
        branches: list[tuple[int, str]],
        intents: list[str],
        campaigns: list[tuple[int, str]],
        default_campaign_id: int | None = None,
    ) -> LeadFilterForm:
        """Fill the choices that depend on data (campaigns, branches, provinces, cities,
        intents). The campaign defaults to the one the switcher selected (the one the
        dashboard counts), else the newest."""
        self.campaign_id.choices = [(None, "全部活动"), *campaigns]
        if not self.campaign_id.raw_data and campaigns:
            known = {cid for cid, _ in campaigns}
            self.campaign_id.data = (
                default_campaign_id if default_campaign_id in known else campaigns[0][0]
            )
        self.branch_id.choices = [(None, "全部机构"), *branches]
        self.province_code.choices = [("", "全部省份")] + [
            (p.code, p.name) for p in divisions.provinces()
        ]
        cities: list[tuple[str, str]] = []
        province = self.province_code.data or ""
        if province and divisions.get(province):
            cities = [(c.code, c.name) for c in divisions.children(province)]
        everything = "全部区县" if province in divisions.MUNICIPALITIES else "全部城市"
        self.city_code.choices = [("", everything if cities else "请先选择省份"), *cities]
        self.intent_level.choices = [("", "全部"), *((i, i) for i in intents)]
        self.follow_up_status.choices = [("", "全部"), *((s, s) for s in FOLLOW_UP_STATUSES)]
        return self

    def set_intent_options(self, options: list[tuple[str, str, str]]) -> LeadFilterForm:
        """Each intent question's options, grouped by question."""
        self.intent.choices = [SelectChoice(v, o, optgroup=q) for v, o, q in options]
        return self

    def validate_intent(self, field: Any) -> None:
        known = {c.value for c in self.intent.choices}  # type: ignore[union-attr]
        if any(v not in known for v in field.data or []):
            raise ValidationError("选项无效,请重新选择")

    def validate_score_max(self, field: Any) -> None:
        low = self.score_min.data
        if field.data is not None and low is not None and field.data < low:
            raise ValidationError("最高得分不能低于最低得分")

    def validate_date_to(self, field: Any) -> None:
        start = self.date_from.data
        if field.data is not None and start is not None and field.data < start:
            raise ValidationError("结束日期不能早于开始日期")

    def validate_q(self, field: Any) -> None:
        text = (field.data or "").strip()
        if len(text) > SEARCH_MAX:
            raise ValidationError(f"搜索内容不能超过{SEARCH_MAX}个字")
        if text.isdigit() and len(text) not in (4, 11):
            raise ValidationError("请输入完整的11位手机号码或身份证号码后四位")
        if len(text) == 11 and text.isdigit():
            try:
                validate_mobile(text)
            except IdentityError as exc:
                raise ValidationError(str(exc)) from exc

    def _search(self, mobile_hash: Callable[[str], str] | None) -> dict[str, str]:
        """The search box as a filter: 11 digits a mobile (by its keyed hash), four digits
        or three and X the end of an ID number, anything else the beginning of a name."""
        text = (self.q.data or "").strip()
        if not text:
            return {}
        if len(text) == 11 and text.isdigit():
            return {"mobile_hash": mobile_hash(validate_mobile(text))} if mobile_hash else {}
        if len(text) == 4 and (text.isdigit() or text[:3].isdigit() and text[3] in "xX"):
            return {"id_last4": text.upper()}
        return {"name": text}

    def to_filters(
        self, user: StaffUser, mobile_hash: Callable[[str], str] | None = None
    ) -> LeadFilters:
        """The validated filters; branch choices only count for head office. mobile_hash
        turns a searched mobile into its keyed hash (without it a mobile is not searched)."""
        head_office = user.role in ("admin", "analyst")
        completed = {"1": True, "0": False}.get(self.completed.data or "")
        search = self._search(mobile_hash)
        view = self.view.data or ""
        today = today_in_china()
        date_from, date_to = self.date_from.data, self.date_to.data
        if view == "today":
            date_from = date_to = today
        return LeadFilters(
            branch_id=self.branch_id.data if head_office else None,
            unassigned=bool(self.unassigned.data) and head_office,
            province_code=self.province_code.data or None,
            city_code=self.city_code.data or None,
            intent_level=self.intent_level.data or None,
            score_min=self.score_min.data,
            score_max=self.score_max.data,
            date_from=date_from,
            date_to=date_to,
            follow_up_status=self.follow_up_status.data or None,
            completed=completed,
            duplicates=bool(self.duplicates.data),
            flagged=bool(self.flagged.data),
            agent_id=self.agent_id.data,
            campaign_id=self.campaign_id.data,
            hide_opt_out=bool(self.hide_opt_out.data) or view == "mine",
            intent=tuple(self.intent.data or ()),
            due_on=today if view == "mine" else None,
            overdue_before=today if view == "overdue" else None,
            **search,
        )


RANGES = {"all": "全部", "today": "今日", "7d": "近7天"}


class DashboardRangeForm(SafeForm):
    """The dashboard's period: 全部 / 今日 / 近7天, or a range of Beijing dates (GET)."""

    class Meta:
        csrf = False

    range = Select(
        "时间范围", choices=[SelectChoice(k, v) for k, v in RANGES.items()], default="all"
    )
    date_from = Day("登记日期从", validators=[Optional()])
    date_to = Day("登记日期至", validators=[Optional()])

    def validate_date_to(self, field: Any) -> None:
        start = self.date_from.data
        if field.data is not None and start is not None and field.data < start:
            raise ValidationError("结束日期不能早于开始日期")

    def days(self) -> tuple[Any, Any]:
        """(first, last) Beijing days included, None on an open side."""
        if self.date_from.data or self.date_to.data:
            return self.date_from.data, self.date_to.data
        today = today_in_china()
        if self.range.data == "today":
            return today, today
        if self.range.data == "7d":
            return today - timedelta(days=6), today
        return None, None


class FollowUpForm(SafeForm):
    """One follow-up outcome with a note and the day to call again."""

    status = Radio(
        "跟进结果", choices=[SelectChoice(s, s) for s in FOLLOW_UP_STATUSES], validate_choice=True
    )
    note = TextAreaField("跟进备注", validators=[Optional()])
    next_contact_on = Day("下次联系日期", validators=[Optional()])

    def validate_next_contact_on(self, field: Any) -> None:
        if field.data is not None and field.data < today_in_china():
            raise ValidationError("下次联系日期不能早于今天")

    def validate_note(self, field: Any) -> None:
        if field.data and len(field.data) > NOTE_MAX:
            raise ValidationError(f"跟进备注不能超过{NOTE_MAX}个字")


BULK_MAX = 200


class BulkStatusForm(SafeForm):
    """批量修改跟进状态: the ticked leads of a list page and one status."""

    ids = SelectMultipleField("选择", coerce=int, validate_choice=False)
    status = Select("批量修改跟进状态为", choices=[SelectChoice(s, s) for s in FOLLOW_UP_STATUSES])

    def validate_ids(self, field: Any) -> None:
        if not field.data:
            raise ValidationError("请先勾选要修改的线索")
        if len(field.data) > BULK_MAX:
            raise ValidationError(f"一次最多修改{BULK_MAX}条线索")


class RevealForm(SafeForm):
    """查看完整信息: a POST with a CSRF token and nothing else."""


class ExportForm(SafeForm):
    """Format and scope of an export; the filters travel in the query string."""

    fmt = Radio(
        "文件格式",
        choices=[
            SelectChoice("xlsx", "Excel(XLSX,后台生成,身份证号码完整、可筛选)"),
            SelectChoice("csv", "CSV(立即下载)"),
        ],
        default="xlsx",
        validate_choice=True,
    )
    scope = Radio(
        "导出范围",
        choices=[
            SelectChoice("branch", "单个文件(按筛选条件)"),
            SelectChoice("all", "按机构分文件打包(ZIP)"),
        ],
        default="branch",
        validate_choice=True,
    )
