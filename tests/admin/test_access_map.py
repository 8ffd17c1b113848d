"""Walk the URL map: every staff route declares its roles and refuses whoever it must.

A route added later without `roles_required` (or with the decorator in the wrong order)
fails `test_every_admin_view_declares_its_roles`; the other tests then exercise every route
with an anonymous client and a branch user, filling URL parameters with the ids of a lead
that belongs to another branch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from werkzeug.routing import IntegerConverter, Rule

from quiz.admin import PUBLIC_ENDPOINTS
from quiz.models import Branch, Campaign, Participant
from tests.factories import login_as, make_participant, make_staff

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


@dataclass(frozen=True)
class Route:
    rule: Rule
    method: str

    @property
    def id(self) -> str:
        return f"{self.method} {self.rule.rule}"


def admin_rules(app: Flask) -> list[Rule]:
    return sorted(
        (r for r in app.url_map.iter_rules() if r.rule.startswith("/admin")),
        key=lambda r: r.rule,
    )


def routes(app: Flask) -> list[Route]:
    return [
        Route(rule, method)
        for rule in admin_rules(app)
        if rule.endpoint not in PUBLIC_ENDPOINTS and not rule.endpoint.endswith("static")
        for method in METHODS
        if method in (rule.methods or ())
    ]


def roles_of(app: Flask, endpoint: str) -> tuple[str, ...] | None:
    return getattr(app.view_functions[endpoint], "required_roles", None)


def build(app: Flask, rule: Rule, lead: Participant) -> str:
    """The rule's URL with every parameter pointing at the other branch's lead."""
    values: dict[str, Any] = {}
    for name in rule.arguments:
        converter = rule._converters[name]  # noqa: SLF001 - werkzeug keeps them here
        values[name] = lead.id if isinstance(converter, IntegerConverter) else lead.public_id
    with app.test_request_context():
        adapter = app.url_map.bind("localhost")
        return adapter.build(rule.endpoint, values, method=None)


@pytest.fixture
def world(app, session, protector) -> dict[str, Any]:
    """A lead in one branch and a branch user of another branch."""
    campaign = session.scalars(select(Campaign)).one()
    lead = make_participant(session, protector, campaign, 1, complete=True, name="欧阳外机")
    assert lead.branch_id is not None
    other = session.scalars(select(Branch).where(Branch.id != lead.branch_id)).first()
    user = make_staff(session, "branch.other", role="branch", branch_id=other.id)
    session.commit()
    return {"lead": lead, "branch_user": user}


def test_the_map_is_not_empty(app):
    endpoints = {r.rule.endpoint for r in routes(app)}
    # These are this module's own pages; if they vanish the walk below proves nothing.
    assert {"admin.users", "admin.audit", "admin.account", "admin.logout"} <= endpoints
    assert {r.endpoint for r in admin_rules(app)} >= PUBLIC_ENDPOINTS
    # Pinned: an endpoint added to the public set escapes every check below.
    assert {"admin.login", "admin.login_totp"} == PUBLIC_ENDPOINTS


def test_every_admin_view_declares_its_roles(app):
    missing = [r.id for r in routes(app) if not roles_of(app, r.rule.endpoint)]
    assert missing == [], (
        "admin views without @roles_required/@head_office_required/@admin_required/@any_staff "
        f"(put the decorator below @bp.route): {missing}"
    )
    unknown = {
        r.rule.endpoint: roles_of(app, r.rule.endpoint)
        for r in routes(app)
        if not set(roles_of(app, r.rule.endpoint) or ()) <= {"admin", "analyst", "branch"}
    }
    assert unknown == {}


def test_anonymous_users_are_refused_everywhere(app, client, world):
    problems = []
    for route in routes(app):
        url = build(app, route.rule, world["lead"])
        resp = client.open(url, method=route.method)
        if route.method == "GET":
            ok = resp.status_code == 302 and "/admin/login" in resp.location
        else:
            ok = resp.status_code in (401, 403)
        if not ok:
            problems.append(f"{route.id} -> {resp.status_code}")
    assert problems == []


def test_branch_users_are_refused_head_office_routes(app, client, world):
    from quiz.admin.campaign_views import _page_of
    from quiz.campaign import kinds

    kind_pages = {None, *kinds.kind_of("prize_quiz").staff_pages}
    login_as(client, world["branch_user"])
    problems = []
    for route in routes(app):
        if "branch" in (roles_of(app, route.rule.endpoint) or ()):
            continue
        resp = client.open(build(app, route.rule, world["lead"]), method=route.method)
        # A page the prize quiz's kind does not have (the drawing contest's) is a 404 for
        # everyone before any role is asked (admin/campaign_views.py _kind_has_the_page).
        if resp.status_code == 404 and _page_of(route.rule.endpoint) not in kind_pages:
            continue
        if resp.status_code != 403:
            problems.append(f"{route.id} -> {resp.status_code}")
    assert problems == []
    # Still signed in: the refusals above were about rights, not a lost session.
    assert client.get("/admin/account").status_code == 200


def test_branch_users_cannot_reach_another_branchs_lead(app, client, world):
    login_as(client, world["branch_user"])
    problems = []
    checked = 0
    for route in routes(app):
        if not route.rule.arguments or "branch" not in (roles_of(app, route.rule.endpoint) or ()):
            continue
        checked += 1
        resp = client.open(build(app, route.rule, world["lead"]), method=route.method)
        if resp.status_code not in (403, 404):
            problems.append(f"{route.id} -> {resp.status_code}")
    assert problems == []
    assert checked >= 3  # lead page, follow-up, reveal: a rename must not empty this check


def test_branch_pages_without_parameters_do_not_show_another_branchs_lead(app, client, world):
    login_as(client, world["branch_user"])
    problems = []
    for route in routes(app):
        if route.method != "GET" or route.rule.arguments:
            continue
        if "branch" not in (roles_of(app, route.rule.endpoint) or ()):
            continue
        resp = client.get(build(app, route.rule, world["lead"]))
        body = resp.get_data(as_text=True) if resp.mimetype.startswith("text") else ""
        if resp.status_code >= 500 or "欧阳外机" in body:
            problems.append(f"{route.id} -> {resp.status_code}")
    assert problems == []


def _with_int_arguments(app: Flask, value: int) -> list[tuple[Route, str]]:
    """Each route whose parameters are all numbers, with every number set to `value`."""
    urls = []
    for route in routes(app):
        names = list(route.rule.arguments)
        converters = route.rule._converters  # noqa: SLF001 - werkzeug keeps them here
        if not names or not all(isinstance(converters[n], IntegerConverter) for n in names):
            continue
        path = route.rule.rule
        for name in names:
            path = path.replace(f"<int:{name}>", str(value))
        urls.append((route, path))
    return urls


@pytest.mark.parametrize("value", [2**31, 10**30])
def test_ids_no_table_can_hold_are_not_found(app, client, session, world, value):
    """PostgreSQL refused 2**31 in a query (a 500); SQLite overflowed on 10**30."""
    admin = make_staff(session, "admin.ids", role="admin")
    session.commit()
    urls = _with_int_arguments(app, value)
    assert len(urls) >= 10  # the walk must reach the lead, draw, user and export routes
    problems = []
    for user in (admin, world["branch_user"]):
        login_as(client, user)
        for route, url in urls:
            # The URL names no route at all, whoever asks.
            status = client.open(url, method=route.method).status_code
            if status != 404:
                problems.append(f"{user.role} {route.method} {url} -> {status}")
    assert problems == []


# Numbers a list page reads from its query string.
QUERY_NUMBERS = ("page", "after", "before", "branch")


def test_query_numbers_out_of_range_never_fail(app, client, session, world):
    """A page number past any OFFSET, an id past any table, or a digit only Unicode calls
    one ("²" passed str.isdigit, then int() raised): each page answers, none fails."""
    admin = make_staff(session, "admin.args", role="admin")
    session.commit()
    pages = [
        r
        for r in routes(app)
        if r.method == "GET" and not r.rule.arguments and not r.rule.rule.endswith(".zip")
    ]
    assert any(r.rule.rule == "/admin/leads" for r in pages)
    problems = []
    for user in (admin, world["branch_user"]):
        login_as(client, user)
        for route in pages:
            for value in ("3000000000", "²", str(10**30)):
                query = "&".join(f"{name}={value}" for name in QUERY_NUMBERS)
                status = client.get(f"{route.rule.rule}?{query}").status_code
                if status >= 500:
                    problems.append(f"{user.role} {route.rule.rule}?{query} -> {status}")
    assert problems == []


def test_the_guards_label_a_view_with_the_roles_they_let_in():
    # Called here rather than at import, so the mutation check can switch these on:
    # the access map above reads the labels to know which roles each view admits.
    from quiz.admin.access import roles_required, scoped_staff

    def view() -> str:
        return "ok"

    assert roles_required("admin", "analyst")(view).required_roles == ("admin", "analyst")
    assert scoped_staff(view).required_roles == ("admin", "analyst", "branch")


def test_a_deactivated_account_loses_its_open_session(app, client, session):
    # Deactivating does not bump session_version: the active flag alone must end the session.
    user = make_staff(session, "leaver", role="admin")
    session.commit()
    login_as(client, user)
    assert client.get("/admin/").status_code == 200
    user.active = False
    session.commit()
    response = client.get("/admin/")
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]


@pytest.mark.parametrize(
    ("role", "flag", "allowed"),
    [
        ("admin", True, True),
        ("analyst", True, True),
        ("branch", True, True),
        ("admin", False, False),  # the role alone is not the permission
        ("auditor", True, False),  # a role outside the three never sees personal data
    ],
)
def test_full_personal_data_needs_the_permission_and_a_staff_role(role, flag, allowed):
    from quiz.admin.access import can_reveal
    from quiz.models import StaffUser

    assert can_reveal(StaffUser(role=role, can_reveal=flag)) is allowed


def test_a_session_of_an_account_that_no_longer_exists_is_sent_to_sign_in(client):
    with client.session_transaction() as sess:
        sess["staff"] = {"id": 999_999, "ver": 0, "totp_ok": True}
    response = client.get("/admin/")
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]
