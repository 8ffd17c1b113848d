"""Postal code vs. province cross-check (a warning to confirm, never a hard block)."""

from __future__ import annotations

# First two digits of a 6-digit PRC postal code -> province-level division code.
# Source: China Post's national postal code plan (first two digits = province,
# municipality or autonomous region; see e.g. the "Postal codes in China" article),
# checked against each provincial capital's code (北京 100000, 石家庄 050000 ...).
_PREFIXES: dict[str, tuple[str, ...]] = {
    "110000": ("10",),  # 北京
    "120000": ("30",),  # 天津
    "130000": ("05", "06", "07"),  # 河北
    "140000": ("03", "04"),  # 山西
    "150000": ("01", "02", "75"),  # 内蒙古 (阿拉善盟 uses 750xxx, the 宁夏 range)
    "210000": ("11", "12"),  # 辽宁
    "220000": ("13",),  # 吉林
    "230000": ("15", "16"),  # 黑龙江
    "310000": ("20",),  # 上海
    "320000": ("21", "22"),  # 江苏
    "330000": ("31", "32"),  # 浙江
    "340000": ("23", "24"),  # 安徽
    "350000": ("35", "36"),  # 福建
    "360000": ("33", "34"),  # 江西
    "370000": ("25", "26", "27"),  # 山东
    "410000": ("45", "46", "47"),  # 河南
    "420000": ("43", "44"),  # 湖北
    "430000": ("41", "42"),  # 湖南
    "440000": ("51", "52"),  # 广东
    "450000": ("53", "54"),  # 广西
    "460000": ("57",),  # 海南
    "500000": ("40",),  # 重庆
    "510000": ("61", "62", "63", "64"),  # 四川
    "520000": ("55", "56"),  # 贵州
    "530000": ("65", "66", "67"),  # 云南
    "540000": ("85", "86"),  # 西藏
    "610000": ("71", "72"),  # 陕西
    "620000": ("73", "74"),  # 甘肃
    "630000": ("81",),  # 青海
    "640000": ("75",),  # 宁夏
    "650000": ("83", "84"),  # 新疆
    "810000": ("99",),  # 香港 (999077, used for mail from the mainland)
    "820000": ("99",),  # 澳门 (999078)
}
PROVINCES_BY_PREFIX: dict[str, frozenset[str]] = {}
for _province, _prefixes in _PREFIXES.items():
    for _prefix in _prefixes:
        PROVINCES_BY_PREFIX[_prefix] = PROVINCES_BY_PREFIX.get(_prefix, frozenset()) | {_province}


def postal_code_provinces(postal_code: str) -> frozenset[str]:
    """Return the province codes a postal code's leading digits belong to (empty if unknown)."""
    code = postal_code.strip()
    if len(code) != 6 or not code.isascii() or not code.isdigit():
        return frozenset()
    return PROVINCES_BY_PREFIX.get(code[:2], frozenset())


def postal_code_province_mismatch(postal_code: str, province_code: str | None) -> bool:
    """True when the postal code clearly belongs to another province than `province_code`."""
    if not postal_code or not province_code:
        return False
    provinces = postal_code_provinces(postal_code)
    # Unknown or malformed codes are for the form's format check, not this warning.
    return bool(provinces) and province_code[:2] + "0000" not in provinces
