"""The contest paper: sign-in, one timed attempt per contestant, answers and scoring.

A paper is independent of the public entry (Participant): its questions are drawn from
the campaign's bank (engine.bank) by the group's category quotas, in an order of its
own, each question's options in a per-paper order (engine.shuffle). The time limit is
the server's: the paper's deadline is fixed when it starts (the limit, or the contest's
end if sooner), an answer that arrives after it is refused and not counted, and a paper
whose deadline has passed is closed whenever it is read, page open or not: no job runs.

Services flush, never commit; refusals are ContestError subclasses whose `status` is
the HTTP status a view answers with and whose text is the Chinese message.
"""

from __future__ import annotations

import hmac
import random
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from quiz.campaign.lifecycle import FlowError
from quiz.contest.roster import invite_hash
from quiz.db import utcnow
from quiz.engine.bank import QuestionBank
from quiz.engine.shuffle import SHOWN_LETTERS, option_order
from quiz.fraud import codes as sms_codes
from quiz.models import Campaign, ContestAnswer, Contestant, ContestPaper, Question
from quiz.privacy.protection import Protector

TRUE_FALSE = ({"正确", "错误"}, {"对", "错"}, {"是", "否"})


class ContestError(FlowError):
    """A refusal shown to the contestant."""

    status = 422


class WrongCode(ContestError):
    """A wrong, spent or expired SMS code. The try was counted on the code (five wrong
    tries void it): the caller commits before answering, or the code could be guessed
    without end."""


class StaleBank(LookupError):
    """The worker's cached question bank lacks a question of this paper (added to the
    bank moments ago, drawn by another worker): read the bank again and retry."""


class NotSignedIn(ContestError):
    status = 401


class NotYourPaper(ContestError):
    status = 403


class TimeUp(ContestError):
    status = 409


class ContestClosed(ContestError):
    status = 409


def settings_of(campaign: Campaign) -> Mapping[str, Any]:
    return campaign.content.get("contest") or {}


def question_type(question: Question) -> str:
    """单选, 多选 or 判断 (a single-answer question whose options are 正确/错误)."""
    if question.multiple:
        return "多选"
    texts = {str(o["text"]).strip() for o in question.options}
    return "判断" if texts in TRUE_FALSE else "单选"


def points_for(
    correct: Sequence[str], picked: Sequence[str], multiple: bool, mode: str, points: int
) -> int:
    """Points for one answer. A 多选 question under "partial" earns its share of the
    correct options picked, and nothing when any wrong option is picked."""
    right, chosen = set(correct), set(picked)
    if chosen == right:
        return points
    if multiple and mode == "partial" and chosen and chosen < right:
        return points * len(chosen) // len(right)
    return 0


def ensure_running(campaign: Campaign, now: datetime) -> None:
    if now < campaign.opens_at:
        raise ContestClosed("竞赛尚未开始,请在竞赛开始后再登录答题。")
    if now >= campaign.closes_at:
        raise ContestClosed("竞赛已结束,不能再登录或答题。")


# --- sign-in -----------------------------------------------------------------------------


def contestant_by_no(session: Session, campaign_id: int, staff_no: str) -> Contestant | None:
    return session.scalars(
        select(Contestant).where(
            Contestant.campaign_id == campaign_id, Contestant.staff_no == staff_no.strip()
        )
    ).first()


# Codes one network may have sent a day: only roster mobiles receive them (each under the
# per-mobile limits), and a whole branch signs in from its office's one address.
OFFICE_SMS_PER_DAY = 5_000
UNKNOWN = "工号不在本次竞赛的参赛名单中,请核对工号,或联系本机构竞赛负责人。"


def sign_in_with_invite(
    session: Session,
    protector: Protector,
    campaign: Campaign,
    staff_no: str,
    code: str,
    *,
    now: datetime | None = None,
) -> tuple[Contestant, str]:
    """Check 工号 + invitation code; the code works once. Returns the contestant and the
    new session token (any other device's session ends)."""
    now = now or utcnow()
    ensure_running(campaign, now)
    contestant = contestant_by_no(session, campaign.id, staff_no)
    if contestant is None:
        raise ContestError(UNKNOWN)
    typed = "".join(code.split()).upper()
    if contestant.invite_hash is None:
        raise ContestError(
            "该邀请码已使用或尚未发放。换手机登录请联系本机构竞赛负责人重新发放邀请码。"
        )
    expected = invite_hash(protector, campaign.id, contestant.staff_no, typed)
    if not typed or not hmac.compare_digest(contestant.invite_hash, expected):
        raise ContestError("邀请码不正确,请核对后重新输入。")
    # Claimed in the database: of two concurrent sign-ins with the code, one wins.
    claimed = session.execute(
        update(Contestant)
        .where(Contestant.id == contestant.id, Contestant.invite_hash == expected)
        .values(invite_hash=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not claimed:
        raise ContestError("该邀请码已使用。换手机登录请联系本机构竞赛负责人重新发放邀请码。")
    return contestant, _new_session(session, contestant, now)


def contestant_mobile(protector: Protector, contestant: Contestant) -> str:
    if contestant.mobile_enc is None:
        raise ContestError("名单中没有您的手机号码,请使用本机构发放的邀请码登录。")
    return protector.decrypt(contestant.mobile_enc)


def send_sign_in_code(
    session: Session,
    protector: Protector,
    campaign: Campaign,
    staff_no: str,
    client: str,
    *,
    now: datetime | None = None,
    limits: sms_codes.SmsLimits | None = None,
) -> sms_codes.IssuedCode:
    """An SMS code to the roster's mobile of this 工号 (the caller commits, then delivers),
    under the site's SMS limits (`limits`: per mobile, and the campaign's daily budget)
    except the per-network one: a branch's staff sign in together from one office."""
    now = now or utcnow()
    ensure_running(campaign, now)
    contestant = contestant_by_no(session, campaign.id, staff_no)
    if contestant is None:
        raise ContestError(UNKNOWN)
    mobile = contestant_mobile(protector, contestant)
    office = replace(limits or sms_codes.SmsLimits(), per_client_day=OFFICE_SMS_PER_DAY)
    return sms_codes.issue_code(
        session, protector, campaign.id, mobile, client, now=now, limits=office
    )


def sign_in_with_sms(
    session: Session,
    protector: Protector,
    campaign: Campaign,
    staff_no: str,
    code: str,
    *,
    now: datetime | None = None,
) -> tuple[Contestant, str]:
    """Check 工号 + the SMS code sent to the roster's mobile (a code works once)."""
    now = now or utcnow()
    ensure_running(campaign, now)
    contestant = contestant_by_no(session, campaign.id, staff_no)
    if contestant is None:
        raise ContestError(UNKNOWN)
    try:
        sms_codes.verify_code(
            session, protector, campaign.id, contestant_mobile(protector, contestant), code, now=now
        )
    except sms_codes.CodeRejected as exc:
        raise WrongCode(str(exc)) from None
    return contestant, _new_session(session, contestant, now)


def _new_session(session: Session, contestant: Contestant, now: datetime) -> str:
    token = secrets.token_urlsafe(24)
    contestant.session_token = token
    contestant.signed_in_at = now
    session.flush()
    return token


def signed_in(
    session: Session, campaign_id: int, contestant_id: Any, token: Any
) -> Contestant | None:
    """The contestant a browser's session names, if that session is still the live one."""
    if not isinstance(contestant_id, int) or not isinstance(token, str) or not token:
        return None
    contestant = session.get(Contestant, contestant_id)
    if (
        contestant is None
        or contestant.campaign_id != campaign_id
        or contestant.session_token is None
        or not hmac.compare_digest(contestant.session_token, token)
    ):
        return None
    return contestant


def sign_out(session: Session, contestant: Contestant) -> None:
    """End the contestant's session on the server too: a copied cookie no longer works."""
    contestant.session_token = None
    session.flush()


# --- the paper ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PaperItem:
    position: int
    question_id: int
    option_order: list[str]
    answer: list[str] | None
    points: int | None


@dataclass(frozen=True)
class PaperView:
    """A paper as it stands at `now`: closed once submitted or past its deadline."""

    id: int
    contestant_id: int
    started_at: datetime
    deadline_at: datetime
    submitted_at: datetime | None
    score: int
    max_score: int
    items: tuple[PaperItem, ...]
    now: datetime

    @property
    def closed(self) -> bool:
        return self.submitted_at is not None or self.now >= self.deadline_at

    @property
    def finished_at(self) -> datetime | None:
        if self.submitted_at is not None:
            return min(self.submitted_at, self.deadline_at)
        return self.deadline_at if self.now >= self.deadline_at else None

    @property
    def seconds_left(self) -> int:
        return max(0, int((self.deadline_at - self.now).total_seconds()))

    @property
    def next(self) -> PaperItem | None:
        return next((it for it in self.items if it.answer is None), None)

    @property
    def answered(self) -> int:
        return sum(it.answer is not None for it in self.items)


def paper_of(session: Session, contestant_id: int, now: datetime | None = None) -> PaperView | None:
    paper = session.scalars(
        select(ContestPaper).where(ContestPaper.contestant_id == contestant_id)
    ).first()
    return None if paper is None else _view(session, paper, now or utcnow())


def _view(session: Session, paper: ContestPaper, now: datetime) -> PaperView:
    rows = session.scalars(
        select(ContestAnswer)
        .where(ContestAnswer.paper_id == paper.id)
        .order_by(ContestAnswer.position)
    ).all()
    items = tuple(
        PaperItem(r.position, r.question_id, list(r.option_order), r.answer, r.points) for r in rows
    )
    return PaperView(
        paper.id,
        paper.contestant_id,
        paper.started_at,
        paper.deadline_at,
        paper.submitted_at,
        paper.score,
        paper.max_score,
        items,
        now,
    )


def draw_questions(bank: QuestionBank, quotas: Mapping[str, int], rng: random.Random) -> list[int]:
    """The group's questions: `quotas[category]` active knowledge questions of each
    category, drawn at random, then the whole paper shuffled."""
    chosen: list[int] = []
    for category, count in quotas.items():
        pool = [qid for qid in bank.knowledge if (bank.by_id[qid].category or "") == category]
        if len(pool) < count:
            raise ContestError("题库题目不足,请联系竞赛组织者。")
        chosen += rng.sample(pool, count)
    rng.shuffle(chosen)
    return chosen


def start_paper(
    session: Session,
    campaign: Campaign,
    bank: QuestionBank,
    contestant: Contestant,
    *,
    now: datetime | None = None,
    rng: random.Random | None = None,
) -> PaperView:
    """The contestant's paper, drawn now if they have none (one attempt: an existing
    paper is returned as it stands, closed or not)."""
    now = now or utcnow()
    existing = paper_of(session, contestant.id, now)
    if existing is not None:
        return existing
    ensure_running(campaign, now)
    settings = settings_of(campaign)
    group = next(
        (g for g in settings.get("groups", []) if g["code"] == contestant.group_code), None
    )
    if group is None:
        raise ContestError("您的组别不在本次竞赛中,请联系本机构竞赛负责人。")
    rng = rng or random.SystemRandom()
    ids = draw_questions(bank, group["quotas"], rng)
    limit = timedelta(minutes=int(settings.get("time_limit_minutes", 20)))
    points = int(settings.get("points_per_question", 10))
    paper = ContestPaper(
        campaign_id=campaign.id,
        contestant_id=contestant.id,
        group_code=contestant.group_code,
        started_at=now,
        deadline_at=min(now + limit, campaign.closes_at),
        score=0,
        max_score=points * len(ids),
        visibility_changes=0,
    )
    session.add(paper)
    session.flush()
    seed = f"contest-{paper.id}-{secrets.token_hex(4)}"
    for position, qid in enumerate(ids, start=1):
        question = bank.by_id[qid]
        order = option_order(seed, question.key, [o["key"] for o in question.options])
        session.add(
            ContestAnswer(paper_id=paper.id, question_id=qid, position=position, option_order=order)
        )
    session.flush()
    return _view(session, paper, now)


def shown(question: Question, order: Sequence[str]) -> list[dict[str, str]]:
    """The options in the paper's order: {key, text, letter}."""
    by_key = {o["key"]: o for o in question.options}
    return [
        {"key": key, "text": str(by_key[key]["text"]), "letter": SHOWN_LETTERS[n]}
        for n, key in enumerate(order)
        if key in by_key
    ]


def answer(
    session: Session,
    campaign: Campaign,
    bank: QuestionBank,
    contestant: Contestant,
    paper_id: int,
    position: int,
    choices: Sequence[str],
    *,
    now: datetime | None = None,
) -> PaperView:
    """Store the answer to question `position` of the contestant's own paper, in order.
    After the deadline (or the contest's end) nothing is stored: TimeUp."""
    now = now or utcnow()
    paper = session.get(ContestPaper, paper_id)
    if paper is None or paper.campaign_id != campaign.id:
        raise NotYourPaper("答卷不存在。")
    if paper.contestant_id != contestant.id:
        raise NotYourPaper("这不是您的答卷,不能作答。")
    if paper.submitted_at is not None:
        raise TimeUp("您已交卷,答案不能再修改。")
    if now >= paper.deadline_at or now >= campaign.closes_at:
        raise TimeUp("答题时间已到,试卷已自动提交,本题答案未计入成绩。")
    view = _view(session, paper, now)
    item = next((it for it in view.items if it.position == position), None)
    if item is None:
        raise ContestError("题目不存在,请返回继续答题。")
    question = bank.by_id.get(item.question_id)
    if question is None:
        raise StaleBank(item.question_id)
    picked = sorted(set(choices))
    if not picked:
        raise ContestError("请选择答案。")
    if not set(picked) <= {o["key"] for o in question.options}:
        raise ContestError("所选答案无效,请重新选择。")
    if not question.multiple and len(picked) != 1:
        raise ContestError("本题为单选题,请只选择一个答案。")
    if item.answer is not None:
        if sorted(item.answer) == picked:
            return view  # a double tap
        raise ContestError("本题已作答,答案不能修改。")
    if view.next is None or view.next.position != position:
        raise ContestError("请按顺序答题。")
    settings = settings_of(campaign)
    points = points_for(
        question.correct or [],
        picked,
        question.multiple,
        str(settings.get("multiple_choice", "all_or_nothing")),
        int(settings.get("points_per_question", 10)),
    )
    stored = session.execute(
        update(ContestAnswer)
        .where(
            ContestAnswer.paper_id == paper.id,
            ContestAnswer.position == position,
            ContestAnswer.answer.is_(None),
        )
        .values(answer=picked, points=points, answered_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not stored:
        # A concurrent double tap stored first: the same answer is that tap's success.
        current = session.scalar(
            select(ContestAnswer.answer).where(
                ContestAnswer.paper_id == paper.id, ContestAnswer.position == position
            )
        )
        if sorted(current or []) == picked:
            return _view(session, paper, now)
        raise ContestError("本题已作答,答案不能修改。")
    last = position == len(view.items)
    # The score is added in the database, so concurrent answers of one paper all count.
    values: dict[str, Any] = {"score": ContestPaper.score + points}
    if last:
        values["submitted_at"] = now
    session.execute(
        update(ContestPaper)
        .where(ContestPaper.id == paper.id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    session.expire(paper)
    # The paper as it now stands, from what this request read and wrote (no second read):
    # answers are taken in order, so no other answer of this paper was stored meanwhile.
    items = tuple(
        replace(it, answer=picked, points=points) if it.position == position else it
        for it in view.items
    )
    return replace(
        view,
        items=items,
        score=view.score + points,
        submitted_at=now if last else view.submitted_at,
    )


def submit(
    session: Session, contestant: Contestant, paper_id: int, *, now: datetime | None = None
) -> None:
    """交卷 before the time is up: the paper closes with the answers given so far."""
    now = now or utcnow()
    paper = session.get(ContestPaper, paper_id)
    if paper is None or paper.contestant_id != contestant.id:
        raise NotYourPaper("这不是您的答卷。")
    if paper.submitted_at is None and now < paper.deadline_at:
        paper.submitted_at = now
        session.flush()


def count_away(session: Session, contestant: Contestant, paper_id: int) -> None:
    """The page was left (hidden) once more while the paper was open: counted, not scored."""
    session.execute(
        update(ContestPaper)
        .where(ContestPaper.id == paper_id, ContestPaper.contestant_id == contestant.id)
        .values(visibility_changes=ContestPaper.visibility_changes + 1)
        .execution_options(synchronize_session=False)
    )
