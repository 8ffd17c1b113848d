"""QR codes and printable A4 posters for referral links, drawn by the site itself (segno).

No Flask here: callers pass the URL and the texts. A poster is one standalone SVG
(A4 in millimetres) so a branch's ZIP needs no PDF or image library.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

import segno

CHINA = ZoneInfo("Asia/Shanghai")
QUIET_ZONE = 4  # modules of white border the QR standard asks for
FONT = "'PingFang SC','Microsoft YaHei','Noto Sans CJK SC','Source Han Sans SC',sans-serif"


def _qr(url: str) -> segno.QRCode:
    # Level M survives a smudged print; URLs of ~40 characters stay a small version.
    return segno.make(url, error="m", micro=False)


def qr_path(url: str) -> tuple[int, str]:
    """(size in modules including the quiet zone, SVG path data of the dark modules)."""
    qr = _qr(url)
    parts: list[str] = []
    for y, row in enumerate(qr.matrix):
        x = 0
        width = len(row)
        while x < width:
            if row[x]:
                start = x
                while x < width and row[x]:
                    x += 1
                run = x - start
                parts.append(f"M{start + QUIET_ZONE} {y + QUIET_ZONE}h{run}v1h-{run}z")
            else:
                x += 1
    size = len(qr.matrix) + 2 * QUIET_ZONE
    return size, "".join(parts)


def qr_svg(url: str, *, title: str = "二维码") -> str:
    """A standalone scalable SVG of the QR code for `url`."""
    size, path = qr_path(url)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" '
        f'width="{size * 8}" height="{size * 8}" role="img" shape-rendering="crispEdges">'
        f"<title>{escape(title)}</title>"
        f'<rect width="{size}" height="{size}" fill="#fff"/>'
        f'<path d="{path}" fill="#000"/></svg>'
    )


def qr_png(url: str, *, scale: int = 10) -> bytes:
    """The QR code for `url` as PNG (segno's own writer, no imaging library)."""
    out = io.BytesIO()
    _qr(url).save(out, kind="png", scale=scale, border=QUIET_ZONE)
    return out.getvalue()


def cn_date(value: datetime) -> str:
    """2026年11月1日, in Beijing time."""
    local = value.astimezone(CHINA)
    return f"{local.year}年{local.month}月{local.day}日"


@dataclass(frozen=True)
class PosterText:
    """Everything printed on a poster besides the QR code."""

    title: str
    subtitle: str
    prize: str
    dates: str
    url: str
    referrer: str
    organiser: str


def poster_text(campaign: Any, url: str, referrer: str) -> PosterText:
    """The poster's texts from a Campaign (name, prizes, dates, organiser)."""
    title, _, subtitle = campaign.name.partition("——")
    prizes = campaign.content.get("prizes") or []
    prize = ";".join(f"{p['tier']}{p['count']}名:{p['prize']}" for p in prizes)
    return PosterText(
        title=title.strip(),
        subtitle=subtitle.strip(),
        prize=prize,
        dates=f"活动时间:{cn_date(campaign.opens_at)}—{cn_date(campaign.closes_at)}",
        url=url,
        referrer=referrer,
        organiser=str(campaign.content.get("organiser_name", "")),
    )


def _wrap(text: str, width: int) -> list[str]:
    # CJK text has no spaces to break at: cut at a fixed number of characters.
    return [text[i : i + width] for i in range(0, len(text), width)] or [""]


def poster_svg(text: PosterText) -> str:
    """A printable A4 poster (210 x 297 mm) as one SVG file."""
    size, path = qr_path(text.url)
    qr_mm = 110
    qr_x = (210 - qr_mm) / 2
    qr_y = 118
    lines: list[str] = []

    def line(y: float, content: str, size_mm: float, weight: str = "normal") -> None:
        lines.append(
            f'<text x="105" y="{y:.1f}" font-size="{size_mm}" font-weight="{weight}" '
            f'text-anchor="middle">{escape(content)}</text>'
        )

    y = 32.0
    for part in _wrap(text.title, 14):
        line(y, part, 12, "bold")
        y += 15
    for part in _wrap(text.subtitle, 16):
        line(y, part, 10, "bold")
        y += 12
    y += 4
    for part in _wrap(text.prize, 24):
        line(y, part, 7)
        y += 9
    line(y, text.dates, 6)
    line(qr_y - 5, "扫码参加 · 答题即有机会抽奖", 6, "bold")
    line(qr_y + qr_mm + 10, text.url, 7, "bold")
    if text.referrer:
        line(qr_y + qr_mm + 20, f"推荐人:{text.referrer}", 6)
    line(285, text.organiser, 5)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<svg xmlns="http://www.w3.org/2000/svg" width="210mm" height="297mm" '
        f'viewBox="0 0 210 297" font-family="{escape(FONT)}" fill="#1f2328">'
        f"<title>{escape(text.title)} {escape(text.url)}</title>"
        '<rect width="210" height="297" fill="#fff"/>'
        '<rect x="0" y="0" width="210" height="8" fill="#0b3d91"/>'
        f'<svg x="{qr_x}" y="{qr_y}" width="{qr_mm}" height="{qr_mm}" '
        f'viewBox="0 0 {size} {size}" shape-rendering="crispEdges">'
        f'<rect width="{size}" height="{size}" fill="#fff"/>'
        f'<path d="{path}" fill="#000"/></svg>' + "".join(lines) + "</svg>\n"
    )


def posters_zip(items: Iterable[tuple[str, PosterText]]) -> io.BytesIO:
    """A ZIP of (file name, poster) pairs, rewound.

    In memory: a poster deflates to a few KB, so even thousands of agents stay small,
    and a BytesIO needs no closing when a client drops the download.
    """
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, text in items:
            archive.writestr(name, poster_svg(text))
    out.seek(0)
    return out
