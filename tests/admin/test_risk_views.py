"""风控审核 pages: who may see them, masking, bulk exclusion, undo, refusal after freeze."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from quiz.branches.routing import AddressInput
from quiz.campaign.lifecycle import current_campaign
from quiz.db import utcnow
from quiz.draw import service
from quiz.fraud import review, signals
from quiz.models import AuditLog, Branch, Campaign, Participant
from tests.factories import login_as, make_participant, make_staff

FLAT = "湖北省武汉市江岸区沿江大道100号"


def _setup(session: Session, protector: Any, n: int = 4) -> tuple[Campaign, list[Participant]]:
    campaign = current_campaign(session)
    assert campaign is not None
    people = [
        make_participant(
            session,
            protector,
            campaign,
            i,
            complete=True,
            name="欧阳小明",
            address=AddressInput(free_text=FLAT),
        )
        for i in range(1, n + 1)
    ]
    make_participant(session, protector, campaign, 51, complete=True)  # Shenzhen
    signals.recompute(session, protector, campaign)
    session.commit()
    return campaign, people


def _key(session: Session, campaign: Campaign) -> str:
    return next(c for c in review.clusters(session, campaign) if c.signal == "address").cluster_key


def _csrf(client: FlaskClient, path: str) -> str:
    # CSRF is off in these tests (tests/web check it); the field is sent as a browser would.
    assert client.get(path).status_code == 200
    return ""


def test_head_office_only(client: FlaskClient, session: Session, protector: Any) -> None:
    _setup(session, protector)
    assert client.get("/admin/risk").status_code in (302, 401)
    branch = session.scalars(select(Branch)).first()
    assert branch is not None
    login_as(client, make_staff(session, "gd01", role="branch", branch_id=branch.id))
    session.commit()
    assert client.get("/admin/risk").status_code == 403
    assert client.get("/admin/risk/cluster?signal=address&cluster_key=x").status_code == 403
    assert client.post("/admin/risk/exclude", data={}).status_code in (400, 403)
    login_as(client, make_staff(session, "ana", role="analyst"))
    session.commit()
    page = client.get("/admin/risk")
    assert page.status_code == 200 and "同一邮寄地址" in page.get_data(as_text=True)
    assert "风控审核" in page.get_data(as_text=True)


def test_clusters_and_entries_show_masked_forms_only(
    client: FlaskClient, session: Session, protector: Any
) -> None:
    campaign, people = _setup(session, protector)
    login_as(client, make_staff(session))
    session.commit()
    overview = client.get("/admin/risk").get_data(as_text=True)
    assert "湖北省武汉市江岸区沿江***" in overview and "沿江大道100号" not in overview
    key = _key(session, campaign)
    page = client.get(f"/admin/risk/cluster?signal=address&cluster_key={key}")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    for p in people:
        assert p.id_masked in body and p.mobile_masked in body
    assert "欧**明" in body and "欧阳小明" not in body
    assert "沿江大道100号" not in body
    assert client.get("/admin/risk/cluster?signal=bogus&cluster_key=x").status_code == 404
    assert client.get("/admin/risk/cluster?signal=address&cluster_key=none").status_code == 404


def test_bulk_exclude_then_undo_is_audited(
    client: FlaskClient, session: Session, protector: Any
) -> None:
    campaign, people = _setup(session, protector)
    login_as(client, make_staff(session))
    session.commit()
    key = _key(session, campaign)
    session.commit()  # end the test's write transaction before the app writes
    path = f"/admin/risk/cluster?signal=address&cluster_key={key}"
    token = _csrf(client, path)
    form = {"csrf_token": token, "signal": "address", "cluster_key": key}
    refused = client.post("/admin/risk/exclude", data={**form, "reason": "  "})
    assert refused.status_code == 422 and "请填写排除原因" in refused.get_data(as_text=True)
    done = client.post("/admin/risk/exclude", data={**form, "reason": "同一地址批量注册"})
    assert done.status_code == 302
    session.expire_all()
    assert all(session.get(Participant, p.id).excluded for p in people)  # type: ignore[union-attr]
    draw_page = client.get("/admin/draw").get_data(as_text=True)
    assert "同一地址批量注册 <strong>4</strong> 人" in draw_page
    action = review.actions(session, campaign)[0]
    session.commit()
    undone = client.post(f"/admin/risk/actions/{action.id}/undo", data={"csrf_token": token})
    assert undone.status_code == 302
    session.expire_all()
    assert not any(session.get(Participant, p.id).excluded for p in people)  # type: ignore[union-attr]
    logged = list(
        session.scalars(
            select(AuditLog.action).where(AuditLog.action.in_(["risk.exclude", "risk.undo"]))
        )
    )
    assert sorted(logged) == ["risk.exclude", "risk.undo"]
    audit_page = client.get("/admin/audit").get_data(as_text=True)
    assert "风控审核:批量排除" in audit_page and "风控审核:撤销批量排除" in audit_page


def test_refused_after_the_freeze(client: FlaskClient, session: Session, protector: Any) -> None:
    campaign, people = _setup(session, protector)
    admin = make_staff(session)
    login_as(client, admin)
    key = _key(session, campaign)
    action = review.exclude_cluster(session, campaign, "address", key, "同一地址", admin)
    campaign.closes_at = utcnow()
    session.commit()
    draw = service.freeze(session, campaign, operator="t", now=utcnow() + timedelta(seconds=1))
    session.commit()
    token = _csrf(client, "/admin/risk")
    session.commit()
    undo = client.post(f"/admin/risk/actions/{action.id}/undo", data={"csrf_token": token})
    assert undo.status_code == 409 and "已冻结" in undo.get_data(as_text=True)
    session.expire_all()
    assert all(session.get(Participant, p.id).excluded for p in people)  # type: ignore[union-attr]
    session.commit()
    form = {"csrf_token": token, "signal": "address", "cluster_key": key, "reason": "x"}
    assert client.post("/admin/risk/exclude", data=form).status_code == 409
    record = client.get(f"/admin/draw/{draw.id}/record").get_data(as_text=True)
    assert "同一地址:4 人" in record
