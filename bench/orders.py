"""`POST /v1/orders` (or `--route quote`) alone, for working on one route: the system of `make bench` with its data
(5 priced products, a gold distributor, a channel key, 10,000 seeded locations with stock), then
``--rounds`` runs at 1 connection (p50/p99 pooled) and at 20 (orders per second), and the CPU each
process spent per order at 20 connections (medians over the rounds). Prints figures, asserts nothing.

    .venv/bin/python bench/orders.py [--rounds 3] [--seconds 3] [--locations 10000] [--profile SECONDS]

``--profile`` also records the fulfillment service under 20 connections with py-spy (if installed)
and prints its top functions.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

import psycopg2
from all import FIRST_LOCATION, QUOTE_BODY, Route, cpu_medians, order_bodies, percentile_ms, pooled, set_up
from harness import DATABASE_URLS, SERVICE_PIDS, running_system
from routing import seed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--locations", type=int, default=10_000)
    parser.add_argument("--profile", type=float, default=0.0, help="py-spy the named services this long")
    parser.add_argument("--profile-services", default="fulfillment")
    parser.add_argument("--route", choices=("order", "quote"), default="order",
                        help="the route to load (quote: POST /v1/quotes as make bench sends it)")
    args = parser.parse_args()
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
        spy_binary = shutil.which("py-spy") or shutil.which("py-spy", path=os.path.dirname(sys.executable))
        if args.profile and spy_binary:
            spies = []
            for name in args.profile_services.split(","):
                pid = next(p for p, n in SERVICE_PIDS.items() if n == name)
                out = f"/tmp/pyspy-{name}.txt"
                spies.append((name, out, subprocess.Popen(
                    [spy_binary, "record", "-p", str(pid), "-d", str(int(args.profile)), "-r", "200", "-f", "raw",
                     "-o", out, "--nonblocking"], stdout=subprocess.DEVNULL, stderr=open(out + ".log", "w"))))
            time.sleep(0.5)
            orders.run(20, args.profile, warmup=0)
            for name, out, spy in spies:
                spy.wait()
                print(f"py-spy of {name}: {out} (collapsed stacks)")


if __name__ == "__main__":
    main()
