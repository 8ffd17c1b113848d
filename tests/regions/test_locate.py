"""Bulk locate: lines in, TSV out."""

from __future__ import annotations

from quiz.regions.locate import HEADER, locate_lines
from quiz.regions.parser import Location


def _branch(loc: Location) -> str | None:
    return "BR-" + loc.province_code[:2] if loc.province_code else None


def test_rows() -> None:
    lines = ["北京市朝阳区建国路88号\n", "\n", "朝阳区建国路88号\n", "湖北仙桃市\tX\n"]
    rows = [r.rstrip("\n").split("\t") for r in locate_lines(lines, _branch)]
    assert rows[0] == ["北京市朝阳区建国路88号", "北京市", "北京市", "朝阳区", "110105", "BR-11"]
    assert rows[1] == ["朝阳区建国路88号", "", "", "", "", ""]
    assert rows[2] == ["湖北仙桃市 X", "湖北省", "仙桃市", "", "429004", "BR-42"]
    assert len(rows) == 3 and all(len(r) == 6 for r in rows)


def test_header_and_no_branch() -> None:
    out = list(locate_lines(["广东省广州市天河区"], lambda loc: None, header=True))
    assert out[0] == "\t".join(HEADER) + "\n"
    assert out[1].endswith("\t440106\t\n")
