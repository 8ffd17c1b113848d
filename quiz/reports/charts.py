"""Server-side SVG bar charts: readable at a glance, no JavaScript, accessible.

Each chart carries role="img", a <title> and a <desc>; pages show the same
numbers in a table next to it for screen readers and copying.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from markupsafe import Markup, escape

BAR = "#0b57d0"
TEXT = "#1f2328"
MUTED = "#57606a"
TRACK = "#eaeef2"
# Every label is at least this size where the chart is drawn 1:1: the horizontal charts
# are narrow enough for a phone (no shrinking), the column charts scroll in their box.
FONT = 13
_ids = itertools.count(1)


def _fmt(value: float, unit: str) -> str:
    if unit == "%":
        return f"{value:.1f}%"
    return f"{int(value):,}{unit}"


def _short(label: str, room: int = 16) -> str:
    """A label cut to fit its column (CJK characters count twice)."""
    used = 0
    for i, ch in enumerate(label):
        used += 2 if ord(ch) > 0x2E7F else 1
        if used > room:
            return label[:i] + "…"
    return label


def _open(width: int, height: int, title: str, desc: str) -> tuple[str, list[str]]:
    uid = f"chart{next(_ids)}"
    head = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-labelledby="{uid}-t {uid}-d">',
        f'<title id="{uid}-t">{escape(title)}</title>',
        f'<desc id="{uid}-d">{escape(desc)}</desc>',
    ]
    return uid, head


def hbar_chart(
    title: str,
    items: Sequence[tuple[str, float]],
    *,
    unit: str = "",
    width: int = 340,
    label_width: int = 120,
    row: int = 28,
    max_items: int = 40,
    scale_max: float | None = None,
) -> Markup:
    """Horizontal bars, one per (label, value), the number printed at the bar's end.
    With scale_max (100 for percentages) each bar sits on a full-length track, so 0% and
    100% read as such instead of relative to the largest value."""
    items = list(items)[:max_items]
    if not items:
        return Markup('<p class="empty">暂无数据</p>')
    top = scale_max or max(v for _, v in items) or 1
    bar_space = width - label_width - 64
    height = row * len(items) + 8
    desc = ";".join(f"{label}:{_fmt(v, unit)}" for label, v in items)
    _, parts = _open(width, height, title, desc)
    for i, (label, value) in enumerate(items):
        y = 4 + i * row
        w = max(1.0, bar_space * min(value, top) / top) if value else 0.0
        if scale_max:
            parts.append(
                f'<rect x="{label_width}" y="{y + 3}" width="{bar_space}" height="{row - 8}" '
                f'fill="{TRACK}" rx="2"/>'
            )
        at = label_width + (bar_space if scale_max else w) + 6
        parts.append(
            f'<text x="{label_width - 8}" y="{y + row * 0.65:.1f}" text-anchor="end" '
            f'font-size="{FONT}" fill="{TEXT}">{escape(_short(label))}<title>{escape(label)}'
            f"</title></text>"
            f'<rect x="{label_width}" y="{y + 3}" width="{w:.1f}" height="{row - 8}" '
            f'fill="{BAR}" rx="2"/>'
            f'<text x="{at:.1f}" y="{y + row * 0.65:.1f}" font-size="{FONT}" '
            f'fill="{TEXT}">{escape(_fmt(value, unit))}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped above


def column_chart(
    title: str,
    items: Sequence[tuple[str, float]],
    *,
    unit: str = "",
    width: int = 720,
    height: int = 240,
    max_labels: int = 12,
) -> Markup:
    """Vertical columns (time series, distributions); labels thinned to stay legible.
    Drawn 1:1 (a phone scrolls it sideways inside its .chart-scroll box)."""
    items = list(items)
    if not items:
        return Markup('<p class="empty">暂无数据</p>')
    top = max(v for _, v in items) or 1
    left, bottom, head = 8, 36, 22
    plot_h = height - bottom - head
    slot = (width - 2 * left) / len(items)
    step = max(1, -(-len(items) // max_labels))
    desc = ";".join(f"{label}:{_fmt(v, unit)}" for label, v in items)
    _, parts = _open(width, height, title, desc)
    parts.append(
        f'<line x1="{left}" y1="{head + plot_h}" x2="{width - left}" y2="{head + plot_h}" '
        f'stroke="{MUTED}"/>'
    )
    show_values = len(items) <= 31
    for i, (label, value) in enumerate(items):
        h = plot_h * value / top
        x = left + i * slot
        parts.append(
            f'<rect x="{x + slot * 0.12:.1f}" y="{head + plot_h - h:.1f}" '
            f'width="{slot * 0.76:.1f}" height="{h:.1f}" fill="{BAR}"><title>'
            f"{escape(label)}:{escape(_fmt(value, unit))}</title></rect>"
        )
        if show_values or value == top:
            parts.append(
                f'<text x="{x + slot / 2:.1f}" y="{head + plot_h - h - 4:.1f}" '
                f'text-anchor="middle" font-size="{FONT - 1}" fill="{TEXT}">'
                f"{escape(_fmt(value, unit))}</text>"
            )
        if i % step == 0:
            parts.append(
                f'<text x="{x + slot / 2:.1f}" y="{head + plot_h + 16}" text-anchor="middle" '
                f'font-size="{FONT - 1}" fill="{MUTED}">{escape(label)}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped above
