"""Staff pages: branch scope, phone photographs, blind judging sheets, awards, exports."""

from __future__ import annotations

import io
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from quiz.models import ArtworkInvitation, Branch, Campaign
from tests.artwork.conftest import install_contest, make_agent, make_work
from tests.artwork.pictures import jpeg_with_gps
from tests.factories import login_as, make_staff


def _branch(session: Session, code: str) -> int:
    return session.scalars(select(Branch.id).where(Branch.code == code)).one()


@pytest.fixture
def world(app: Flask, session: Session, protector: Any, tmp_path: Any) -> dict[str, Any]:
    from quiz.artwork.images import store_for

    campaign = install_contest(session, regional_judges=["judge_sh", "judge_ho"])
    store = store_for(None, app.instance_path)
    bj_agent, sh_agent = make_agent(session, "B11", "BJ1"), make_agent(session, "B31", "SH1")
    bj_work = make_work(session, protector, campaign, bj_agent, store, 1, stage="selected")
    sh_work = make_work(session, protector, campaign, sh_agent, store, 2, stage="selected")
    users = {
        "admin": make_staff(session, "boss", "admin"),
        "bj": make_staff(session, "bj_staff", "branch", branch_id=_branch(session, "B11")),
        "judge_sh": make_staff(session, "judge_sh", "branch", branch_id=_branch(session, "B31")),
    }
    for user in users.values():
        user.current_campaign_id = campaign.id
    session.commit()
    world = {
        "campaign_id": campaign.id,
        "users": {
            k: SimpleNamespace(id=u.id, session_version=u.session_version, username=u.username)
            for k, u in users.items()
        },
        "bj_agent": bj_agent.id,
        "sh_agent": sh_agent.id,
        "bj_work": (bj_work.id, bj_work.child_id),
        "sh_work": (sh_work.id, sh_work.child_id),
        "bj_name": protector.decrypt(bj_work.child.name_enc),
        "sh_name": protector.decrypt(sh_work.child.name_enc),
    }
    session.rollback()  # plain values only: the test session must not hold SQLite's lock
    return world


def as_user(client: FlaskClient, world: dict[str, Any], who: str) -> FlaskClient:
    login_as(client, world["users"][who])
    return client


def test_branch_staff_see_their_branch_only_and_photograph_from_the_phone(
    client: FlaskClient, session: Session, world: dict[str, Any]
) -> None:
    as_user(client, world, "bj")
    page = client.get("/admin/artwork/checkin").get_data(as_text=True)
    assert world["bj_name"] in page and world["sh_name"] not in page
    # Another branch's child and picture: 404, not 403 (no existence leak).
    sh_work_id, sh_child = world["sh_work"]
    assert client.get(f"/admin/artwork/image/{sh_work_id}/thumb").status_code == 404
    assert client.post(f"/admin/artwork/child/{sh_child}/checkin").status_code == 404

    issued = client.post("/admin/artwork/invitations", data={"agent_id": world["sh_agent"]})
    assert "请选择本机构的代理人" in client.get(issued.headers["Location"]).get_data(as_text=True)
    issued = client.post("/admin/artwork/invitations", data={"agent_id": world["bj_agent"]})
    invitation = client.get(issued.headers["Location"]).get_data(as_text=True)
    code = session.scalars(
        select(ArtworkInvitation.code).order_by(ArtworkInvitation.id.desc()).limit(1)
    ).one()
    session.rollback()
    assert (
        code in invitation
        and "<svg" in invitation
        and f"/c/drawing-contest/invite/{code}" in invitation
    )

    export = client.get("/admin/artwork/export.csv")
    assert export.status_code == 200
    text = export.get_data(as_text=True)
    assert world["bj_name"] in text and world["sh_name"] not in text


def test_a_judge_scores_blind_and_never_their_own_branch(
    client: FlaskClient, world: dict[str, Any]
) -> None:
    as_user(client, world, "judge_sh")
    sheet = client.get("/admin/artwork/judge/复评").get_data(as_text=True)
    bj_work_id, bj_child = world["bj_work"]
    sh_work_id, sh_child = world["sh_work"]
    assert f"作品 {bj_child:05d}" in sheet and f"作品 {sh_child:05d}" not in sheet
    for secret in (world["bj_name"], world["bj_name"][:2], "北京", "BJ1", "李代理", "家长"):
        assert secret not in sheet
    assert 'max="1" value="0"' in sheet  # the progress bar: 0 of 1
    image = client.get(f"/admin/artwork/image/{bj_work_id}/judging")
    assert image.status_code == 200
    assert "exif" not in Image.open(io.BytesIO(image.data)).info
    # (Their own branch's picture stays visible to them as branch staff, off the sheet.)
    own = client.post(f"/admin/artwork/judge/复评/{sh_work_id}", data={"score": "10"})
    assert "评委不评本机构的作品" in client.get(own.headers["Location"]).get_data(as_text=True)
    client.post(f"/admin/artwork/judge/复评/{bj_work_id}", data={"score": "8"})
    assert 'max="1" value="1"' in client.get("/admin/artwork/judge/复评").get_data(as_text=True)
    # Not a judge of 终评, nor of the results page.
    assert client.get("/admin/artwork/judge/终评").status_code == 403
    assert client.get("/admin/artwork/results").status_code == 403


def test_staff_upload_strips_gps_and_refuses_a_bomb_with_a_message(
    client: FlaskClient, session: Session, world: dict[str, Any], protector: Any
) -> None:
    from quiz.artwork import invitations
    from quiz.artwork.signup import Child, Consents, Guardian, sign_up
    from quiz.campaign.artwork_settings import from_content
    from quiz.db import utcnow
    from quiz.models import Agent

    campaign = session.get(Campaign, world["campaign_id"])
    agent = session.get(Agent, world["bj_agent"])
    invitation = invitations.issue(session, campaign, agent, "t")
    child = sign_up(
        session,
        protector,
        campaign,
        from_content(campaign.content),
        invitation,
        Guardian("赵大", "13700000000", "父亲"),
        Child("赵小宝", utcnow().date().replace(year=2018)),
        Consents(True, True, False, "v", utcnow()),
    )
    child_id = child.id
    session.commit()
    as_user(client, world, "bj")
    page = client.get("/admin/artwork/checkin?group=儿童组").get_data(as_text=True)
    assert 'accept="image/*" capture="environment"' in page and "赵小宝" in page

    def upload(data: bytes) -> str:
        done = client.post(
            f"/admin/artwork/child/{child_id}/work",
            data={"picture": (io.BytesIO(data), "a3.jpg")},
            content_type="multipart/form-data",
            follow_redirects=True,
        )
        assert done.status_code == 200
        return done.get_data(as_text=True)

    from tests.artwork.test_images import png_bomb_header

    assert "照片尺寸过大" in upload(png_bomb_header(30_000, 30_000))
    assert "已拍照上传" in upload(jpeg_with_gps((2000, 1500)))
    work_id = session.get(type(child), child_id).work.id
    session.rollback()
    served = client.get(f"/admin/artwork/image/{work_id}/judging").data
    assert b"PhoneMaker" not in served and "exif" not in Image.open(io.BytesIO(served)).info


def test_head_office_confirms_awards_and_certificates_follow(
    app: Flask, client: FlaskClient, session: Session, world: dict[str, Any]
) -> None:
    as_user(client, world, "admin")
    bj_work_id, bj_child = world["bj_work"]
    # Fewer than two scores: refused with the reason.
    done = client.post("/admin/artwork/results/儿童组/advance", follow_redirects=True)
    assert "少于2位评委" in done.get_data(as_text=True)
    page = client.get("/admin/artwork/results").get_data(as_text=True)
    assert "作品编号小者在前" in page
    assert client.get("/admin/artwork/results/无此组/advance").status_code == 405
    assert client.get("/admin/artwork/certificates").status_code == 200
    # The branch user may not take head office's decisions.
    as_user(client, world, "bj")
    assert client.post("/admin/artwork/results/儿童组/awards").status_code == 403
