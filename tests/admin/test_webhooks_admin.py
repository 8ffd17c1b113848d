"""CRM 对接 pages: head office sets an endpoint up (secret shown once), reads the delivery
log and replays a failed delivery; analysts only read; branch staff never see it."""

from __future__ import annotations

from sqlalchemy import select

from quiz.campaign.lifecycle import current_campaign
from quiz.models import AuditLog, Branch, WebhookDelivery, WebhookEndpoint
from tests.factories import login_as, make_participant, make_staff


def _admin(client, session):
    user = make_staff(session, "ho", role="admin")
    session.commit()
    login_as(client, user)
    return user


def test_admin_adds_an_endpoint_and_sees_the_secret_once(client, session, protector):
    _admin(client, session)
    resp = client.post(
        "/admin/webhooks",
        data={"name": "总部CRM", "url": "https://crm.example/hook", "reveal": "y"},
    )
    page = resp.get_data(as_text=True)
    assert resp.status_code == 201 and "只显示这一次" in page
    endpoint = session.scalars(select(WebhookEndpoint)).one()
    secret = protector.decrypt(endpoint.secret_enc)
    assert secret in page and endpoint.reveal
    assert secret not in client.get("/admin/webhooks").get_data(as_text=True)
    assert session.scalars(select(AuditLog.action)).all()[-1] == "webhook.create"


def test_a_bad_url_gets_a_chinese_message_and_a_422(client, session):
    _admin(client, session)
    resp = client.post("/admin/webhooks", data={"name": "x", "url": "ftp://crm/hook"})
    assert resp.status_code == 422
    assert "http:// 或 https://" in resp.get_data(as_text=True)
    assert session.scalars(select(WebhookEndpoint)).all() == []


def test_a_failed_delivery_is_replayed_with_the_same_event_id(app, client, session, protector):
    _admin(client, session)
    client.post("/admin/webhooks", data={"name": "CRM", "url": "http://127.0.0.1:9/x"})
    make_participant(session, protector, current_campaign(session), 1)
    session.commit()
    delivery = session.scalars(select(WebhookDelivery)).one()
    delivery.status, delivery.attempts, delivery.last_status = "failed", 28, 503
    session.commit()
    log = client.get(f"/admin/webhooks/{delivery.endpoint_id}?status=failed")
    assert delivery.event_id in log.get_data(as_text=True) and "重新发送" in log.get_data(
        as_text=True
    )
    resp = client.post(f"/admin/webhooks/deliveries/{delivery.id}/replay")
    assert resp.status_code == 302
    session.expire_all()
    again = session.get(WebhookDelivery, delivery.id)
    # Sent again at once (the test queue runs in place; port 9 refuses): a new attempt.
    assert again.status == "pending" and again.attempts == 29
    assert "ConnectionRefused" in (again.last_error or "") or "URLError" in (again.last_error or "")


def test_analysts_read_but_cannot_change_and_branch_staff_see_nothing(client, session):
    analyst = make_staff(session, "an", role="analyst")
    branch = session.scalars(select(Branch)).first()
    branch_user = make_staff(session, "br", role="branch", branch_id=branch.id)
    session.commit()
    login_as(client, analyst)
    page = client.get("/admin/webhooks")
    assert page.status_code == 200 and "新增对接地址" not in page.get_data(as_text=True)
    assert (
        client.post("/admin/webhooks", data={"name": "x", "url": "https://a/b"}).status_code == 403
    )
    login_as(client, branch_user)
    assert client.get("/admin/webhooks").status_code == 403
