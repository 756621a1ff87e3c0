"""The offline address resolver in-process: the one-time cost of loading the table, then resolutions
per second and p50/p99 µs per address over a few thousand real-looking addresses built from the
table (every district; full, without the province, with short forms, city only, with the fields,
and names shared by several divisions that are refused).

    .venv/bin/python bench/geocode.py [--addresses 5000] [--rounds 5] [--seed 1]
"""
from __future__ import annotations

import argparse
import gc
import random
import resource
import statistics
import time

started = time.perf_counter()
from common import geocode  # noqa: E402  (our packages come from the venv's dcm.pth)

imported = time.perf_counter()

STREETS = ["人民路", "中山路", "解放大道", "建设路", "文三路", "南京西路", "长江路", "和平街", "新华路",
           "工业园区创业大道", "延安东路", "滨江大道", "幸福里", "朝阳门外大街", "学院路"]
PREMISES = ["{}号", "{}号{}幢", "{}号{}栋{}室", "{}号院{}单元", "{}弄{}号"]


def street(rng: random.Random) -> str:
    numbers = [rng.randint(1, 999) for _ in range(3)]
    return rng.choice(STREETS) + rng.choice(PREMISES).format(*numbers)


def short(name: str, level: str) -> str:
    forms = sorted(geocode.short_forms(name, level))
    return forms[0] if forms else name


def addresses(count: int, rng: random.Random) -> list[tuple[str, dict[str, str], str]]:
    """(address, fields, adcode it should resolve to): a district of the table in one of the ways
    people write it."""
    table = geocode.gazetteer()
    districts = [d for d in table.divisions if d.level == "district"]
    built = []
    for _ in range(count):
        district = rng.choice(districts)
        own = table.geocode(district.adcode)
        city, where = own.city or "", street(rng)
        municipal = not city or city == own.province
        form = rng.random()
        if form < 0.35:
            built.append((f"{own.province}{city}{district.name}{where}", {}, district.adcode))
        elif form < 0.60:
            built.append((f"{city or own.province}{district.name}{where}", {}, district.adcode))
        elif form < 0.75:
            city_short = "" if municipal else short(city, "city")
            built.append((f"{short(own.province, 'province')}{city_short}{district.name}{where}", {},
                          district.adcode))
        elif form < 0.85:
            built.append((f"{city or own.province}{where}", {},
                          district.adcode[:2] + "0000" if municipal else district.parent))
        elif form < 0.95:
            built.append((f"{district.name}{where}", {"province": own.province, "city": city}, district.adcode))
        else:
            built.append((f"{district.name}{where}", {}, district.adcode))  # refused where the name is shared
    return built


def measure(work: list[tuple[str, dict[str, str], str]]) -> tuple[float, list[int], int, int]:
    """(resolutions per second over the batch, ns per address, refusals, resolved elsewhere)."""
    refused, elsewhere, each = 0, 0, []
    batch_started = time.perf_counter()
    for address, fields, expected in work:
        began = time.perf_counter_ns()
        try:
            found = geocode.resolve(address, **fields)
        except geocode.AddressNotResolved:
            refused += 1
        else:
            elsewhere += found.adcode != expected
        each.append(time.perf_counter_ns() - began)
    return len(work) / (time.perf_counter() - batch_started), each, refused, elsewhere


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--addresses", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    load_started = time.perf_counter()
    table = geocode.gazetteer()
    loaded = time.perf_counter()
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"import {1000 * (imported - started):.1f} ms; table loaded once in "
          f"{1000 * (loaded - load_started):.1f} ms ({len(table.divisions)} divisions; "
          f"peak RSS +{(rss_after - rss_before) / 1024:.1f} MiB)")

    work = addresses(args.addresses, random.Random(args.seed))
    measure(work[:500])  # warm-up
    print(f"{len(work)} addresses, {args.rounds} rounds")
    print("| round | resolutions/s | p50 µs | p99 µs | max µs | refused | resolved elsewhere |")
    print("|---|---|---|---|---|---|---|")
    rates, p50s, p99s = [], [], []
    for round_ in range(1, args.rounds + 1):
        gc.collect()
        rate, each, refused, elsewhere = measure(work)
        each.sort()
        p50, p99 = each[len(each) // 2] / 1000, each[int(len(each) * 0.99)] / 1000
        rates.append(rate)
        p50s.append(p50)
        p99s.append(p99)
        print(f"| {round_} | {rate:,.0f} | {p50:.1f} | {p99:.1f} | {each[-1] / 1000:.0f} | {refused} | {elsewhere} |")
    print(f"median of rounds: {statistics.median(rates):,.0f} resolutions/s, p50 {statistics.median(p50s):.1f} µs,"
          f" p99 {statistics.median(p99s):.1f} µs (target: under 1 ms per address)")


if __name__ == "__main__":
    main()
