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
_ids = itertools.count(1)


def _fmt(value: float, unit: str) -> str:
    if unit == "%":
        return f"{value:.1f}%"
    return f"{int(value):,}{unit}"


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
    width: int = 640,
    label_width: int = 150,
    row: int = 26,
    max_items: int = 40,
) -> Markup:
    """Horizontal bars, one per (label, value), the number printed at the bar's end."""
    items = list(items)[:max_items]
    if not items:
        return Markup('<p class="empty">暂无数据</p>')
    top = max(v for _, v in items) or 1
    bar_space = width - label_width - 90
    height = row * len(items) + 8
    desc = ";".join(f"{label}:{_fmt(v, unit)}" for label, v in items)
    _, parts = _open(width, height, title, desc)
    for i, (label, value) in enumerate(items):
        y = 4 + i * row
        w = max(1.0, bar_space * value / top) if value else 0.0
        parts.append(
            f'<text x="{label_width - 8}" y="{y + row * 0.65:.1f}" text-anchor="end" '
            f'font-size="13" fill="{TEXT}">{escape(label)}</text>'
            f'<rect x="{label_width}" y="{y + 3}" width="{w:.1f}" height="{row - 8}" '
            f'fill="{BAR}" rx="2"/>'
            f'<text x="{label_width + w + 6:.1f}" y="{y + row * 0.65:.1f}" font-size="13" '
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
    """Vertical columns (time series, distributions); labels thinned to stay legible."""
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
                f'text-anchor="middle" font-size="11" fill="{TEXT}">'
                f"{escape(_fmt(value, unit))}</text>"
            )
        if i % step == 0:
            parts.append(
                f'<text x="{x + slot / 2:.1f}" y="{head + plot_h + 16}" text-anchor="middle" '
                f'font-size="11" fill="{MUTED}">{escape(label)}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped above
