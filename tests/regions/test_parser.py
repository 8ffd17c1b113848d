"""Hard cases for the free-text address parser."""

from __future__ import annotations

import pytest

from quiz.regions.parser import parse_address


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
    assert loc.city_code is None and loc.unresolved is not None


def test_street_names_do_not_override_the_address() -> None:
    loc = parse_address("北京市朝阳区南京路1号")
    assert loc.code == "110105"
    loc = parse_address("大连市中山路1号")  # 中山路 is a street, not 中山区 or 中山市
    assert (loc.city, loc.district) == ("大连市", None)


def test_old_names() -> None:
    assert parse_address("湖北省襄樊市樊城区").code == "420606"
    assert parse_address("北京市宣武区").code == "110102"
    assert parse_address("杭州市江干区").code == "330102"


@pytest.mark.parametrize("text", ["", "   ", "hello world", "某某小区3号楼"])
def test_nothing_found(text: str) -> None:
    loc = parse_address(text)
    assert loc.unresolved is not None and loc.code is None


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
