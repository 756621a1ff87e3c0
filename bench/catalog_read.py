"""GET /v1/catalog/products/{sku} through the gateway at 1 and 20 connections, beside the bare
gateway→RPC echo route measured in the same run.

    make bench            # or: .venv/bin/python bench/catalog_read.py [--seconds 5] [--rounds 5]
"""
from __future__ import annotations

import argparse
import json
import urllib.request

from harness import ECHO, against_echo, call, issue, onboard, print_against_echo, running_system, warm_up


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0, help="one run of one route")
    parser.add_argument("--rounds", type=int, default=5, help="echo/route pairs per connection count")
    args = parser.parse_args()
    with running_system() as (base, gateway_db):
        sales, manager = issue(gateway_db, "sales"), issue(gateway_db, "manager")
        req = urllib.request.Request(
            f"{base}/v1/admin/products", method="POST",
            data=json.dumps({"sku": "BENCH-1", "name": "Bench towel", "category": "towels",
                             "lifecycle": "classic", "status": "active",
                             "attributes": {"colour": "white", "gsm": 600}}).encode(),
            headers={"Authorization": f"Bearer {sales}", "Content-Type": "application/json"})
        urllib.request.urlopen(req).read()
        dist = onboard(base, manager)
        call(base, "PUT", "/v1/admin/prices/BENCH-1", manager, {"list_price": "199.00", "floor_price": "99.00"})
        headers = {"Authorization": f"Bearer {dist}"}
        route = ("GET", "/v1/catalog/products/BENCH-1", None)
        warm_up(base, headers, [ECHO, route])
        rows = [(connections, *against_echo(base, headers, route, connections, args.seconds, args.rounds))
                for connections in (1, 20)]
    print_against_echo(rows, "GET /v1/catalog/products/{sku}", "read",
                       "target: p50 of the read ≤ 2× the echo floor")


if __name__ == "__main__":
    main()
