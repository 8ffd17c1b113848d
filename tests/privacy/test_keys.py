"""Key rotation: every encrypted column moves to the newest key, hashes to a new hash key."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import select

from quiz.cli.privacy import keys_generate, keys_rotate
from quiz.entry.signup import resume
from quiz.models import Agent, AuditLog, Branch, Campaign, Exclusion, Participant, StaffUser
from quiz.privacy.keys import KeyRing, rotate_keys
from quiz.privacy.protection import KeyError_, Protector, new_keys
from quiz.privacy.retention import anonymise
from tests.conftest import KEYS, make_app
from tests.factories import make_mobile, make_participant, make_staff

OLD = KEYS["QUIZ_DATA_KEY"]
NEW = Fernet.generate_key().decode()


@pytest.fixture
def stored(session, protector):
    """Five participants (one with a landline, one anonymised), a 2FA staff user, exclusions."""
    campaign = session.scalars(select(Campaign)).one()
    ps = [make_participant(session, protector, campaign, n) for n in range(5)]
    ps[0].landline_enc = protector.encrypt("010-12345678")
    anonymise(session, protector, ps[4])
    make_staff(session, "boss", totp_secret_enc=protector.encrypt("JBSWY3DPEHPK3PXP"))
    session.add(Exclusion(campaign_id=campaign.id, id_hash=ps[1].id_hash, reason="员工"))
    session.add(Exclusion(campaign_id=campaign.id, id_hash="f" * 64, reason="非参与者"))
    session.commit()
    plain = {p.id: (protector.decrypt(p.id_enc), protector.decrypt(p.mobile_enc)) for p in ps}
    return campaign, ps, plain


@pytest.fixture
def rotated_app(database_url, tmp_path):
    """Second apps on the same database with other keys; their connections closed after."""
    apps = []

    def build(**keys):
        apps.append(make_app(database_url, tmp_path / f"instance{len(apps) + 2}", **keys))
        return apps[-1]

    yield build
    for application in apps:
        application.extensions["quiz.db"].dispose()


def all_tokens(session):
    tokens = []
    for p in session.scalars(select(Participant)):
        tokens += [t for t in (p.id_enc, p.mobile_enc, p.landline_enc) if t is not None]
    tokens += [u.totp_secret_enc for u in session.scalars(select(StaffUser))]
    return tokens


def test_generate_prints_fresh_usable_keys(runner):
    first = runner.invoke(keys_generate).output
    second = runner.invoke(keys_generate).output
    keys = dict(line.split("=", 1) for line in first.splitlines())
    assert set(keys) == {"QUIZ_DATA_KEY", "QUIZ_HASH_KEY", "SECRET_KEY"}
    Protector([keys["QUIZ_DATA_KEY"]], keys["QUIZ_HASH_KEY"])  # accepted as they are
    assert first != second


def test_rotate_moves_every_value_to_the_newest_key(rotated_app, session, stored):
    _, ps, plain = stored
    app2 = rotated_app(QUIZ_DATA_KEY=f"{NEW},{OLD}")
    result = app2.test_cli_runner().invoke(keys_rotate, ["--batch-size", "2"])
    assert result.exit_code == 0, result.output
    assert "participants: 2/5" in result.output and "participants: 5/5" in result.output
    newest = Fernet(NEW.encode())
    session.expire_all()
    tokens = all_tokens(session)
    assert len(tokens) == 5 * 2 + 1 + 1
    for token in tokens:
        newest.decrypt(token)  # raises unless under the new key
    with pytest.raises(InvalidToken):
        Fernet(OLD.encode()).decrypt(tokens[0])
    # The old key can now go: an app with the new key alone reads everything.
    only_new = Protector([NEW], KEYS["QUIZ_HASH_KEY"])
    for p in ps:
        got = (
            only_new.decrypt(session.get(Participant, p.id).id_enc),
            only_new.decrypt(session.get(Participant, p.id).mobile_enc),
        )
        assert got == plain[p.id]
    assert only_new.decrypt(session.scalars(select(StaffUser)).one().totp_secret_enc) == (
        "JBSWY3DPEHPK3PXP"
    )
    entry = session.scalars(select(AuditLog).where(AuditLog.action == "keys.rotate")).one()
    assert entry.actor.startswith("cli:") and entry.detail["tokens_reencrypted"] == 11


def test_interrupted_rotation_resumes_where_it_stopped(rotated_app, session, stored):
    app2 = rotated_app(QUIZ_DATA_KEY=f"{NEW},{OLD}")
    ring = KeyRing([NEW, OLD], KEYS["QUIZ_HASH_KEY"])

    def crash(what, done, total):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        rotate_keys(app2.extensions["quiz.db"], ring, batch_size=2, progress=crash)
    # The first batch (2 participants, 4 values + 1 landline) was committed.
    first = rotate_keys(app2.extensions["quiz.db"], ring, batch_size=2)
    assert first.tokens_reencrypted == 11 - 5 and first.staff_reencrypted == 1
    again = rotate_keys(app2.extensions["quiz.db"], ring, batch_size=2)
    assert again.tokens_reencrypted == 0 and again.staff_reencrypted == 0


def test_new_hash_key_recomputes_hashes_and_exclusions(rotated_app, session, stored):
    campaign, ps, plain = stored
    new_hash = new_keys()["QUIZ_HASH_KEY"]
    anon_hash = ps[4].id_hash
    app2 = rotated_app(QUIZ_DATA_KEY=f"{NEW},{OLD}")
    result = app2.test_cli_runner().invoke(keys_rotate, [], env={"QUIZ_NEW_HASH_KEY": new_hash})
    assert result.exit_code == 0, result.output
    assert "1 exclusion(s) match no participant" in result.output
    assert "now set QUIZ_HASH_KEY" in result.output
    # After the switch the site finds people by their numbers again.
    hasher = Protector([NEW], new_hash)
    session.expire_all()
    for p in ps[:4]:
        rid, mobile = plain[p.id]
        found = resume(session, hasher, session.get(Campaign, campaign.id), rid, mobile)
        assert found.id == p.id
    assert session.get(Participant, ps[4].id).id_hash == anon_hash  # stays random
    excluded = session.scalars(select(Exclusion).where(Exclusion.reason == "员工")).one()
    assert excluded.id_hash == hasher.lookup_hash("rid", plain[ps[1].id][0])
    assert session.get(Participant, ps[1].id).mobile_hash == hasher.lookup_hash(
        "mobile", make_mobile(1)
    )


def test_new_hash_key_carries_agents_mobiles_over_and_names_the_rest(
    rotated_app, session, protector, stored
):
    """Agents keep only their mobile's hash (for the self-referral flag): one who also
    registered is carried over; one who did not is named, to import the agents again."""
    campaign, ps, plain = stored
    branch = Branch(code="B01", name="北京分公司")
    session.add(branch)
    session.flush()
    entered = Agent(branch_id=branch.id, code="A1", name="甲", mobile_hash=ps[2].mobile_hash)
    never = Agent(
        branch_id=branch.id,
        code="A2",
        name="乙",
        mobile_hash=protector.lookup_hash("mobile", "13900009999"),
    )
    session.add_all([entered, never])
    session.commit()
    new_hash = new_keys()["QUIZ_HASH_KEY"]
    app2 = rotated_app()
    result = app2.test_cli_runner().invoke(keys_rotate, ["--new-hash-key", new_hash])
    assert result.exit_code == 0, result.output
    assert "1 agents' mobiles recomputed" in result.output
    assert "1 agent(s) have a mobile that matches no participant" in result.output
    hasher = Protector([OLD], new_hash)
    session.expire_all()
    assert session.get(Agent, entered.id).mobile_hash == hasher.lookup_hash(
        "mobile", plain[ps[2].id][1]
    )
    assert (
        session.get(Agent, entered.id).mobile_hash == session.get(Participant, ps[2].id).mobile_hash
    )


def test_rotation_without_the_old_key_fails_cleanly(rotated_app, session, stored):
    app2 = rotated_app(QUIZ_DATA_KEY=NEW)
    result = app2.test_cli_runner().invoke(keys_rotate, [])
    assert result.exit_code == 1
    assert "cannot be decrypted" in result.output and "old key removed too early" in result.output


def test_bad_new_hash_key_is_refused(rotated_app, stored):
    app2 = rotated_app()
    runner = app2.test_cli_runner()
    result = runner.invoke(keys_rotate, ["--new-hash-key", "c2hvcnQ"])
    assert result.exit_code == 1 and "the new hash key must hold at least 32" in result.output
    result = runner.invoke(keys_rotate, ["--new-hash-key", "short"])
    assert result.exit_code == 1 and "the new hash key must be urlsafe base64" in result.output


def test_a_malformed_hash_key_is_named():
    with pytest.raises(KeyError_, match="QUIZ_HASH_KEY must be urlsafe base64"):
        Protector([OLD], "short")
