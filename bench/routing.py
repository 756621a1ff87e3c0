"""Routing at scale: 10,000 and 100,000 active locations spread around real city centres, 200 SKUs
each. Prints p50/p99 of the routing step (largest radius + candidate query + decision + reservation,
as the service runs it) for 3-line orders, POST /v1/orders end to end at 1 connection, contended reservations per
second on one SKU, and the time to apply a 100,000-line snapshot.

    .venv/bin/python bench/routing.py [--sizes 10000,100000] [--orders 300]
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta

import psycopg2
import psycopg2.extras
from harness import DATABASE_URLS, issue, running_system  # puts the services on sys.path

# isort: split
from fulfillment import domain, handlers, store

CITIES = [  # (name, lat, lon)
    ("Beijing", 39.90, 116.41), ("Shanghai", 31.23, 121.47), ("Guangzhou", 23.13, 113.26),
    ("Shenzhen", 22.54, 114.06), ("Chengdu", 30.66, 104.07), ("Chongqing", 29.56, 106.55),
    ("Hangzhou", 30.27, 120.16), ("Wuhan", 30.59, 114.31), ("Xi'an", 34.34, 108.94),
    ("Nanjing", 32.06, 118.80), ("Tianjin", 39.13, 117.20), ("Suzhou", 31.30, 120.59),
    ("Changsha", 28.23, 112.94), ("Zhengzhou", 34.75, 113.63), ("Shenyang", 41.81, 123.43),
    ("Qingdao", 36.07, 120.38), ("Dalian", 38.91, 121.61), ("Xiamen", 24.48, 118.09),
    ("Kunming", 25.04, 102.71), ("Harbin", 45.80, 126.53), ("Jinan", 36.65, 117.12),
    ("Fuzhou", 26.07, 119.30), ("Hefei", 31.82, 117.23), ("Nanning", 22.82, 108.32),
    ("Guiyang", 26.65, 106.63), ("Lanzhou", 36.06, 103.83), ("Urumqi", 43.83, 87.62),
    ("Hohhot", 40.84, 111.75), ("Shijiazhuang", 38.04, 114.51), ("Taiyuan", 37.87, 112.55),
]
SKUS = 200


def seed(conn, first_id: int, count: int) -> float:
    started = time.perf_counter()
    with conn.cursor() as cur:
        cur.execute("CREATE TEMP TABLE IF NOT EXISTS cities (i int, lat float8, lon float8)")
        cur.execute("TRUNCATE cities")
        psycopg2.extras.execute_values(cur, "INSERT INTO cities VALUES %s",
                                       [(i, lat, lon) for i, (_, lat, lon) in enumerate(CITIES)])
        cur.execute("INSERT INTO distributors (id, status, version) SELECT g, 'active', 1 "
                    "FROM generate_series(%s, %s) g ON CONFLICT DO NOTHING", (first_id, first_id + count - 1))
        cur.execute("INSERT INTO locations (id, distributor_id, name, lat, lon, service_radius_km, active, "
                    "updated_at) SELECT g, g, 'L' || g, c.lat + (random() - 0.5) * 1.2, "
                    "c.lon + (random() - 0.5) * 1.2, 50, true, now() FROM generate_series(%s, %s) g "
                    "JOIN cities c ON c.i = g %% %s", (first_id, first_id + count - 1, len(CITIES)))
        cur.execute("INSERT INTO stock (location_id, sku, on_hand, reserved, last_synced_at) "
                    "SELECT g, 'SKU-' || s, (random() * 12)::int, 0, now() "
                    "FROM generate_series(%s, %s) g, generate_series(1, %s) s",
                    (first_id, first_id + count - 1, SKUS))
    conn.commit()
    with conn.cursor() as cur:
        conn.autocommit = True
        cur.execute("VACUUM ANALYZE locations")
        cur.execute("VACUUM ANALYZE stock")
        # the seed leaves hundreds of MB of dirty pages: flushed now, not by the checkpointer in the
        # middle of the timings that follow (what is measured is routing, not the bulk load)
        cur.execute("CHECKPOINT")
        conn.autocommit = False
    return time.perf_counter() - started


def routing_step(conn, orders: int) -> list[float]:
    """What create_order does between pricing and writing the order (``handlers.route_and_reserve``):
    the decision (the nearest scan, which also reads the largest service radius, as the service does;
    every candidate when the short list does not settle it) and the reservation (rolled back after
    timing, so every order meets the same stock); after 50 untimed orders."""
    rng = random.Random(1)
    fresh_since = datetime.now(UTC) - timedelta(hours=24)
    timings = []
    warm_up = min(50, orders)  # untimed: the first orders read the index pages into memory
    with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
        for _ in range(warm_up + orders):
            _, clat, clon = rng.choice(CITIES)
            lat, lon = clat + rng.uniform(-0.3, 0.3), clon + rng.uniform(-0.3, 0.3)
            lines = [(f"SKU-{s}", rng.randint(1, 3)) for s in rng.sample(range(1, SKUS + 1), 3)]
            wanted = dict(lines)
            t0 = time.perf_counter()
            # the largest radius is read with the nearest scan (or before the candidates), as the service does
            decision, _ = handlers.decide(store.SqlStore(cur), lat, lon, lines, list(wanted),
                                          set(), domain.MAX_SHIPMENTS, fresh_since)
            store.reserve_all(cur, decision.reservations())
            timings.append(time.perf_counter() - t0)
            conn.rollback()
    return sorted(timings[warm_up:])


def largest_radius_ms(conn, times: int = 100) -> list[float]:
    """The one statement of the routing step that reads every location (``max(service_radius_km)``),
    timed alone, in milliseconds, sorted."""
    timings = []
    with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
        for _ in range(times):
            t0 = time.perf_counter()
            store.max_radius_km(cur)
            timings.append((time.perf_counter() - t0) * 1000)
        conn.rollback()
    return sorted(timings)


def contended_reservations(url: str, seconds: float = 5.0, threads: int = 8) -> float:
    setup = psycopg2.connect(url)
    with setup, setup.cursor() as cur:
        cur.execute("INSERT INTO stock VALUES (1, 'HOT', 100000000, 0, now()) ON CONFLICT (location_id, sku) "
                    "DO UPDATE SET on_hand = 100000000, reserved = 0")
    setup.close()
    counts = [0] * threads
    stop = time.perf_counter() + seconds

    def worker(i):
        conn = psycopg2.connect(url)
        with conn.cursor() as cur:
            while time.perf_counter() < stop:
                cur.execute("UPDATE stock SET reserved = reserved + 1 WHERE location_id = 1 AND sku = 'HOT' "
                            "AND on_hand - reserved >= 1")
                conn.commit()
                counts[i] += cur.rowcount
        conn.close()

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return sum(counts) / seconds


def snapshot_seconds(conn) -> float:
    items = [(f"SNAP-{i:06d}", i % 50) for i in range(100_000)]
    with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
        t0 = time.perf_counter()
        store.apply_snapshot(cur, 2, items, datetime.now(UTC))
        conn.commit()
        return time.perf_counter() - t0


def end_to_end(base: str, gateway_db: str, orders: int) -> list[float]:
    manager, channel = issue(gateway_db, "manager"), issue(gateway_db, "channel", channel="tmall")

    def call(method, path, key, body):
        req = urllib.request.Request(f"{base}{path}", method=method, data=json.dumps(body).encode(),
                                     headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
        with urllib.request.urlopen(req) as resp:
            return json.loads(resp.read() or b"null")

    for s in (1, 2, 3):
        call("POST", "/v1/admin/products", manager, {"sku": f"SKU-{s}", "name": f"p{s}", "category": "c",
                                                     "lifecycle": "classic", "status": "active"})
        call("PUT", f"/v1/admin/prices/SKU-{s}", manager, {"list_price": "99.00", "floor_price": "40.00"})
    rng = random.Random(2)
    timings = []
    for i in range(orders):
        _, clat, clon = rng.choice(CITIES)
        body = {"external_id": f"bench-{i}", "ship_to": {"name": "b", "phone": "13800000000", "address": "a",
                                                         "lat": clat, "lon": clon},
                "lines": [{"sku": f"SKU-{s}", "qty": 1} for s in (1, 2, 3)]}
        t0 = time.perf_counter()
        call("POST", "/v1/orders", channel, body)
        timings.append(time.perf_counter() - t0)
    return sorted(timings)


def pct(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(len(values) * q))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--orders", type=int, default=300)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    with running_system() as (base, gateway_db):
        url = DATABASE_URLS["fulfillment"]
        conn = psycopg2.connect(url)
        seeded = 0
        for size in sizes:
            seed_s = seed(conn, seeded + 10, size - seeded)
            seeded = size
            step = routing_step(conn, args.orders)
            e2e = end_to_end(base, gateway_db, 100) if size == sizes[0] else None
            rows.append((size, seed_s, step, e2e))
        reservations = contended_reservations(url)
        snap = snapshot_seconds(conn)
        conn.close()
    print(f"{'locations':>10}{'seed s':>9}{'route p50 ms':>14}{'route p99 ms':>14}{'order e2e p50':>15}"
          f"{'order e2e p99':>15}")
    for size, seed_s, step, e2e in rows:
        e2e_txt = (f"{statistics.median(e2e) * 1000:>15.2f}{pct(e2e, 0.99):>15.2f}" if e2e else f"{'-':>15}{'-':>15}")
        print(f"{size:>10}{seed_s:>9.1f}{statistics.median(step) * 1000:>14.2f}{pct(step, 0.99):>14.2f}{e2e_txt}")
    print(f"contended reservations on one SKU: {reservations:.0f}/s (8 connections; target ≥ 300/s)")
    print(f"100,000-line snapshot applied in {snap:.2f} s (target < 5 s)")
    print("targets: routing p99 < 10 ms at 10k locations, < 50 ms at 100k")


if __name__ == "__main__":
    main()

