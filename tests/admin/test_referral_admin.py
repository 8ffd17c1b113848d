"""Staff pages for links, posters and the leaderboard: head office vs branch scope."""

from __future__ import annotations

import io
import zipfile

from sqlalchemy import event, func, select

from quiz.models import Agent, AuditLog, Branch, Channel, ImportJob, ReferralLink
from quiz.referrals import import_jobs
from quiz.referrals import links as referrals
from tests.factories import login_as, make_staff

AGENTS = "机构代码,业务员代码,姓名\nB11,A1,王小明\nB31,S1,<b>乙</b>\n"


def _branch(session, code):
    return session.scalars(select(Branch).where(Branch.code == code)).one()


def _setup(session):
    referrals.import_agents(
        session,
        referrals.parse_agents_csv(AGENTS),
    )
    head = make_staff(session, "ho", role="admin")
    branch = make_staff(session, "bj", role="branch", branch_id=_branch(session, "B11").id)
    session.commit()
    return head, branch


def _link_of(session, agent_code):
    link = session.scalars(
        select(ReferralLink)
        .join(Agent, Agent.id == ReferralLink.agent_id)
        .where(Agent.code == agent_code)
    ).one()
    session.commit()
    return link


def _upload(client, text, filename="a.csv"):
    """POST an agents CSV as the upload form sends it."""
    return client.post(
        "/admin/referrals/agents",
        data={"file": (io.BytesIO(text.encode()), filename)},
        content_type="multipart/form-data",
    )


def _import(client, text):
    """Upload an agents CSV, wait for its background job; the job page's text."""
    resp = _upload(client, text)
    assert resp.status_code == 302, resp.get_data(as_text=True)
    assert "/admin/referrals/agents/jobs/" in resp.location
    return client.get(resp.location).get_data(as_text=True)


def test_head_office_creates_a_channel_and_a_duplicate_is_refused(client, session):
    head, _ = _setup(session)
    login_as(client, head)
    resp = client.post("/admin/referrals/channels", data={"code": "zhongshao", "name": "中少在线"})
    assert resp.status_code == 302
    session.expire_all()
    channel = session.scalars(select(Channel)).one()
    assert session.scalars(select(ReferralLink).where(ReferralLink.channel_id == channel.id)).one()
    session.commit()
    again = client.post("/admin/referrals/channels", data={"code": "zhongshao", "name": "x"})
    assert again.status_code == 422 and "已存在" in again.get_data(as_text=True)
    bad = client.post("/admin/referrals/channels", data={"code": "中 文", "name": "x"})
    assert bad.status_code == 422 and "渠道代码只能包含" in bad.get_data(as_text=True)


def test_branch_staff_see_and_upload_only_their_own_branch(client, session):
    _, branch_user = _setup(session)
    login_as(client, branch_user)
    assert client.get("/admin/referrals/channels").status_code == 403
    page = client.get("/admin/referrals").get_data(as_text=True)
    assert "王小明" in page and "&lt;b&gt;乙" not in page and "<b>乙" not in page
    other = _link_of(session, "S1")
    assert client.get(f"/admin/referrals/{other.id}/poster").status_code == 404
    refused = _import(client, "机构代码,业务员代码,姓名\nB31,S2,丙\n")
    assert "失败" in refused and "只能导入本机构" in refused
    ok = _import(client, "机构代码,业务员代码,姓名\nB11,A2,丁\n")
    assert "导入完成:新增1人" in ok
    export = client.get("/admin/referrals/links.csv").get_data()
    text = export.decode("utf-8-sig")
    assert "A2" in text and "S1" not in text


def test_an_upload_with_nul_bytes_is_refused_with_a_message(client, session):
    """An .xlsx or UTF-16 file picked by mistake holds NULs: PostgreSQL refused them
    with a 500, SQLite stored them in agents' names."""
    _, branch_user = _setup(session)
    login_as(client, branch_user)
    before = session.scalar(select(func.count()).select_from(Agent))
    session.commit()  # the fixture's session is a writer: let go of the lock
    binary = _upload(client, "机构代码,业务员代码,姓名\nB11,A2,x\0y\n")
    assert binary.status_code == 422 and "文件不是CSV文本" in binary.get_data(as_text=True)
    named = _upload(client, "机构代码,业务员代码,姓名\nB11,A2,丁\n", "a\0.csv")
    assert named.status_code == 400
    assert session.scalar(select(func.count()).select_from(Agent)) == before
    session.commit()


def test_poster_page_and_branch_zip(client, session):
    _, branch_user = _setup(session)
    login_as(client, branch_user)
    link = _link_of(session, "A1")
    page = client.get(f"/admin/referrals/{link.id}/poster").get_data(as_text=True)
    assert "网上保险有奖竞答" in page and "幸运奖8888名" in page and "活动时间" in page
    assert f"/r/{link.code}" in page and "<svg" in page and "poster.css" in page
    with client.get("/admin/referrals/posters.zip") as resp:
        assert resp.status_code == 200 and resp.mimetype == "application/zip"
        archive = zipfile.ZipFile(io.BytesIO(resp.data))
    names = archive.namelist()
    assert names == [f"B11-A1-{link.code}.svg"]
    svg = archive.read(names[0]).decode()
    assert svg.startswith("<?xml") and f"/r/{link.code}" in svg and "王小明" in svg


def test_leaderboard_page_scopes_agent_detail_and_exports(client, session):
    head, branch_user = _setup(session)
    login_as(client, branch_user)
    page = client.get("/admin/leaderboard")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "机构排行榜" in html and "北京分公司" in html and "上海分公司" in html
    assert "按推广渠道" not in html
    csv_resp = client.get("/admin/leaderboard.csv?basis=all&order=count")
    assert csv_resp.status_code == 200 and csv_resp.data.startswith(b"\xef\xbb\xbf")
    login_as(client, head)
    html = client.get("/admin/leaderboard?basis=bogus&branch=abc").get_data(as_text=True)
    assert "按推广渠道" in html


def test_anonymous_users_are_sent_to_login(client):
    for path in ("/admin/referrals", "/admin/leaderboard", "/admin/referrals/posters.zip"):
        assert client.get(path).status_code == 302


def test_posters_and_the_links_file_print_the_configured_public_address(client, session, app):
    """Staff may open the back office through an internal address: what gets printed is
    the public one (QUIZ_PUBLIC_URL)."""
    app.config["QUIZ_PUBLIC_URL"] = "https://quiz.example.cn"
    referrals.ensure_branch_links(session)
    admin = make_staff(session, "ho", "admin")
    session.commit()
    login_as(client, admin)
    export = client.get("/admin/referrals/links.csv").get_data(as_text=True)  # via localhost
    assert "https://quiz.example.cn/r/" in export and "localhost" not in export


def test_a_large_agents_file_is_written_in_short_chunks_and_a_bad_one_saves_nothing(
    app, client, session, monkeypatch
):
    """One upload of 60,000 agents held SQLite's write lock in one transaction until
    gunicorn killed the worker: every registration waited for it."""
    head, _ = _setup(session)
    login_as(client, head)
    monkeypatch.setattr(referrals, "IMPORT_CHUNK", 3)
    monkeypatch.setattr(import_jobs.referrals, "IMPORT_CHUNK", 3)
    commits = []

    def count(_conn):
        commits.append(1)

    engine = app.extensions["quiz.db"].engine
    event.listen(engine, "commit", count)
    rows = "".join(f"B11,C{i},业务员{i}\n" for i in range(10))
    bad = _import(client, "机构代码,业务员代码,姓名\n" + rows + "B11,C99,\n")
    assert "第12行" in bad and "没有导入任何一行" in bad
    assert session.scalar(select(func.count()).select_from(Agent).where(Agent.code.like("C%"))) == 0
    session.commit()
    commits.clear()
    page = _import(client, "机构代码,业务员代码,姓名\n" + rows)
    event.remove(engine, "commit", count)
    assert "导入完成:新增10人" in page and "新生成推广链接10个" in page
    # Ten rows in chunks of three: four write transactions for the agents.
    assert len(commits) >= 4
    job = session.scalars(select(ImportJob).order_by(ImportJob.id.desc())).first()
    assert (job.status, job.rows_done, job.total) == ("done", 10, 10)
    entry = session.scalars(select(AuditLog).order_by(AuditLog.id.desc())).first()
    assert entry.action == "referrals.agents_import" and entry.detail["created"] == 10
    session.commit()


def test_a_file_over_the_web_limit_gets_a_422_pointing_to_the_cli(client, session, monkeypatch):
    head, _ = _setup(session)
    login_as(client, head)
    monkeypatch.setattr(referrals, "MAX_IMPORT_ROWS", 3)
    resp = _upload(
        client, "机构代码,业务员代码,姓名\n" + "".join(f"B11,D{i},x\n" for i in range(4))
    )
    text = resp.get_data(as_text=True)
    assert resp.status_code == 422 and "quiz referrals import-agents" in text
    # A body built by hand: the test client's own spooled file for a large upload is
    # never closed when the app refuses it unread.
    body = (
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n\r\n'
        + b"x" * (3 * 1024 * 1024)
        + b"\r\n--b--\r\n"
    )
    too_big = client.post(
        "/admin/referrals/agents", data=body, content_type="multipart/form-data; boundary=b"
    )
    assert too_big.status_code == 413
    assert "quiz referrals import-agents" in too_big.get_data(as_text=True)
