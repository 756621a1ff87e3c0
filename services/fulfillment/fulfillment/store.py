"""Fulfillment SQL: read models, stock with conditional reservations, orders and assignments.
Rows become frozen values at this boundary (the domain's, or the small ones below); ``SqlStore``
offers these functions on one cursor, as the unit of work hands them to the handlers."""
from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

import psycopg2.extras

from fulfillment.domain import (
    MAX_ON_HAND,
    Assignment,
    Backorder,
    Location,
    LocationFacts,
    NearestScan,
    NewOrder,
    Order,
    OrderLine,
    OrderSummary,
    Shipment,
    StockMove,
    ships_whole,
)
from fulfillment.settlement import ChannelRate, SettlementLine, Statement, Totals

Json = psycopg2.extras.Json


class LocationOwner(NamedTuple):
    id: int
    distributor_id: int
    active: bool


class StockLevel(NamedTuple):
    sku: str
    on_hand: int
    reserved: int
    last_synced_at: datetime | None = None

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


class RejectedLine(NamedTuple):
    """A snapshot line not applied: it would put on_hand below what is reserved."""

    sku: str
    on_hand: int
    reserved: int


class AppliedRequest(NamedTuple):
    """What a request key's first application answered, and the request it answered."""

    fingerprint: str
    result: Any


# ---- read models --------------------------------------------------------------------------------


def upsert_distributor(cur, distributor_id: int, status: str, version: int) -> None:
    cur.execute("INSERT INTO distributors (id, status, version) VALUES (%s, %s, %s) "
                "ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, version = EXCLUDED.version "
                "WHERE distributors.version < EXCLUDED.version", (distributor_id, status, version))


def distributor_status(cur, distributor_id: int) -> str | None:
    cur.execute("SELECT status FROM distributors WHERE id = %s", (distributor_id,))
    row = cur.fetchone()
    return row["status"] if row else None


def upsert_location(cur, loc: LocationFacts) -> None:
    """Apply a location fact unless a newer one is already here."""
    cur.execute(
        "INSERT INTO locations (id, distributor_id, name, lat, lon, service_radius_km, active, updated_at) "
        "VALUES (%(id)s, %(distributor_id)s, %(name)s, %(lat)s, %(lon)s, %(service_radius_km)s, "
        "%(active)s, %(updated_at)s) ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, "
        "lat = EXCLUDED.lat, lon = EXCLUDED.lon, service_radius_km = EXCLUDED.service_radius_km, "
        "active = EXCLUDED.active, updated_at = EXCLUDED.updated_at "
        "WHERE locations.updated_at <= EXCLUDED.updated_at", dataclasses.asdict(loc))


def location(cur, location_id: int) -> LocationOwner | None:
    cur.execute("SELECT id, distributor_id, active FROM locations WHERE id = %s", (location_id,))
    row = cur.fetchone()
    return LocationOwner(row["id"], row["distributor_id"], row["active"]) if row else None


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
KM_PER_EARTH_KM = 6371.0 / 6378.168  # earthdistance's sphere → the 6371 km sphere routing uses

# the nearest ``scan`` locations (one of domain.SCAN_LIMITS) by a GiST KNN index scan (it stops there, however dense the
# city), nearest first, each with whether it is eligible and its available units of the ordered SKUs
# (one index probe per location): one scan, one round trip. Which of them ship everything from fresh
# stock and which have any of it is decided in nearest_scan, from these rows. (The distributor's status
# is a scalar subquery so that it is always one index probe, never a hash of every distributor.)
NEAREST_SQL = """
WITH near AS MATERIALIZED (
    SELECT l.id, l.distributor_id, l.lat, l.lon, l.service_radius_km, l.active,
           ll_to_earth(l.lat, l.lon) <-> ll_to_earth(%(lat)s, %(lon)s) AS chord
      FROM locations l
     ORDER BY ll_to_earth(l.lat, l.lon) <-> ll_to_earth(%(lat)s, %(lon)s)
     LIMIT %(scan)s)
SELECT n.id, n.distributor_id, n.lat, n.lon, n.service_radius_km, n.active, true,
       s.skus, s.available, s.fresh, sec_to_gc(n.chord) AS away_m,
       sec_to_gc(n.chord) <= n.service_radius_km * 1000 * 1.002 + 100 AND n.active
         AND coalesce((SELECT d.status FROM distributors d WHERE d.id = n.distributor_id), 'active') = 'active'
         AND NOT (n.distributor_id = ANY(%(excluded)s)) AS eligible,
       (SELECT max(l2.service_radius_km) FROM locations l2) AS reach
  FROM near n
  LEFT JOIN LATERAL (
        SELECT array_agg(st.sku) AS skus, array_agg(st.on_hand - st.reserved) AS available,
               array_agg(st.last_synced_at >= %(fresh_since)s) AS fresh
          FROM stock st
         WHERE st.location_id = n.id AND st.sku = ANY(%(skus)s) AND st.on_hand > st.reserved) s ON true
 ORDER BY n.chord
"""


def nearest_scan(cur, lat: float, lon: float, wanted: Mapping[str, int], excluded: Sequence[int],
                 fresh_since: datetime, scan: int) -> NearestScan:
    """The nearest ``scan`` locations by the GiST index and, among the eligible ones, nearest
    first, at most ``WHOLE_LIMIT`` that ship everything ``wanted`` from fresh stock and at most
    ``NEAREST_LIMIT`` with any of the stock (``domain.short_list`` decides what they settle)."""
    with cur.connection.cursor() as tcur:
        tcur.execute(NEAREST_SQL, {"lat": lat, "lon": lon, "excluded": list(excluded), "skus": list(wanted),
                                   "fresh_since": fresh_since, "scan": scan})
        rows = tcur.fetchall()
    whole: list[Location] = []
    stocked: list[Location] = []
    for r in rows:
        if not r[11]:  # not eligible
            continue
        loc = _location(r)
        if len(whole) < WHOLE_LIMIT and ships_whole(wanted, loc.fresh):
            whole.append(loc)
        if r[7] and len(stocked) < NEAREST_LIMIT:  # any of the stock
            stocked.append(loc)
        if len(whole) == WHOLE_LIMIT and len(stocked) == NEAREST_LIMIT:
            break
    farthest_m = max((r[10] for r in rows), default=None)
    return NearestScan(
        whole=tuple(whole), stocked=tuple(stocked), scanned=len(rows),
        window_km=None if farthest_m is None else farthest_m / 1000 * KM_PER_EARTH_KM,
        scan_limit=scan, whole_limit=WHOLE_LIMIT, stocked_limit=NEAREST_LIMIT,
        reach_km=float(rows[0][12]) if rows else 0.0)  # no row: no location at all


def _location(r: tuple) -> Location:
    fresh: dict[str, int] = {}
    stale: dict[str, int] = {}
    for sku, available, is_fresh in zip(r[7] or (), r[8] or (), r[9] or (), strict=True):
        (fresh if is_fresh else stale)[sku] = available
    return Location(r[0], r[1], r[2], r[3], r[4], r[5], r[6], fresh, stale)


# ---- stock --------------------------------------------------------------------------------------


def stock_of(cur, location_id: int, after: str | None, limit: int) -> list[StockLevel]:
    cur.execute("SELECT sku, on_hand, reserved, last_synced_at "
                "FROM stock WHERE location_id = %s AND (%s::text IS NULL OR sku > %s) "
                "ORDER BY sku LIMIT %s", (location_id, after, after, limit + 1))
    return [StockLevel(r["sku"], r["on_hand"], r["reserved"], r["last_synced_at"]) for r in cur.fetchall()]


def apply_snapshot(cur, location_id: int, items: Sequence[tuple[str, int]], now: datetime) -> list[RejectedLine]:
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
    rejected = [RejectedLine(r["sku"], r["on_hand"], r["reserved"]) for r in cur.fetchall()]
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
                     most: int = MAX_ON_HAND) -> StockLevel | None:
    """Add ``delta`` to on_hand unless that breaks reserved ≤ on_hand ≤ ``most``; None if it would.
    The test is made in bigint, so a sum beyond the integer column is a refusal, not an error."""
    cur.execute("INSERT INTO stock (location_id, sku, on_hand, reserved, last_synced_at) "
                "VALUES (%s, %s, 0, 0, %s) ON CONFLICT DO NOTHING", (location_id, sku, now))
    cur.execute("UPDATE stock SET on_hand = on_hand + %(delta)s, last_synced_at = %(now)s "
                "WHERE location_id = %(loc)s AND sku = %(sku)s "
                "AND on_hand::bigint + %(delta)s BETWEEN reserved AND %(most)s "
                "RETURNING sku, on_hand, reserved",
                {"delta": delta, "now": now, "loc": location_id, "sku": sku, "most": most})
    row = cur.fetchone()
    return StockLevel(row["sku"], row["on_hand"], row["reserved"], now) if row else None


def claim_request(cur, key: str, fingerprint: str) -> AppliedRequest | None:
    """Take ``key`` for this transaction; None if it is new, else what its first application
    answered. A concurrent first application holds the row until it
    commits (then its answer is returned) or rolls back (then the key is this one's)."""
    cur.execute("INSERT INTO applied_requests (key, fingerprint, result, applied_at) "
                "VALUES (%s, %s, 'null', now()) ON CONFLICT (key) DO NOTHING RETURNING key",
                (key, fingerprint))
    if cur.fetchone() is not None:
        return None
    cur.execute("SELECT fingerprint, result FROM applied_requests WHERE key = %s", (key,))
    row = cur.fetchone()
    return AppliedRequest(row["fingerprint"], row["result"])


def record_request(cur, key: str, result: Any) -> None:
    cur.execute("UPDATE applied_requests SET result = %s WHERE key = %s",
                (psycopg2.extras.Json(result), key))


def current_stock(cur, location_id: int, sku: str) -> StockLevel | None:
    cur.execute("SELECT sku, on_hand, reserved, last_synced_at FROM stock WHERE location_id = %s AND sku = %s",
                (location_id, sku))
    row = cur.fetchone()
    return StockLevel(row["sku"], row["on_hand"], row["reserved"], row["last_synced_at"]) if row else None


def reserve_all(cur, moves: Iterable[StockMove]) -> bool:
    """Every one of these reservations, or none: one conditional UPDATE takes each (location, SKU)'s
    units only where enough are available (the condition makes overselling impossible), inside a
    savepoint sent in the same round trip; when one line cannot be taken, rolling back to the
    savepoint gives the others back and releases their row locks (an order that tries again must not
    keep holding rows another order may need)."""
    wanted: dict[tuple[int, str], int] = {}
    for location_id, sku, qty in moves:
        wanted[location_id, sku] = wanted.get((location_id, sku), 0) + qty
    if not wanted:
        return True
    keys = sorted(wanted)
    cur.execute("SAVEPOINT reservation; "
                "UPDATE stock s SET reserved = s.reserved + m.qty "
                "FROM unnest(%s::bigint[], %s::text[], %s::integer[]) AS m(location_id, sku, qty) "
                "WHERE s.location_id = m.location_id AND s.sku = m.sku AND s.on_hand - s.reserved >= m.qty",
                ([k[0] for k in keys], [k[1] for k in keys], [wanted[k] for k in keys]))
    if cur.rowcount == len(keys):
        cur.execute("RELEASE SAVEPOINT reservation")
        return True
    cur.execute("ROLLBACK TO SAVEPOINT reservation; RELEASE SAVEPOINT reservation")
    return False


def release(cur, location_id: int, sku: str, qty: int) -> None:
    cur.execute("UPDATE stock SET reserved = reserved - %s WHERE location_id = %s AND sku = %s",
                (qty, location_id, sku))


def consume(cur, location_id: int, sku: str, qty: int) -> None:
    """A shipment leaves: its reservation and its units go."""
    cur.execute("UPDATE stock SET reserved = reserved - %s, on_hand = on_hand - %s "
                "WHERE location_id = %s AND sku = %s", (qty, qty, location_id, sku))


# ---- orders and assignments ---------------------------------------------------------------------

ORDER_COLUMNS = ("id, channel, external_id, ship_to, geocode, lat, lon, lines, retail, substitutes, retail_total, "
                 "status, backordered, excluded_distributors, explanation, created_at, updated_at")
ASSIGNMENT_COLUMNS = ("id, order_id, distributor_id, location_id, distance_km, lines, status, stale_stock, "
                      "reason, carrier, tracking_no, created_at, updated_at")


def _lines(rows: Iterable[Mapping]) -> tuple[OrderLine, ...]:
    return tuple(OrderLine(r["sku"], r["qty"]) for r in rows)


def _backorders(rows: Iterable[Mapping]) -> tuple[Backorder, ...]:
    return tuple(Backorder(r["sku"], r["qty"], tuple(r["substitutes"]), Decimal(r["refund_amount"])) for r in rows)


def _backorder_json(backordered: Iterable[Backorder]) -> list[dict]:
    return [{"sku": b.sku, "qty": b.qty, "substitutes": list(b.substitutes), "refund_amount": str(b.refund_amount)}
            for b in backordered]


def _order(row: Mapping, assignments: Iterable[Assignment]) -> Order:
    return Order(
        id=row["id"], channel=row["channel"], external_id=row["external_id"], ship_to=row["ship_to"],
        lat=row["lat"], lon=row["lon"], lines=_lines(row["lines"]),
        retail={sku: Decimal(price) for sku, price in row["retail"].items()},
        substitutes={sku: tuple(subs) for sku, subs in row["substitutes"].items()},
        retail_total=row["retail_total"], status=row["status"], created_at=row["created_at"],
        updated_at=row["updated_at"], backordered=_backorders(row["backordered"]),
        excluded_distributors=frozenset(row["excluded_distributors"]), explanation=tuple(row["explanation"]),
        assignments=tuple(assignments), geocode=row["geocode"])


def _assignment(row: Mapping) -> Assignment:
    return Assignment(
        id=row["id"], order_id=row["order_id"], distributor_id=row["distributor_id"],
        location_id=row["location_id"], distance_km=float(row["distance_km"]), lines=_lines(row["lines"]),
        status=row["status"], stale_stock=row["stale_stock"], reason=row["reason"], carrier=row["carrier"],
        tracking_no=row["tracking_no"], created_at=row["created_at"], updated_at=row["updated_at"])


def insert_order(cur, new: NewOrder, now: datetime) -> Order | None:
    """The order as stored (no assignments yet); None when the channel already has an order with
    this external_id."""
    cur.execute(
        "INSERT INTO orders (channel, external_id, ship_to, geocode, lat, lon, lines, retail, substitutes, "
        "retail_total, status, created_at, updated_at) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'new', %s, %s) "
        f"ON CONFLICT (channel, external_id) DO NOTHING RETURNING {ORDER_COLUMNS}",
        (new.channel, new.external_id, Json(dict(new.ship_to)), Json(dict(new.geocode)), new.lat, new.lon,
         Json([{"sku": sku, "qty": qty} for sku, qty in new.lines]),
         Json({sku: str(price) for sku, price in new.retail.items()}),
         Json({sku: list(subs) for sku, subs in new.substitutes.items()}), new.retail_total, now, now))
    row = cur.fetchone()
    return _order(row, ()) if row else None


def _with_assignments(cur, row: Mapping | None) -> Order | None:
    return _order(row, assignments_of(cur, [row["id"]])) if row else None


def order_by_external_id(cur, channel: str, external_id: str) -> Order | None:
    """The channel's order with its assignments."""
    cur.execute(f"SELECT {ORDER_COLUMNS} FROM orders WHERE channel = %s AND external_id = %s",
                (channel, external_id))
    return _with_assignments(cur, cur.fetchone())


def order(cur, order_id: int, for_update: bool = False) -> Order | None:
    """The order with its assignments (``for_update``: the order row locked)."""
    cur.execute(f"SELECT {ORDER_COLUMNS} FROM orders WHERE id = %s" + (" FOR UPDATE" if for_update else ""),
                (order_id,))
    return _with_assignments(cur, cur.fetchone())


def ship_to_of(cur, order_ids: list[int]) -> dict[int, dict]:
    cur.execute("SELECT id, ship_to FROM orders WHERE id = ANY(%s)", (order_ids,))
    return {r["id"]: r["ship_to"] for r in cur.fetchall()}


def save_order(cur, order: Order) -> None:
    """Its status, back-orders, excluded distributors and explanation (its assignments are
    written one by one)."""
    cur.execute("UPDATE orders SET status = %s, backordered = %s, excluded_distributors = %s, "
                "explanation = %s, updated_at = %s WHERE id = %s",
                (order.status, Json(_backorder_json(order.backordered)), sorted(order.excluded_distributors),
                 Json([dict(r) for r in order.explanation]), order.updated_at, order.id))


# what a list shows: not the explanation (the largest column), nor what only routing reads
ORDER_LIST_COLUMNS = ("id, channel, external_id, ship_to, lines, retail_total, status, backordered, created_at, "
                      "geocode")
ORDER_FILTERS = {  # query filter → condition (each has an index: 0002_order_search.sql)
    "channel": "channel = %s",
    "status": "status = %s",
    "external_id": "external_id = %s",
    "distributor_id": "id IN (SELECT a.order_id FROM assignments a WHERE a.distributor_id = %s)",
    "created_from": "created_at >= %s",
    "created_to": "created_at < %s",
}


def list_orders(cur, filters: Mapping[str, Any], after: int | None, limit: int) -> list[OrderSummary]:
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
    return [OrderSummary(r["id"], r["channel"], r["external_id"], r["ship_to"], _lines(r["lines"]),
                         r["retail_total"], r["status"], _backorders(r["backordered"]), r["created_at"],
                         r["geocode"])
            for r in cur.fetchall()]


def insert_assignment(cur, order_id: int, shipment: Shipment, now: datetime) -> Assignment:
    """The assignment as stored."""
    cur.execute(
        "INSERT INTO assignments (order_id, distributor_id, location_id, distance_km, lines, status, "
        "stale_stock, created_at, updated_at) VALUES (%s, %s, %s, %s, %s, 'pending', %s, %s, %s) "
        f"RETURNING {ASSIGNMENT_COLUMNS}",
        (order_id, shipment.distributor_id, shipment.location_id, shipment.distance_km,
         Json([{"sku": sku, "qty": qty} for sku, qty in shipment.lines]), shipment.stale, now, now))
    return _assignment(cur.fetchone())


def assignments_of(cur, order_ids: list[int]) -> list[Assignment]:
    cur.execute(f"SELECT {ASSIGNMENT_COLUMNS} FROM assignments WHERE order_id = ANY(%s) ORDER BY id",
                (order_ids,))
    return [_assignment(r) for r in cur.fetchall()]


def assignment(cur, assignment_id: int, for_update: bool = False) -> Assignment | None:
    cur.execute(f"SELECT {ASSIGNMENT_COLUMNS} FROM assignments WHERE id = %s"
                + (" FOR UPDATE" if for_update else ""), (assignment_id,))
    row = cur.fetchone()
    return _assignment(row) if row else None


def set_assignment(cur, a: Assignment) -> None:
    """Its status, when it changed and the reason, carrier and tracking number it has."""
    cur.execute("UPDATE assignments SET status = %s, updated_at = %s, reason = coalesce(%s, reason), "
                "carrier = coalesce(%s, carrier), tracking_no = coalesce(%s, tracking_no) WHERE id = %s",
                (a.status, a.updated_at, a.reason, a.carrier, a.tracking_no, a.id))


def distributor_assignments(cur, distributor_id: int, status: str | None, after: int | None,
                            limit: int) -> list[Assignment]:
    cur.execute(f"SELECT {ASSIGNMENT_COLUMNS} FROM assignments WHERE distributor_id = %s "
                "AND (%s::text IS NULL OR status = %s) AND (%s::bigint IS NULL OR id > %s) "
                "ORDER BY id LIMIT %s", (distributor_id, status, status, after, after, limit + 1))
    return [_assignment(r) for r in cur.fetchall()]


def open_assignments(cur, distributor_id: int | None = None, location_id: int | None = None) -> list[Assignment]:
    cur.execute(f"SELECT {ASSIGNMENT_COLUMNS} FROM assignments WHERE status IN ('pending', 'accepted') "
                "AND (%s::bigint IS NULL OR distributor_id = %s) AND (%s::bigint IS NULL OR location_id = %s) "
                "ORDER BY id", (distributor_id, distributor_id, location_id, location_id))
    return [_assignment(r) for r in cur.fetchall()]


def overdue_assignments(cur, older_than: datetime, limit: int = 100) -> list[Assignment]:
    cur.execute(f"SELECT {ASSIGNMENT_COLUMNS} FROM assignments WHERE status = 'pending' "
                "AND created_at < %s ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED", (older_than, limit))
    return [_assignment(r) for r in cur.fetchall()]


# ---- settlement ---------------------------------------------------------------------------------


def channel_rate(cur, channel: str) -> Decimal | None:
    cur.execute("SELECT commission_pct FROM channel_rates WHERE channel = %s", (channel,))
    row = cur.fetchone()
    return row["commission_pct"] if row else None


def set_channel_rate(cur, channel: str, pct: Decimal, actor: str, now: datetime) -> ChannelRate:
    cur.execute("INSERT INTO channel_rates (channel, commission_pct, updated_at, updated_by) "
                "VALUES (%s, %s, %s, %s) ON CONFLICT (channel) DO UPDATE SET "
                "commission_pct = EXCLUDED.commission_pct, updated_at = EXCLUDED.updated_at, "
                "updated_by = EXCLUDED.updated_by", (channel, pct, now, actor))
    return ChannelRate(channel, pct, now, actor)


def channel_rates(cur) -> list[ChannelRate]:
    cur.execute("SELECT channel, commission_pct, updated_at, updated_by FROM channel_rates ORDER BY channel")
    return [ChannelRate(r["channel"], r["commission_pct"], r["updated_at"], r["updated_by"])
            for r in cur.fetchall()]


STATEMENT_COLUMNS = "distributor_id, period, status, lines, gross, commission, net, closed_at, closed_by"


def _statement(r: Mapping) -> Statement:
    return Statement(r["distributor_id"], r["period"], r["status"],
                     Totals(r["lines"], r["gross"], r["commission"], r["net"]), r["closed_at"], r["closed_by"])


def statement(cur, distributor_id: int, period: str, for_update: bool = False) -> Statement | None:
    cur.execute(f"SELECT {STATEMENT_COLUMNS} FROM statements WHERE distributor_id = %s AND period = %s"
                + (" FOR UPDATE" if for_update else ""), (distributor_id, period))
    row = cur.fetchone()
    return _statement(row) if row else None


def open_statement_for_update(cur, distributor_id: int, period: str) -> Statement:
    """The statement locked, created open and empty if it did not exist."""
    cur.execute("INSERT INTO statements (distributor_id, period) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                (distributor_id, period))
    return statement(cur, distributor_id, period, for_update=True)


def save_statement(cur, s: Statement) -> None:
    cur.execute("UPDATE statements SET status = %s, lines = %s, gross = %s, commission = %s, net = %s, "
                "closed_at = %s, closed_by = %s WHERE distributor_id = %s AND period = %s",
                (s.status, s.totals.lines, s.totals.gross, s.totals.commission, s.totals.net, s.closed_at,
                 s.closed_by, s.distributor_id, s.period))


def insert_settlement_lines(cur, lines: Sequence[SettlementLine]) -> None:
    psycopg2.extras.execute_values(cur, (
        "INSERT INTO settlement_lines (distributor_id, period, assignment_id, order_id, external_id, channel, "
        "sku, qty, unit_price, gross, commission_pct, commission, net, shipped_at) VALUES %s"),
        [(x.distributor_id, x.period, x.assignment_id, x.order_id, x.external_id, x.channel, x.sku, x.qty,
          x.unit_price, x.gross, x.commission_pct, x.commission, x.net, x.shipped_at) for x in lines])


def list_statements(cur, distributor_id: int | None, period: str | None, after: tuple[str, int] | None,
                    limit: int) -> list[Statement]:
    """Newest period first, then by distributor; ``after`` is the last (period, distributor_id) seen."""
    where, args = [], []
    if distributor_id is not None:
        where.append("distributor_id = %s")
        args.append(distributor_id)
    if period is not None:
        where.append("period = %s")
        args.append(period)
    if after is not None:
        where.append("(period < %s OR (period = %s AND distributor_id > %s))")
        args += [after[0], after[0], after[1]]
    sql = f"SELECT {STATEMENT_COLUMNS} FROM statements" + (" WHERE " + " AND ".join(where) if where else "")
    cur.execute(sql + " ORDER BY period DESC, distributor_id LIMIT %s", (*args, limit + 1))
    return [_statement(r) for r in cur.fetchall()]


LINE_COLUMNS = ("id, assignment_id, distributor_id, order_id, external_id, channel, sku, qty, unit_price, "
                "gross, commission_pct, commission, net, shipped_at")


def statement_lines(cur, distributor_id: int, period: str, after: int | None, limit: int
                    ) -> list[tuple[int, SettlementLine]]:
    """A page of the statement's lines in the order they were recorded, with their ids (the key)."""
    cur.execute(f"SELECT {LINE_COLUMNS} FROM settlement_lines WHERE distributor_id = %s AND period = %s "
                "AND id > %s ORDER BY id LIMIT %s", (distributor_id, period, after or 0, limit + 1))
    return [(r["id"], SettlementLine(r["assignment_id"], r["distributor_id"], r["order_id"], r["external_id"],
                                     r["channel"], r["sku"], r["qty"], r["unit_price"], r["gross"],
                                     r["commission_pct"], r["commission"], r["net"], r["shipped_at"]))
            for r in cur.fetchall()]


class ChannelTotals(NamedTuple):
    channel: str
    gross: Decimal
    commission: Decimal
    net: Decimal


def settlement_summary(cur, period: str) -> tuple[list[ChannelTotals], list[tuple[int, Decimal]]]:
    """The period's totals per channel (gross, commission, net) and each distributor's net."""
    cur.execute("SELECT channel, sum(gross) AS gross, sum(commission) AS commission, sum(net) AS net "
                "FROM settlement_lines WHERE period = %s GROUP BY channel ORDER BY channel", (period,))
    channels = [ChannelTotals(r["channel"], r["gross"], r["commission"], r["net"]) for r in cur.fetchall()]
    cur.execute("SELECT distributor_id, net FROM statements WHERE period = %s ORDER BY distributor_id",
                (period,))
    return channels, [(r["distributor_id"], r["net"]) for r in cur.fetchall()]


class SqlStore:
    """The store's operations on one cursor: what a unit of work hands the handlers."""

    def __init__(self, cur):
        self.cur = cur

    # read models
    def distributor_status(self, distributor_id: int) -> str | None:
        return distributor_status(self.cur, distributor_id)

    def upsert_distributor(self, distributor_id: int, status: str, version: int) -> None:
        upsert_distributor(self.cur, distributor_id, status, version)

    def upsert_location(self, loc: LocationFacts) -> None:
        upsert_location(self.cur, loc)

    def location(self, location_id: int) -> LocationOwner | None:
        return location(self.cur, location_id)

    # routing
    def max_radius_km(self) -> float:
        return max_radius_km(self.cur)

    def candidates(self, lat: float, lon: float, skus: list[str], fresh_since: datetime,
                   reach_km: float) -> list[Location]:
        return candidates(self.cur, lat, lon, skus, fresh_since, reach_km)

    def nearest_scan(self, lat: float, lon: float, wanted: Mapping[str, int], excluded: Sequence[int],
                     fresh_since: datetime, scan: int) -> NearestScan:
        return nearest_scan(self.cur, lat, lon, wanted, excluded, fresh_since, scan)

    # stock
    def stock_of(self, location_id: int, after: str | None, limit: int) -> list[StockLevel]:
        return stock_of(self.cur, location_id, after, limit)

    def apply_snapshot(self, location_id: int, items: Sequence[tuple[str, int]],
                       now: datetime) -> list[RejectedLine]:
        return apply_snapshot(self.cur, location_id, items, now)

    def apply_adjustment(self, location_id: int, sku: str, delta: int, now: datetime) -> StockLevel | None:
        return apply_adjustment(self.cur, location_id, sku, delta, now)

    def current_stock(self, location_id: int, sku: str) -> StockLevel | None:
        return current_stock(self.cur, location_id, sku)

    def claim_request(self, key: str, fingerprint: str) -> AppliedRequest | None:
        return claim_request(self.cur, key, fingerprint)

    def record_request(self, key: str, result: Any) -> None:
        record_request(self.cur, key, result)

    def reserve_all(self, moves: Iterable[StockMove]) -> bool:
        return reserve_all(self.cur, moves)

    def release(self, move: StockMove) -> None:
        release(self.cur, *move)

    def consume(self, move: StockMove) -> None:
        consume(self.cur, *move)

    # orders and assignments
    def insert_order(self, new: NewOrder, now: datetime) -> Order | None:
        return insert_order(self.cur, new, now)

    def order(self, order_id: int, for_update: bool = False) -> Order | None:
        return order(self.cur, order_id, for_update)

    def order_by_external_id(self, channel: str, external_id: str) -> Order | None:
        return order_by_external_id(self.cur, channel, external_id)

    def save_order(self, order: Order) -> None:
        save_order(self.cur, order)

    def list_orders(self, filters: Mapping[str, Any], after: int | None, limit: int) -> list[OrderSummary]:
        return list_orders(self.cur, filters, after, limit)

    def ship_to_of(self, order_ids: list[int]) -> dict[int, dict]:
        return ship_to_of(self.cur, order_ids)

    def insert_assignment(self, order_id: int, shipment: Shipment, now: datetime) -> Assignment:
        return insert_assignment(self.cur, order_id, shipment, now)

    def assignments_of(self, order_ids: list[int]) -> list[Assignment]:
        return assignments_of(self.cur, order_ids)

    def assignment(self, assignment_id: int, for_update: bool = False) -> Assignment | None:
        return assignment(self.cur, assignment_id, for_update)

    def set_assignment(self, a: Assignment) -> None:
        set_assignment(self.cur, a)

    def distributor_assignments(self, distributor_id: int, status: str | None, after: int | None,
                                limit: int) -> list[Assignment]:
        return distributor_assignments(self.cur, distributor_id, status, after, limit)

    def open_assignments(self, distributor_id: int | None = None,
                         location_id: int | None = None) -> list[Assignment]:
        return open_assignments(self.cur, distributor_id, location_id)

    def overdue_assignments(self, older_than: datetime, limit: int = 100) -> list[Assignment]:
        return overdue_assignments(self.cur, older_than, limit)

    # settlement
    def channel_rate(self, channel: str) -> Decimal | None:
        return channel_rate(self.cur, channel)

    def set_channel_rate(self, channel: str, pct: Decimal, actor: str, now: datetime) -> ChannelRate:
        return set_channel_rate(self.cur, channel, pct, actor, now)

    def channel_rates(self) -> list[ChannelRate]:
        return channel_rates(self.cur)

    def statement(self, distributor_id: int, period: str, for_update: bool = False) -> Statement | None:
        return statement(self.cur, distributor_id, period, for_update)

    def open_statement_for_update(self, distributor_id: int, period: str) -> Statement:
        return open_statement_for_update(self.cur, distributor_id, period)

    def save_statement(self, s: Statement) -> None:
        save_statement(self.cur, s)

    def insert_settlement_lines(self, lines: Sequence[SettlementLine]) -> None:
        insert_settlement_lines(self.cur, lines)

    def list_statements(self, distributor_id: int | None, period: str | None, after: tuple[str, int] | None,
                        limit: int) -> list[Statement]:
        return list_statements(self.cur, distributor_id, period, after, limit)

    def statement_lines(self, distributor_id: int, period: str, after: int | None, limit: int
                        ) -> list[tuple[int, SettlementLine]]:
        return statement_lines(self.cur, distributor_id, period, after, limit)

    def settlement_summary(self, period: str) -> tuple[list[ChannelTotals], list[tuple[int, Decimal]]]:
        return settlement_summary(self.cur, period)
