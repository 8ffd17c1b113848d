"""Two-person control over the draw on the web: no single account enters the result or
voids a draw alone.

- The lottery result is entered by one account allowed to operate the campaign's draws
  and typed again by a different account allowed to confirm them; the confirmer never
  sees the first entry (only its SHA-256 is kept). The draw runs when both are equal,
  character for character, after the announced format check. A mismatch discards the
  first entry without showing either, and both start again: a new first entry (by any
  allowed account), then a confirmation by another.
- A void is a request with its reason; a second allowed account approves or refuses it
  within 24 hours. An expired request does nothing (shown as 已过期); a new one may be made.
- The server console (`quiz draw run`, `quiz draw void`) bypasses both and is marked as
  such on the public page and the printed record (service.run_draw / void_draw channel).

Plain functions over a Session, taking ids so that callers choose the campaign; they
flush, never commit, and raise DrawRefused with the Chinese message.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from quiz.db import utcnow
from quiz.draw import service
from quiz.draw.eligibility import DrawRefused
from quiz.models import Draw, DrawStaff, DrawVoidRequest, StaffUser
from quiz.staff import audit
from quiz.text_safety import strip_invisible

VOID_REQUEST_TTL: Final = timedelta(hours=24)
MAX_WITNESS_NAME: Final = 100
DUTIES: Final = ("operate", "confirm")
# The web's draw actions are admin actions; analysts only look (quiz.admin.access).
DRAW_ROLE: Final = "admin"

ENTRIES_DIFFER: Final = (
    "两次录入不一致。为避免泄露,两次录入的内容都不显示;第一次录入已作废,"
    "请重新开始:先由一人录入开奖结果,再由另一人录入确认。"
)
VOID_STATUS_LABELS: Final = {
    "pending": "待批准",
    "expired": "已过期",
    "approved": "已批准",
    "refused": "已拒绝",
    "closed": "已失效(抽奖已另行作废)",
}


class EntriesDiffer(DrawRefused):
    """The confirmation did not match the first entry; the first entry is discarded, and
    the caller must commit that (unlike other refusals, which change nothing)."""


@dataclass(frozen=True)
class DrawAccounts:
    """Who may operate and who may confirm a campaign's draws, and whether each list was
    named in the settings (otherwise it is every active admin)."""

    operators: list[StaffUser]
    confirmers: list[StaffUser]
    named_operators: bool
    named_confirmers: bool


def _admins(session: Session) -> list[StaffUser]:
    return list(
        session.scalars(
            select(StaffUser)
            .where(StaffUser.role == DRAW_ROLE, StaffUser.active.is_(True))
            .order_by(StaffUser.username)
        )
    )


def eligible_accounts(session: Session) -> list[StaffUser]:
    """The accounts a campaign may name: active head-office admins."""
    return _admins(session)


def draw_accounts(session: Session, campaign_id: int) -> DrawAccounts:
    """The campaign's operators and confirmers; a deactivated or demoted account named in
    the settings no longer counts."""
    admins = _admins(session)
    named: dict[str, set[int]] = {duty: set() for duty in DUTIES}
    for staff_id, duty in session.execute(
        select(DrawStaff.staff_id, DrawStaff.duty).where(DrawStaff.campaign_id == campaign_id)
    ):
        named[duty].add(staff_id)

    def pick(duty: str) -> list[StaffUser]:
        return [u for u in admins if u.id in named[duty]] if named[duty] else admins

    return DrawAccounts(
        pick("operate"), pick("confirm"), bool(named["operate"]), bool(named["confirm"])
    )


def _has_pair(accounts: DrawAccounts) -> bool:
    return any(a.id != b.id for a in accounts.operators for b in accounts.confirmers)


def two_person_problem(session: Session, campaign_id: int) -> str | None:
    """Why the web cannot run or void this campaign's draws, or None when it can."""
    accounts = draw_accounts(session, campaign_id)
    if _has_pair(accounts):
        return None
    if not (accounts.named_operators or accounts.named_confirmers):
        return (
            "网上抽奖和作废须由两个不同的总公司管理员账户操作(一人录入,另一人确认或批准),"
            "本站目前只有一个有效的管理员账户,所以不能在网上抽奖。请在服务器上用 "
            "quiz staff create 用户名 --role admin 创建第二个管理员账户(见 README“两人操作”);"
            "或在服务器控制台执行 quiz draw run,公开页面和开奖记录将注明“由服务器控制台执行”。"
        )
    return (
        "本活动抽奖设置中的录入人和确认人须至少是两个不同的有效管理员账户,"
        "目前做不到,所以不能在网上抽奖或作废。请修改下方“抽奖操作人设置”。"
    )


def _require_pair(session: Session, campaign_id: int) -> None:
    problem = two_person_problem(session, campaign_id)
    if problem is not None:
        raise DrawRefused(problem)


def may_operate(session: Session, campaign_id: int, user: StaffUser) -> bool:
    """May this account enter the result and request a void?"""
    return any(u.id == user.id for u in draw_accounts(session, campaign_id).operators)


def may_confirm(session: Session, campaign_id: int, user: StaffUser) -> bool:
    """May this account confirm the result?"""
    return any(u.id == user.id for u in draw_accounts(session, campaign_id).confirmers)


def may_decide_void(session: Session, campaign_id: int, user: StaffUser) -> bool:
    """Requesting and approving a void is open to either list (two different accounts)."""
    accounts = draw_accounts(session, campaign_id)
    return any(u.id == user.id for u in [*accounts.operators, *accounts.confirmers])


def set_draw_accounts(
    session: Session,
    campaign_id: int,
    operate_ids: Iterable[int],
    confirm_ids: Iterable[int],
    actor: StaffUser,
    *,
    ip: str | None = None,
) -> DrawAccounts:
    """Name the campaign's operators and confirmers (empty lists: every active admin)."""
    admins = {u.id: u for u in _admins(session)}
    chosen = {"operate": sorted(set(operate_ids)), "confirm": sorted(set(confirm_ids))}
    for ids in chosen.values():
        if any(i not in admins for i in ids):
            raise DrawRefused("只能指定有效的总公司管理员账户。")
    if chosen["operate"] or chosen["confirm"]:
        operators = [admins[i] for i in chosen["operate"]] or list(admins.values())
        confirmers = [admins[i] for i in chosen["confirm"]] or list(admins.values())
        if not _has_pair(DrawAccounts(operators, confirmers, True, True)):
            raise DrawRefused(
                "按这个设置找不到两个不同的账户(一人录入、另一人确认),网上将无法抽奖;"
                "请至少指定两个不同的账户。"
            )
    session.execute(delete(DrawStaff).where(DrawStaff.campaign_id == campaign_id))
    for duty, ids in chosen.items():
        session.add_all(DrawStaff(campaign_id=campaign_id, staff_id=i, duty=duty) for i in ids)
    session.flush()
    audit.record(
        session,
        actor,
        "draw.accounts",
        f"campaign:{campaign_id}",
        {
            "operators": [admins[i].username for i in chosen["operate"]] or "全部管理员",
            "confirmers": [admins[i].username for i in chosen["confirm"]] or "全部管理员",
        },
        ip,
    )
    return draw_accounts(session, campaign_id)


def _locked_draw(session: Session, draw_id: int) -> Draw:
    """The draw, re-read under a row lock (PostgreSQL; SQLite writers already queue)."""
    draw = session.scalars(
        select(Draw)
        .where(Draw.id == draw_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if draw is None:
        raise DrawRefused("没有这个抽奖记录。")
    return draw


def _digest(randomness: str) -> str:
    return hashlib.sha256(randomness.encode("utf-8")).hexdigest()


def _frozen(draw: Draw) -> None:
    if draw.status != "frozen":
        raise DrawRefused(service.not_frozen_message(draw.status))


def enter_result(
    session: Session,
    draw_id: int,
    randomness: str,
    actor: StaffUser,
    *,
    ip: str | None = None,
    now: datetime | None = None,
) -> Draw:
    """The first entry of the lottery result; it waits for another account's confirmation."""
    now = now or utcnow()
    draw = _locked_draw(session, draw_id)
    _frozen(draw)
    _require_pair(session, draw.campaign_id)
    if not may_operate(session, draw.campaign_id, actor):
        raise DrawRefused("本活动的抽奖设置没有指定您录入开奖结果。")
    if draw.entry_digest is not None:
        if draw.entered_by == actor.username:
            raise DrawRefused("您已录入开奖结果,须由另一个账户再次录入确认。")
        raise DrawRefused(f"{draw.entered_by} 已录入开奖结果,请在确认栏再次录入。")
    service.check_randomness(randomness, draw)
    service.check_draw_time(draw, now)  # no early override on the web: see the CLI
    service.check_not_reused(session, draw, randomness)
    draw.entry_digest = _digest(randomness)
    draw.entered_by = actor.username
    draw.entered_at = now
    draw.confirmed_by = draw.confirmed_at = None
    session.flush()
    # Never the value: the confirmer may read the audit log.
    audit.record(session, actor, "draw.enter", f"draw:{draw.id}", {}, ip)
    return draw


def withdraw_entry(
    session: Session, draw_id: int, actor: StaffUser, *, ip: str | None = None
) -> Draw:
    """The first entrant takes back an entry they know to be wrong."""
    draw = _locked_draw(session, draw_id)
    _frozen(draw)
    if draw.entry_digest is None or draw.entered_by != actor.username:
        raise DrawRefused("没有您录入的待确认开奖结果。")
    _discard_entry(draw)
    session.flush()
    audit.record(session, actor, "draw.entry_withdraw", f"draw:{draw.id}", {}, ip)
    return draw


def _discard_entry(draw: Draw) -> None:
    draw.entry_digest = draw.entered_by = draw.entered_at = None


def confirm_result(
    session: Session,
    draw_id: int,
    randomness: str,
    actor: StaffUser,
    *,
    ip: str | None = None,
    now: datetime | None = None,
) -> int:
    """A second account types the result again; equal to the first entry, the draw runs
    (returns the number of winners); different, EntriesDiffer and the entry is discarded."""
    now = now or utcnow()
    draw = _locked_draw(session, draw_id)
    _frozen(draw)
    _require_pair(session, draw.campaign_id)
    if draw.entry_digest is None:
        raise DrawRefused("还没有待确认的开奖结果:须先由一人录入,再由另一人确认。")
    if draw.entered_by == actor.username:
        raise DrawRefused("不能确认自己录入的开奖结果,须由另一个账户再次录入确认。")
    if not may_confirm(session, draw.campaign_id, actor):
        raise DrawRefused("本活动的抽奖设置没有指定您确认开奖结果。")
    # The declared format first: a typo the format catches is the confirmer's to fix.
    service.check_randomness(randomness, draw)
    if not hmac.compare_digest(_digest(randomness), draw.entry_digest):
        first = draw.entered_by
        _discard_entry(draw)
        session.flush()
        audit.record(
            session,
            actor,
            "draw.entry_mismatch",
            f"draw:{draw.id}",
            {"entered_by": first, "confirmed_by": actor.username},
            ip,
        )
        raise EntriesDiffer(ENTRIES_DIFFER)
    draw.confirmed_by = actor.username
    draw.confirmed_at = now
    session.flush()
    audit.record(
        session,
        actor,
        "draw.confirm",
        f"draw:{draw.id}",
        {"entered_by": draw.entered_by, "confirmed_by": actor.username},
        ip,
    )
    return service.run_draw(session, draw, randomness, actor, ip=ip, now=now, channel="web")


# --------------------------------------------------------------------------------------
# Void requests
# --------------------------------------------------------------------------------------


def request_state(request: DrawVoidRequest, now: datetime | None = None) -> str:
    """pending, expired (pending past its 24 hours), approved, refused or closed."""
    if request.status == "pending" and (now or utcnow()) >= request.expires_at:
        return "expired"
    return request.status


def void_requests(session: Session, draw_ids: Sequence[int]) -> list[DrawVoidRequest]:
    """The void requests of these draws, oldest first."""
    if not draw_ids:
        return []
    return list(
        session.scalars(
            select(DrawVoidRequest)
            .where(DrawVoidRequest.draw_id.in_(draw_ids))
            .order_by(DrawVoidRequest.id)
        )
    )


def campaign_void_requests(session: Session, campaign_id: int) -> list[DrawVoidRequest]:
    """Every void request of the campaign's draws, for the public 作废记录."""
    ids = list(session.scalars(select(Draw.id).where(Draw.campaign_id == campaign_id)))
    return void_requests(session, ids)


def pending_request(
    session: Session, draw_id: int, now: datetime | None = None
) -> DrawVoidRequest | None:
    """The draw's void request still waiting for approval (not expired), if any."""
    now = now or utcnow()
    return session.scalars(
        select(DrawVoidRequest).where(
            DrawVoidRequest.draw_id == draw_id,
            DrawVoidRequest.status == "pending",
            DrawVoidRequest.expires_at > now,
        )
    ).first()


def request_void(
    session: Session,
    draw_id: int,
    reason: str,
    actor: StaffUser,
    *,
    ip: str | None = None,
    now: datetime | None = None,
) -> DrawVoidRequest:
    """Ask to void a draw; nothing changes until another account approves (24 hours)."""
    now = now or utcnow()
    reason = strip_invisible(reason or "").strip()
    if not reason:
        raise DrawRefused("作废抽奖必须填写原因。")
    if len(reason) > 500:
        raise DrawRefused("作废原因不能超过500个字。")
    draw = _locked_draw(session, draw_id)
    if draw.status == "voided":
        raise DrawRefused("本次抽奖已经作废。")
    _require_pair(session, draw.campaign_id)
    if not may_decide_void(session, draw.campaign_id, actor):
        raise DrawRefused("本活动的抽奖设置没有指定您操作抽奖。")
    waiting = pending_request(session, draw.id, now)
    if waiting is not None:
        raise DrawRefused(
            f"已有待批准的作废申请(申请人 {waiting.requested_by}),"
            "须由另一个账户批准或拒绝,或等它过期。"
        )
    request = DrawVoidRequest(
        draw_id=draw.id,
        reason=reason,
        requested_by=actor.username,
        requested_at=now,
        expires_at=now + VOID_REQUEST_TTL,
        status="pending",
    )
    session.add(request)
    session.flush()
    audit.record(
        session,
        actor,
        "draw.void_request",
        f"draw:{draw.id}",
        {"reason": reason, "request": request.id},
        ip,
    )
    return request


def decide_void(
    session: Session,
    request_id: int,
    approve: bool,
    actor: StaffUser,
    *,
    ip: str | None = None,
    now: datetime | None = None,
) -> DrawVoidRequest:
    """A second account approves (the draw is voided) or refuses a pending request."""
    now = now or utcnow()
    request = session.get(DrawVoidRequest, request_id)
    if request is None:
        raise DrawRefused("没有这个作废申请。")
    draw = _locked_draw(session, request.draw_id)
    session.refresh(request)
    state = request_state(request, now)
    if state == "expired":
        raise DrawRefused("这个作废申请已过期(超过24小时未批准),不再有效;如仍需作废,请重新申请。")
    if state != "pending":
        raise DrawRefused(f"这个作废申请{VOID_STATUS_LABELS[state]},不能再处理。")
    if request.requested_by == actor.username:
        raise DrawRefused("不能批准或拒绝自己提出的作废申请,须由另一个账户处理。")
    _require_pair(session, draw.campaign_id)
    if not may_decide_void(session, draw.campaign_id, actor):
        raise DrawRefused("本活动的抽奖设置没有指定您操作抽奖。")
    request.decided_by = actor.username
    request.decided_at = now
    if approve:
        # void_draw closes pending requests: mark this one approved after it.
        service.void_draw(
            session,
            draw,
            request.reason,
            actor,
            ip=ip,
            now=now,
            channel="web",
        )
        request.status = "approved"
    else:
        request.status = "refused"
    session.flush()
    audit.record(
        session,
        actor,
        "draw.void_approve" if approve else "draw.void_refuse",
        f"draw:{draw.id}",
        {
            "request": request.id,
            "requested_by": request.requested_by,
            "reason": request.reason,
        },
        ip,
    )
    return request


def approved_request(requests: Iterable[DrawVoidRequest], draw_id: int) -> DrawVoidRequest | None:
    """The request whose approval voided this draw (web voids), if any."""
    return next((r for r in requests if r.draw_id == draw_id and r.status == "approved"), None)


# --------------------------------------------------------------------------------------
# Witnesses
# --------------------------------------------------------------------------------------


def set_witnesses(
    session: Session,
    draw_id: int,
    notary: str,
    supervisor: str,
    actor: StaffUser,
    *,
    ip: str | None = None,
) -> Draw:
    """The names of the 公证员 and 监督人 present, for the printed record (audit-logged)."""
    draw = _locked_draw(session, draw_id)
    if draw.status == "voided":
        raise DrawRefused("本次抽奖已作废,不能再修改见证人。")
    names = []
    for label, value in (("公证员", notary), ("监督人", supervisor)):
        cleaned = " ".join(strip_invisible(value or "").split())
        if len(cleaned) > MAX_WITNESS_NAME:
            raise DrawRefused(f"{label}姓名不能超过{MAX_WITNESS_NAME}个字。")
        names.append(cleaned or None)
    before = {"notary": draw.notary_name, "supervisor": draw.supervisor_name}
    draw.notary_name, draw.supervisor_name = names
    session.flush()
    audit.record(
        session,
        actor,
        "draw.witnesses",
        f"draw:{draw.id}",
        {"before": before, "notary": draw.notary_name, "supervisor": draw.supervisor_name},
        ip,
    )
    return draw
