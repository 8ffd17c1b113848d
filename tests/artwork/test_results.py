"""Results and retention: the gallery shows only consented awards, masked; erasure is whole."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from quiz.artwork import awards, retention
from quiz.campaign.artwork_settings import ArtworkSettings
from quiz.models import ArtworkChild, ArtworkFamily, ArtworkScore, ArtworkWork, Campaign
from tests.artwork.conftest import make_agent, make_work


def test_the_gallery_shows_awarded_consented_works_with_masked_names(
    session: Session, protector, contest: Campaign, settings: ArtworkSettings, store
) -> None:
    agent = make_agent(session, "B11", "A1")
    shown = make_work(session, protector, contest, agent, store, 1, stage="awarded")
    shown.award = "一等奖"
    private = make_work(session, protector, contest, agent, store, 2, stage="awarded")
    private.award = "二等奖"
    private.child.family.consent_publish = False
    make_work(session, protector, contest, agent, store, 3, stage="finalist")
    session.flush()

    items = awards.gallery(session, contest, settings)

    assert len(items) == 1
    item = items[0]
    assert item.caption == f"{shown.child.name_masked} (8岁)"
    assert item.caption.startswith("王小*") or item.caption.startswith("王*")
    assert protector.decrypt(shown.child.name_enc) not in item.caption
    assert item.city == awards.branch_city(shown.branch) and item.award == "一等奖"


def test_the_branch_export_neutralises_formulas_and_the_tsv_has_every_work(
    session: Session, protector, contest: Campaign, settings: ArtworkSettings, store
) -> None:
    agent = make_agent(session, "B11", "A1", name="=HYPERLINK(1)")
    work = make_work(session, protector, contest, agent, store, 1)
    rows = list(awards.family_rows(session, protector, contest, agent.branch_id))
    assert rows[0][0] == "作品编号"
    assert rows[1][7] == "A1 =HYPERLINK(1)"  # not first in the cell: harmless
    agent.code = "=cmd"
    rows = list(awards.family_rows(session, protector, contest, agent.branch_id))
    assert rows[1][7].startswith("'=")
    lines = list(awards.works_tsv(session, contest, settings))
    assert lines[0] == "group\twork\tbranch\tround\tmean\taward"
    assert lines[1] == f"儿童组\t{work.child_id:05d}\tB11\t初评\t\t"


def test_erasure_removes_child_guardian_scores_and_both_files(
    session: Session, protector, contest: Campaign, store
) -> None:
    work = make_work(session, protector, contest, make_agent(session, "B11", "A1"), store, 1)
    paths = [store.path(work.image_key, size) for size in ("judging", "thumb")]
    assert all(p.exists() for p in paths)
    found = retention.families_by_mobile(session, protector, "13900000001")
    assert len(found) == 1

    report = retention.erase_family(session, store, found[0])

    assert (report.families, report.children, report.files) == (1, 1, 2)
    assert not any(p.exists() for p in paths)
    for model in (ArtworkFamily, ArtworkChild, ArtworkWork, ArtworkScore):
        assert session.scalar(select(func.count()).select_from(model)) == 0


def test_the_purge_keeps_awarded_families_until_the_winner_period(
    session: Session, protector, contest: Campaign, store
) -> None:
    agent = make_agent(session, "B11", "A1")
    plain = make_work(session, protector, contest, agent, store, 1)
    winner = make_work(session, protector, contest, agent, store, 2, stage="awarded")
    winner.award = "一等奖"
    session.flush()
    follow = contest.draw_at + timedelta(days=contest.content["follow_up_retention_days"])
    assert retention.purge(session, store, now=follow - timedelta(seconds=1)).families == 0
    report = retention.purge(session, store, now=follow)
    assert report.family_ids == [plain.child.family_id]
    assert session.get(ArtworkWork, winner.id) is not None
    late = contest.draw_at + timedelta(days=contest.content["winner_retention_days"])
    assert retention.purge(session, store, now=late).families == 1
    assert dataclasses.is_dataclass(report)


def test_key_rotation_re_encrypts_the_contest_data(
    app, session: Session, protector, contest: Campaign, store
) -> None:
    from cryptography.fernet import Fernet

    from quiz.privacy.keys import KeyRing, rotate_keys
    from quiz.privacy.protection import Protector
    from tests.conftest import KEYS

    work = make_work(session, protector, contest, make_agent(session, "B11", "A1"), store, 1)
    family_id, child_id = work.child.family_id, work.child_id
    session.commit()
    new_key = Fernet.generate_key().decode()
    ring = KeyRing([new_key, KEYS["QUIZ_DATA_KEY"]], KEYS["QUIZ_HASH_KEY"])

    report = rotate_keys(app.extensions["quiz.db"], ring)

    assert report.tokens_reencrypted >= 3
    only_new = Protector([new_key], KEYS["QUIZ_HASH_KEY"])
    session.expire_all()
    family, child = session.get(ArtworkFamily, family_id), session.get(ArtworkChild, child_id)
    assert only_new.decrypt(family.mobile_enc) == "13900000001"
    assert only_new.decrypt(family.guardian_enc) == "家长1"
    assert only_new.decrypt(child.name_enc).startswith("王小")
