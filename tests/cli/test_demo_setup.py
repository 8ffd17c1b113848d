"""`quiz setup` on a fresh demo site: one campaign of every kind and the staff accounts it
prints, which can sign in (README "Run it"); none of those accounts in production."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from quiz.cli.site import setup_command
from quiz.models import Campaign, StaffUser
from quiz.staff import auth
from tests.conftest import make_app


@pytest.mark.slow  # migrations and every demo: about 20 s
def test_a_fresh_demo_site_has_every_kind_and_printed_accounts_that_sign_in(database_url, tmp_path):
    app = make_app(database_url, tmp_path / "instance", QUIZ_ENV="development")
    try:
        _check_setup(app)
    finally:
        app.extensions["quiz.db"].dispose()  # no connection left for the GC to warn about


def _check_setup(app) -> None:  # type: ignore[no-untyped-def]
    result = app.test_cli_runner().invoke(setup_command)
    assert result.exit_code == 0, result.output
    printed = dict(re.findall(r"^  (demo-[a-z0-9-]+)  password (\S+)", result.output, re.M))
    assert set(printed) == {"demo-admin", "demo-b44"}
    with app.extensions["quiz.db"].transaction() as session:
        kinds = set(session.scalars(select(Campaign.kind)))
        assert kinds == {"prize_quiz", "list_draw", "staff_contest", "artwork_contest"}
        for username, password in printed.items():
            user = session.scalars(select(StaffUser).where(StaffUser.username == username)).one()
            assert auth.verify_password(user, password)
        branch_user = session.scalars(
            select(StaffUser).where(StaffUser.username == "demo-b44")
        ).one()
        assert branch_user.role == "branch" and branch_user.branch.code == "B44"
    # A second setup neither repeats the accounts nor prints passwords again.
    again = app.test_cli_runner().invoke(setup_command)
    assert again.exit_code == 0 and "password" not in again.output
