"""Alembic migrations: upgrade/downgrade/upgrade on an empty database, and no drift."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from quiz.cli import db_downgrade, db_upgrade
from quiz.db import Base, make_engine
from quiz.migrate import downgrade, upgrade
from tests.conftest import make_app


def test_upgrade_downgrade_upgrade_and_no_drift(database_url):
    upgrade(database_url)
    engine = make_engine(database_url)
    assert "participant" in inspect(engine).get_table_names()
    downgrade(database_url, "base")
    assert "participant" not in inspect(engine).get_table_names()
    upgrade(database_url)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, Base.metadata)
    engine.dispose()
    assert diff == [], f"models and migrations differ: {diff}"


def test_downgrade_command_asks_before_dropping_data(database_url, tmp_path):
    """`quiz db downgrade base` drops every table: it must not do so on a stray Enter."""
    app = make_app(database_url, tmp_path / "instance")
    runner = app.test_cli_runner()
    assert runner.invoke(db_upgrade, []).exit_code == 0
    engine = make_engine(database_url)
    try:
        refused = runner.invoke(db_downgrade, ["base"], input="\n")
        assert refused.exit_code == 1 and "Back up first" in refused.output
        assert "participant" in inspect(engine).get_table_names()
        done = runner.invoke(db_downgrade, ["base", "--yes"])
        assert done.exit_code == 0, done.output
        assert "participant" not in inspect(engine).get_table_names()
    finally:
        engine.dispose()
        app.extensions["quiz.db"].dispose()


def test_unknown_revision_is_a_message_not_a_traceback(database_url, tmp_path):
    app = make_app(database_url, tmp_path / "instance")
    runner = app.test_cli_runner()
    for command, args in ((db_upgrade, ["nosuch"]), (db_downgrade, ["nosuch", "--yes"])):
        result = runner.invoke(command, args)
        assert result.exit_code == 1
        assert isinstance(result.exception, SystemExit)  # a ClickException, not a crash
        assert "nosuch" in result.output
    app.extensions["quiz.db"].dispose()


def test_migration_0005_writes_stored_ipv6_consent_addresses_out(database_url, tmp_path):
    """Entries stored before the burst check grouped IPv6 /64 networks get the exploded
    form it ranges over; IPv4 and unparsable values stay as they are."""
    from sqlalchemy import select, update

    from quiz.models import Participant
    from quiz.quiz_flow import current_campaign
    from tests.factories import install_test_campaign, make_participant

    upgrade(database_url, "0004")
    app = make_app(database_url, tmp_path / "instance")
    database = app.extensions["quiz.db"]
    addresses = ["2001:db8:1:2::65", "10.0.0.7", "not-an-ip:"]
    with database.transaction() as session:
        install_test_campaign(session)
        campaign = current_campaign(session)
        ids = [
            make_participant(session, app.extensions["quiz.protector"], campaign, n).id
            for n in (1, 2, 3)
        ]
        for pid, address in zip(ids, addresses, strict=True):
            session.execute(
                update(Participant).where(Participant.id == pid).values(consent_ip=address)
            )
    upgrade(database_url)
    with database.transaction(write=False) as session:
        stored = [
            session.scalar(select(Participant.consent_ip).where(Participant.id == pid))
            for pid in ids
        ]
    database.dispose()
    assert stored == ["2001:0db8:0001:0002:0000:0000:0000:0065", "10.0.0.7", "not-an-ip:"]


def test_migration_0006_deactivates_branch_accounts_without_a_branch(database_url, tmp_path):
    """An active branch account without a branch (only direct SQL could make one) is
    deactivated, logged out and reported in the audit log; then the database refuses it."""
    import pytest
    from sqlalchemy import column, insert, select
    from sqlalchemy import table as sa_table
    from sqlalchemy.exc import IntegrityError

    from quiz.models import AuditLog, Branch

    upgrade(database_url, "0005")
    engine = make_engine(database_url)
    # The table as revision 0005 has it (later revisions drop failed_logins).
    staff = sa_table(
        "staff_user",
        *(column(c) for c in ("id", "username", "display_name", "password_hash", "role")),
        *(column(c) for c in ("branch_id", "can_reveal", "session_version", "active")),
        column("failed_logins"),
        column("created_at"),
    )
    with engine.begin() as conn:
        conn.execute(insert(Branch.__table__).values(id=1, code="B11", name="北京分公司"))
        for username, role, branch_id, active in (
            ("orphan", "branch", None, True),
            ("gone", "branch", None, False),
            ("clerk", "branch", 1, True),
            ("boss", "admin", None, True),
        ):
            conn.execute(
                insert(staff).values(
                    username=username,
                    display_name="",
                    password_hash="!",
                    role=role,
                    branch_id=branch_id,
                    can_reveal=False,
                    session_version=3,
                    active=active,
                    failed_logins=0,
                    created_at=datetime.now(UTC),
                )
            )
    upgrade(database_url)
    with engine.connect() as conn:
        rows = {
            r.username: (r.active, r.session_version)
            for r in conn.execute(select(staff.c.username, staff.c.active, staff.c.session_version))
        }
        reports = conn.execute(
            select(AuditLog.action, AuditLog.target, AuditLog.detail, AuditLog.actor)
        ).all()
    assert rows == {
        "orphan": (False, 4),
        "gone": (False, 3),
        "clerk": (True, 3),
        "boss": (True, 3),
    }
    assert [tuple(r) for r in reports] == [
        (
            "user_deactivate",
            "user:orphan",
            {"reason": "no_branch", "before": {"active": True}},
            "migration 0006",
        )
    ]
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(staff.update().where(staff.c.username == "gone").values(active=True))
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(staff.update().where(staff.c.username == "clerk").values(branch_id=None))
    downgrade(database_url, "0005")
    with engine.begin() as conn:  # the downgrade drops the constraint again
        conn.execute(staff.update().where(staff.c.username == "gone").values(active=True))
    engine.dispose()
