"""The public page of a list draw (kind list_draw): rules, tiers, each declared draw with
its time and randomness source, then its frozen list's digest, its winners and how to
check them. No registration and no quiz: the entrants come from an imported list."""

from __future__ import annotations

from dataclasses import dataclass

from flask import render_template

from quiz.draw import service
from quiz.draw.plans import DrawPlan, plans_of
from quiz.models import Campaign, Draw
from quiz.web.request import db

# Winners shown on the page itself; a bigger draw links to the paged winners list.
SHOWN_WINNERS = 300


@dataclass
class PlanView:
    """One declared draw as the page shows it."""

    plan: DrawPlan
    draw: Draw | None
    winners: list[service.WinnerRow]
    total: int


def render_list_draw(campaign: Campaign, state: str) -> str:
    """The campaign page of a list draw."""
    views = []
    for plan in plans_of(campaign):
        draw = service.published_draw(db(), campaign, plan.number)
        drawn = draw is not None and draw.status == "drawn"
        views.append(
            PlanView(
                plan=plan,
                draw=draw,
                winners=service.winner_rows(db(), draw, limit=SHOWN_WINNERS) if drawn else [],
                total=service.winner_count(db(), draw) if drawn else 0,
            )
        )
    return render_template(
        "public/list_draw.html", campaign=campaign, state=state, views=views, several=len(views) > 1
    )
