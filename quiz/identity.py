"""Rules for resident ID numbers, phone numbers, postal codes and masking.

Pure functions, no Flask. Error messages are in Chinese because they are shown
to participants as they are.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

import phonenumbers
from phonenumbers import PhoneNumberType
from stdnum import numdb
from stdnum.cn import ric
from stdnum.exceptions import ValidationError

from quiz.regions import divisions

# Mainland province-level prefixes of resident ID numbers (GB/T 2260 first two digits).
PROVINCE_PREFIXES = frozenset(
    [
        "11",
        "12",
        "13",
        "14",
        "15",
        "21",
        "22",
        "23",
        "31",
        "32",
        "33",
        "34",
        "35",
        "36",
        "37",
        "41",
        "42",
        "43",
        "44",
        "45",
        "46",
        "50",
        "51",
        "52",
        "53",
        "54",
        "61",
        "62",
        "63",
        "64",
        "65",
    ]
)
# Resident ID numbers and residence permits of Hong Kong, Macao and Taiwan residents.
NON_MAINLAND_PREFIXES = {
    "71": "台湾地区",
    "81": "香港特别行政区",
    "82": "澳门特别行政区",
    "83": "台湾地区",
}
OLDEST_BIRTH_YEAR = 1900
HAS_LETTER_RE = re.compile(r"[\u3400-\u9fffA-Za-z]")
NAME_RE = re.compile(r"^[\u3400-\u9fff\u00b7\u30fb·A-Za-z][\u3400-\u9fff\u00b7\u30fb·A-Za-z ]*$")
# [0-9], not \d: \d also matches other scripts' digits (١٣٩…), which NFKC keeps, so a
# mobile typed in them was stored as typed and never matched the same number in ASCII.
POSTAL_RE = re.compile(r"^[0-8][0-9]{5}$")


class IdentityError(ValueError):
    """An input that fails a rule; the message is shown to the participant."""


@dataclass(frozen=True)
class ResidentId:
    """A validated resident ID number."""

    number: str
    birth_date: date

    @property
    def last4(self) -> str:
        return self.number[-4:]


def _fold(value: str) -> str:
    # Full-width digits and letters typed on phone keyboards become ASCII.
    return unicodedata.normalize("NFKC", value).strip()


def validate_resident_id(value: str, today: date | None = None) -> ResidentId:
    """Validate an 18-digit resident ID number: checksum, real birth date, known region.

    The region is checked here rather than by python-stdnum's ``validate``: stdnum
    rejects a valid number whose region code was created after the birth year (codes
    are assigned at registration, e.g. 429004 仙桃 for people born in 1990), raises
    ``KeyError`` for a code it knows only at province level (110199, 710101), and
    accepts future birth dates. A code known at any time is accepted, retired ones
    included: a number keeps the code it was issued under after districts merge.
    """
    today = today or date.today()
    number = re.sub(r"[\s-]", "", _fold(value)).upper()
    if not number:
        raise IdentityError("请填写身份证号码")
    if not re.fullmatch(r"[0-9]{17}[0-9X]", number):
        if len(number) != 18:
            raise IdentityError("身份证号码应为18位")
        raise IdentityError("身份证号码格式不正确:前17位应为数字,最后一位为数字或X")
    if number[-1] != ric.calc_check_digit(number):
        raise IdentityError("身份证号码校验位不正确,请核对后重新填写")
    try:
        birth = ric.get_birth_date(number)
    except ValidationError as exc:
        raise IdentityError("身份证号码中的出生日期不存在") from exc
    if birth > today or birth.year < OLDEST_BIRTH_YEAR:
        raise IdentityError("身份证号码中的出生日期不正确")
    problem = region_problem(number[:6])
    if problem:
        raise IdentityError(problem)
    return ResidentId(number=number, birth_date=birth)


def region_problem(code: str) -> str | None:
    """Why the six-digit region code of an ID number is refused, or None if it is accepted.

    Accepted: a mainland province (PROVINCE_PREFIXES) and a code that the national code
    history (python-stdnum's GB/T 2260 table, retired codes included) lists as a county
    or that the site's division table lists. Refused, naming the code: Hong Kong, Macao
    and Taiwan (81, 82, 71/83, the prefixes of their residents' residence permits), as
    the campaign is open to mainland residents only, and codes no table knows.
    """
    if code[:2] in NON_MAINLAND_PREFIXES:
        return (
            f"身份证号码的地区码 {code} 属于{NON_MAINLAND_PREFIXES[code[:2]]},"
            "本活动仅限中国大陆居民参加"
        )
    if code[:2] not in PROVINCE_PREFIXES or not _known_region(code):
        return f"身份证号码中的地区码 {code} 不存在,请核对号码前6位"
    return None


def _known_region(code: str) -> bool:
    if any("county" in props for _part, props in numdb.get("cn/loc").info(code)):
        return True
    return divisions.get(code) is not None


def _cn_number(digits: str, kinds: tuple[int, ...], wrong_kind: str) -> phonenumbers.PhoneNumber:
    """`digits` (ASCII digits, checked by the caller) as a valid mainland number of one of
    `kinds`, else IdentityError."""
    try:
        parsed = phonenumbers.parse(digits, "CN")
    except phonenumbers.NumberParseException as exc:  # unreachable: digits always parse
        raise IdentityError(wrong_kind) from exc  # pragma: no mutate
    if not phonenumbers.is_valid_number(parsed) or phonenumbers.number_type(parsed) not in kinds:
        raise IdentityError(wrong_kind)
    return parsed


def validate_mobile(value: str) -> str:
    """Validate a mainland China mobile number; returns its 11 digits."""
    digits = re.sub(r"[\s-]", "", _fold(value))
    if not digits:
        raise IdentityError("请填写手机号码")
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    if not re.fullmatch(r"1[0-9]{10}", digits):
        raise IdentityError("手机号码应为以1开头的11位数字")
    _cn_number(
        digits,
        (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE),
        "手机号码不是有效的中国大陆手机号",
    )
    return digits


def validate_landline(value: str) -> str | None:
    """Validate an optional landline with its area code, e.g. 010-12345678."""
    text = _fold(value)
    if not text:
        return None
    digits = re.sub(r"[\s()()-]", "", text)
    if not re.fullmatch(r"0[0-9]{9,11}", digits):
        raise IdentityError("固定电话请填写区号和号码,例如 010-12345678")
    parsed = _cn_number(
        digits,
        (PhoneNumberType.FIXED_LINE, PhoneNumberType.FIXED_LINE_OR_MOBILE),
        "固定电话号码不正确,请核对区号和号码",
    )
    return _dash("0" + str(parsed.national_number))


def _dash(national: str) -> str:
    # Three-digit area codes are 010 and 02x; all others have four digits.
    cut = 3 if national[1] in ("1", "2") else 4
    return f"{national[:cut]}-{national[cut:]}"


def validate_postal_code(value: str) -> str:
    """Validate a six-digit mainland postal code."""
    code = _fold(value).replace(" ", "")
    if not code:
        raise IdentityError("请填写邮政编码")
    if not POSTAL_RE.fullmatch(code):
        raise IdentityError("邮政编码应为6位数字")
    return code


def validate_name(value: str) -> str:
    """Validate a person's name as written on the ID card (Chinese or Latin, with ·)."""
    name = re.sub(r"\s+", " ", _fold(value))
    if not name:
        raise IdentityError("请填写姓名")
    if len(name) > 30:
        raise IdentityError("姓名不能超过30个字")
    # A name of only separators ("··") passed the character rule.
    if not NAME_RE.fullmatch(name) or not HAS_LETTER_RE.search(name):
        raise IdentityError("姓名只能包含汉字、字母和间隔号“·”")
    return name


def mask_name(name: str) -> str:
    """张三 -> 张*, 张小三 -> 张*三, 欧阳小明 -> 欧**明."""
    if not name:
        return ""
    if len(name) == 1:
        return "*"
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def mask_mobile(mobile: str) -> str:
    """13812341234 -> 138****1234."""
    if len(mobile) <= 7:  # too short to keep 3 + 4 digits and still hide one
        return "*" * len(mobile)
    return mobile[:3] + "*" * (len(mobile) - 7) + mobile[-4:]


def mask_resident_id(number: str) -> str:
    """110101199001011234 -> 110101********1234."""
    if len(number) <= 10:  # too short to keep 6 + 4 characters and still hide one
        return "*" * len(number)
    return number[:6] + "*" * (len(number) - 10) + number[-4:]
