"""ID number, phone, postal code and name rules, with real numbers."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum import numdb
from stdnum.cn import ric

from quiz.identity import (
    PROVINCE_PREFIXES,
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
from quiz.regions import divisions


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


# Region codes: the province whitelist, python-stdnum's gaps, the division table.


def _id(code: str, birth: date = date(1990, 1, 1), seq: int = 123) -> str:
    return with_check(f"{code}{birth:%Y%m%d}{seq:03d}")


@pytest.mark.parametrize(
    ("code", "place"),
    [
        ("710101", "台湾地区"),
        ("810101", "香港特别行政区"),
        ("820101", "澳门特别行政区"),
        ("830000", "台湾地区"),
    ],
)
def test_hong_kong_macao_and_taiwan_numbers_are_refused_naming_the_code(code, place):
    with pytest.raises(IdentityError) as refused:
        validate_resident_id(_id(code))
    assert str(refused.value) == f"身份证号码的地区码 {code} 属于{place},本活动仅限中国大陆居民参加"


@pytest.mark.parametrize("code", ["110199", "990101", "000000", "460199", "720101"])
def test_unknown_region_codes_are_refused_naming_the_code(code):
    # 110199 and 460199: python-stdnum knows the province but no county (it raised KeyError).
    with pytest.raises(IdentityError) as refused:
        validate_resident_id(_id(code))
    assert str(refused.value) == f"身份证号码中的地区码 {code} 不存在,请核对号码前6位"


def test_retired_and_newest_codes_are_accepted():
    # 110104 宣武区 was merged into 西城区 in 2010: its people keep their numbers.
    assert validate_resident_id(_id("110104", date(1980, 5, 5))).birth_date == date(1980, 5, 5)
    # 330113 临平区 (2021) is in the site's division table but not in python-stdnum's.
    assert validate_resident_id(_id("330113", date(2001, 1, 1))).number.startswith("330113")


def test_every_code_of_the_division_table_is_accepted_on_the_mainland_only():
    accepted, refused = set(), set()
    for division in divisions.all_divisions():
        try:
            validate_resident_id(_id(division.code))
        except IdentityError as exc:
            assert division.code in str(exc)
            refused.add(division.code[:2])
        else:
            accepted.add(division.code[:2])
    assert accepted == set(PROVINCE_PREFIXES)
    assert refused == {"81", "82"}  # the table has no Taiwan


@pytest.mark.fuzz
@settings(max_examples=300, deadline=None)
@given(
    division=st.sampled_from(divisions.all_divisions()),
    birth=st.dates(date(1900, 1, 1), date(2026, 11, 25)),
    seq=st.integers(0, 999),
)
def test_fuzz_checksum_valid_numbers_over_the_division_table(division, birth, seq):
    number = _id(division.code, birth, seq)
    if division.code[:2] in PROVINCE_PREFIXES:
        result = validate_resident_id(number, today=date(2026, 11, 25))
        assert result.number == number and result.birth_date == birth
    else:
        with pytest.raises(IdentityError, match=division.code):
            validate_resident_id(number, today=date(2026, 11, 25))


@pytest.mark.fuzz
@settings(max_examples=500, deadline=None)
@given(
    code=st.from_regex(r"[0-9]{6}", fullmatch=True).filter(lambda c: divisions.get(c) is None),
    birth=st.dates(date(1900, 1, 1), date(2026, 11, 25)),
)
def test_fuzz_checksum_valid_numbers_outside_the_division_table(code, birth):
    # Never anything but IdentityError (stdnum's KeyError answered 500); a refusal names the
    # code; an acceptance is a retired county of the national code history.
    number = _id(code, birth)
    try:
        result = validate_resident_id(number, today=date(2026, 11, 25))
    except IdentityError as exc:
        assert code in str(exc)
    else:
        assert code[:2] in PROVINCE_PREFIXES
        assert any("county" in p for _part, p in numdb.get("cn/loc").info(code))
        assert result.birth_date == birth


# Birth date bounds.


def test_born_today_is_accepted_and_tomorrow_refused():
    today = date(2026, 11, 25)
    assert validate_resident_id(_id("110101", today), today=today).birth_date == today
    with pytest.raises(IdentityError, match="出生日期不正确"):
        validate_resident_id(_id("110101", date(2026, 11, 26)), today=today)


def test_oldest_birth_year_is_1900():
    assert validate_resident_id(_id("110101", date(1900, 1, 1))).birth_date.year == 1900
    with pytest.raises(IdentityError, match="出生日期不正确"):
        validate_resident_id(_id("110101", date(1899, 12, 31)))


def test_without_today_the_real_date_is_used():
    tomorrow = date.today() + timedelta(days=1)
    with pytest.raises(IdentityError, match="出生日期不正确"):
        validate_resident_id(_id("110101", tomorrow))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("36042619910101007Y", "身份证号码格式不正确:前17位应为数字,最后一位为数字或X"),
        ("3604261991010100", "身份证号码应为18位"),
        ("  ", "请填写身份证号码"),
        (with_check("36042619910230001"), "身份证号码中的出生日期不存在"),
        ("360426199101010072", "身份证号码校验位不正确,请核对后重新填写"),
    ],
)
def test_id_messages_in_full(value, message):
    with pytest.raises(IdentityError) as refused:
        validate_resident_id(value)
    assert str(refused.value) == message


def test_dashes_inside_an_id_number_are_dropped():
    assert validate_resident_id("360426-19910101-0071").number == "360426199101010071"


# Mobiles with a country prefix.


@pytest.mark.parametrize(
    "typed", ["0086 138 1234 1234", "008613812341234", "+86-138-1234-1234", "＋８６13812341234"]
)
def test_mobile_with_country_prefix(typed):
    assert validate_mobile(typed) == "13812341234"


@pytest.mark.parametrize(
    "typed", ["0086 12812341234", "0086", "+8", "0861381234123", "86013812341234"]
)
def test_bad_mobile_after_country_prefix_is_refused(typed):
    with pytest.raises(IdentityError):
        validate_mobile(typed)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "请填写手机号码"),
        ("1381234123", "手机号码应为以1开头的11位数字"),
        ("12012341234", "手机号码不是有效的中国大陆手机号"),
    ],
)
def test_mobile_messages_in_full(value, message):
    with pytest.raises(IdentityError) as refused:
        validate_mobile(value)
    assert str(refused.value) == message


def test_birth_date_messages_in_full():
    with pytest.raises(IdentityError) as refused:
        validate_resident_id(_id("110101", date(2026, 11, 26)), today=date(2026, 11, 25))
    assert str(refused.value) == "身份证号码中的出生日期不正确"


@pytest.mark.parametrize(
    ("check", "value", "message"),
    [
        (validate_name, " ", "请填写姓名"),
        (validate_name, "张" * 31, "姓名不能超过30个字"),
        (validate_name, "张三3", "姓名只能包含汉字、字母和间隔号“·”"),
        (validate_postal_code, "", "请填写邮政编码"),
        (validate_postal_code, "43001", "邮政编码应为6位数字"),
        (validate_landline, "12345678", "固定电话请填写区号和号码,例如 010-12345678"),
        # A mobile number behind a 0 parses as a mainland number, but not a landline.
        (validate_landline, "013812341234", "固定电话号码不正确,请核对区号和号码"),
        (validate_landline, "0101234567", "固定电话号码不正确,请核对区号和号码"),
    ],
)
def test_field_messages_in_full(check, value, message):
    with pytest.raises(IdentityError) as refused:
        check(value)
    assert str(refused.value) == message


def test_name_length_limit_is_30_characters_after_folding_spaces():
    assert validate_name("张" * 30) == "张" * 30
    assert validate_name("阿依古丽  \t 买买提") == "阿依古丽 买买提"


def test_postal_code_spaces_are_dropped():
    assert validate_postal_code(" 430 014 ") == "430014"


def test_landline_area_code_lengths():
    assert validate_landline("(021)12345678") == "021-12345678"
    assert validate_landline("0571-8888 7777") == "0571-88887777"


def test_masks_of_short_values():
    assert mask_name("") == ""
    assert mask_name("张") == "*"
    assert mask_mobile("123456") == "******"
    # A mask never shows the whole value: too short to hide a character, all is hidden.
    assert mask_mobile("1234567") == "*******"
    assert mask_mobile("12345678") == "123*5678"
    assert mask_resident_id("123456789") == "*********"
    assert mask_resident_id("1234567890") == "**********"
    assert mask_resident_id("12345678901") == "123456*8901"
