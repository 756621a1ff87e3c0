"""Fulfillment SQL: read models, stock with conditional reservations, orders and assignments."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import psycopg2.extras

from fulfillment.domain import MAX_ON_HAND, Location, distance_km

Json = psycopg2.extras.Json

# ---- read models --------------------------------------------------------------------------------


def upsert_distributor(cur, distributor_id: int, status: str, version: int) -> None:
    cur.execute("INSERT INTO distributors (id, status, version) VALUES (%s, %s, %s) "
                "ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, version = EXCLUDED.version "
                "WHERE distributors.version < EXCLUDED.version", (distributor_id, status, version))


def distributor_status(cur, distributor_id: int) -> str | None:
    cur.execute("SELECT status FROM distributors WHERE id = %s", (distributor_id,))
    row = cur.fetchone()
    return row["status"] if row else None


def upsert_location(cur, loc: dict) -> None:
    """Apply a location fact unless a newer one is already here."""
    cur.execute(
        "INSERT INTO locations (id, distributor_id, name, lat, lon, service_radius_km, active, updated_at) "
        "VALUES (%(id)s, %(distributor_id)s, %(name)s, %(lat)s, %(lon)s, %(service_radius_km)s, "
        "%(active)s, %(updated_at)s) ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, "
        "lat = EXCLUDED.lat, lon = EXCLUDED.lon, service_radius_km = EXCLUDED.service_radius_km, "
        "active = EXCLUDED.active, updated_at = EXCLUDED.updated_at "
        "WHERE locations.updated_at <= EXCLUDED.updated_at", loc)


def location(cur, location_id: int) -> dict | None:
    cur.execute("SELECT id, distributor_id, active FROM locations WHERE id = %s", (location_id,))
    return cur.fetchone()


def locations_of(cur, distributor_id: int) -> list[int]:
    cur.execute("SELECT id FROM locations WHERE distributor_id = %s", (distributor_id,))
    return [r["id"] for r in cur.fetchall()]


# ---- candidates for routing ---------------------------------------------------------------------

CANDIDATES_SQL = """
SELECT l.id, l.distributor_id, l.lat, l.lon, l.service_radius_km, l.active,
       coalesce(d.status, 'active') = 'active' AS distributor_active,
       s.skus, s.available, s.fresh
  FROM locations l
  LEFT JOIN distributors d ON d.id = l.distributor_id
  LEFT JOIN LATERAL (
        SELECT array_agg(st.sku) AS skus, array_agg(st.on_hand - st.reserved) AS available,
               array_agg(st.last_synced_at >= %(fresh_since)s) AS fresh
          FROM stock st
         WHERE st.location_id = l.id AND st.sku = ANY(%(skus)s) AND st.on_hand > st.reserved) s ON true
 WHERE earth_box(ll_to_earth(%(lat)s, %(lon)s), %(reach_m)s) @> ll_to_earth(l.lat, l.lon)
   AND earth_distance(ll_to_earth(%(lat)s, %(lon)s), ll_to_earth(l.lat, l.lon))
       <= l.service_radius_km * 1000 * 1.002 + 100
"""


def max_radius_km(cur) -> float:
    cur.execute("SELECT coalesce(max(service_radius_km), 0) AS r FROM locations")
    return float(cur.fetchone()["r"])


def candidates(cur, lat: float, lon: float, skus: list[str], fresh_since: datetime,
               reach_km: float) -> list[Location]:
    """Locations whose service radius (give or take the 0.2 % by which earthdistance's sphere is
    larger than 6371 km: routing decides on haversine) may reach the customer, found through the GiST
    index within ``reach_km`` (the largest radius), each with the available units of ``skus`` split
    into fresh and stale stock: one round trip, plain tuples, since this is the hot path."""
    with cur.connection.cursor() as tcur:
        tcur.execute(CANDIDATES_SQL, {"lat": lat, "lon": lon, "reach_m": reach_km * 1000 * 1.01 + 100,
                                      "skus": skus, "fresh_since": fresh_since})
        rows = tcur.fetchall()
    return [_location(r) for r in rows]


NEAREST_LIMIT = 20
WHOLE_LIMIT = 4
SCAN_LIMIT = 60
KM_PER_EARTH_KM = 6371.0 / 6378.168  # earthdistance's sphere → the 6371 km sphere routing uses

# the nearest SCAN_LIMIT locations by a GiST KNN index scan (it stops there, however dense the
# city); among the eligible ones, nearest first, the few that ship everything from fresh stock and
# the ones with any of the stock — one scan, one round trip
NEAREST_SQL = """
WITH near AS MATERIALIZED (
    SELECT l.id, l.distributor_id, l.lat, l.lon, l.service_radius_km, l.active,
           ll_to_earth(l.lat, l.lon) <-> ll_to_earth(%(lat)s, %(lon)s) AS chord
      FROM locations l
     ORDER BY ll_to_earth(l.lat, l.lon) <-> ll_to_earth(%(lat)s, %(lon)s)
     LIMIT %(scan)s),
eligible AS MATERIALIZED (
    SELECT n.* FROM near n LEFT JOIN distributors d ON d.id = n.distributor_id
     WHERE sec_to_gc(n.chord) <= n.service_radius_km * 1000 * 1.002 + 100
       AND n.active AND coalesce(d.status, 'active') = 'active'
       AND NOT (n.distributor_id = ANY(%(excluded)s))),
whole AS (
    SELECT 'whole' AS kind, e.* FROM eligible e
     WHERE NOT EXISTS (SELECT 1 FROM unnest(%(skus)s::text[], %(qtys)s::integer[]) AS w(sku, qty)
                        WHERE NOT EXISTS (SELECT 1 FROM stock st WHERE st.location_id = e.id AND st.sku = w.sku
                                             AND st.on_hand - st.reserved >= w.qty
                                             AND st.last_synced_at >= %(fresh_since)s))
     ORDER BY e.chord LIMIT %(whole_limit)s),
stocked AS (
    SELECT 'any' AS kind, e.* FROM eligible e
     WHERE EXISTS (SELECT 1 FROM stock st WHERE st.location_id = e.id AND st.sku = ANY(%(skus)s)
                      AND st.on_hand > st.reserved)
     ORDER BY e.chord LIMIT %(limit)s),
pick AS (SELECT * FROM whole UNION ALL SELECT * FROM stocked)
SELECT p.kind, p.id, p.distributor_id, p.lat, p.lon, p.service_radius_km, p.active, true,
       s.skus, s.available, s.fresh,
       (SELECT count(*) FROM near) AS scanned,
       (SELECT sec_to_gc(max(chord)) FROM near) AS window_m
  FROM (SELECT 1) AS one
  LEFT JOIN (pick p CROSS JOIN LATERAL (
        SELECT array_agg(st.sku) AS skus, array_agg(st.on_hand - st.reserved) AS available,
               array_agg(st.last_synced_at >= %(fresh_since)s) AS fresh
          FROM stock st
         WHERE st.location_id = p.id AND st.sku = ANY(%(skus)s) AND st.on_hand > st.reserved) s) ON true
"""


def nearest_candidates(cur, lat: float, lon: float, wanted: dict[str, int], excluded: list[int],
                       fresh_since: datetime, reach_km: float) -> tuple[list[Location], bool, bool]:
    """A short list that decides most orders: the nearest few eligible locations that can ship
    everything from fresh stock, and the nearest eligible locations with any of the stock.

    Returns (locations, complete, whole_known): ``complete`` when nothing was cut off (the short list
    then holds every eligible location with stock); ``whole_known`` unless the cut-off may hide the
    nearest location that ships everything. Each list is a prefix, nearest first, of what routing
    would look at: rows at or beyond the cut (to 0.1 km, for ties) are left out."""
    with cur.connection.cursor() as tcur:
        tcur.execute(NEAREST_SQL, {"lat": lat, "lon": lon, "excluded": excluded, "skus": list(wanted),
                                   "qtys": list(wanted.values()), "fresh_since": fresh_since,
                                   "scan": SCAN_LIMIT, "whole_limit": WHOLE_LIMIT, "limit": NEAREST_LIMIT})
        result = tcur.fetchall()
    scanned, window_m = result[0][11], result[0][12]
    window_edge = None
    if scanned == SCAN_LIMIT and (window_m or 0) / 1000 * KM_PER_EARTH_KM < reach_km * 1.002:
        window_edge = int((window_m / 1000 * KM_PER_EARTH_KM - 0.05) * 10) / 10
    found: dict[int, tuple] = {}
    complete, whole_known = True, True
    for kind, limit in (("whole", WHOLE_LIMIT), ("any", NEAREST_LIMIT)):
        rows = sorted((r[1:] for r in result if r[0] == kind), key=lambda r: distance_km(lat, lon, r[2], r[3]))
        edges = [] if window_edge is None else [window_edge]
        if len(rows) == limit:
            edges.append(round(distance_km(lat, lon, rows[-1][2], rows[-1][3]), 1))
        if edges:
            complete = False
            edge = min(edges)
            rows = [r for r in rows if round(distance_km(lat, lon, r[2], r[3]), 1) < edge]
            if kind == "whole" and not rows:
                whole_known = False
        for r in rows:
            found[r[0]] = r
    return [_location(r) for r in found.values()], complete, whole_known


def _location(r: tuple) -> Location:
    fresh: dict[str, int] = {}
    stale: dict[str, int] = {}
    for sku, available, is_fresh in zip(r[7] or (), r[8] or (), r[9] or (), strict=True):
        (fresh if is_fresh else stale)[sku] = available
    return Location(r[0], r[1], r[2], r[3], r[4], r[5], r[6], fresh, stale)


# ---- stock --------------------------------------------------------------------------------------


def stock_of(cur, location_id: int, after: str | None, limit: int) -> list[dict]:
    cur.execute("SELECT sku, on_hand, reserved, on_hand - reserved AS available, last_synced_at "
                "FROM stock WHERE location_id = %s AND (%s::text IS NULL OR sku > %s) "
                "ORDER BY sku LIMIT %s", (location_id, after, after, limit + 1))
    return cur.fetchall()


def apply_snapshot(cur, location_id: int, items: list[tuple[str, int]], now: datetime) -> list[dict]:
    """Replace the location's stock with ``items`` (unlisted SKUs become 0). Lines that would put
    on_hand below what is reserved are not applied and are returned."""
    cur.execute("CREATE TEMP TABLE IF NOT EXISTS incoming (sku text PRIMARY KEY, on_hand integer) "
                "ON COMMIT DELETE ROWS")
    cur.execute("TRUNCATE incoming")
    # COPY is not available under eventlet's wait callback; two arrays make one round trip too
    cur.execute("INSERT INTO incoming (sku, on_hand) SELECT * FROM unnest(%s::text[], %s::integer[])",
                ([sku for sku, _ in items], [qty for _, qty in items]))
    cur.execute(
        "SELECT i.sku, i.on_hand, s.reserved FROM incoming i JOIN stock s "
        "ON s.location_id = %(loc)s AND s.sku = i.sku WHERE i.on_hand < s.reserved "
        "UNION ALL SELECT s.sku, 0, s.reserved FROM stock s WHERE s.location_id = %(loc)s "
        "AND s.reserved > 0 AND NOT EXISTS (SELECT 1 FROM incoming i WHERE i.sku = s.sku) ORDER BY 1",
        {"loc": location_id})
    rejected = cur.fetchall()
    cur.execute(
        "INSERT INTO stock (location_id, sku, on_hand, reserved, last_synced_at) "
        "SELECT %(loc)s, i.sku, i.on_hand, 0, %(now)s FROM incoming i "
        "LEFT JOIN stock s ON s.location_id = %(loc)s AND s.sku = i.sku "
        "WHERE s.sku IS NULL OR i.on_hand >= s.reserved "
        "ON CONFLICT (location_id, sku) DO UPDATE SET on_hand = EXCLUDED.on_hand, "
        "last_synced_at = EXCLUDED.last_synced_at",
        {"loc": location_id, "now": now})
    cur.execute("UPDATE stock s SET on_hand = 0, last_synced_at = %(now)s WHERE s.location_id = %(loc)s "
                "AND s.reserved = 0 AND NOT EXISTS (SELECT 1 FROM incoming i WHERE i.sku = s.sku)",
                {"loc": location_id, "now": now})
    return rejected


def apply_adjustment(cur, location_id: int, sku: str, delta: int, now: datetime,
                     most: int = MAX_ON_HAND) -> dict | None:
    """Add ``delta`` to on_hand unless that breaks reserved ≤ on_hand ≤ ``most``; None if it would.
    The test is made in bigint, so a sum beyond the integer column is a refusal, not an error."""
    cur.execute("INSERT INTO stock (location_id, sku, on_hand, reserved, last_synced_at) "
                "VALUES (%s, %s, 0, 0, %s) ON CONFLICT DO NOTHING", (location_id, sku, now))
    cur.execute("UPDATE stock SET on_hand = on_hand + %(delta)s, last_synced_at = %(now)s "
                "WHERE location_id = %(loc)s AND sku = %(sku)s "
                "AND on_hand::bigint + %(delta)s BETWEEN reserved AND %(most)s "
                "RETURNING sku, on_hand, reserved",
                {"delta": delta, "now": now, "loc": location_id, "sku": sku, "most": most})
    return cur.fetchone()


def claim_request(cur, key: str, fingerprint: str) -> dict | None:
    """Take ``key`` for this transaction; None if it is new, else what its first application
    answered (``{"fingerprint", "result"}``). A concurrent first application holds the row until it
    commits (then its answer is returned) or rolls back (then the key is this one's)."""
    cur.execute("INSERT INTO applied_requests (key, fingerprint, result, applied_at) "
                "VALUES (%s, %s, 'null', now()) ON CONFLICT (key) DO NOTHING RETURNING key",
                (key, fingerprint))
    if cur.fetchone() is not None:
        return None
    cur.execute("SELECT fingerprint, result FROM applied_requests WHERE key = %s", (key,))
    return cur.fetchone()


def record_request(cur, key: str, result: dict) -> None:
    cur.execute("UPDATE applied_requests SET result = %s WHERE key = %s",
                (psycopg2.extras.Json(result), key))


def current_stock(cur, location_id: int, sku: str) -> dict | None:
    cur.execute("SELECT on_hand, reserved FROM stock WHERE location_id = %s AND sku = %s",
                (location_id, sku))
    return cur.fetchone()


def reserve(cur, location_id: int, sku: str, qty: int) -> bool:
    """Take ``qty`` available units or nothing: the condition makes overselling impossible."""
    cur.execute("UPDATE stock SET reserved = reserved + %s WHERE location_id = %s AND sku = %s "
                "AND on_hand - reserved >= %s", (qty, location_id, sku, qty))
    return cur.rowcount == 1


def release(cur, location_id: int, sku: str, qty: int) -> None:
    cur.execute("UPDATE stock SET reserved = reserved - %s WHERE location_id = %s AND sku = %s",
                (qty, location_id, sku))


def consume(cur, location_id: int, sku: str, qty: int) -> None:
    """A shipment leaves: its reservation and its units go."""
    cur.execute("UPDATE stock SET reserved = reserved - %s, on_hand = on_hand - %s "
                "WHERE location_id = %s AND sku = %s", (qty, qty, location_id, sku))


# ---- orders and assignments ---------------------------------------------------------------------

ORDER_COLUMNS = ("id, channel, external_id, ship_to, lat, lon, lines, retail, substitutes, retail_total, "
                 "status, backordered, excluded_distributors, explanation, created_at, updated_at")
ASSIGNMENT_COLUMNS = ("id, order_id, distributor_id, location_id, distance_km, lines, status, stale_stock, "
                      "reason, carrier, tracking_no, created_at, updated_at")


def insert_order(cur, channel: str, fields: dict, retail: dict, substitutes: dict, retail_total,
                 now: datetime) -> int | None:
    """None when the channel already has an order with this external_id."""
    cur.execute(
        "INSERT INTO orders (channel, external_id, ship_to, lat, lon, lines, retail, substitutes, "
        "retail_total, status, created_at, updated_at) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, 'new', %s, %s) "
        "ON CONFLICT (channel, external_id) DO NOTHING RETURNING id",
        (channel, fields["external_id"], Json(fields["ship_to"]), fields["ship_to"]["lat"],
         fields["ship_to"]["lon"], Json(fields["lines"]), Json(retail), Json(substitutes), retail_total,
         now, now))
    row = cur.fetchone()
    return row["id"] if row else None


def order_by_external_id(cur, channel: str, external_id: str) -> dict | None:
    cur.execute(f"SELECT {ORDER_COLUMNS} FROM orders WHERE channel = %s AND external_id = %s",
                (channel, external_id))
    return cur.fetchone()


def order(cur, order_id: int, for_update: bool = False) -> dict | None:
    cur.execute(f"SELECT {ORDER_COLUMNS} FROM orders WHERE id = %s" + (" FOR UPDATE" if for_update else ""),
                (order_id,))
    return cur.fetchone()


def ship_to_of(cur, order_ids: list[int]) -> dict[int, dict]:
    cur.execute("SELECT id, ship_to FROM orders WHERE id = ANY(%s)", (order_ids,))
    return {r["id"]: r["ship_to"] for r in cur.fetchall()}


def save_order(cur, order_id: int, status: str, backordered: list, excluded: Iterable[int],
               explanation: list, now: datetime) -> None:
    cur.execute("UPDATE orders SET status = %s, backordered = %s, excluded_distributors = %s, "
                "explanation = %s, updated_at = %s WHERE id = %s",
                (status, Json(backordered), sorted(excluded), Json(explanation), now, order_id))


# what a list shows: not the explanation (the largest column), nor what only routing reads
ORDER_LIST_COLUMNS = "id, channel, external_id, ship_to, lines, retail_total, status, backordered, created_at"
ORDER_FILTERS = {  # query filter → condition (each has an index: 0002_order_search.sql)
    "channel": "channel = %s",
    "status": "status = %s",
    "external_id": "external_id = %s",
    "distributor_id": "id IN (SELECT a.order_id FROM assignments a WHERE a.distributor_id = %s)",
    "created_from": "created_at >= %s",
    "created_to": "created_at < %s",
}


def list_orders(cur, filters: dict[str, Any], after: int | None, limit: int) -> list[dict]:
    """Newest first (by id), every given filter holding; ``after`` is the last id of the page before."""
    where, args = [], []
    for name, condition in ORDER_FILTERS.items():
        if filters.get(name) is not None:
            where.append(condition)
            args.append(filters[name])
    if after is not None:
        where.append("id < %s")
        args.append(after)
    sql = f"SELECT {ORDER_LIST_COLUMNS} FROM orders" + (" WHERE " + " AND ".join(where) if where else "")
    cur.execute(sql + " ORDER BY id DESC LIMIT %s", (*args, limit + 1))
    return cur.fetchall()


def insert_assignment(cur, order_id: int, shipment, now: datetime) -> int:
    cur.execute(
        "INSERT INTO assignments (order_id, distributor_id, location_id, distance_km, lines, status, "
        "stale_stock, created_at, updated_at) VALUES (%s, %s, %s, %s, %s, 'pending', %s, %s, %s) RETURNING id",
        (order_id, shipment.distributor_id, shipment.location_id, shipment.distance_km,
         Json([{"sku": sku, "qty": qty} for sku, qty in shipment.lines]), shipment.stale, now, now))
    return cur.fetchone()["id"]


def assignments_of(cur, order_ids: list[int]) -> list[dict]:
    cur.execute(f"SELECT {ASSIGNMENT_COLUMNS} FROM assignments WHERE order_id = ANY(%s) ORDER BY id",
                (order_ids,))
    return cur.fetchall()


def assignment(cur, assignment_id: int, for_update: bool = False) -> dict | None:
    cur.execute(f"SELECT {ASSIGNMENT_COLUMNS} FROM assignments WHERE id = %s"
                + (" FOR UPDATE" if for_update else ""), (assignment_id,))
    return cur.fetchone()


def set_assignment(cur, assignment_id: int, status: str, now: datetime, reason: str | None = None,
                   carrier: str | None = None, tracking_no: str | None = None) -> None:
    cur.execute("UPDATE assignments SET status = %s, updated_at = %s, reason = coalesce(%s, reason), "
                "carrier = coalesce(%s, carrier), tracking_no = coalesce(%s, tracking_no) WHERE id = %s",
                (status, now, reason, carrier, tracking_no, assignment_id))


def distributor_assignments(cur, distributor_id: int, status: str | None, after: int | None,
                            limit: int) -> list[dict]:
    cur.execute(f"SELECT {ASSIGNMENT_COLUMNS} FROM assignments WHERE distributor_id = %s "
                "AND (%s::text IS NULL OR status = %s) AND (%s::bigint IS NULL OR id > %s) "
                "ORDER BY id LIMIT %s", (distributor_id, status, status, after, after, limit + 1))
    return cur.fetchall()


def open_assignments(cur, distributor_id: int | None = None, location_id: int | None = None) -> list[dict]:
    cur.execute(f"SELECT {ASSIGNMENT_COLUMNS} FROM assignments WHERE status IN ('pending', 'accepted') "
                "AND (%s::bigint IS NULL OR distributor_id = %s) AND (%s::bigint IS NULL OR location_id = %s) "
                "ORDER BY id", (distributor_id, distributor_id, location_id, location_id))
    return cur.fetchall()


def overdue_assignments(cur, older_than: datetime, limit: int = 100) -> list[dict]:
    cur.execute(f"SELECT {ASSIGNMENT_COLUMNS} FROM assignments WHERE status = 'pending' "
                "AND created_at < %s ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED", (older_than, limit))
    return cur.fetchall()
