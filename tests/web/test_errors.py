"""The 500 page: in Chinese, whatever state the failure left the database session in."""

from __future__ import annotations

import io

from quiz.admin import referral_views
from tests.factories import login_as, make_staff


def test_a_failed_write_on_a_staff_page_still_gets_the_chinese_error_page(
    app, client, session, monkeypatch
):
    """The staff menu reads the signed-in user while the page renders: a session left
    needing a rollback raised again there, and the client got a bare server error."""
    admin = make_staff(session, "boss", role="admin")
    session.commit()
    login_as(client, admin)

    def failing_job(db_session, *_args, **_kwargs):
        db_session.add(type(admin)(username=None, role="admin", password_hash="!"))
        db_session.flush()  # NOT NULL: the session now needs a rollback

    monkeypatch.setattr(referral_views.import_jobs, "create_job", failing_job)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = client.post(
        "/admin/referrals/agents",
        data={"file": (io.BytesIO("机构代码,业务员代码,姓名\nB11,A2,丁\n".encode()), "a.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 500
    page = response.get_data(as_text=True)
    assert "系统繁忙,请稍后再试。" in page and 'href="/admin/"' in page
    # The request's session was rolled back, so the next request works as usual.
    assert client.get("/admin/account").status_code == 200
