"""Head office: the CRM webhook endpoints of the selected campaign, their delivery log,
and replay of a failed delivery. Admins change; analysts read."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from wtforms import BooleanField, StringField
from wtforms.validators import DataRequired, Length

from quiz.admin import bp
from quiz.admin.access import admin_required, current_staff, head_office_required
from quiz.admin.campaign_views import selected_campaign
from quiz.models import WebhookDelivery, WebhookEndpoint
from quiz.staff import audit
from quiz.web.forms import SafeForm
from quiz.web.queue import task_queue
from quiz.web.request import db, protector
from quiz.webhooks import service as webhooks

STATUS_LABELS = {"pending": "待发送", "delivered": "已送达", "failed": "失败"}


class EndpointForm(SafeForm):
    name = StringField(
        "名称", [DataRequired("请填写名称。"), Length(max=100, message="名称不能超过100个字。")]
    )
    url = StringField(
        "接收地址(URL)",
        [DataRequired("请填写接收地址。"), Length(max=500, message="地址不能超过500个字符。")],
    )
    reveal = BooleanField("发送完整个人信息(姓名、手机号、地址);不勾选则只发送脱敏信息")


class ActionForm(SafeForm):
    """A POST button: only the CSRF token."""


def _page(form: EndpointForm, status: int = 200, secret: str | None = None) -> ResponseReturnValue:
    campaign = selected_campaign()
    endpoints = webhooks.endpoints_of(db(), campaign.id) if campaign else []
    counts = {e.id: webhooks.delivery_counts(db(), e.id) for e in endpoints}
    user = current_staff()
    return render_template(
        "admin/webhooks.html",
        campaign=campaign,
        endpoints=endpoints,
        counts=counts,
        form=form,
        action=ActionForm(),
        secret=secret,
        can_edit=user is not None and user.role == "admin",
    ), status


@bp.get("/webhooks")
@head_office_required
def webhooks_page() -> ResponseReturnValue:
    return _page(EndpointForm())


@bp.post("/webhooks")
@admin_required
def webhooks_create() -> ResponseReturnValue:
    form = EndpointForm()
    campaign = selected_campaign()
    if campaign is None:
        abort(404)
    if not form.validate():
        return _page(form, 422)
    try:
        endpoint, secret = webhooks.create_endpoint(
            db(), protector(), campaign.id, form.name.data, form.url.data, reveal=form.reveal.data
        )
    except webhooks.WebhookError as exc:
        form.url.errors = [*form.url.errors, str(exc)]
        return _page(form, 422)
    audit.record(
        db(),
        current_staff(),
        "webhook.create",
        f"webhook_endpoint:{endpoint.id}",
        {"url": endpoint.url, "full_personal_data": endpoint.reveal},
        request.remote_addr,
    )
    db().commit()
    # The secret is shown once, on this page; the database keeps it encrypted.
    return _page(EndpointForm(formdata=None), 201, secret=secret)


@bp.post("/webhooks/<int:endpoint_id>/toggle")
@admin_required
def webhooks_toggle(endpoint_id: int) -> ResponseReturnValue:
    endpoint = db().get(WebhookEndpoint, endpoint_id)
    if endpoint is None or not ActionForm().validate():
        abort(404)
    endpoint.active = not endpoint.active
    audit.record(
        db(),
        current_staff(),
        "webhook.toggle",
        f"webhook_endpoint:{endpoint.id}",
        {"active": endpoint.active},
        request.remote_addr,
    )
    db().commit()
    flash("已启用。" if endpoint.active else "已停用:新的事件不再记录给此地址。")
    return redirect(url_for("admin.webhooks_page"))


@bp.get("/webhooks/<int:endpoint_id>")
@head_office_required
def webhooks_log(endpoint_id: int) -> ResponseReturnValue:
    endpoint = db().get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        abort(404)
    status = request.args.get("status", "")
    if status not in STATUS_LABELS:
        status = ""
    user = current_staff()
    return render_template(
        "admin/webhook_log.html",
        endpoint=endpoint,
        deliveries=webhooks.deliveries_of(db(), endpoint.id, status or None),
        counts=webhooks.delivery_counts(db(), endpoint.id),
        status=status,
        labels=STATUS_LABELS,
        action=ActionForm(),
        can_edit=user is not None and user.role == "admin",
    )


@bp.post("/webhooks/deliveries/<int:delivery_id>/replay")
@admin_required
def webhooks_replay(delivery_id: int) -> ResponseReturnValue:
    delivery = db().get(WebhookDelivery, delivery_id)
    if delivery is None or not ActionForm().validate():
        abort(404)
    if delivery.status == "pending":
        flash("该事件仍在发送中,无需重发。")
        return redirect(url_for("admin.webhooks_log", endpoint_id=delivery.endpoint_id))
    webhooks.replay(db(), delivery)
    audit.record(
        db(),
        current_staff(),
        "webhook.replay",
        f"webhook_delivery:{delivery.id}",
        {"event": delivery.event_id},
        request.remote_addr,
    )
    db().commit()
    task_queue().deliver_webhooks(delivery.id)
    flash("已重新加入发送队列(事件编号不变,接收方可据此去重)。")
    return redirect(url_for("admin.webhooks_log", endpoint_id=delivery.endpoint_id))
