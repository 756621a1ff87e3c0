"""`make bench`: the targets of issue #14 in one run, against a stock nameko reference running beside us.

Starts our system (harness.running_system) and the stock nameko reference (bench/reference/), both
running throughout, then measures, closed loop over keep-alive connections:

- the distributor product read (`GET /v1/catalog/products/{sku}`, a gold distributor's key) against
  the reference's `GET /products/<sku>` at 1 connection (p50 ratio) and at 20 (throughput ratio);
- `POST /v1/quotes` (5 lines, volume breaks) against the reference at 20 connections;
- `POST /v1/orders` (3 lines, each order its own external id, to a point near one of 30 cities) at
  10,000 seeded locations with stock: p50/p99 at 1 connection, orders per second at 20;
- the routing step (bench/routing.py's timing: decision, the largest radius read in its scan, and
  reservations, in-process on the fulfillment database, as ``handlers.route_and_reserve`` runs them)
  p99 at 10,000 and 100,000 locations.

The machine's CPU is shared by both systems, so the compared routes run in rounds, back to back, in
alternating order (ref, ours… then …ours, ref); each figure is the median over the rounds and each
ratio comes with the mean of the per-round ratios and the half-width of its ~95 % interval. Prints one
table of targets (measured, met or not) and the CPU each process spent per request in the runs at 20
connections. Figures are printed, never asserted; they belong in docs/benchmarks.md.

    make bench                     # or: .venv/bin/python bench/all.py [--rounds 7] [--seconds 3]
    .venv/bin/python bench/all.py --quick      # a short smoke run (10k locations only)
"""
from __future__ import annotations

import argparse
import itertools
import json
import random
import signal
import statistics
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable

import psycopg2
from harness import (
    DATABASE_URLS,
    SERVICE_PIDS,
    call,
    issue,
    load,
    mean_interval,
    onboard,
    running_system,
)
from reference.run import running_reference
from routing import CITIES, largest_radius_ms, routing_step, seed

SKUS = [f"SKU-{i}" for i in range(1, 6)]  # priced in the catalog; bench/routing.py's seed stocks SKU-1…200
READ_SKU = SKUS[0]
FIRST_LOCATION = 10  # as bench/routing.py: below it, the onboarded distributor's own
QUOTE_BODY = json.dumps({"lines": [{"sku": s, "qty": q} for s, q in zip(SKUS, (1, 5, 12, 40, 150), strict=True)]},
                        ).encode()


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7, help="rounds of each comparison (default 7)")
    parser.add_argument("--seconds", type=float, default=3.0, help="one measured run of one route (default 3)")
    parser.add_argument("--sizes", default="10000,100000", help="location counts for the routing step")
    parser.add_argument("--orders", type=int, default=300, help="orders timed by the routing step per size")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: 2 rounds of 1 s, 100 routing orders, 10k locations only")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.seconds, args.orders, args.sizes = 2, 1.0, 100, "10000"
    args.sizes = [int(s) for s in args.sizes.split(",")]
    return args


# ---- the data ---------------------------------------------------------------------------------------


def set_up(base: str, gateway_db: str) -> dict[str, str]:
    """Products with prices, a gold tier with volume breaks, a gold distributor and a channel; returns
    their keys once pricing answers the distributor's product read (it learns products from events)."""
    manager = issue(gateway_db, "manager")
    for i, sku in enumerate(SKUS):
        call(base, "POST", "/v1/admin/products", manager, {
            "sku": sku, "name": "Bench towel", "category": "towels", "lifecycle": "classic",
            "status": "active", "attributes": {"colour": "white", "gsm": 600}})
        call(base, "PUT", f"/v1/admin/prices/{sku}", manager,
             {"list_price": f"{99 + i * 50}.00", "floor_price": "49.00"})
    call(base, "PUT", "/v1/admin/tiers/gold", manager, {"discount_pct": 35, "volume_breaks": [
        {"min_qty": 10, "extra_discount_pct": 2}, {"min_qty": 100, "extra_discount_pct": 5}]})
    keys = {"distributor": onboard(base, manager), "channel": issue(gateway_db, "channel", channel="tmall")}
    deadline = time.monotonic() + 30
    while True:
        try:
            if call(base, "GET", f"/v1/catalog/products/{READ_SKU}", keys["distributor"]).get("price"):
                return keys
        except urllib.error.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"pricing did not learn {READ_SKU} and its price within 30 s")
        time.sleep(0.2)


def order_bodies() -> Callable[[], bytes]:
    """Each call, a new order (its own external id) of 3 of the priced SKUs, to a point near a city."""
    numbers = itertools.count()
    rng = random.Random(3)

    def body() -> bytes:
        n = next(numbers)
        _, lat, lon = rng.choice(CITIES)
        return json.dumps({
            "external_id": f"bench-{n}",
            "ship_to": {"name": "b", "phone": "13800000000", "address": "a",
                        "lat": lat + rng.uniform(-0.3, 0.3), "lon": lon + rng.uniform(-0.3, 0.3)},
            "lines": [{"sku": sku, "qty": 1} for sku in rng.sample(SKUS, 3)]}).encode()
    return body


# ---- measuring --------------------------------------------------------------------------------------


class Route:
    def __init__(self, name: str, base: str, method: str, path: str, headers: dict, body=None):
        self.name, self.base, self.method, self.path, self.headers, self.body = name, base, method, path, headers, body

    def run(self, connections: int, seconds: float, warmup: float = 0.5) -> dict:
        return load(self.base, self.method, self.path, self.headers, self.body, connections, seconds, warmup)


def alternate(routes: list[Route], connections: int, seconds: float, rounds: int) -> dict[str, list[dict]]:
    """Each route once per round, back to back, in the given order and then reversed (A B C, C B A …),
    so that a shared machine's drift falls on all of them; every run starts with half a second
    unmeasured."""
    runs: dict[str, list[dict]] = {r.name: [] for r in routes}
    for i in range(rounds):
        for route in routes if i % 2 == 0 else routes[::-1]:
            runs[route.name].append(route.run(connections, seconds))
    return runs


def median_of(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def ratios(ours: list[dict], reference: list[dict], key: str) -> list[float]:
    return [o[key] / r[key] for o, r in zip(ours, reference, strict=True)]


def pooled(runs: list[dict]) -> list[float]:
    return sorted(t for r in runs for t in r["latencies"])


def percentile_ms(latencies: list[float], q: float) -> float:
    return latencies[min(len(latencies) - 1, int(len(latencies) * q))] * 1000 if latencies else float("nan")


def cpu_medians(runs: list[dict]) -> dict[str, float]:
    parts = {part for r in runs for part in r["cpu_ms"]}
    return {part: statistics.median(r["cpu_ms"].get(part, 0.0) for r in runs) for part in parts}


# ---- the report -------------------------------------------------------------------------------------


def verdict(value: float, target: float, higher_is_better: bool, half: float = 0.0) -> str:
    met = value >= target if higher_is_better else value <= target
    within_noise = half == half and abs(value - target) <= half  # half is nan with one round
    return ("met" if met else "NOT met") + (" (within noise)" if within_noise else "")


def ratio_row(target: str, runs_ours: list[dict], runs_ref: list[dict], key: str, limit: float,
              higher_is_better: bool, unit: str) -> tuple[str, str, str, str]:
    mean, half = mean_interval(ratios(runs_ours, runs_ref, key))
    ours, ref = median_of(runs_ours, key), median_of(runs_ref, key)
    context = f"ours {ours:.{1 if unit == 'ms' else 0}f} {unit}, reference {ref:.{1 if unit == 'ms' else 0}f} {unit}"
    return target, f"{mean:.2f}× ± {half:.2f}", context, verdict(mean, limit, higher_is_better, half)


def print_report(rows: list[tuple[str, str, str, str]], cpu: list[tuple[str, dict[str, float]]],
                 notes: list[str]) -> None:
    widths = [max(len(r[i]) for r in rows + [HEADER]) for i in range(4)]
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    print()
    print(line.format(*HEADER))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(line.format(*row))
    parts = sorted({p for _, c in cpu for p, ms in c.items() if ms >= 0.005},
                   key=lambda p: (p.startswith("reference"), p in ("postgresql", "postgresql, other databases",
                                                                   "rabbitmq", "load generator"), p))
    names = [name for name, _ in cpu]
    width = max(len(p) for p in [*parts, "CPU ms per request, 20 connections"])
    print()
    print(f"{'CPU ms per request, 20 connections':<{width}}" + "".join(f"{n:>16}" for n in names))
    for part in parts:
        print(f"{part:<{width}}" + "".join(f"{c.get(part, 0.0):>16.2f}" for _, c in cpu))
    print(f"{'total':<{width}}" + "".join(f"{sum(c.get(p, 0.0) for p in parts):>16.2f}" for _, c in cpu))
    print()
    for note in notes:
        print(note)


HEADER = ("target (issue #14)", "measured", "context (medians over the rounds)", "")


def main() -> None:
    args = arguments()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop both systems on a plain kill too
    started = time.monotonic()
    rows, cpu, notes = [], [], []
    with running_system() as (base, gateway_db), running_reference(SERVICE_PIDS) as reference:
        print(f"both systems up after {time.monotonic() - started:.0f} s", flush=True)
        keys = set_up(base, gateway_db)
        distributor = {"Authorization": f"Bearer {keys['distributor']}"}
        json_in = {"Content-Type": "application/json"}
        ref = Route("reference", reference, "GET", f"/products/{READ_SKU}", {})
        read = Route("read", base, "GET", f"/v1/catalog/products/{READ_SKU}", distributor)
        quote = Route("quote", base, "POST", "/v1/quotes", {**distributor, **json_in}, QUOTE_BODY)
        orders = Route("orders", base, "POST", "/v1/orders",
                       {"Authorization": f"Bearer {keys['channel']}", **json_in}, order_bodies())
        sizes = {}
        with urllib.request.urlopen(urllib.request.Request(f"{base}{read.path}", headers=distributor)) as r:
            sizes["read"] = len(r.read())
        with urllib.request.urlopen(f"{reference}{ref.path}") as r:
            sizes["reference"] = len(r.read())

        conn = psycopg2.connect(DATABASE_URLS["fulfillment"])
        seeded, steps = 0, {}
        seed_s = seed(conn, FIRST_LOCATION, args.sizes[0])
        seeded = args.sizes[0]
        steps[seeded] = routing_step(conn, args.orders), largest_radius_ms(conn)
        print(f"{seeded} locations seeded in {seed_s:.0f} s; measuring over HTTP "
              f"({args.rounds} rounds of {args.seconds:g} s)", flush=True)

        for route in (ref, read, quote, orders):  # connections opened, caches and statements filled
            route.run(20, 1.0 if args.quick else 2.0, warmup=0)
        at_1 = alternate([ref, read], 1, args.seconds, args.rounds)
        at_20 = alternate([ref, read, quote], 20, args.seconds, args.rounds)
        orders_1 = [orders.run(1, args.seconds) for _ in range(args.rounds)]
        orders_20 = [orders.run(20, args.seconds) for _ in range(args.rounds)]

        for size in args.sizes[1:]:
            print(f"growing to {size} locations …", flush=True)
            seed(conn, FIRST_LOCATION + seeded, size - seeded)
            seeded = size
            steps[size] = routing_step(conn, args.orders), largest_radius_ms(conn)
        conn.close()

    rows.append(ratio_row("product read, 20 conns: ≥ 1.5× reference req/s", at_20["read"], at_20["reference"],
                          "rps", 1.5, True, "req/s"))
    rows.append(ratio_row("product read, 1 conn: p50 ≤ 0.7× reference", at_1["read"], at_1["reference"],
                          "p50_ms", 0.7, False, "ms"))
    rows.append(ratio_row("quote, 20 conns: ≥ 1.2× reference req/s", at_20["quote"], at_20["reference"],
                          "rps", 1.2, True, "req/s"))
    latencies = pooled(orders_1)
    p50_mean, p50_half = mean_interval([r["p50_ms"] for r in orders_1])
    p50, p99 = percentile_ms(latencies, 0.5), percentile_ms(latencies, 0.99)
    count = f"{len(latencies)} orders over {args.rounds} rounds"
    rows.append(("POST /v1/orders, 10k locations, 1 conn: p50 ≤ 10 ms", f"{p50:.1f} ms",
                 f"{count}; rounds' p50 {p50_mean:.1f} ± {p50_half:.1f} ms", verdict(p50, 10, False, p50_half)))
    rows.append(("POST /v1/orders, 10k locations, 1 conn: p99 ≤ 25 ms", f"{p99:.1f} ms",
                 f"{count}, pooled; max {latencies[-1] * 1000:.1f} ms" if latencies else count,
                 verdict(p99, 25, False)))
    rps_mean, rps_half = mean_interval([r["rps"] for r in orders_20])
    rows.append(("POST /v1/orders, 10k locations, 20 conns: ≥ 150/s", f"{median_of(orders_20, 'rps'):.0f}/s",
                 f"rounds {rps_mean:.0f} ± {rps_half:.0f}/s; p50 {median_of(orders_20, 'p50_ms'):.1f} ms, "
                 f"p99 {median_of(orders_20, 'p99_ms'):.1f} ms", verdict(median_of(orders_20, "rps"), 150, True,
                                                                          rps_half)))
    for size, limit in ((10_000, 5), (100_000, 15)):
        target = f"routing step, {size // 1000}k locations: p99 ≤ {limit} ms"
        if size in steps:
            step, radius = steps[size]
            rows.append((target, f"{percentile_ms(step, 0.99):.2f} ms",
                         f"p50 {statistics.median(step) * 1000:.2f} ms over {len(step)} orders; of which "
                         f"max(radius) alone p50 {statistics.median(radius):.2f} ms",
                         verdict(percentile_ms(step, 0.99), limit, False)))
        else:
            rows.append((target, "-", "not measured (--sizes / --quick)", ""))

    errors = {name: sum(r["errors"] for r in runs) for name, runs in
              (("reference", at_1["reference"] + at_20["reference"]), ("read", at_1["read"] + at_20["read"]),
               ("quote", at_20["quote"]), ("orders", orders_1 + orders_20))}
    cpu = [("reference read", cpu_medians(at_20["reference"])), ("product read", cpu_medians(at_20["read"])),
           ("quote", cpu_medians(at_20["quote"])), ("order", cpu_medians(orders_20))]
    notes = [
        f"answers: product read {sizes['read']} bytes, reference {sizes['reference']} bytes; "
        f"responses ≥ 400: {', '.join(f'{k} {v}' for k, v in errors.items())}",
        "± is the half-width of the ~95 % interval of the per-round values (ratios: ours/reference in the "
        "same round); 'within noise': the target lies inside it",
        "CPU: medians over the rounds at 20 connections, warm-up included; RabbitMQ is one process for every "
        "vhost (other agents' tests included), PostgreSQL's server processes serve every database",
        f"whole run {time.monotonic() - started:.0f} s",
    ]
    print_report(rows, cpu, notes)


if __name__ == "__main__":
    main()
