"""The lifecycle stage of a campaign: status, window and draws."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from quiz.campaign import kinds
from quiz.campaign.lifecycle import STAGES, stage
from quiz.models import CAMPAIGN_KINDS, Campaign

OPENS = datetime(2027, 3, 1, tzinfo=UTC)
CLOSES = datetime(2027, 3, 31, tzinfo=UTC)


def campaign(status: str = "published") -> Campaign:
    return Campaign(
        slug="x", name="x", status=status, opens_at=OPENS, closes_at=CLOSES, draw_at=CLOSES
    )


@pytest.mark.parametrize(
    ("status", "now", "has_drawn", "expected"),
    [
        ("draft", OPENS + timedelta(days=1), False, "draft"),  # a draft never goes live
        ("published", OPENS - timedelta(seconds=1), False, "scheduled"),
        ("published", OPENS, False, "open"),
        ("published", CLOSES, False, "open"),
        ("published", CLOSES + timedelta(seconds=1), False, "closed"),
        ("published", CLOSES + timedelta(days=10), True, "drawn"),
        ("archived", CLOSES + timedelta(days=10), True, "archived"),
        ("archived", OPENS + timedelta(days=1), False, "archived"),
    ],
)
def test_stage_follows_status_then_draws_then_window(status, now, has_drawn, expected):
    assert stage(campaign(status), now, has_drawn) == expected


def test_the_six_stages_have_the_plan_s_names_in_order():
    assert list(STAGES.values()) == [
        "草稿",
        "已发布(未开始)",
        "进行中",
        "已结束",
        "已开奖",
        "已归档",
    ]


def test_every_kind_is_registered_and_the_unbuilt_ones_have_no_public_flow():
    assert tuple(kinds.KINDS) == CAMPAIGN_KINDS
    assert [k.label for k in kinds.KINDS.values()] == [
        "有奖问答",
        "名单抽奖",
        "员工知识竞赛",
        "作品征集评选",
    ]
    assert kinds.has_public_step("prize_quiz", "register")
    # The staff contest has its own flow (sign-in and paper), never the quiz's steps.
    assert kinds.has_public_step("staff_contest", "contest")
    assert not kinds.has_public_step("prize_quiz", "contest")
    # A list draw has its page and the draw, never registration or the quiz.
    assert kinds.has_public_step("list_draw", "draw")
    # The drawing contest has its own pages (quiz/public/artwork_views.py), not the quiz's.
    assert kinds.has_public_step("artwork_contest", "artwork")
    for code in ("list_draw", "staff_contest", "artwork_contest"):
        assert not kinds.has_public_step(code, "register")
        assert not kinds.has_public_step(code, "quiz")
    assert not kinds.has_public_step("no_such_kind", "campaign")
