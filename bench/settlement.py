"""A large month: a statement of 100,000 lines, listed page by page and exported as CSV through the
gateway, with the gateway's and the fulfillment service's peak memory before and after.

    .venv/bin/python bench/settlement.py [--lines 100000] [--page 500]

The lines are written straight into the bench system's fulfillment database (as the ship path writes
them: one statement row with the totals, one row per line); what is measured is reading them back.
Prints figures; asserts nothing."""
from __future__ import annotations

import argparse
import http.client
import json
import statistics
import time
import urllib.parse

import psycopg2
from harness import DATABASE_URLS, SERVICE_PIDS, call, issue, onboard, running_system

PERIOD = "2026-10"


def peak_rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def fill(fulfillment_url: str, distributor_id: int, lines: int) -> None:
    conn = psycopg2.connect(fulfillment_url)
    with conn, conn.cursor() as cur:
        cur.execute("INSERT INTO orders (channel, external_id, ship_to, geocode, lat, lon, lines, retail, "
                    "substitutes, retail_total, status, created_at, updated_at) VALUES ('tmall', 'BENCH', "
                    "'{}', '{}', 31, 121, '[]', '{}', '{}', 0, 'shipped', now(), now()) RETURNING id")
        order_id = cur.fetchone()[0]
        cur.execute("INSERT INTO assignments (order_id, distributor_id, location_id, distance_km, lines, "
                    "status, created_at, updated_at) VALUES (%s, %s, 1, 1, '[]', 'shipped', now(), now()) "
                    "RETURNING id", (order_id, distributor_id))
        assignment_id = cur.fetchone()[0]
        cur.execute("INSERT INTO statements (distributor_id, period, lines, gross, commission, net) "
                    "VALUES (%s, %s, %s, %s, %s, %s)",
                    (distributor_id, PERIOD, lines, 129.90 * lines, 6.50 * lines, 123.40 * lines))
        cur.execute("INSERT INTO settlement_lines (distributor_id, period, assignment_id, order_id, external_id, "
                    "channel, sku, qty, unit_price, gross, commission_pct, commission, net, shipped_at) "
                    "SELECT %s, %s, %s, %s, 'TM-' || g, 'tmall', '毛巾-' || g, 1, 129.90, 129.90, 5, 6.50, "
                    "123.40, '2026-10-15T08:00:00Z' FROM generate_series(1, %s) g",
                    (distributor_id, PERIOD, assignment_id, order_id, lines))
    conn.close()


def get(conn: http.client.HTTPConnection, path: str, key: str) -> tuple[int, bytes]:
    conn.request("GET", path, headers={"Authorization": f"Bearer {key}"})
    response = conn.getresponse()
    return response.status, response.read()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--page", type=int, default=500)
    args = parser.parse_args()
    with running_system() as (base, gateway_db):
        manager = issue(gateway_db, "manager")
        key = onboard(base, manager)
        distributor_id = call(base, "GET", "/v1/me", key)["id"]
        started = time.perf_counter()
        fill(DATABASE_URLS["fulfillment"], distributor_id, args.lines)
        print(f"wrote {args.lines:,} lines in {time.perf_counter() - started:.1f} s")
        pids = {name: pid for pid, name in SERVICE_PIDS.items()}
        before = {name: peak_rss_mib(pids[name]) for name in ("gateway", "fulfillment")}

        conn = http.client.HTTPConnection(urllib.parse.urlsplit(base).netloc, timeout=120)
        page_ms, seen, cursor = [], 0, ""
        started = time.perf_counter()
        while True:
            t0 = time.perf_counter()
            query = urllib.parse.urlencode({"limit": args.page, **({"cursor": cursor} if cursor else {})})
            status, body = get(conn, f"/v1/statements/{PERIOD}?{query}", key)
            page_ms.append((time.perf_counter() - t0) * 1000)
            assert status == 200, body[:300]
            doc = json.loads(body)
            seen += len(doc["items"])
            cursor = doc["next_cursor"]
            if not cursor:
                break
        listed = time.perf_counter() - started

        t0 = time.perf_counter()
        status, body = get(conn, f"/v1/statements/{PERIOD}.csv", key)
        exported = time.perf_counter() - t0
        assert status == 200, body[:300]
        rows = body.count(b"\n") - 1
        after = {name: peak_rss_mib(pids[name]) for name in ("gateway", "fulfillment")}

        print("| step | figure |\n|---|---|")
        print(f"| list all {seen:,} lines, {len(page_ms)} pages of {args.page} | {listed:.2f} s "
              f"({seen / listed:,.0f} lines/s); page p50 {statistics.median(page_ms):.1f} ms, "
              f"max {max(page_ms):.1f} ms |")
        print(f"| CSV export, {rows:,} rows, {len(body) / 1e6:.1f} MB | {exported:.2f} s "
              f"({rows / exported:,.0f} rows/s) |")
        for name in ("gateway", "fulfillment"):
            print(f"| {name} peak RSS before → after | {before[name]:.0f} → {after[name]:.0f} MiB |")


if __name__ == "__main__":
    main()
