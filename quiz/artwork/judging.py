"""Judging: branch 初评 up to a quota, then 复评 (分公司) and 终评 (总公司) scored blind.

Judges are the staff accounts the campaign file names for a round. They see a work's
number, group and picture only: never the child, family, agent or branch. A judge never
scores a work of their own branch (nor of a branch under it). A work's result in a round
is the trimmed mean of its scores: with five judges or more the single highest and the
single lowest are dropped first.

Tie rule (stated on the staff pages): equal trimmed means are ordered by the plain mean
of all scores, then by the number of the highest score given (more tens first, then
nines...), then by the work number, smaller (signed up earlier) first.
Every score and decision is written to the audit log.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from quiz.campaign.artwork_settings import ArtworkSettings
from quiz.models import ArtworkScore, ArtworkWork, Branch, Campaign, StaffUser
from quiz.staff import audit

ROUNDS = ("复评", "终评")
# Which works a round scores: 复评 the works branches sent on, 终评 the finalists.
ROUND_STAGES = {"复评": ("selected", "finalist", "awarded"), "终评": ("finalist", "awarded")}
TRIM_FROM = 5
TIE_RULE = (
    "去掉最高分和最低分(评委5人及以上时)后的平均分高者在前;相同的,比较全部评分的平均分;"
    "仍相同的,比较获得高分的个数(10分多者在前,再比9分……);仍相同的,作品编号小者在前。"
)


class JudgingError(ValueError):
    """Refused; the message is for the staff member."""


def trimmed_mean(scores: Sequence[int]) -> Fraction | None:
    """The mean after dropping the highest and lowest (five scores or more)."""
    if not scores:
        return None
    ordered = sorted(scores)
    if len(ordered) >= TRIM_FROM:
        ordered = ordered[1:-1]
    return Fraction(sum(ordered), len(ordered))


def _tie_key(work_id: int, scores: Sequence[int]) -> tuple[object, ...]:
    trimmed = trimmed_mean(scores) or Fraction(0)
    plain = Fraction(sum(scores), len(scores)) if scores else Fraction(0)
    highs = tuple(-scores.count(value) for value in range(10, 0, -1))
    return (-trimmed, -plain, highs, work_id)


def is_judge(settings: ArtworkSettings, user: StaffUser, round_: str) -> bool:
    names = settings.regional_judges if round_ == "复评" else settings.final_judges
    return user.active and user.username in names


def _own_branches(session: Session, user: StaffUser) -> set[int]:
    """The judge's branch and the branches directly under it (empty: head office)."""
    if user.branch_id is None:
        return set()
    under = session.scalars(select(Branch.id).where(Branch.parent_id == user.branch_id))
    return {user.branch_id, *under}


@dataclass(frozen=True)
class BlindWork:
    """What a judge sees: no child, family, agent or branch."""

    work_id: int
    number: str
    group: str
    image_key: str
    my_score: int | None


def works_for_judge(
    session: Session, campaign: Campaign, judge: StaffUser, round_: str, group: str | None = None
) -> list[BlindWork]:
    """The works this judge may score in the round, by number (own branch left out, and
    groups whose round is closed)."""
    own = _own_branches(session, judge)
    stmt = select(ArtworkWork).where(
        ArtworkWork.campaign_id == campaign.id, ArtworkWork.stage.in_(ROUND_STAGES[round_])
    )
    if own:
        stmt = stmt.where(ArtworkWork.branch_id.not_in(own))
    if group:
        stmt = stmt.where(ArtworkWork.age_group == group)
    candidates = session.scalars(stmt.order_by(ArtworkWork.age_group, ArtworkWork.child_id)).all()
    # A group whose round head office has closed leaves the sheet.
    closed = {
        group
        for group in {w.age_group for w in candidates}
        if _round_closed(session, campaign, round_, group)
    }
    works = [w for w in candidates if w.age_group not in closed]
    mine = dict(
        session.execute(
            select(ArtworkScore.work_id, ArtworkScore.score).where(
                ArtworkScore.judge_id == judge.id, ArtworkScore.round == round_
            )
        ).all()
    )
    return [
        BlindWork(w.id, f"{w.child_id:05d}", w.age_group, w.image_key, mine.get(w.id))
        for w in works
    ]


def progress(
    session: Session, campaign: Campaign, judge: StaffUser, round_: str
) -> tuple[int, int]:
    """(works scored, works to score) for the judge's progress bar."""
    works = works_for_judge(session, campaign, judge, round_)
    return sum(1 for w in works if w.my_score is not None), len(works)


def record_score(
    session: Session,
    campaign: Campaign,
    settings: ArtworkSettings,
    judge: StaffUser,
    work_id: int,
    round_: str,
    score: int,
    ip: str | None = None,
) -> ArtworkScore:
    """Save (or change) the judge's score of a work in a round; audited."""
    if round_ not in ROUNDS:
        raise JudgingError("没有这个评审轮次。")
    if not is_judge(settings, judge, round_):
        raise JudgingError(f"您不是本次活动{round_}的评委。")
    if not 1 <= score <= 10:
        raise JudgingError("评分须为1至10分的整数。")
    work = session.get(ArtworkWork, work_id)
    if work is None or work.campaign_id != campaign.id:
        raise JudgingError("没有这件作品。")
    if work.branch_id in _own_branches(session, judge):
        raise JudgingError("评委不评本机构的作品。")
    if work.stage not in ROUND_STAGES[round_]:
        raise JudgingError(f"这件作品未进入{round_}。")
    if _round_closed(session, campaign, round_, work.age_group):
        raise JudgingError(f"{work.age_group}的{round_}已结束,评分不能再改。")
    row = session.scalars(
        select(ArtworkScore).where(
            ArtworkScore.work_id == work.id,
            ArtworkScore.round == round_,
            ArtworkScore.judge_id == judge.id,
        )
    ).first()
    before = row.score if row else None
    if row is None:
        row = ArtworkScore(work_id=work.id, round=round_, judge_id=judge.id, score=score)
        session.add(row)
    else:
        row.score = score
    session.flush()
    audit.record(
        session,
        judge,
        "artwork.score",
        f"作品 {work.child_id:05d}",
        {"round": round_, "score": score, "before": before},
        ip,
        campaign_id=campaign.id,
    )
    return row


def _round_closed(session: Session, campaign: Campaign, round_: str, group: str) -> bool:
    """复评 ends when head office moves the group's finalists on; 终评 when awards are set."""
    after = ("finalist", "awarded") if round_ == "复评" else ("awarded",)
    return (
        session.scalar(
            select(ArtworkWork.id)
            .where(
                ArtworkWork.campaign_id == campaign.id,
                ArtworkWork.age_group == group,
                ArtworkWork.stage.in_(after),
            )
            .limit(1)
        )
        is not None
    )


@dataclass(frozen=True)
class Ranked:
    rank: int
    work: ArtworkWork
    scores: tuple[int, ...]
    mean: Fraction | None


def ranking(session: Session, campaign: Campaign, round_: str, group: str) -> list[Ranked]:
    """The round's works of a group, best first, by trimmed mean and the tie rule."""
    works = session.scalars(
        select(ArtworkWork).where(
            ArtworkWork.campaign_id == campaign.id,
            ArtworkWork.age_group == group,
            ArtworkWork.stage.in_(ROUND_STAGES[round_]),
        )
    ).all()
    scores: dict[int, list[int]] = defaultdict(list)
    for work_id, score in session.execute(
        select(ArtworkScore.work_id, ArtworkScore.score).where(
            ArtworkScore.round == round_, ArtworkScore.work_id.in_([w.id for w in works])
        )
    ):
        scores[work_id].append(score)
    ordered = sorted(works, key=lambda w: _tie_key(w.child_id, scores[w.id]))
    return [
        Ranked(i + 1, w, tuple(sorted(scores[w.id])), trimmed_mean(scores[w.id]))
        for i, w in enumerate(ordered)
    ]


# --------------------------------------------------------------------------------------
# Decisions: 初评 selection, 复评 -> 终评, awards
# --------------------------------------------------------------------------------------


def select_for_review(
    session: Session,
    campaign: Campaign,
    settings: ArtworkSettings,
    actor: StaffUser,
    work_ids: Sequence[int],
    branch_id: int,
    ip: str | None = None,
) -> int:
    """Branch 初评: send these works of the branch on to 复评, up to the quota per group.

    The selection replaces the branch's earlier one while 复评 has not moved them on.
    """
    works = session.scalars(
        select(ArtworkWork).where(
            ArtworkWork.campaign_id == campaign.id, ArtworkWork.branch_id == branch_id
        )
    ).all()
    if any(w.stage in ("finalist", "awarded") for w in works):
        raise JudgingError("复评已结束,初评选送不能再改。")
    chosen = {w.id for w in works if w.id in set(work_ids)}
    per_group: dict[str, int] = defaultdict(int)
    for w in works:
        if w.id in chosen:
            per_group[w.age_group] += 1
    for group, count in per_group.items():
        if count > settings.branch_quota:
            raise JudgingError(
                f"{group}选送了{count}幅,超过每组{settings.branch_quota}幅的名额,请减少后再提交。"
            )
    for w in works:
        w.stage = "selected" if w.id in chosen else "entered"
    session.flush()
    audit.record(
        session,
        actor,
        "artwork.select",
        f"机构 {branch_id}",
        {"works": sorted(f"{w.child_id:05d}" for w in works if w.id in chosen)},
        ip,
        campaign_id=campaign.id,
    )
    return len(chosen)


def _scored_enough(ranked: Sequence[Ranked], round_: str) -> None:
    missing = [r.work.child_id for r in ranked if len(r.scores) < 2]
    if missing:
        numbers = "、".join(f"{n:05d}" for n in missing[:10])
        raise JudgingError(f"还有作品的{round_}评分少于2位评委(作品 {numbers}),请评完后再确认。")


def advance_to_final(
    session: Session,
    campaign: Campaign,
    settings: ArtworkSettings,
    actor: StaffUser,
    group: str,
    ip: str | None = None,
) -> list[Ranked]:
    """Head office closes 复评 of a group: the best `finalists` works go on to 终评."""
    ranked = ranking(session, campaign, "复评", group)
    if not ranked:
        raise JudgingError(f"{group}没有进入复评的作品。")
    if _round_closed(session, campaign, "复评", group):
        raise JudgingError(f"{group}的复评已经结束。")
    _scored_enough(ranked, "复评")
    finalists = ranked[: settings.finalists]
    for r in finalists:
        r.work.stage = "finalist"
    session.flush()
    audit.record(
        session,
        actor,
        "artwork.advance",
        group,
        {"finalists": [f"{r.work.child_id:05d}" for r in finalists]},
        ip,
        campaign_id=campaign.id,
    )
    return finalists


def confirm_awards(
    session: Session,
    campaign: Campaign,
    settings: ArtworkSettings,
    actor: StaffUser,
    group: str,
    ip: str | None = None,
) -> list[Ranked]:
    """Head office confirms a group's awards from the 终评 ranking, tier by tier."""
    ranked = ranking(session, campaign, "终评", group)
    if not ranked:
        raise JudgingError(f"{group}没有进入终评的作品。")
    if any(r.work.stage == "awarded" for r in ranked):
        raise JudgingError(f"{group}的奖项已经确认。")
    _scored_enough(ranked, "终评")
    tiers = [tier for tier, count in settings.awards for _ in range(count)]
    awarded = ranked[: len(tiers)]
    for r, tier in zip(awarded, tiers, strict=False):
        r.work.stage = "awarded"
        r.work.award = tier
        r.work.award_rank = r.rank
    session.flush()
    audit.record(
        session,
        actor,
        "artwork.awards",
        group,
        {"awards": [[f"{r.work.child_id:05d}", r.work.award] for r in awarded]},
        ip,
        campaign_id=campaign.id,
    )
    return awarded


def round_counts(session: Session, campaign: Campaign) -> dict[tuple[str, str], int]:
    """(group, stage) -> number of works, for the staff overview."""
    rows = session.execute(
        select(ArtworkWork.age_group, ArtworkWork.stage, func.count())
        .where(ArtworkWork.campaign_id == campaign.id)
        .group_by(ArtworkWork.age_group, ArtworkWork.stage)
    )
    return {(g, s): n for g, s, n in rows}
