"""Head-office dashboard: entries, funnel, regions, scores, intent and follow-up."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from quiz.admin import bp
from quiz.admin.access import any_staff, current_staff, head_office_required
from quiz.admin.campaign_views import selected_campaign
from quiz.admin.lead_forms import RANGES, DashboardRangeForm
from quiz.campaign import kinds
from quiz.leads.scope import HEAD_OFFICE
from quiz.leads.service import china_day_start
from quiz.reports import charts, stats
from quiz.web.request import db


def _period() -> tuple[DashboardRangeForm, bool, tuple[Any, Any], stats.Window]:
    """The period asked for in the query string (全部 when it does not validate)."""
    form = DashboardRangeForm(request.args)
    valid = form.validate()
    first, last = form.days() if valid else (None, None)
    window = stats.Window(
        china_day_start(first) if first else None,
        china_day_start(last + timedelta(days=1)) if last else None,
    )
    return form, valid, (first, last), window


# The first page of each kind's home (quiz.campaign.kinds.home_page).
_HOME_ENDPOINTS = {
    "contest": "admin.contest_home",
    "artwork": "admin.artwork_overview",
    "draw": "admin.draw",
}


@bp.get("/intent")
@head_office_required
def intent_analysis() -> ResponseReturnValue:
    """意向分析 moved onto the dashboard; old links and bookmarks land on its section."""
    return redirect(url_for("admin.dashboard", **request.args.to_dict(flat=False)) + "#intent")


@bp.get("/")
@any_staff
def dashboard() -> ResponseReturnValue:
    user = current_staff()
    assert user is not None
    campaign = selected_campaign()
    home = kinds.home_page(campaign.kind) if campaign is not None else "dashboard"
    if home != "dashboard":
        # A contest or a list draw has none of the quiz's figures: its own page instead
        # (branch staff of a list draw: the winners their branch notifies).
        if user.role not in HEAD_OFFICE and home == "draw":
            return redirect(url_for("admin.draw_winners"))
        return redirect(url_for(_HOME_ENDPOINTS[home]))
    if user.role not in HEAD_OFFICE:
        # Branch staff have no head-office figures: their start page is their leads.
        return redirect(url_for("admin.leads"))
    form, valid, (first, last), window = _period()
    board = stats.dashboard(db(), campaign.id if campaign else None, window)
    funnel_base = board.visits or board.consents or board.entries or 1
    figures = {
        "per_day": charts.column_chart(
            "每日参与人数", [(f"{d.month}/{d.day}", n) for d, n in board.per_day], unit="人"
        ),
        "funnel": charts.hbar_chart("参与漏斗", board.funnel, unit="人"),
        "provinces": charts.hbar_chart("各省参与人数", board.provinces, unit="人"),
        "branches": charts.hbar_chart(
            "各机构线索数", [(b.name, b.entries) for b in board.branches], unit="条"
        ),
        "scores": charts.column_chart(
            "得分分布", [(f"{s}分", n) for s, n in board.scores], unit="人"
        ),
        "questions": [
            charts.hbar_chart(q.text, list(q.counts.items()), unit="人") for q in board.questions
        ],
        "progress": charts.hbar_chart(
            "各机构跟进率",
            [(b.name, round(b.progress * 100, 1)) for b in board.branches if b.entries],
            unit="%",
            scale_max=100,
        ),
    }
    return render_template(
        "admin/dashboard.html",
        form=form,
        ranges=RANGES,
        period=(first, last),
        campaign=campaign,
        board=board,
        figures=figures,
        funnel_base=funnel_base,
    ), (200 if valid else 400)
