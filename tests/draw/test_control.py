"""Two-person control as plain functions: entry and confirmation, void requests, settings."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from quiz.db import utcnow
from quiz.draw import control, service
from quiz.draw.eligibility import DrawRefused
from quiz.models import AuditLog, Draw, DrawVoidRequest, StaffUser, Winner
from tests.draw.test_draw_views import RANDOMNESS, closed_with_entrants
from tests.factories import make_staff

OTHER = "01 02 03 04 05 06 + 07"  # also in the announced format


def frozen_with_admins(
    session: Session, protector: Any, *names: str
) -> tuple[Draw, list[StaffUser]]:
    campaign, _ = closed_with_entrants(session, protector, 6)
    draw = service.freeze(session, campaign, operator="t", now=utcnow() + timedelta(seconds=1))
    people = [make_staff(session, name, role="admin") for name in names]
    session.flush()
    return draw, people


def test_a_single_admin_can_neither_enter_nor_request_a_void(
    session: Session, protector: Any
) -> None:
    draw, (alone,) = frozen_with_admins(session, protector, "alone")
    make_staff(session, "viewer", role="analyst")  # analysts do not count: they only look
    problem = control.two_person_problem(session, draw.campaign_id)
    assert problem is not None and "quiz staff create" in problem
    with pytest.raises(DrawRefused, match="两个不同的总公司管理员账户"):
        control.enter_result(session, draw.id, RANDOMNESS, alone)
    with pytest.raises(DrawRefused, match="两个不同的总公司管理员账户"):
        control.request_void(session, draw.id, "重抽", alone)
    assert draw.status == "frozen" and draw.entry_digest is None
    assert session.scalars(select(DrawVoidRequest)).all() == []


def test_matching_entries_by_two_accounts_run_the_draw_once(
    session: Session, protector: Any
) -> None:
    draw, (first, second) = frozen_with_admins(session, protector, "first", "second")
    control.enter_result(session, draw.id, RANDOMNESS, first)
    assert draw.status == "frozen" and draw.entered_by == "first"
    assert draw.entry_digest is not None and RANDOMNESS not in draw.entry_digest
    with pytest.raises(DrawRefused, match="不能确认自己录入"):
        control.confirm_result(session, draw.id, RANDOMNESS, first)
    with pytest.raises(DrawRefused, match="已录入开奖结果"):
        control.enter_result(session, draw.id, RANDOMNESS, first)
    assert control.confirm_result(session, draw.id, RANDOMNESS, second) == 3
    assert (draw.status, draw.randomness_value, draw.run_channel) == ("drawn", RANDOMNESS, "web")
    assert (draw.entered_by, draw.confirmed_by, draw.drawn_by) == ("first", "second", "second")
    assert draw.confirmed_at is not None and draw.entered_at is not None
    # The audit log never holds the first entry before the run.
    details = session.scalars(
        select(AuditLog.detail).where(AuditLog.action.in_(["draw.enter", "draw.confirm"]))
    ).all()
    assert all(RANDOMNESS not in str(d) for d in details)


def test_different_entries_are_refused_and_both_start_again(
    session: Session, protector: Any
) -> None:
    draw, (first, second) = frozen_with_admins(session, protector, "first", "second")
    control.enter_result(session, draw.id, RANDOMNESS, first)
    with pytest.raises(control.EntriesDiffer) as refused:
        control.confirm_result(session, draw.id, OTHER, second)
    assert "两次录入不一致" in str(refused.value)
    assert RANDOMNESS not in str(refused.value) and OTHER not in str(refused.value)
    assert draw.status == "frozen" and draw.entry_digest is None and draw.entered_by is None
    assert session.scalars(select(Winner)).all() == []
    # Nothing left to confirm: a new first entry must come first, by either account.
    with pytest.raises(DrawRefused, match="还没有待确认"):
        control.confirm_result(session, draw.id, RANDOMNESS, first)
    control.enter_result(session, draw.id, OTHER, second)
    assert control.confirm_result(session, draw.id, OTHER, first) == 3
    mismatch = session.scalars(
        select(AuditLog).where(AuditLog.action == "draw.entry_mismatch")
    ).one()
    assert mismatch.detail == {"entered_by": "first", "confirmed_by": "second"}


def test_a_confirmation_out_of_format_keeps_the_first_entry(
    session: Session, protector: Any
) -> None:
    draw, (first, second) = frozen_with_admins(session, protector, "first", "second")
    control.enter_result(session, draw.id, RANDOMNESS, first)
    with pytest.raises(DrawRefused, match="书写格式"):
        control.confirm_result(session, draw.id, "3 8 14 22 27 33 + 5", second)
    assert draw.entered_by == "first"
    assert control.confirm_result(session, draw.id, RANDOMNESS, second) == 3


def test_void_needs_a_second_account_and_names_both(session: Session, protector: Any) -> None:
    draw, (first, second) = frozen_with_admins(session, protector, "first", "second")
    request = control.request_void(session, draw.id, "公证处要求重新抽奖", first)
    assert draw.status == "frozen"
    with pytest.raises(DrawRefused, match="不能批准或拒绝自己"):
        control.decide_void(session, request.id, True, first)
    with pytest.raises(DrawRefused, match="已有待批准"):
        control.request_void(session, draw.id, "再申请一次", second)
    control.decide_void(session, request.id, True, second)
    assert (draw.status, draw.void_channel, draw.voided_by) == ("voided", "web", "second")
    assert (request.status, request.requested_by, request.decided_by) == (
        "approved",
        "first",
        "second",
    )
    actions = session.execute(
        select(AuditLog.action, AuditLog.actor).where(AuditLog.action.like("draw.void%"))
    ).all()
    assert set(actions) == {
        ("draw.void_request", "first"),
        ("draw.void", "second"),
        ("draw.void_approve", "second"),
    }


def test_a_refused_request_changes_nothing(session: Session, protector: Any) -> None:
    draw, (first, second) = frozen_with_admins(session, protector, "first", "second")
    request = control.request_void(session, draw.id, "误操作", first)
    control.decide_void(session, request.id, False, second)
    assert draw.status == "frozen" and request.status == "refused"
    assert request.decided_by == "second"
    with pytest.raises(DrawRefused, match="已拒绝"):
        control.decide_void(session, request.id, True, second)


def test_an_expired_void_request_does_nothing(session: Session, protector: Any) -> None:
    draw, (first, second) = frozen_with_admins(session, protector, "first", "second")
    asked = utcnow() - timedelta(hours=25)
    request = control.request_void(session, draw.id, "过期的申请", first, now=asked)
    assert control.request_state(request, asked + timedelta(hours=23)) == "pending"
    assert control.request_state(request) == "expired"
    with pytest.raises(DrawRefused, match="已过期"):
        control.decide_void(session, request.id, True, second)
    assert draw.status == "frozen" and draw.voided_at is None
    assert request.status == "pending" and request.decided_by is None
    # It no longer blocks a new request.
    assert control.pending_request(session, draw.id) is None
    control.request_void(session, draw.id, "新的申请", first)


def test_settings_name_who_operates_and_who_confirms(session: Session, protector: Any) -> None:
    draw, (a, b, c) = frozen_with_admins(session, protector, "a", "b", "c")
    with pytest.raises(DrawRefused, match="两个不同的账户"):
        control.set_draw_accounts(session, draw.campaign_id, [a.id], [a.id], a)
    viewer = make_staff(session, "viewer", role="analyst")
    with pytest.raises(DrawRefused, match="管理员账户"):
        control.set_draw_accounts(session, draw.campaign_id, [viewer.id], [b.id], a)
    control.set_draw_accounts(session, draw.campaign_id, [a.id], [b.id], a)
    with pytest.raises(DrawRefused, match="没有指定您录入"):
        control.enter_result(session, draw.id, RANDOMNESS, c)
    control.enter_result(session, draw.id, RANDOMNESS, a)
    with pytest.raises(DrawRefused, match="没有指定您确认"):
        control.confirm_result(session, draw.id, RANDOMNESS, c)
    # A named confirmer who leaves leaves nobody to confirm: the web says why.
    b.active = False
    session.flush()
    assert control.two_person_problem(session, draw.campaign_id) is not None
    b.active = True
    session.flush()
    assert control.confirm_result(session, draw.id, RANDOMNESS, b) == 3


def test_console_runs_and_voids_are_marked(session: Session, protector: Any) -> None:
    draw, _ = frozen_with_admins(session, protector)
    service.run_draw(session, draw, RANDOMNESS, operator="cli:root")
    assert draw.run_channel == "console"
    service.void_draw(session, draw, "控制台作废", operator="cli:root")
    assert draw.void_channel == "console"


def test_witness_names_are_cleaned_and_audited(session: Session, protector: Any) -> None:
    draw, (a,) = frozen_with_admins(session, protector, "a")
    control.set_witnesses(session, draw.id, "  王\u200b公证 ", "李 监督", a)
    assert (draw.notary_name, draw.supervisor_name) == ("王公证", "李 监督")
    with pytest.raises(DrawRefused, match="不能超过"):
        control.set_witnesses(session, draw.id, "王" * 101, "", a)
    assert session.scalars(select(AuditLog.action).where(AuditLog.action == "draw.witnesses")).one()


def test_the_audit_log_reads_the_two_person_steps_in_chinese(
    session: Session, protector: Any
) -> None:
    from quiz.admin.audit_text import describe

    draw, (first, second) = frozen_with_admins(session, protector, "first", "second")
    control.enter_result(session, draw.id, RANDOMNESS, first)
    with pytest.raises(control.EntriesDiffer):
        control.confirm_result(session, draw.id, OTHER, second)
    request = control.request_void(session, draw.id, "名单有误", second)
    control.decide_void(session, request.id, False, first)
    lines = {
        entry.action: describe(session, entry)
        for entry in session.scalars(select(AuditLog).order_by(AuditLog.id))
    }
    mismatch = lines["draw.entry_mismatch"]
    assert mismatch.action == "两次录入不一致(录入作废)"
    assert mismatch.details == ["录入人:first", "确认人:second"]
    assert lines["draw.enter"].action == "录入开奖结果(待另一人确认)"
    assert lines["draw.void_request"].details[0] == "原因:名单有误"
    refusal = lines["draw.void_refuse"]
    assert refusal.action == "拒绝作废抽奖" and "申请人:second" in refusal.details


def test_only_the_first_entrant_may_withdraw_the_entry(session: Session, protector: Any) -> None:
    draw, (first, second) = frozen_with_admins(session, protector, "first", "second")
    control.enter_result(session, draw.id, RANDOMNESS, first)
    with pytest.raises(DrawRefused, match="没有您录入"):
        control.withdraw_entry(session, draw.id, second)
    assert draw.entered_by == "first"
    control.withdraw_entry(session, draw.id, first)
    assert draw.entry_digest is None and draw.entered_by is None
    with pytest.raises(DrawRefused, match="还没有待确认"):
        control.confirm_result(session, draw.id, RANDOMNESS, second)
