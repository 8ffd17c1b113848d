"""The draws a campaign declares: draw 1 from the file's [draw] and [[prizes]], more from
[[draws]] (a monthly draw and a final one), each with its own tiers, randomness source,
written-result format, freeze deadline and draw time, all stated before any freeze."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from quiz.models import Campaign


@dataclass(frozen=True)
class DrawPlan:
    """One declared draw of a campaign."""

    number: int
    name: str
    tiers: list[dict[str, Any]]
    randomness_source: str
    randomness_format: str | None
    randomness_example: str | None
    freeze_deadline: datetime | None
    draw_at: datetime
    # Entries (of a prize quiz) completed until this time take part.
    closes_at: datetime
    # Leave out people who won in an earlier draw of the campaign (applied before the
    # freeze, so the published list is exactly what is drawn).
    exclude_earlier_winners: bool


def _tiers(prizes: Any) -> list[dict[str, Any]]:
    return [
        {
            "tier": str(p["tier"]),
            "count": int(p["count"]),
            "prize": str(p["prize"]),
            "value_yuan": int(p["value_yuan"]),
        }
        for p in prizes or []
    ]


def _when(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def plans_of(campaign: Campaign) -> list[DrawPlan]:
    """Every declared draw of the campaign, by number."""
    content = campaign.content
    first = DrawPlan(
        number=1,
        name=str(content.get("draw_name") or "抽奖"),
        tiers=_tiers(content.get("prizes")),
        randomness_source=str(content.get("randomness_source") or "").strip(),
        randomness_format=content.get("randomness_format"),
        randomness_example=content.get("randomness_example"),
        freeze_deadline=_when(content.get("freeze_deadline")),
        draw_at=campaign.draw_at,
        closes_at=campaign.closes_at,
        exclude_earlier_winners=False,
    )
    plans = [first]
    for extra in content.get("draws") or []:
        plans.append(
            DrawPlan(
                number=int(extra["number"]),
                name=str(extra.get("name") or f"第{extra['number']}次抽奖"),
                tiers=_tiers(extra.get("prizes")),
                randomness_source=str(extra.get("randomness_source") or "").strip(),
                randomness_format=extra.get("randomness_format"),
                randomness_example=extra.get("randomness_example"),
                freeze_deadline=_when(extra.get("freeze_deadline")),
                draw_at=_when(extra["draw_at"]) or campaign.draw_at,
                closes_at=_when(extra.get("closes_at")) or campaign.closes_at,
                exclude_earlier_winners=bool(extra.get("exclude_earlier_winners")),
            )
        )
    return sorted(plans, key=lambda p: p.number)


def plan_of(campaign: Campaign, number: int) -> DrawPlan | None:
    """The declared draw `number` of the campaign, or None."""
    return next((p for p in plans_of(campaign) if p.number == number), None)
