"""Alembic migrations: upgrade/downgrade/upgrade on an empty database, and no drift."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from quiz.cli.database import db_downgrade, db_upgrade
from quiz.db import Base, make_engine
from quiz.migrate import downgrade, upgrade
from tests.conftest import make_app


def insert_legacy_participants(
    database, rows: list[dict], campaign_id: int | None = None
) -> list[int]:
    """Participants inserted at an older schema (the models describe the newest one):
    every required column filled, `rows` overriding; returns their ids. Without a
    `campaign_id`, a bare campaign row goes in first."""
    import sqlalchemy as sa

    # The campaign row too goes in by the old schema's columns (the model has newer ones).
    campaigns = sa.Table("campaign", sa.MetaData(), autoload_with=database.engine)
    table = sa.Table("participant", sa.MetaData(), autoload_with=database.engine)
    now = datetime.now(UTC)
    with database.engine.begin() as conn:
        campaign_id = (
            campaign_id
            or conn.execute(
                sa.insert(campaigns)
                .values(
                    slug="legacy",
                    name="旧活动",
                    opens_at=now,
                    closes_at=now,
                    draw_at=now,
                    content={},
                    content_sha256="0" * 64,
                    loaded_at=now,
                )
                .returning(campaigns.c.id)
            ).scalar_one()
        )
    ids = []
    with database.engine.begin() as conn:
        for n, values in enumerate(rows, start=1):
            row = {
                "campaign_id": campaign_id,
                "public_id": f"p{n}",
                "status": "completed",
                "name": f"参与者{n}",
                "name_masked": "*",
                "id_hash": f"h{n}",
                "id_enc": b"",
                "id_masked": "*" * 18,
                "id_last4": "",
                "mobile_hash": f"m{n}",
                "mobile_enc": b"",
                "mobile_masked": "139****0000",
                "duplicate_mobile": False,
                "address": "北京市",
                "postal_code": "100022",
                "postal_mismatch": False,
                "referral_flagged": False,
                "score": 0,
                "total": 5,
                "consent_rules_version": "t",
                "consent_privacy_version": "t",
                "consent_sensitive": True,
                "consent_at": now,
                "follow_up_status": "待联系",
                "contact_opt_out": False,
                "excluded": False,
                "created_at": now,
            }
            row.update(values)
            ids.append(conn.execute(table.insert().values(row)).inserted_primary_key[0])
    return ids


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
    from sqlalchemy import select

    from quiz.models import Participant

    upgrade(database_url, "0004")
    app = make_app(database_url, tmp_path / "instance")
    database = app.extensions["quiz.db"]
    addresses = ["2001:db8:1:2::65", "10.0.0.7", "not-an-ip:"]
    ids = insert_legacy_participants(database, [{"consent_ip": a} for a in addresses])
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


def test_migration_0007_turns_birth_dates_into_the_adult_flag_and_leaves_none_behind(
    database_url, tmp_path, monkeypatch
):
    """Entries stored with a plaintext birth date (which with id_masked gave back the whole
    ID number) keep only whether they were 18 on the Beijing date of entry; the dates are
    gone from the table and, on SQLite, from the file's bytes and its -wal."""
    import quiz.db

    # Debian builds SQLite with secure_delete on by default; many others do not. Off here,
    # so the test shows the migration zeroing what it frees on any build.
    on_connect = quiz.db._sqlite_on_connect

    def without_secure_delete(dbapi_connection, record):
        on_connect(dbapi_connection, record)
        dbapi_connection.execute("PRAGMA secure_delete = OFF")

    monkeypatch.setattr(quiz.db, "_sqlite_on_connect", without_secure_delete)
    from datetime import date
    from pathlib import Path

    import sqlalchemy as sa

    from tests.conftest import PG_URL
    from tests.factories import make_resident_id

    upgrade(database_url, "0005")
    app = make_app(database_url, tmp_path / "instance")
    protector = app.extensions["quiz.protector"]
    database = app.extensions["quiz.db"]
    late_evening = datetime(2026, 12, 1, 23, 30, tzinfo=UTC)  # 2 December in Beijing
    people = {
        # name: (birth date stored, ID number's birth date, anonymised, expected flag)
        "adult": (date(1985, 6, 15), date(1985, 6, 15), False, True),
        "minor": (date(2020, 5, 1), date(2020, 5, 1), False, False),
        "eighteen in Beijing": (date(2008, 12, 2), date(2008, 12, 2), False, True),
        "no birth date stored": (None, date(2015, 3, 4), False, False),
        "anonymised": (None, None, True, None),
    }
    rows = []
    for n, (name, (stored, born, anonymised, _)) in enumerate(people.items(), start=1):
        number = make_resident_id("110105", birth=born, seq=n) if born else ""
        rows.append(
            {
                "name": name,
                "id_enc": protector.encrypt(number),
                "id_masked": number[:6] + "*" * 8 + number[-4:],
                "id_last4": number[-4:],
                "birth_date": stored,
                "anonymised_at": late_evening if anonymised else None,
                "created_at": late_evening,
            }
        )
    insert_legacy_participants(database, rows)
    database.dispose()
    upgrade(database_url, protector=protector)
    engine = make_engine(database_url)
    try:
        assert "birth_date" not in {c["name"] for c in inspect(engine).get_columns("participant")}
        with engine.connect() as conn:
            flags = dict(conn.execute(sa.text("SELECT name, adult FROM participant")).all())
    finally:
        engine.dispose()
    assert {k: None if v is None else bool(v) for k, v in flags.items()} == {
        name: expected for name, (*_, expected) in people.items()
    }
    if not PG_URL:
        path = Path(database_url.removeprefix("sqlite:///"))
        blob = b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
        assert "北京市".encode() in blob  # the data is there, in the bytes searched
        for stored, *_ in people.values():
            if stored is not None:
                assert stored.isoformat().encode() not in blob, stored


def test_migration_0012_counts_the_entries_and_intent_answers_already_given(database_url, tmp_path):
    """Entries completed before the intent counters existed are in them after the upgrade,
    exactly as the app counts a new one (by Beijing day, branch, question and option)."""
    from sqlalchemy import select

    from quiz.engine import entry_counts, intent_counts
    from quiz.models import Branch, Campaign
    from tests.factories import install_test_campaign

    # The revision before the counters; the test campaign (questions, branches) goes in
    # through the models, whose tables had their newest columns by then.
    upgrade(database_url, "0011")
    app = make_app(database_url, tmp_path / "instance")
    database = app.extensions["quiz.db"]
    with database.transaction() as session:
        legacy = install_test_campaign(session).id
    late_evening = datetime(2026, 11, 1, 23, 30, tzinfo=UTC)  # 2 November in Beijing
    ids = insert_legacy_participants(
        database,
        [
            {"intent": {"i01-products": ["重疾险", "医疗险"], "i02-budget": ["3万元以上"]}},
            {"intent": {"i01-products": ["重疾险"]}, "created_at": late_evening},
            {"status": "registered"},  # not completed: nothing to count
        ],
        campaign_id=legacy,
    )
    with database.transaction() as session:
        bj = session.scalars(select(Branch).where(Branch.code == "B11")).one().id
    import sqlalchemy as sa

    with database.engine.begin() as conn:  # the first has a branch, the others none
        conn.execute(
            sa.text("UPDATE participant SET branch_id = :b WHERE id = :i"), {"b": bj, "i": ids[0]}
        )
    database.dispose()
    upgrade(database_url)
    with database.transaction(write=False) as session:
        campaign_id = session.scalars(select(Campaign.id)).one()
        stored = intent_counts.stored(session, campaign_id)
        assert stored == intent_counts.recounted(session, campaign_id)
        day = late_evening.astimezone(intent_counts.CHINA).date()
        assert stored[(campaign_id, day, 0, "i01-products", "重疾险")] == 1
        assert sum(n for k, n in stored.items() if k[3] == "i01-products" and k[4] == "") == 2
        assert sum(n for k, n in stored.items() if k[2] == bj) == 5  # 2 answered + 3 options
        # Branch, status, province and score counters: one GROUP BY each, the app's rule.
        counted = entry_counts.stored(session, campaign_id)
        assert counted == entry_counts.recounted(session, campaign_id)
        assert counted[("province_count", (campaign_id, "", day))] == 1
        assert counted[("branch_count", (campaign_id, 0, "completed", "待联系", day))] == 1
        assert sum(n for (t, _), n in counted.items() if t == "branch_count") == 3
        assert sum(n for (t, _), n in counted.items() if t == "score_count") == 2
    database.dispose()


def test_migration_0010_publishes_existing_campaigns_and_ties_old_links_to_the_served_one(
    database_url, tmp_path
):
    """A site upgraded with one live campaign keeps it public as a prize quiz, and every
    printed referral link leads to the campaign /r/<code> served before the upgrade."""
    import sqlalchemy as sa

    upgrade(database_url, "0009")
    app = make_app(database_url, tmp_path / "instance")
    database = app.extensions["quiz.db"]
    insert_legacy_participants(database, [])  # inserts the campaign 'legacy'
    links = sa.Table("referral_link", sa.MetaData(), autoload_with=database.engine)
    with database.engine.begin() as conn:
        conn.execute(
            sa.insert(links).values(code="OLD1", label="海报", created_at=datetime.now(UTC))
        )
    upgrade(database_url)
    with database.engine.connect() as conn:
        campaign = conn.execute(sa.text("SELECT id, kind, status FROM campaign")).one()
        link_campaign = conn.execute(
            sa.text("SELECT campaign_id FROM referral_link WHERE code = 'OLD1'")
        ).scalar()
        remembered = conn.execute(
            sa.text("SELECT count(*) FROM staff_user WHERE current_campaign_id IS NOT NULL")
        ).scalar()
    database.dispose()
    assert (campaign.kind, campaign.status) == ("prize_quiz", "published")
    assert link_campaign == campaign.id
    assert remembered == 0
