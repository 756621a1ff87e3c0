"""An operator's check of a running system's invariants, across every service's database.

    python -m common.check            # `make check`: prints each problem, exit 1 if there is any

It reads each service's database (``CATALOG_DATABASE_URL``, …, as `make run` names them) and the
broker (``AMQP_URI``) — an operator's tool, never a service's: services talk only by RPC and events.

What must hold once the system is quiet (no request in flight, outboxes relayed):
- stock: ``0 ≤ reserved ≤ on_hand``, and ``reserved`` is exactly what the open (pending or
  accepted) assignments hold at that location;
- orders: every line of an order that is not cancelled is assigned or back-ordered, once;
- settlement: every shipped assignment has its settlement lines, and each statement's totals are the
  sums of its lines;
- events: no outbox holds an event unpublished for longer than ``grace`` seconds; every read model
  (fulfilment's distributors and locations, pricing's distributors and products) agrees with the
  service that owns the facts; no dead letters wait.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass

import psycopg2
import psycopg2.extras
from kombu import Connection, Queue

from common.config import DEFAULT_PG
from common.entrypoints import dead_letter_queue
from common.topology import BACKENDS

SERVICES = BACKENDS  # each with its database, outbox and dead-letter queue

STOCK_VS_OPEN_ASSIGNMENTS = """
WITH open_lines AS (
    SELECT a.location_id, l->>'sku' AS sku, sum((l->>'qty')::bigint) AS qty
      FROM assignments a, jsonb_array_elements(a.lines) l
     WHERE a.status IN ('pending', 'accepted')
     GROUP BY 1, 2)
SELECT coalesce(s.location_id, o.location_id) AS location_id, coalesce(s.sku, o.sku) AS sku,
       s.on_hand, s.reserved, coalesce(o.qty, 0) AS open_qty
  FROM stock s FULL JOIN open_lines o ON o.location_id = s.location_id AND o.sku = s.sku
 WHERE s.sku IS NULL OR s.reserved <> coalesce(o.qty, 0) OR s.reserved < 0 OR s.reserved > s.on_hand
 ORDER BY 1, 2
"""

ORDER_LINES_ACCOUNTED = """
WITH ordered AS (
    SELECT o.id, l->>'sku' AS sku, sum((l->>'qty')::bigint) AS qty
      FROM orders o, jsonb_array_elements(o.lines) l WHERE o.status <> 'cancelled' GROUP BY 1, 2),
placed AS (
    SELECT a.order_id AS id, l->>'sku' AS sku, sum((l->>'qty')::bigint) AS qty
      FROM assignments a, jsonb_array_elements(a.lines) l
     WHERE a.status IN ('pending', 'accepted', 'shipped') GROUP BY 1, 2),
waiting AS (
    SELECT o.id, b->>'sku' AS sku, sum((b->>'qty')::bigint) AS qty
      FROM orders o, jsonb_array_elements(o.backordered) b WHERE o.status <> 'cancelled'
     GROUP BY 1, 2)
SELECT d.id, d.sku, d.qty AS ordered, coalesce(p.qty, 0) AS placed, coalesce(w.qty, 0) AS waiting
  FROM ordered d LEFT JOIN placed p USING (id, sku) LEFT JOIN waiting w USING (id, sku)
 WHERE d.qty <> coalesce(p.qty, 0) + coalesce(w.qty, 0)
 ORDER BY 1, 2
"""

# settlement: a statement's totals are the sums of its lines, and every shipped assignment has its lines
STATEMENT_TOTALS = """
WITH sums AS (
    SELECT distributor_id, period, count(*) AS lines, sum(gross) AS gross, sum(commission) AS commission,
           sum(net) AS net FROM settlement_lines GROUP BY 1, 2)
SELECT s.distributor_id, s.period, s.lines, s.gross, s.net, coalesce(x.lines, 0) AS sum_lines,
       coalesce(x.gross, 0) AS sum_gross, coalesce(x.net, 0) AS sum_net
  FROM statements s LEFT JOIN sums x USING (distributor_id, period)
 WHERE s.lines <> coalesce(x.lines, 0) OR s.gross <> coalesce(x.gross, 0)
    OR s.commission <> coalesce(x.commission, 0) OR s.net <> coalesce(x.net, 0)
 ORDER BY 1, 2
"""

SHIPPED_UNSETTLED = """
SELECT a.id FROM assignments a
 WHERE a.status = 'shipped'
   AND NOT EXISTS (SELECT 1 FROM settlement_lines l WHERE l.assignment_id = a.id)
 ORDER BY 1 LIMIT 100
"""

STALE_OUTBOX = ("SELECT count(*) AS n, min(occurred_at) AS oldest FROM outbox "
                "WHERE published_at IS NULL AND occurred_at < now() - make_interval(secs => %s)")


@dataclass(frozen=True)
class Problem:
    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


def database_urls(env: dict | None = None) -> dict[str, str]:
    env = os.environ if env is None else env
    return {s: env.get(f"{s.upper()}_DATABASE_URL") or f"{DEFAULT_PG}/dcm_{s}" for s in SERVICES}


def _rows(url: str, sql: str, params: Iterable = ()) -> list[dict]:
    conn = psycopg2.connect(url)
    try:
        with conn, conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
            cur.execute(sql, tuple(params))
            return list(cur.fetchall())
    finally:
        conn.close()


def check_stock(fulfillment_url: str) -> list[Problem]:
    return [Problem("fulfillment.stock",
                    f"location {r['location_id']} sku {r['sku']}: on_hand={r['on_hand']} "
                    f"reserved={r['reserved']} but open assignments hold {r['open_qty']}")
            for r in _rows(fulfillment_url, STOCK_VS_OPEN_ASSIGNMENTS)]


def check_orders(fulfillment_url: str) -> list[Problem]:
    return [Problem("fulfillment.orders",
                    f"order {r['id']} sku {r['sku']}: ordered {r['ordered']}, placed {r['placed']}, "
                    f"back-ordered {r['waiting']}")
            for r in _rows(fulfillment_url, ORDER_LINES_ACCOUNTED)]


def check_settlement(fulfillment_url: str) -> list[Problem]:
    problems = [Problem("fulfillment.statements",
                        f"distributor {r['distributor_id']} {r['period']}: statement says {r['lines']} lines, "
                        f"gross {r['gross']}, net {r['net']}; its lines sum to {r['sum_lines']}, "
                        f"{r['sum_gross']}, {r['sum_net']}")
                for r in _rows(fulfillment_url, STATEMENT_TOTALS)]
    return problems + [Problem("fulfillment.settlement", f"assignment {r['id']} shipped but not settled")
                       for r in _rows(fulfillment_url, SHIPPED_UNSETTLED)]


def check_outboxes(urls: dict[str, str], grace: float) -> list[Problem]:
    problems = []
    for service in SERVICES:
        row = _rows(urls[service], STALE_OUTBOX, (grace,))[0]
        if row["n"]:
            problems.append(Problem(f"{service}.outbox", f"{row['n']} events unpublished for over "
                                                         f"{grace:g} s (oldest {row['oldest']})"))
    return problems


def _differences(where: str, owner: dict, copy: dict, fields: tuple[str, ...]) -> list[Problem]:
    """What the read model ``copy`` holds that its owner does not say (or no longer has)."""
    problems = []
    for key in sorted(copy, key=str):
        mine, theirs = owner.get(key), copy[key]
        if mine is None:
            problems.append(Problem(where, f"{key} is in the read model but not at its owner"))
            continue
        for name in fields:
            if mine[name] != theirs[name]:
                problems.append(Problem(where, f"{key}.{name}: owner says {mine[name]!r}, "
                                               f"read model {theirs[name]!r}"))
    return problems


def check_read_models(urls: dict[str, str]) -> list[Problem]:
    """A read model may lack what nobody needed yet (a miss is resolved by RPC on first use), but
    what it holds must be the owner's current state."""
    def by(key, rows):
        return {r[key]: r for r in rows}

    distributors = by("id", _rows(urls["distributors"], "SELECT id, tier, status FROM distributors"))
    locations = by("id", _rows(urls["distributors"],
                               "SELECT id, distributor_id, lat, lon, service_radius_km, active "
                               "FROM locations"))
    products = by("sku", _rows(urls["catalog"], "SELECT sku, status FROM products"))
    pairs = [
        ("fulfillment.distributors", distributors,
         by("id", _rows(urls["fulfillment"], "SELECT id, status FROM distributors")), ("status",)),
        ("fulfillment.locations", locations,
         by("id", _rows(urls["fulfillment"], "SELECT id, distributor_id, lat, lon, "
                                             "service_radius_km, active FROM locations")),
         ("distributor_id", "lat", "lon", "service_radius_km", "active")),
        ("pricing.distributors", distributors,
         by("id", _rows(urls["pricing"], "SELECT id, tier, status FROM distributors")),
         ("tier", "status")),
        ("pricing.products", products,
         by("sku", _rows(urls["pricing"], "SELECT sku, status FROM products")), ("status",)),
    ]
    problems = []
    for where, owner, copy, fields in pairs:
        problems += _differences(where, owner, copy, fields)
    return problems


def check_dead_letters(amqp_uri: str) -> list[Problem]:
    problems = []
    with Connection(amqp_uri) as conn:
        channel = conn.channel()
        for service in SERVICES:
            waiting = Queue(dead_letter_queue(service), durable=True)(channel).queue_declare()
            if waiting.message_count:
                problems.append(Problem(f"{service}.dead-letters",
                                        f"{waiting.message_count} events wait (make dead-letters)"))
    return problems


def check_all(urls: dict[str, str], amqp_uri: str | None, grace: float = 30.0) -> list[Problem]:
    problems = (check_stock(urls["fulfillment"]) + check_orders(urls["fulfillment"])
                + check_settlement(urls["fulfillment"]))
    problems += check_outboxes(urls, grace) + check_read_models(urls)
    if amqp_uri:
        problems += check_dead_letters(amqp_uri)
    return problems


def main() -> int:
    urls = database_urls()
    amqp_uri = os.environ.get("AMQP_URI", "pyamqp://guest:guest@127.0.0.1:5672")
    grace = float(os.environ.get("CHECK_OUTBOX_GRACE_SECONDS", "30"))
    try:
        problems = check_all(urls, amqp_uri, grace)
    except (psycopg2.OperationalError, OSError) as exc:
        print(f"cannot check: {str(exc).strip()}", file=sys.stderr)
        return 2
    for problem in problems:
        print(problem)
    print(f"{len(problems)} problems" if problems else "ok: every invariant holds")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
