"""A group's progress as a server-side SVG line chart: 达成率 per day for each branch,
and the milestones as dashed steps. No JavaScript; the page's table has the numbers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from markupsafe import Markup, escape

from quiz.race.service import Milestone

PALETTE = ("#0b57d0", "#b3261e", "#146c2e", "#7d5260", "#8a5300", "#00658f", "#6750a4")
TEXT, MUTED, GRID, GOAL = "#1f2328", "#57606a", "#eaeef2", "#9a6700"


def progress_svg(
    title: str,
    days: Sequence[date],
    series: Mapping[str, Sequence[float]],
    milestones: Sequence[Milestone],
    *,
    width: int = 340,
    height: int = 200,
) -> Markup:
    if not days or not series:
        return Markup('<p class="empty">暂无数据</p>')
    left, right, top, bottom = 34, 8, 10, 24
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max([100.0, *(max(v) for v in series.values() if v)])
    first = days[0]
    span = max((days[-1] - first).days, 1)

    def x(day: date) -> float:
        return left + plot_w * min(max((day - first).days, 0), span) / span

    def y(percent: float) -> float:
        return top + plot_h * (1 - min(percent, peak) / peak)

    desc = ";".join(f"{name}:{values[-1]:.0f}%" for name, values in series.items())
    parts = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title><desc>{escape(desc)}</desc>",
    ]
    for tick in (0, 50, 100):
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" '
            f'stroke="{GRID}"/><text x="{left - 4}" y="{y(tick) + 4:.1f}" font-size="11" '
            f'text-anchor="end" fill="{MUTED}">{tick}%</text>'
        )
    # Milestones: what is due from each date on, a dashed step line.
    previous_x = left
    for stone in milestones:
        if stone.day < first:
            continue
        sx = x(stone.day)
        parts.append(
            f'<line x1="{previous_x:.1f}" x2="{sx:.1f}" y1="{y(stone.percent):.1f}" '
            f'y2="{y(stone.percent):.1f}" stroke="{GOAL}" stroke-dasharray="4 3"/>'
        )
        previous_x = sx
    for i, (name, values) in enumerate(series.items()):
        colour = PALETTE[i % len(PALETTE)]
        points = " ".join(f"{x(d):.1f},{y(v):.1f}" for d, v in zip(days, values, strict=False))
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}">'
            f"<title>{escape(name)}</title></polyline>"
        )
    parts.append(
        f'<text x="{left}" y="{height - 6}" font-size="11" fill="{MUTED}">'
        f"{first.month}月{first.day}日</text>"
        f'<text x="{width - right}" y="{height - 6}" font-size="11" fill="{MUTED}" '
        f'text-anchor="end">{days[-1].month}月{days[-1].day}日</text></svg>'
    )
    return Markup("".join(parts))  # noqa: S704 - every text above is escaped


def colours(names: Sequence[str]) -> dict[str, str]:
    """The legend's colour of each series, in the chart's order."""
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}
