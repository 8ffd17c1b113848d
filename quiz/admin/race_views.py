"""The branch race (E服务推广活动): standings per group, and the daily figures upload."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from flask import abort, render_template, request
from flask.typing import ResponseReturnValue
from flask_wtf.file import FileField, FileRequired

from quiz.admin import bp
from quiz.admin.access import admin_required, any_staff, current_staff, head_office_required
from quiz.admin.campaign_views import selected_campaign
from quiz.clock import CHINA
from quiz.race import chart, figures
from quiz.race import service as race
from quiz.staff import audit
from quiz.web.forms import SafeForm
from quiz.web.request import db, takes_uploads

MAX_CHART_DAYS = 400


class FiguresForm(SafeForm):
    file = FileField("每日数据文件(CSV 或 Excel)", validators=[FileRequired("请选择文件。")])


def _today() -> date:
    return datetime.now(CHINA).date()


@bp.get("/race")
@any_staff
def race_page() -> ResponseReturnValue:
    campaign = selected_campaign()
    if campaign is None:
        abort(404)
    config = race.RaceConfig.of(campaign)
    user = current_staff()
    today = _today()
    groups = race.standings(db(), campaign, today, config) if config else []
    first = campaign.opens_at.astimezone(CHINA).date()
    last = min(today, campaign.closes_at.astimezone(CHINA).date())
    days = [first + timedelta(days=i) for i in range(min((last - first).days + 1, MAX_CHART_DAYS))]
    charts = []
    for group in groups:
        series = race.group_series(db(), campaign, group, days, config)
        charts.append(
            (
                chart.progress_svg(
                    f"{group.name}达成率走势", days, series, config.milestones if config else ()
                ),
                chart.colours(list(series)),
            )
        )
    return render_template(
        "admin/race.html",
        campaign=campaign,
        config=config,
        groups=groups,
        charts=charts,
        today=today,
        own_branch=user.branch_id if user and user.role == "branch" else None,
        head_office=user is not None and user.role != "branch",
    )


@bp.get("/race/figures")
@head_office_required
def race_figures() -> ResponseReturnValue:
    campaign = selected_campaign()
    if campaign is None:
        abort(404)
    return render_template(
        "admin/race_figures.html", campaign=campaign, form=FiguresForm(), report=None
    )


@bp.post("/race/figures")
@admin_required
@takes_uploads
def race_figures_upload() -> ResponseReturnValue:
    """Check the whole file; save every row or none, and show the report."""
    campaign = selected_campaign()
    if campaign is None:
        abort(404)
    form = FiguresForm()
    report = None
    status = 422
    if form.validate_on_submit():
        upload = form.file.data
        try:
            report = figures.import_figures(db(), campaign.id, upload.read(), upload.filename or "")
        except figures.FigureImportError as exc:
            form.file.errors = [*form.file.errors, str(exc)]
        else:
            if report.ok:
                audit.record(
                    db(),
                    current_staff(),
                    "race.figures_import",
                    upload.filename or "",
                    {"rows": report.saved, "metrics": report.metrics},
                    request.remote_addr,
                )
                db().commit()
                status = 200
            else:
                db().rollback()
    return render_template(
        "admin/race_figures.html", campaign=campaign, form=form, report=report
    ), status
