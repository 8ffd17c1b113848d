"""Postal code / province cross-check."""

from __future__ import annotations

import pytest

from quiz.regions.parser import parse_address
from quiz.regions.postal import postal_code_province_mismatch, postal_code_provinces


@pytest.mark.parametrize(
    ("postal", "province"),
    [
        ("100020", "110000"),  # 北京朝阳
        ("518057", "440000"),  # 深圳南山
        ("050000", "130000"),  # 石家庄
        ("830000", "650000"),  # 乌鲁木齐
        ("433000", "420000"),  # 仙桃
        ("750306", "150000"),  # 阿拉善左旗 uses the 宁夏 range
    ],
)
def test_match_is_no_warning(postal: str, province: str) -> None:
    assert not postal_code_province_mismatch(postal, province)


def test_mismatch_warns() -> None:
    loc = parse_address("广东省深圳市南山区")
    assert postal_code_province_mismatch("100020", loc.province_code)


@pytest.mark.parametrize("postal", ["", "12345", "abcdef", "１０００２０", "000000"])
def test_unknown_or_malformed_is_not_a_mismatch(postal: str) -> None:
    assert not postal_code_province_mismatch(postal, "440000")


def test_no_province_is_not_a_mismatch() -> None:
    assert not postal_code_province_mismatch("100020", None)


def test_every_province_has_a_prefix() -> None:
    from quiz.regions import divisions

    covered = {
        p for ps in map(postal_code_provinces, [f"{i:02d}0000" for i in range(100)]) for p in ps
    }
    assert covered == {d.code for d in divisions.provinces()}
