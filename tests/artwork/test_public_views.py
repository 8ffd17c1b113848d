"""The contest's public pages: refusals in Chinese with 4xx, uploads, who sees a picture."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy.orm import Session

from quiz.artwork import images, invitations
from quiz.models import ArtworkChild, Campaign
from tests.artwork.conftest import install_contest, make_agent
from tests.artwork.pictures import HTML, SVG, jpeg_with_gps, zip_file

SLUG = "/c/drawing-contest"


@pytest.fixture
def live(session: Session) -> tuple[Campaign, str]:
    """The contest and one fresh invitation code, committed."""
    campaign = install_contest(session)
    code = invitations.issue(session, campaign, make_agent(session, "B11", "A1"), "t").code
    session.commit()
    return campaign, code


def join_form(invitation: str, **kw: Any) -> dict[str, Any]:
    return {
        "code": invitation,
        "guardian_name": "王大明",
        "mobile": "13912345678",
        "relation": "父亲",
        "child_name": "王小明",
        "birth_date": "2018-03-01",
        "school": "",
        "consent_child": "y",
        "consent_licence": "y",
        "consent_publish": "y",
        **kw,
    }


def test_the_invitation_link_fills_the_code_and_the_page_states_the_age_rule(
    client: FlaskClient, live: tuple[Campaign, str]
) -> None:
    _, code = live
    page = client.get(f"{SLUG}/invite/{code}", follow_redirects=True)
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f'value="{code}"' in text
    assert "11周岁" in text and "儿童组" in text
    assert "儿童个人信息单独同意" in text and "著作权无偿许可" in text
    assert client.get(f"{SLUG}/").headers["Location"].endswith(f"{SLUG}/artwork")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"code": ""}, "《活动邀请函》"),
        ({"code": "ZZZZ2222"}, "邀请码不正确"),
        ({"birth_date": "2005-01-01"}, "不在任何组别内"),
        ({"consent_child": ""}, "儿童个人信息单独同意"),
        ({"birth_date": "not-a-date"}, "出生日期"),
    ],
)
def test_refused_sign_ups_say_why_in_chinese(
    client: FlaskClient, live: tuple[Campaign, str], changes: dict[str, str], message: str
) -> None:
    _, code = live
    form = join_form(code, **changes)
    if changes.get("consent_child") == "":
        del form["consent_child"]
    page = client.post(f"{SLUG}/artwork/join", data=form)
    assert page.status_code == 422
    assert message in page.get_data(as_text=True)


def test_a_used_invitation_is_refused_on_the_page(app: Flask, live: tuple[Campaign, str]) -> None:
    _, code = live
    first = app.test_client()
    assert first.post(f"{SLUG}/artwork/join", data=join_form(code)).status_code == 302
    other = app.test_client()
    page = other.post(f"{SLUG}/artwork/join", data=join_form(code, child_name="李小红"))
    assert page.status_code == 422
    assert invitations.USED in page.get_data(as_text=True)


def _signed_up(client: FlaskClient, session: Session, code: str) -> int:
    """Sign a child up through the page; the child's id, read without keeping SQLite locked."""
    assert client.post(f"{SLUG}/artwork/join", data=join_form(code)).status_code == 302
    child_id = session.query(ArtworkChild).one().id
    session.rollback()  # the test session writes: it must not hold the lock during requests
    return child_id


def _upload(client: FlaskClient, child_id: int, data: bytes, name: str = "work.jpg") -> Any:
    return client.post(
        f"{SLUG}/artwork/family/{child_id}/work",
        data={"picture": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
        follow_redirects=True,
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (HTML, images.NOT_AN_IMAGE),
        (SVG, images.NOT_AN_IMAGE),
        (zip_file(), images.NOT_AN_IMAGE),
        (jpeg_with_gps()[:2000], images.BROKEN),
    ],
    ids=["html", "svg", "zip", "truncated"],
)
def test_hostile_uploads_get_a_chinese_message_and_store_nothing(
    client: FlaskClient, session: Session, live: tuple[Campaign, str], data: bytes, message: str
) -> None:
    child_id = _signed_up(client, session, live[1])
    page = _upload(client, child_id, data)
    assert page.status_code == 200
    assert message in page.get_data(as_text=True)
    assert session.get(ArtworkChild, child_id).work is None


def test_a_50_mb_upload_is_a_413_with_the_size_message(
    client: FlaskClient, session: Session, live: tuple[Campaign, str]
) -> None:
    child_id = _signed_up(client, session, live[1])
    # The body written out by hand: the test client would spool a file-like body to disk.
    body = (
        b'--B\r\nContent-Disposition: form-data; name="picture"; filename="big.jpg"\r\n'
        b"Content-Type: image/jpeg\r\n\r\n\xff\xd8\xff"
        + b"\0" * (50 * 1024 * 1024)
        + b"\r\n--B--\r\n"
    )
    page = client.post(
        f"{SLUG}/artwork/family/{child_id}/work",
        data=body,
        content_type="multipart/form-data; boundary=B",
    )
    assert page.status_code == 413
    assert images.TOO_LARGE in page.get_data(as_text=True)


def test_the_uploaded_photo_is_served_without_gps_and_only_to_its_family(
    app: Flask, client: FlaskClient, session: Session, live: tuple[Campaign, str]
) -> None:
    child_id = _signed_up(client, session, live[1])
    page = _upload(client, child_id, jpeg_with_gps((1600, 1200)))
    assert "作品已上传" in page.get_data(as_text=True)
    key = session.get(ArtworkChild, child_id).work.image_key
    session.rollback()
    url = f"{SLUG}/artwork/image/{key}/judging"
    served = client.get(url)
    assert served.status_code == 200 and served.mimetype == "image/jpeg"
    picture = Image.open(io.BytesIO(served.data))
    assert "exif" not in picture.info and dict(picture.getexif()) == {}
    assert b"PhoneMaker" not in served.data
    # Another browser: not awarded yet, so nobody else sees it.
    assert app.test_client().get(url).status_code == 404
    # A second work for the same child is refused.
    again = _upload(client, child_id, jpeg_with_gps((300, 200)))
    assert "限交一幅作品" in again.get_data(as_text=True)


def test_with_sms_verification_the_mobile_is_proved_by_its_code(
    client: FlaskClient, session: Session, protector: Any
) -> None:
    import dataclasses

    from quiz.campaign.spec import install_campaign, load_campaign_file
    from quiz.fraud.codes import issue_code
    from tests.artwork.conftest import DEMO

    campaign = install_contest(session)
    spec = dataclasses.replace(
        load_campaign_file(DEMO),
        opens_at=campaign.opens_at,
        closes_at=campaign.closes_at,
        draw_at=campaign.draw_at,
        sms_verification="required",
    )
    install_campaign(session, spec)
    code = invitations.issue(session, campaign, make_agent(session, "B11", "A1"), "t").code
    session.commit()
    page = client.get(f"{SLUG}/artwork/join").get_data(as_text=True)
    assert "获取验证码" in page
    refused = client.post(f"{SLUG}/artwork/join", data=join_form(code, sms_code="123456"))
    assert refused.status_code == 422
    assert "获取验证码" in refused.get_data(as_text=True)
    sent = client.post(f"{SLUG}/artwork/join", data=join_form(code, send_code="1"))
    assert sent.status_code == 200 and "验证码已发送至 139****5678" in sent.get_data(as_text=True)
    # A second code (the page's one went to the console log), past the one-minute wait.
    later = datetime.now(UTC) + timedelta(minutes=2)
    issued = issue_code(session, protector, campaign.id, "13912345678", "10.0.0.9", now=later)
    session.commit()
    done = client.post(f"{SLUG}/artwork/join", data=join_form(code, sms_code=issued.code))
    assert done.status_code == 302
