"""ID number, phone, postal code and name rules, with real numbers."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.cn import ric

from quiz.identity import (
    IdentityError,
    mask_mobile,
    mask_name,
    mask_resident_id,
    validate_landline,
    validate_mobile,
    validate_name,
    validate_postal_code,
    validate_resident_id,
)


def with_check(body17: str) -> str:
    return body17 + ric.calc_check_digit(body17 + "0")


def test_real_valid_numbers():
    # The python-stdnum doc example and a number ending in X.
    assert validate_resident_id("360426199101010071").birth_date == date(1991, 1, 1)
    number = with_check("11010519491231002")
    assert number.endswith("X")
    assert validate_resident_id(number.lower()).number == number


def test_full_width_and_spaces_are_folded():
    assert validate_resident_id("３６０４２６ 1991 0101 0071").number == "360426199101010071"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("360426199101010072", "校验位"),  # bad checksum
        ("36042619910101007", "18位"),  # 17 digits
        ("3604261991010100711", "18位"),  # 19 digits
        ("", "请填写"),
        ("36042619910101007Y", "格式"),
        (with_check("36042619910230001"), "出生日期"),  # 30 February
        (with_check("36042619911301001"), "出生日期"),  # month 13
        (with_check("99042619910101001"), "地区码"),  # no province 99
    ],
)
def test_invalid_numbers_are_refused_with_a_reason(value, message):
    with pytest.raises(IdentityError, match=message):
        validate_resident_id(value)


def test_future_birth_date_is_refused_though_stdnum_accepts_it():
    future = with_check("11010520990101001")
    assert ric.is_valid(future)  # the library trap this rule guards against
    with pytest.raises(IdentityError, match="出生日期"):
        validate_resident_id(future, today=date(2026, 11, 25))


def test_region_created_after_birth_year_is_accepted():
    # 429004 仙桃 was assigned after 1990; such people exist and must not be turned away.
    xiantao = with_check("42900419900101001")
    assert not ric.is_valid(xiantao)
    assert validate_resident_id(xiantao).birth_date == date(1990, 1, 1)


def test_mobile_rules():
    assert validate_mobile("138 1234 1234") == "13812341234"
    assert validate_mobile("+86 13812341234") == "13812341234"
    for bad in ("12812341234", "1381234123", "23812341234", "abc", "1٣٨12341234", "1३८12341234"):
        with pytest.raises(IdentityError):
            validate_mobile(bad)


def test_landline_needs_area_code():
    assert validate_landline("010-12345678") == "010-12345678"
    assert validate_landline("0755 1234 5678") == "0755-12345678"
    assert validate_landline("") is None
    with pytest.raises(IdentityError, match="区号"):
        validate_landline("12345678")


def test_postal_code():
    assert validate_postal_code("430014") == "430014"
    assert validate_postal_code("４３００１４") == "430014"  # full-width, as phones type it
    # Digits of other scripts: \d took them, and they were stored as typed.
    for bad in ("43001", "4300145", "93001a", "900000", "4٣٠٠١٤"):
        with pytest.raises(IdentityError):
            validate_postal_code(bad)


def test_names():
    assert validate_name("  欧阳 小明 ") == "欧阳 小明"
    assert validate_name("阿依古丽·买买提") == "阿依古丽·买买提"
    for bad in ("", "张三<script>", "=1+1", "x" * 31, "··", "· ·"):
        with pytest.raises(IdentityError):
            validate_name(bad)


def test_masks():
    assert mask_name("张三") == "张*"
    assert mask_name("张小三") == "张*三"
    assert mask_name("欧阳小明") == "欧**明"
    assert mask_mobile("13812341234") == "138****1234"
    assert mask_resident_id("110101199001011234") == "110101********1234"


@given(st.text(min_size=1, max_size=40))
def test_masked_name_never_reveals_the_middle(name):
    masked = mask_name(name)
    assert len(masked) == len(name)
    if len(name) >= 3:
        assert set(masked[1:-1]) == {"*"}


@given(st.from_regex(r"1[3-9]\d{9}", fullmatch=True))
def test_masked_mobile_hides_four_digits(mobile):
    masked = mask_mobile(mobile)
    assert masked[3:7] == "****" and masked[:3] == mobile[:3] and masked[-4:] == mobile[-4:]
