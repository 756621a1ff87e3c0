"""POST /v1/quotes with 5 lines through the gateway at 1 and 20 connections, beside the bare
gateway→RPC echo floor measured in the same run.

    .venv/bin/python bench/quote.py [--seconds 2] [--rounds 15]
"""
from __future__ import annotations

import json

from harness import call, compare_with_echo, echo_floor_arguments, issue, onboard, print_against_echo, running_system


def main() -> None:
    args = echo_floor_arguments(__doc__)
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
        rows = compare_with_echo(base, headers, ("POST", "/v1/quotes", body), args)
    print_against_echo(rows, "POST /v1/quotes (5 lines)", "quote",
                       "targets: p50 ≤ 2× the echo floor; ≥ 0.80 of its throughput at 20 connections")


if __name__ == "__main__":
    main()
