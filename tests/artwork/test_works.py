"""Works: one per child, checked in by the upload, listed per branch and group."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from quiz.artwork.images import process
from quiz.artwork.works import ONE_WORK, WorkError, attach_work, check_in_list
from quiz.models import Campaign
from tests.artwork.conftest import make_agent, make_work
from tests.artwork.pictures import jpeg_with_gps


def test_one_work_per_child_and_the_refused_second_leaves_no_file(
    session: Session, protector, contest: Campaign, store
) -> None:
    work = make_work(session, protector, contest, make_agent(session, "B11", "A1"), store, 1)
    files_before = sorted(store.root.rglob("*.jpg"))
    with pytest.raises(WorkError) as caught:
        attach_work(session, store, work.child, process(jpeg_with_gps((80, 60))), "staff")
    assert str(caught.value) == ONE_WORK
    assert sorted(store.root.rglob("*.jpg")) == files_before
    assert work.child.checked_in_at is not None


def test_the_check_in_list_is_per_branch_and_group(
    session: Session, protector, contest: Campaign, store
) -> None:
    bj, sh = make_agent(session, "B11", "A1"), make_agent(session, "B31", "A2")
    mine = make_work(session, protector, contest, bj, store, 1)
    make_work(session, protector, contest, sh, store, 2)
    rows = check_in_list(session, contest, bj.branch_id, "儿童组")
    assert [r.child.id for r in rows] == [mine.child_id]
    assert check_in_list(session, contest, bj.branch_id, "少年组") == []
    assert len(check_in_list(session, contest, None, None)) == 2
