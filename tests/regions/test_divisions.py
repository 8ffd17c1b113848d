"""Division table loading and navigation."""

from __future__ import annotations

import json

from quiz.regions import divisions
from quiz.regions.cascade import build_cascade


def test_counts_and_source() -> None:
    assert len(divisions.provinces()) == 33
    assert len(divisions.all_divisions()) == 33 + 333 + 2845
    assert divisions.provenance()["data_as_of"] == "2025-12-31"


def test_lookup_and_children() -> None:
    hubei = divisions.get("420000")
    assert hubei is not None and hubei.name == "湖北省" and hubei.level == 1
    names = {d.name for d in divisions.children("420000")}
    assert {"武汉市", "仙桃市", "神农架林区"} <= names
    assert divisions.get("999999") is None
    assert [d.name for d in divisions.path("110105")] == ["北京市", "朝阳区"]


def test_parent_codes_are_consistent() -> None:
    for d in divisions.all_divisions():
        assert len(d.code) == 6 and d.code.isdigit()
        if d.level == 1:
            assert d.parent_code == ""
        else:
            parent = divisions.get(d.parent_code)
            assert parent is not None and parent.level < d.level


def test_cascade_shape() -> None:
    data = build_cascade()
    beijing = next(p for p in data["p"] if p[0] == "110000")
    assert beijing[2][0][:2] == ["110000", "北京市"]
    assert ["110105", "朝阳区"] in beijing[2][0][2]
    hubei = next(p for p in data["p"] if p[0] == "420000")
    assert ["429004", "仙桃市", []] in hubei[2]
    assert len(json.dumps(data, ensure_ascii=False)) < 120_000
