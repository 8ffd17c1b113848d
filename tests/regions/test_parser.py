"""Hard cases for the free-text address parser."""

from __future__ import annotations

import pytest

from quiz.regions import divisions
from quiz.regions.parser import _OLD_NAMES, parse_address


@pytest.mark.parametrize(
    ("text", "province", "city", "district", "code"),
    [
        ("北京市朝阳区", "北京市", "北京市", "朝阳区", "110105"),
        ("上海浦东新区张江路", "上海市", "上海市", "浦东新区", "310115"),
        ("天津市滨海新区", "天津市", "天津市", "滨海新区", "120116"),
        ("重庆市万州区", "重庆市", "重庆市", "万州区", "500101"),
        ("苏州工业园区星湖街", "江苏省", "苏州市", None, "320500"),
        ("内蒙呼和浩特", "内蒙古自治区", "呼和浩特市", None, "150100"),
        ("湖北仙桃市", "湖北省", "仙桃市", None, "429004"),
        ("河南济源", "河南省", "济源市", None, "419001"),
        ("新疆伊犁州伊宁市", "新疆维吾尔自治区", "伊犁哈萨克自治州", "伊宁市", "654002"),
        ("延边州延吉市", "吉林省", "延边朝鲜族自治州", "延吉市", "222401"),
        ("锡林郭勒盟", "内蒙古自治区", "锡林郭勒盟", None, "152500"),
        ("广西南宁", "广西壮族自治区", "南宁市", None, "450100"),
        ("西藏拉萨市城关区", "西藏自治区", "拉萨市", "城关区", "540102"),
        ("宁夏银川兴庆区", "宁夏回族自治区", "银川市", "兴庆区", "640104"),
        ("黑龙江哈尔滨市南岗区", "黑龙江省", "哈尔滨市", "南岗区", "230103"),
        ("浙江杭州西湖区文三路", "浙江省", "杭州市", "西湖区", "330106"),
        ("广东省深圳市南山区粤海街道科技园", "广东省", "深圳市", "南山区", "440305"),
        ("吉林省吉林市船营区", "吉林省", "吉林市", "船营区", "220204"),
        ("海南州共和县", "青海省", "海南藏族自治州", "共和县", "632521"),
        ("恩施州利川市", "湖北省", "恩施土家族苗族自治州", "利川市", "422802"),
        ("中国 广东省 东莞市 长安镇", "广东省", "东莞市", None, "441900"),
        ("湖北省神农架林区", "湖北省", "神农架林区", None, "429021"),
    ],
)
def test_resolves(text: str, province: str, city: str, district: str | None, code: str) -> None:
    loc = parse_address(text)
    assert (loc.province, loc.city, loc.district, loc.code) == (province, city, district, code)
    assert loc.unresolved is None


def test_without_province() -> None:
    loc = parse_address("杭州市余杭区五常街道")
    assert (loc.province_code, loc.city_code, loc.district_code) == ("330000", "330100", "330110")


@pytest.mark.parametrize("text", ["朝阳区建国路88号", "鼓楼区中山路1号", "江北区1号"])
def test_ambiguous_district_is_unresolved(text: str) -> None:
    loc = parse_address(text)
    assert loc.unresolved is not None and loc.unresolved.startswith("ambiguous")
    assert loc.province is None and loc.city is None and loc.code is None


def test_ambiguous_city_within_province_keeps_province_only() -> None:
    loc = parse_address("江苏省鼓楼区")  # 南京 or 徐州
    assert loc.province_code == "320000"
    assert loc.city_code is None
    # The reason names the cities: staff read it in the unassigned queue.
    assert loc.unresolved == "ambiguous city: 南京市 / 徐州市"


def test_an_ambiguous_district_names_every_place_it_could_be() -> None:
    assert parse_address("朝阳区建国路88号").unresolved == (
        "ambiguous: 北京市朝阳区 / 吉林省长春市朝阳区"
    )


def test_street_names_do_not_override_the_address() -> None:
    loc = parse_address("北京市朝阳区南京路1号")
    assert loc.code == "110105"
    loc = parse_address("大连市中山路1号")  # 中山路 is a street, not 中山区 or 中山市
    assert (loc.city, loc.district) == ("大连市", None)


def test_old_names() -> None:
    assert parse_address("湖北省襄樊市樊城区").code == "420606"
    assert parse_address("北京市宣武区").code == "110102"
    assert parse_address("杭州市江干区").code == "330102"


@pytest.mark.parametrize(
    "text",
    # 城南: no one-character short form (城区 -> 城) may stand for a division.
    ["", "   ", "hello world", "某某小区3号楼", "城南小区"],
)
def test_nothing_found(text: str) -> None:
    loc = parse_address(text)
    assert loc.code is None
    found = "empty address" if not text.strip() else "no administrative division found"
    assert loc.unresolved == found


def test_province_only_is_partial() -> None:
    loc = parse_address("广东省")
    assert loc.province_code == "440000" and loc.city_code is None
    assert loc.unresolved == "no city"


def test_hainan_alone_is_the_province() -> None:
    assert parse_address("海南海口市").city_code == "460100"
    assert parse_address("海南").province_code == "460000"


def test_new_area_names_are_not_districts() -> None:
    loc = parse_address("河北省雄安新区容城县")
    assert (loc.city, loc.district) == ("保定市", "容城县")


def test_form_noise_and_official_placeholders() -> None:
    assert parse_address("收货地址：浙江省杭州市滨江区长河街道").code == "330108"
    assert parse_address("湖北省省直辖县级行政区划仙桃市干河街道").code == "429004"
    assert parse_address("上海市市辖区黄浦区南京东路1号").code == "310101"


# Every row of the old-name table, with the code it must lead to (written out here, so a
# typo in a row or a row that no longer finds its current division fails).
OLD_NAMES = {
    "襄樊市": "420600",
    "思茅市": "530800",
    "莱芜市": "370116",
    "崇文区": "110101",
    "宣武区": "110102",
    "闸北区": "310106",
    "卢湾区": "310101",
    "南汇区": "310115",
    "塘沽区": "120116",
    "汉沽区": "120116",
    "大港区": "120116",
    "万盛区": "500110",
    "双桥区": "500111",
    "萝岗区": "440112",
    "江干区": "330102",
    "下城区": "330105",
    "白下区": "320104",
    "下关区": "320106",  # 南京's 鼓楼区, not 徐州's (320302), in the same province
    "沧浪区": "320508",
    "平江区": "320508",
    "金阊区": "320508",
    "江北区": "500157",
    "渝北区": "500157",
    "雄安新区": "130000",
}
# Still the name of a current division elsewhere: alone, the old name is ambiguous.
STILL_CURRENT = {"双桥区": "河北省承德市双桥区", "江北区": "浙江省宁波市江北区"}


def test_the_old_name_table_is_covered_row_by_row():
    assert [old for old, _new, _where in _OLD_NAMES] == list(OLD_NAMES)


@pytest.mark.parametrize(("old", "code"), OLD_NAMES.items())
def test_every_old_name_resolves_alone(old: str, code: str) -> None:
    loc = parse_address(old + "1号")
    if old in STILL_CURRENT:
        assert loc.unresolved is not None and STILL_CURRENT[old] in loc.unresolved
        province = divisions.get(code[:2] + "0000").name
        loc = parse_address(province + old + "1号")
    assert loc.code == code
    assert loc.province_code == code[:2] + "0000"


def test_a_long_old_name_is_found_without_its_suffix():
    assert parse_address("河北雄安新1号").province_code == "130000"


@pytest.mark.parametrize(
    ("text", "code", "name"),
    [
        ("上海浦东张江", "310115", "浦东新区"),  # 新区
        ("天津滨海塘沽街道", "120116", "滨海新区"),
        ("内蒙古锡林郭勒锡林浩特", "152502", "锡林浩特市"),  # 盟
        ("阿拉善左旗", "152921", "阿拉善左旗"),
        ("兴安乌兰浩特", "152201", "乌兰浩特市"),
        ("贵州六盘水六枝", "520203", "六枝特区"),  # 特区
        ("湖北神农架", "429021", "神农架林区"),  # 林区
    ],
)
def test_short_forms_of_new_areas_leagues_and_special_districts(text, code, name):
    loc = parse_address(text)
    assert loc.code == code
    assert name in (loc.district, loc.city)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("南山区深圳市科技园", "440305"),  # 南山区 alone: 深圳 or 鹤岗
        ("西湖区杭州市文三路", "330106"),  # 西湖区 alone: 杭州 or 南昌
        ("鼓楼区南京市中山路", "320106"),
    ],
)
def test_a_district_written_before_its_city(text, code):
    assert parse_address(text).code == code


@pytest.mark.parametrize(
    ("text", "province", "city"),
    [
        ("辽宁省朝阳北路5号", "210000", None),  # a street of 朝阳, not 朝阳市
        ("北京市朝阳北路5号", "110000", "110000"),  # not 朝阳区
        ("广东省中山东路", "440000", None),  # not 中山市
        ("广东省中山路", "440000", None),
        ("吉林长春南关大街", "220000", "220100"),
        ("辽宁朝阳市双塔区", "210000", "211300"),  # the city itself is still found
        ("辽宁朝阳", "210000", "211300"),  # a short form at the very end
    ],
)
def test_streets_named_after_divisions_are_not_divisions(text, province, city):
    loc = parse_address(text)
    assert (loc.province_code, loc.city_code) == (province, city)
    if "北路" in text:
        assert loc.district is None


def test_tie_break_more_parts_win_then_the_earliest():
    # Two chains of two parts: the first written is the address, the rest is detail.
    assert parse_address("浙江杭州 收件人 江苏南京").code == "330100"
    assert parse_address("江苏南京 寄件人 浙江杭州").code == "320100"
    # A chain with more parts wins wherever it stands.
    assert parse_address("杭州 收 江苏省南京市鼓楼区").code == "320106"


def test_overlapping_names_take_the_longest_first():
    # 吉林省吉林市: the province, then the city of the same name, not the province twice.
    loc = parse_address("吉林省吉林市")
    assert (loc.province_code, loc.city_code) == ("220000", "220200")


@pytest.mark.parametrize(
    ("text", "province"),
    [
        ("山东", "370000"),  # the province's short form alone
        ("河北", "130000"),  # also 天津's 河北区: the province wins
        ("内蒙", "150000"),  # 内蒙古's common short form
        ("黑龙", "230000"),  # the first two characters, as for every province
    ],
)
def test_a_province_written_alone_in_short(text, province):
    loc = parse_address(text)
    assert loc.province_code == province
    assert loc.unresolved == "no city"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        # Autonomous counties and banners named after the people alone (no place before
        # the people's name): written without 族 and 自治.
        ("鄂温克旗", "150724"),  # 鄂温克族自治旗
        ("鄂伦春旗", "150723"),  # 鄂伦春自治旗
        ("东乡县", "622926"),  # 东乡族自治县
    ],
)
def test_autonomous_divisions_named_after_the_people_in_short(text, code):
    assert parse_address(text).code == code


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("辽宁朝阳北", "211300"),  # a direction as the last character: no street follows
        ("中山路1号 广东省深圳市", "440300"),  # the street is skipped, the search goes on
        ("浙江杭州 收件人 江苏南京 广东", "330100"),  # a tie of two chains: the first stays
    ],
)
def test_streets_ends_and_ties_further_along(text, code):
    assert parse_address(text).code == code
