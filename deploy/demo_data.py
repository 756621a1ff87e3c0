"""What `make demo` loads, as values: a home-textile brand's products, distributors at real district
centres across mainland China and orders from real Chinese addresses. Everything is derived from a
seed and an index, so a second run plans exactly the same network (the same credit codes, SKUs and
order external ids) and finds it already there.

Places come from the offline division table the system itself geocodes with (``common.geocode``):
every address written here is checked to resolve to the district it was written for.
"""
from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from common.geocode import Division, Geocode, gazetteer, resolve
from distributors.domain import CREDIT_CODE_ALPHABET, credit_code_check_character

# Mainland provinces and their populations (millions, 7th national census, 2020): orders are spread
# over provinces in these proportions, and distributors too (at least two in each province).
POPULATION_M: dict[str, float] = {
    "北京市": 21.9, "天津市": 13.9, "河北省": 74.6, "山西省": 34.9, "内蒙古自治区": 24.0,
    "辽宁省": 42.6, "吉林省": 24.1, "黑龙江省": 31.9, "上海市": 24.9, "江苏省": 84.7, "浙江省": 64.6,
    "安徽省": 61.0, "福建省": 41.5, "江西省": 45.2, "山东省": 101.5, "河南省": 99.4, "湖北省": 57.8,
    "湖南省": 66.4, "广东省": 126.0, "广西壮族自治区": 50.1, "海南省": 10.1, "重庆市": 32.1,
    "四川省": 83.7, "贵州省": 38.6, "云南省": 47.2, "西藏自治区": 3.6, "陕西省": 39.5, "甘肃省": 25.0,
    "青海省": 5.9, "宁夏回族自治区": 7.2, "新疆维吾尔自治区": 25.9,
}
# where towns are far apart a distributor's warehouse serves a wider area
WIDE_PROVINCES = {"内蒙古自治区", "西藏自治区", "青海省", "新疆维吾尔自治区", "甘肃省"}
RADIUS_KM = 150.0
WIDE_RADIUS_KM = 400.0
SECOND_WAREHOUSE_SHARE = 0.25
MIN_PER_PROVINCE = 2  # once the network is large enough to give every province that many

# urban districts (…区) hold most customers and most warehouses; county-level cities next
SUFFIX_WEIGHT = {"区": 4, "市": 2, "县": 1, "旗": 1}
STREETS = ("人民路", "解放路", "建设路", "文化路", "和平路", "新华路", "胜利路", "青年路", "光明路",
           "朝阳路", "幸福路", "工业路", "育才路", "长江路", "黄河路", "环城路", "滨河路", "迎宾大道",
           "世纪大道", "振兴街", "团结街", "民主街", "健康路", "花园路")
STREETS_FOR_WAREHOUSES = ("物流园路", "工业园大道", "仓储路", "货运路", "开发区大道")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = ("伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超",
         "秀英", "华", "慧", "建华", "晓东", "海燕", "志强", "文博", "子涵", "雨欣", "浩然", "梓萱", "思远")
TRADE_NAMES = ("锦棉", "恒丰", "瑞祥", "华纺", "盛源", "嘉禾", "永兴", "鸿运", "和美", "丰泰", "佳宁", "润家")
COMPANY_KINDS = ("家纺商贸有限公司", "纺织品贸易有限公司", "家居用品有限公司", "商贸有限责任公司")
MOBILE_PREFIXES = ("135", "136", "137", "138", "139", "150", "151", "152", "158", "159", "186", "187",
                   "188", "189")
CHANNELS = {"tmall": 0.5, "jd": 0.3, "douyin": 0.2}  # the brand's flagship stores and their share of orders
TIERS = {"platinum": 0.1, "gold": 0.4, "silver": 0.5}
TIER_TERMS = {  # discount off list, and volume breaks (min_qty, extra points)
    "platinum": ("40", [(50, "2"), (200, "4")]),
    "gold": ("35", [(50, "2"), (200, "3")]),
    "silver": ("30", [(100, "2")]),
}


# ---- places ----------------------------------------------------------------------------------------

def _weight(division: Division) -> int:
    return SUFFIX_WEIGHT.get(division.name[-1], 0)


def districts_by_province() -> dict[str, list[Division]]:
    """Each mainland province's districts that have their own centre (in the table's order), with a
    suffix we weight (区, 市, 县, 旗) and inside the latitudes the distributors service accepts."""
    found: dict[str, list[Division]] = {province: [] for province in POPULATION_M}
    for division in gazetteer().divisions:
        if (division.level == "district" and division.province in found and division.lat is not None
                and division.lon is not None and 18.0 < division.lat < 54.0 and _weight(division)):
            found[division.province].append(division)
    return found


def allocate(total: int, weights: dict[str, float], minimum: int) -> dict[str, int]:
    """``total`` split over the keys in proportion to ``weights`` (largest remainder), each key getting
    at least ``minimum`` when ``total`` allows it."""
    floor = minimum if total >= minimum * len(weights) else 0
    rest = total - floor * len(weights)
    whole = sum(weights.values())
    shares = {key: rest * weight / whole for key, weight in weights.items()}
    counts = {key: floor + int(share) for key, share in shares.items()}
    by_remainder = sorted(weights, key=lambda key: (-(shares[key] - int(shares[key])), key))
    for key in by_remainder[:total - sum(counts.values())]:
        counts[key] += 1
    return counts


def spread_over_cities(districts: Sequence[Division], count: int, rng: random.Random) -> list[Division]:
    """``count`` distinct districts, one city at a time (cities in a shuffled order) so that a
    province's warehouses cover its cities, each city's most urban districts first."""
    by_city: dict[str, list[Division]] = {}
    for division in districts:
        by_city.setdefault(division.parent or "", []).append(division)
    queues = []
    for members in by_city.values():
        members = list(members)
        rng.shuffle(members)
        members.sort(key=lambda d: -_weight(d))
        queues.append(members)
    rng.shuffle(queues)
    chosen: list[Division] = []
    while len(chosen) < count and any(queues):
        for queue in queues:
            if queue and len(chosen) < count:
                chosen.append(queue.pop(0))
    return chosen


def place_name(division: Division) -> Geocode:
    return gazetteer().geocode(division.adcode)


def street_address(division: Division, rng: random.Random, streets: Sequence[str] = STREETS,
                   unit: str = "") -> str:
    """``浙江省杭州市西湖区文化路90号``: the division's full name, a street and ``unit``, checked to
    resolve to that very district (a street that happens to name a place is replaced)."""
    prefix = place_name(division).full_name
    for street in rng.sample(list(streets), len(streets)):
        address = f"{prefix}{street}{rng.randint(1, 399)}号{unit}"
        if resolve(address).adcode == division.adcode:
            return address
    raise ValueError(f"no street address resolves to {prefix}")


# ---- people and companies ---------------------------------------------------------------------------

def person(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + rng.choice(GIVEN)


def mobile(rng: random.Random) -> str:
    return rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10 ** 8):08d}"


def credit_code(adcode: str, serial: int) -> str:
    """A unified social credit code (GB 32100-2015): 9 (registered by the market regulator) 1 (an
    enterprise), the registering district's adcode, a 9-character organisation code and the check
    character. ``serial`` makes the organisation code, so one index always gives one code."""
    digits = []
    for _ in range(7):
        serial, digit = divmod(serial, len(CREDIT_CODE_ALPHABET))
        digits.append(CREDIT_CODE_ALPHABET[digit])
    body = "91" + adcode + "MA" + "".join(reversed(digits))
    return body + credit_code_check_character(body)


# ---- the plan ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    category: str
    lifecycle: str
    hero: bool
    list_price: Decimal
    substitutes: tuple[str, ...] = ()

    @property
    def floor_price(self) -> Decimal:
        return (self.list_price * Decimal("0.45")).quantize(Decimal("0.01"))

    def body(self) -> dict:
        return {"sku": self.sku, "name": self.name, "category": self.category, "lifecycle": self.lifecycle,
                "hero": self.hero, "substitutes": list(self.substitutes), "status": "active",
                "attributes": {"brand": BRAND}}


BRAND = "棉语家纺"
# (category, SKU code, names, list price range in yuan)
RANGES = (
    ("毛巾", "TWL", ("纯棉毛巾", "长绒棉毛巾", "竹纤维毛巾", "儿童小方巾", "无捻纱毛巾"), (19, 59)),
    ("浴巾", "BTH", ("纯棉浴巾", "加厚浴巾", "速干浴巾", "酒店款浴巾"), (69, 199)),
    ("床品四件套", "SET", ("纯棉四件套", "长绒棉四件套", "天丝四件套", "水洗棉四件套", "磨毛四件套",
                       "提花四件套"), (299, 999)),
    ("被子", "QLT", ("夏凉被", "蚕丝被", "羽绒被", "大豆纤维被", "空调被"), (199, 1599)),
    ("枕头", "PLW", ("乳胶枕", "羽绒枕", "荞麦枕", "记忆棉枕"), (69, 399)),
    ("床单", "SHT", ("纯棉床单", "床笠", "磨毛床单"), (89, 299)),
    ("家居服", "LNG", ("纯棉睡衣", "珊瑚绒睡袍", "纱布家居服"), (159, 459)),
    ("毯子", "BLK", ("法兰绒毯", "针织盖毯", "沙发毯"), (129, 399)),
)
SIZES = ("", "经典款", "加大款")


def products(count: int) -> list[Product]:
    """``count`` products over the brand's ranges, about one in five ``new`` (the assortment
    target) and the rest ``classic``; the first of each range is a hero product; each product's
    substitutes are its range's other classic products (at most two). The brand's catalog is the
    same whatever the seed: product ``i`` is always the same product at the same price."""
    rng = random.Random("products")
    made: list[Product] = []
    for i in range(count):
        category, code, names, (low, high) = RANGES[i % len(RANGES)]
        price = Decimal(rng.randrange(low, high + 1)) - Decimal("0.10")  # 199.90
        round_ = i // len(RANGES)
        base = names[round_ % len(names)]
        variant = SIZES[(round_ // len(names)) % len(SIZES)]
        name = f"{BRAND} {base}{(' ' + variant) if variant else ''}"
        if round_ >= len(names) * len(SIZES):
            name += f" {round_ + 1}号"
        lifecycle = "new" if i % 5 == 4 else "classic"
        made.append(Product(f"MY-{code}-{round_ + 1:03d}", name, category, lifecycle, round_ == 0, price))
    by_category: dict[str, list[str]] = {}
    for product in made:
        if product.lifecycle == "classic":
            by_category.setdefault(product.category, []).append(product.sku)
    return [Product(p.sku, p.name, p.category, p.lifecycle, p.hero, p.list_price,
                    tuple(s for s in by_category.get(p.category, []) if s != p.sku)[:2]) for p in made]


@dataclass(frozen=True)
class Warehouse:
    name: str
    address: str
    adcode: str
    province: str
    service_radius_km: float


@dataclass(frozen=True)
class Distributor:
    index: int
    company_name: str
    credit_code: str
    contact: dict
    address: str
    province: str
    city: str
    tier: str
    channels: tuple[str, ...]
    warehouses: tuple[Warehouse, ...]

    def application(self) -> dict:
        """The application as the applicant sends it: addresses, no coordinates."""
        return {"company_name": self.company_name, "credit_code": self.credit_code, "contact": self.contact,
                "address": self.address, "province": self.province, "city": self.city,
                "locations": [{"name": w.name, "address": w.address, "service_radius_km": w.service_radius_km}
                              for w in self.warehouses],
                "requested_tier": self.tier, "channels": list(self.channels)}


def distributors(count: int, seed: int) -> list[Distributor]:
    """``count`` distributors over the mainland provinces in proportion to population (at least
    ``MIN_PER_PROVINCE`` each when ``count`` allows), each at a district of its own spread over the
    province's cities; a quarter have a second warehouse in another district of their province."""
    rng = random.Random(f"{seed}:distributors")
    districts = districts_by_province()
    per_province = allocate(count, POPULATION_M, MIN_PER_PROVINCE)
    made: list[Distributor] = []
    for province in POPULATION_M:
        wanted = per_province[province]
        if not wanted:
            continue
        pool = spread_over_cities(districts[province], wanted * 2, rng)
        homes, spares = pool[:wanted], pool[wanted:]
        for home in homes:
            index = len(made)
            second = spares.pop(0) if spares and rng.random() < SECOND_WAREHOUSE_SHARE else None
            made.append(_distributor(index, home, second, province, seed, rng))
    return made


def _distributor(index: int, home: Division, second: Division | None, province: str, seed: int,
                 rng: random.Random) -> Distributor:
    place = place_name(home)
    town = (place.city or place.district or place.province).removesuffix("市")
    radius = WIDE_RADIUS_KM if province in WIDE_PROVINCES else RADIUS_KM
    warehouses = [Warehouse(f"{(place.district or town)}仓", street_address(home, rng, STREETS_FOR_WAREHOUSES),
                            home.adcode, province, radius)]
    if second is not None:
        other = place_name(second)
        warehouses.append(Warehouse(f"{other.district}仓", street_address(second, rng, STREETS_FOR_WAREHOUSES),
                                    second.adcode, province, radius))
    contact_name = person(rng)
    return Distributor(
        index=index,
        company_name=f"{town}{rng.choice(TRADE_NAMES)}{rng.choice(COMPANY_KINDS)}",
        credit_code=credit_code(home.adcode, seed * 100_000 + index),
        contact={"name": contact_name, "phone": mobile(rng), "email": f"dealer{index:04d}@demo.example.cn"},
        address=street_address(home, rng),
        province=place.province, city=place.city or place.province,
        tier=rng.choices(list(TIERS), weights=list(TIERS.values()))[0],
        channels=tuple(sorted({"offline_store", *rng.sample(["tmall", "jd", "douyin", "wechat"], 2)})),
        warehouses=tuple(warehouses))


def stock(catalog: Sequence[Product], warehouse: Warehouse, seed: int) -> list[dict]:
    """A warehouse's stock snapshot: every hero product, most classic ones, some new ones."""
    rng = random.Random(f"{seed}:stock:{warehouse.adcode}:{warehouse.name}")
    items = []
    for product in catalog:
        keeps = product.hero or rng.random() < (0.7 if product.lifecycle == "classic" else 0.4)
        if keeps:
            high = 60 if product.lifecycle == "classic" else 20
            items.append({"sku": product.sku, "on_hand": rng.randint(3, high)})
    return items


@dataclass(frozen=True)
class Order:
    external_id: str
    channel: str
    province: str
    ship_to: dict
    lines: list[dict] = field(default_factory=list)

    def body(self) -> dict:
        return {"external_id": self.external_id, "ship_to": self.ship_to, "lines": self.lines}


class OrderBook:
    """Orders from the seed: order ``i`` is the same whatever the number asked for, so asking for more
    later only adds."""

    def __init__(self, catalog: Sequence[Product], seed: int):
        self.seed = seed
        self.catalog = list(catalog)
        self.popularity = [5 if p.hero else 2 if p.lifecycle == "classic" else 1 for p in self.catalog]
        self.districts = districts_by_province()
        self.provinces = [p for p in POPULATION_M if self.districts[p]]
        self.province_weights = [POPULATION_M[p] for p in self.provinces]

    def order(self, i: int) -> Order:
        rng = random.Random(f"{self.seed}:order:{i}")
        province = rng.choices(self.provinces, weights=self.province_weights)[0]
        candidates = self.districts[province]
        district = rng.choices(candidates, weights=[_weight(d) for d in candidates])[0]
        channel = rng.choices(list(CHANNELS), weights=list(CHANNELS.values()))[0]
        count = rng.choices((1, 2, 3), weights=(60, 30, 10))[0]
        chosen: list[Product] = []
        while len(chosen) < count:
            product = rng.choices(self.catalog, weights=self.popularity)[0]
            if product not in chosen:
                chosen.append(product)
        lines = [{"sku": p.sku, "qty": rng.choices((1, 2, 3), weights=(75, 20, 5))[0]} for p in chosen]
        unit = f"{rng.randint(1, 30)}栋{rng.randint(1, 28)}{rng.randint(1, 6):02d}室"
        ship_to = {"name": person(rng), "phone": mobile(rng), "address": street_address(district, rng, unit=unit)}
        return Order(f"demo{self.seed}-{i:05d}", channel, province, ship_to, lines)

    def orders(self, count: int) -> list[Order]:
        return [self.order(i) for i in range(count)]
