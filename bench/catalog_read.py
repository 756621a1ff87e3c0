"""GET /v1/catalog/products/{sku} through the gateway at 1 and 20 connections, beside the bare
gateway→RPC echo route measured in the same run.

    make bench            # or: .venv/bin/python bench/catalog_read.py [--seconds 2] [--rounds 15]
"""
from __future__ import annotations

import json
import urllib.request

from harness import call, compare_with_echo, echo_floor_arguments, issue, onboard, print_against_echo, running_system


def main() -> None:
    args = echo_floor_arguments(__doc__)
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
        rows = compare_with_echo(base, headers, ("GET", "/v1/catalog/products/BENCH-1", None), args)
    print_against_echo(rows, "GET /v1/catalog/products/{sku}", "read",
                       "target: p50 of the read ≤ 2× the echo floor")


if __name__ == "__main__":
    main()
