"""POST /v1/quotes with 5 lines through the gateway at 1 and 20 connections, beside the bare
gateway→RPC echo floor measured in the same run.

    .venv/bin/python bench/quote.py [--seconds 5] [--rounds 5]
"""
from __future__ import annotations

import argparse
import json

from harness import ECHO, against_echo, call, issue, onboard, print_against_echo, running_system, warm_up


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0, help="one run of one route")
    parser.add_argument("--rounds", type=int, default=5, help="echo/route pairs per connection count")
    args = parser.parse_args()
    with running_system() as (base, gateway_db):
        manager = issue(gateway_db, "manager")
        skus = [f"BENCH-{i}" for i in range(5)]
        for i, sku in enumerate(skus):
            call(base, "POST", "/v1/admin/products", manager, {
                "sku": sku, "name": sku, "category": "towels", "lifecycle": "classic", "status": "active"})
            call(base, "PUT", f"/v1/admin/prices/{sku}", manager,
                 {"list_price": f"{99 + i * 50}.00", "floor_price": "49.00"})
        call(base, "PUT", "/v1/admin/tiers/gold", manager, {"discount_pct": 35, "volume_breaks": [
            {"min_qty": 10, "extra_discount_pct": 2}, {"min_qty": 100, "extra_discount_pct": 5}]})
        dist = onboard(base, manager)
        headers = {"Authorization": f"Bearer {dist}", "Content-Type": "application/json"}
        body = json.dumps({"lines": [{"sku": s, "qty": q} for s, q in zip(skus, (1, 5, 12, 40, 150),
                                                                         strict=True)]}).encode()
        route = ("POST", "/v1/quotes", body)
        warm_up(base, headers, [ECHO, route])
        rows = [(connections, *against_echo(base, headers, route, connections, args.seconds, args.rounds))
                for connections in (1, 20)]
    print_against_echo(rows, "POST /v1/quotes (5 lines)", "quote",
                       "targets: p50 ≤ 2× the echo floor; ≥ 0.80 of its throughput at 20 connections")


if __name__ == "__main__":
    main()
