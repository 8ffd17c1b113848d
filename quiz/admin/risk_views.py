"""风控审核 (the fraud review queue): risk clusters of the selected campaign, the masked
entries behind each, bulk exclusion with a reason, undo before the freeze, recompute.

Head office only (the review_risk permission); every action is audited by the services
in quiz.fraud.review and goes through the draw's own exclusions.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from wtforms import HiddenField, StringField
from wtforms.validators import ValidationError

from quiz.admin import bp
from quiz.admin.access import current_staff, review_risk
from quiz.admin.campaign_views import selected_campaign
from quiz.draw.eligibility import DrawRefused, active_draw
from quiz.fraud import review, signals
from quiz.models import MAX_ID, Campaign, StaffUser
from quiz.staff import audit
from quiz.web.forms import SafeForm
from quiz.web.request import db, protector

MAX_SHOWN = 500  # entries listed under one cluster (the action covers them all)


class ActionForm(SafeForm):
    """A bare POST with its CSRF token."""


class ClusterExcludeForm(SafeForm):
    signal = HiddenField()
    cluster_key = HiddenField()
    reason = StringField("排除原因")

    def validate_reason(self, field: Any) -> None:
        if not (field.data or "").strip():
            raise ValidationError("请填写排除原因")
        if len(field.data) > review.MAX_REASON:
            raise ValidationError(f"排除原因不能超过{review.MAX_REASON}个字")


def _campaign() -> Campaign:
    campaign = selected_campaign()
    if campaign is None:
        abort(404)
    return campaign


def _staff() -> StaffUser:
    user = current_staff()
    assert user is not None  # the decorators refused anonymous users
    return user


def _cluster_args(source: Any) -> tuple[str, str]:
    signal = str(source.get("signal", ""))[:16]
    key = str(source.get("cluster_key", ""))[:64]
    if signal not in signals.SIGNALS or not key:
        abort(404)
    return signal, key


@bp.get("/risk")
@review_risk
def risk() -> ResponseReturnValue:
    """Clusters by signal with their counts, and the bulk actions taken."""
    return _risk_page()


def _risk_page(status: int = 200) -> ResponseReturnValue:
    campaign = _campaign()
    chosen = request.args.get("signal", "")
    if chosen and chosen not in signals.SIGNALS:
        chosen = ""
    found = review.clusters(db(), campaign, chosen or None)
    return render_template(
        "admin/risk.html",
        campaign=campaign,
        clusters=found,
        chosen=chosen,
        labels=signals.SIGNALS,
        flagged=review.flagged_entries(db(), campaign),
        actions=review.actions(db(), campaign),
        frozen=active_draw(db(), campaign) is not None,
        exclusions=review.exclusion_counts(db(), campaign),
        address_rule=review.one_winner_per_address(campaign),
        action_form=ActionForm(),
    ), status


def _cluster_page(
    signal: str, key: str, form: ClusterExcludeForm | None = None, status: int = 200
) -> ResponseReturnValue:
    campaign = _campaign()
    entries = review.cluster_entries(db(), campaign, signal, key)
    if not entries:
        abort(404)
    form = form or ClusterExcludeForm(
        data={"signal": signal, "cluster_key": key, "reason": f"风控:{signals.SIGNALS[signal]}"}
    )
    cluster = next(c for c in review.clusters(db(), campaign, signal) if c.cluster_key == key)
    return render_template(
        "admin/risk_cluster.html",
        campaign=campaign,
        cluster=cluster,
        entries=entries[:MAX_SHOWN],
        more=max(len(entries) - MAX_SHOWN, 0),
        form=form,
        frozen=active_draw(db(), campaign) is not None,
    ), status


@bp.get("/risk/cluster")
@review_risk
def risk_cluster() -> ResponseReturnValue:
    """The masked entries behind one cluster, and the bulk exclusion form."""
    signal, key = _cluster_args(request.args)
    return _cluster_page(signal, key)


@bp.post("/risk/exclude")
@review_risk
def risk_exclude() -> ResponseReturnValue:
    signal, key = _cluster_args(request.form)
    form = ClusterExcludeForm()
    if not form.validate_on_submit():
        return _cluster_page(signal, key, form, 422)
    campaign = _campaign()
    try:
        action = review.exclude_cluster(
            db(), campaign, signal, key, form.reason.data, _staff(), ip=request.remote_addr
        )
    except DrawRefused as exc:
        db().rollback()
        form.reason.errors = [*form.reason.errors, str(exc)]
        return _cluster_page(signal, key, form, 409)
    db().commit()
    flash(f"已排除该组 {len(action.participant_ids)} 名参与者(冻结名单前可撤销)。", "success")
    return redirect(url_for("admin.risk"))


@bp.post("/risk/actions/<int:action_id>/undo")
@review_risk
def risk_undo(action_id: int) -> ResponseReturnValue:
    if not ActionForm().validate_on_submit():
        abort(400)
    if action_id > MAX_ID:
        abort(404)
    try:
        restored = review.undo(db(), _campaign(), action_id, _staff(), ip=request.remote_addr)
    except DrawRefused as exc:
        db().rollback()
        flash(str(exc), "error")
        return _risk_page(409)
    db().commit()
    flash(f"已撤销该排除操作,恢复 {restored} 名参与者的抽奖资格。", "success")
    return redirect(url_for("admin.risk"))


@bp.post("/risk/recompute")
@review_risk
def risk_recompute() -> ResponseReturnValue:
    """Rebuild the campaign's signals (after the limits change, or for older entries)."""
    if not ActionForm().validate_on_submit():
        abort(400)
    campaign = _campaign()
    flagged = signals.recompute(db(), protector(), campaign)
    audit.record(
        db(),
        _staff(),
        "risk.recompute",
        f"campaign:{campaign.id}",
        {"campaign": campaign.slug, "flagged": flagged},
        request.remote_addr,
        campaign_id=campaign.id,
    )
    db().commit()
    flash(f"已重新计算风险信号:{flagged} 名参与者有风险信号。", "success")
    return redirect(url_for("admin.risk"))
