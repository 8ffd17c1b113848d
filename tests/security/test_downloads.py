"""Every staff download: never stored by a browser or proxy cache, one charset.

The routes are found by walking the URL map (a file-like rule: .csv, .zip, .xlsx or
/download), so a new download cannot be forgotten; each is then fetched as a user who
may have it.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from quiz.campaign.lifecycle import current_campaign
from quiz.campaign.workspace import choose_campaign
from quiz.db import utcnow
from quiz.draw import service
from quiz.models import Branch
from quiz.referrals import links as referrals
from tests.factories import login_as, make_participant, make_staff

FILE_RULE = re.compile(r"(\.(csv|zip|xlsx)|/download)$")
# Downloads that are not a GET of a file-like URL: the lead export is a POST of /exports.
POSTED = {
    "admin.exports_start": [{"fmt": "csv", "scope": "branch"}, {"fmt": "csv", "scope": "all"}]
}


# Downloads of a campaign kind other than the prize quiz: endpoint -> kind.
KIND_DOWNLOADS = {"admin.artwork_export": "artwork_contest"}


def _campaign_of_kind(session, kind: str):  # type: ignore[no-untyped-def]
    from tests.artwork.conftest import install_contest

    assert kind == "artwork_contest"
    return install_contest(session)


def staff_download_rules(app: Flask) -> dict[str, str]:
    return {
        r.endpoint: r.rule
        for r in app.url_map.iter_rules()
        if r.endpoint.startswith("admin.") and FILE_RULE.search(r.rule)
    }


@pytest.fixture
def everything(session, protector):
    """Leads, a drawn draw with winners, agents with links, a finished XLSX export job."""
    campaign = current_campaign(session)
    referrals.import_agents(
        session, referrals.parse_agents_csv("机构代码,业务员代码,姓名\nB11,A1,王小明\n")
    )
    for i in range(1, 5):
        make_participant(session, protector, campaign, i, complete=True)
    campaign.closes_at = utcnow()
    session.commit()
    draw = service.freeze(session, campaign, operator="t", now=utcnow() + timedelta(seconds=1))
    after_draw_at = campaign.draw_at + timedelta(hours=1)
    service.run_draw(session, draw, "03 08 14 22 27 33 + 05", operator="t", now=after_draw_at)
    admin = make_staff(session, "ho", role="admin", can_reveal=True)
    branch = session.scalars(select(Branch.id).where(Branch.code == "B11")).one()
    session.commit()
    return admin, branch


def check(response, where: str) -> None:
    response.get_data()  # a stream runs to its end (its read session closes)
    assert response.status_code == 200, where
    assert response.headers["Cache-Control"] == "no-store", where
    assert response.headers["Content-Type"].lower().count("charset") <= 1, (
        where,
        response.headers["Content-Type"],
    )
    response.close()


def test_every_staff_download_is_no_store_with_one_charset(app, client, session, everything):
    rules = staff_download_rules(app)
    assert {"admin.draw_winners_export", "admin.referrals_posters_zip"} <= rules.keys()
    admin, branch = everything
    login_as(client, admin)
    response = client.post("/admin/exports", data={"fmt": "xlsx", "scope": "branch"})
    job_id = int(response.headers["Location"].rstrip("/").split("/")[-1])
    from sqlalchemy import select

    from quiz.models import Campaign

    campaign_id = session.scalars(select(Campaign.id)).first()
    session.commit()
    urls = {
        rule.replace("<int:job_id>", str(job_id)).replace("<int:campaign_id>", str(campaign_id))
        + (f"?branch={branch}" if "posters" in rule else "")
        for rule in rules.values()
    }
    # Pages of another kind answer under a campaign of that kind only (the switcher's).
    other_kinds = {rules[e] for e in KIND_DOWNLOADS if e in rules}
    for url in sorted(urls - other_kinds):
        check(client.get(url), url)
    for endpoint, forms in POSTED.items():
        for form in forms:
            check(client.post("/admin/exports", data=form), f"{endpoint} {form}")
    for endpoint, kind in KIND_DOWNLOADS.items():
        campaign = _campaign_of_kind(session, kind)
        choose_campaign(session, session.merge(admin), campaign.id)
        session.commit()
        url = f"{rules[endpoint]}?branch=B11"  # head office names the branch by its code
        check(client.get(url), url)
