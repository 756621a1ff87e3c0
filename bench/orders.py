"""`POST /v1/orders` (or `--route quote`) alone, for working on one route: the system of `make bench` with its data
(5 priced products, a gold distributor, a channel key, 10,000 seeded locations with stock), then
``--rounds`` runs at 1 connection (p50/p99 pooled) and at 20 (orders per second), and the CPU each
process spent per order at 20 connections (medians over the rounds). Prints figures, asserts nothing.

    .venv/bin/python bench/orders.py [--rounds 3] [--seconds 3] [--locations 10000] [--cprofile gateway,pricing]

``--cprofile gateway,pricing`` runs those services under cProfile (bench/cprofile-python) for the
whole run and prints where their own time went once they stop (the figures above then include the
profiler's overhead: compare shares, not milliseconds).
"""
from __future__ import annotations

import argparse
import collections
import os
import pathlib
import pstats
import re
import statistics

import psycopg2
from all import FIRST_LOCATION, QUOTE_BODY, Route, cpu_medians, order_bodies, percentile_ms, pooled, set_up
from harness import DATABASE_URLS, PROFILES, running_system
from routing import seed

ROOT = str(pathlib.Path(__file__).resolve().parents[1])


def print_profile(service: str, path: pathlib.Path, top: int = 15) -> None:
    """Where a profiled service's own time went (cProfile's tottime, the event loop's idle wait left
    out): by package, then its busiest functions."""
    stats = pstats.Stats(str(path)).stats
    by_package: collections.Counter = collections.Counter()
    functions = []
    for (filename, line, function), (_, calls, own, _, _) in stats.items():
        if function == "<method 'poll' of 'select.epoll' objects>":
            continue  # idle
        match = re.search(r"site-packages/([^/]+)", filename)
        if match:
            package = match.group(1)
        elif filename.startswith(ROOT):
            package = "ours: " + os.path.relpath(filename, ROOT)
        else:
            package = "python"
        by_package[package] += own
        functions.append((own, calls, f"{filename.rsplit('/', 1)[-1]}:{line}({function})"))
    total = sum(by_package.values())
    print(f"cProfile of {service}: {total:.1f} s of own time ({path})")
    for package, own in by_package.most_common(top):
        print(f"  {100 * own / total:5.1f} %  {package}")
    for own, calls, where in sorted(functions, reverse=True)[:top]:
        print(f"  {own:7.3f} s {calls:8d} calls  {where}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--locations", type=int, default=10_000)
    parser.add_argument("--cprofile", default="", help="run these services (comma-separated) under cProfile")
    parser.add_argument("--route", choices=("order", "quote"), default="order",
                        help="the route to load (quote: POST /v1/quotes as make bench sends it)")
    args = parser.parse_args()
    os.environ["BENCH_CPROFILE"] = args.cprofile
    with running_system() as (base, gateway_db):
        keys = set_up(base, gateway_db)
        conn = psycopg2.connect(DATABASE_URLS["fulfillment"])
        seed(conn, FIRST_LOCATION, args.locations)
        conn.close()
        if args.route == "order":
            orders = Route("orders", base, "POST", "/v1/orders",
                           {"Authorization": f"Bearer {keys['channel']}", "Content-Type": "application/json"},
                           order_bodies())
        else:
            orders = Route("quote", base, "POST", "/v1/quotes",
                           {"Authorization": f"Bearer {keys['distributor']}", "Content-Type": "application/json"},
                           QUOTE_BODY)
        orders.run(20, 2.0, warmup=0)
        at_1 = [orders.run(1, args.seconds) for _ in range(args.rounds)]
        at_20 = [orders.run(20, args.seconds) for _ in range(args.rounds)]
        latencies = pooled(at_1)
        print(f"1 conn: {len(latencies)} requests, p50 {percentile_ms(latencies, 0.5):.1f} ms, "
              f"p99 {percentile_ms(latencies, 0.99):.1f} ms; errors {sum(r['errors'] for r in at_1)}")
        print(f"20 conns: {statistics.median(r['rps'] for r in at_20):.0f}/s (runs "
              f"{', '.join(str(round(r['rps'])) for r in at_20)}), p50 "
              f"{statistics.median(r['p50_ms'] for r in at_20):.1f} ms; errors {sum(r['errors'] for r in at_20)}")
        cpu = cpu_medians(at_20)
        for part, ms in sorted(cpu.items(), key=lambda kv: -kv[1]):
            if ms >= 0.005:
                print(f"  {part:<30} {ms:6.2f} ms CPU per request")
        print(f"  {'total':<30} {sum(cpu.values()):6.2f}")
    for name, path in PROFILES.items():  # written as each service stopped
        if path.exists():
            print_profile(name, path)

if __name__ == "__main__":
    main()
