"""Pricing SQL. Rows become frozen domain values at this boundary: no row leaves as a dict."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

import psycopg2.extras

from common.db import Statement
from pricing.domain import (
    DistributorState,
    GreenChannel,
    Observation,
    PriceEntry,
    ProductState,
    Promotion,
    PromotionRecord,
    QuoteInputs,
    Tier,
    VolumeBreak,
)

PRICE_COLUMNS = "id, sku, list_price, floor_price, currency, effective_from, set_by, set_at"
PROMOTION_COLUMNS = ("id, name, discount_pct, starts_at, ends_at, skus, status, green_channel, "
                     "created_by, created_at, decided_by, decided_at, reason")


def bump_price_version(cur) -> int:
    cur.execute("UPDATE price_version SET version = version + 1 RETURNING version")
    return cur.fetchone()["version"]


def price_version(cur) -> int:
    cur.execute("SELECT version FROM price_version")
    return cur.fetchone()["version"]


# ---- list prices --------------------------------------------------------------------------------


def _entry(r: dict) -> PriceEntry:
    return PriceEntry(r["id"], r["sku"], r["list_price"], r["floor_price"], r["currency"],
                      r["effective_from"], r["set_by"], r["set_at"])


def insert_price(cur, sku: str, fields: dict, actor: str, now: datetime) -> None:
    cur.execute("INSERT INTO list_prices (sku, list_price, floor_price, currency, effective_from, "
                "set_by, set_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (sku, fields["list_price"], fields["floor_price"], fields["currency"],
                 fields["effective_from"], actor, now))


def price_entries(cur, skus: Iterable[str]) -> dict[str, list[PriceEntry]]:
    skus = list(skus)
    cur.execute(f"SELECT {PRICE_COLUMNS} FROM list_prices WHERE sku = ANY(%s) "
                "ORDER BY sku, effective_from, id", (skus,))
    out: dict[str, list[PriceEntry]] = {s: [] for s in skus}
    for r in cur.fetchall():
        out[r["sku"]].append(_entry(r))
    return out


# ---- tiers and the green channel ----------------------------------------------------------------


def _tier(r: dict) -> Tier:
    return Tier(r["name"], r["discount_pct"], tuple(
        VolumeBreak(b["min_qty"], Decimal(b["extra_discount_pct"])) for b in r["volume_breaks"]))


def tiers(cur) -> list[Tier]:
    cur.execute("SELECT name, discount_pct, volume_breaks FROM tiers ORDER BY discount_pct DESC, name")
    return [_tier(r) for r in cur.fetchall()]


def tier(cur, name: str) -> Tier | None:
    cur.execute("SELECT name, discount_pct, volume_breaks FROM tiers WHERE name = %s", (name,))
    row = cur.fetchone()
    return _tier(row) if row else None


def save_tier(cur, t: Tier, actor: str, now: datetime) -> None:
    breaks = [{"min_qty": b.min_qty, "extra_discount_pct": str(b.extra_discount_pct)}
              for b in sorted(t.volume_breaks, key=lambda b: b.min_qty)]
    cur.execute("UPDATE tiers SET discount_pct = %s, volume_breaks = %s, updated_by = %s, "
                "updated_at = %s WHERE name = %s",
                (t.discount_pct, psycopg2.extras.Json(breaks), actor, now, t.name))


def green_channel(cur) -> GreenChannel:
    cur.execute("SELECT max_discount_pct, max_duration_hours FROM green_channel")
    r = cur.fetchone()
    return GreenChannel(r["max_discount_pct"], r["max_duration_hours"])


def save_green_channel(cur, g: GreenChannel, actor: str, now: datetime) -> None:
    cur.execute("UPDATE green_channel SET max_discount_pct = %s, max_duration_hours = %s, "
                "updated_by = %s, updated_at = %s", (g.max_discount_pct, g.max_duration_hours, actor, now))


# ---- promotions ---------------------------------------------------------------------------------


def _promotion(r: dict) -> Promotion:
    return Promotion(r["id"], r["name"], r["discount_pct"], r["starts_at"], r["ends_at"],
                     tuple(r["skus"]) if r["skus"] is not None else None, r["status"])


def _record(r: dict) -> PromotionRecord:
    return PromotionRecord(r["id"], r["name"], r["discount_pct"], r["starts_at"], r["ends_at"],
                           tuple(r["skus"]) if r["skus"] is not None else None, r["status"],
                           r["green_channel"], r["created_by"], r["created_at"], r["decided_by"],
                           r["decided_at"], r["reason"])


def insert_promotion(cur, fields: dict, status: str, green: bool, actor: str,
                     now: datetime) -> PromotionRecord:
    cur.execute(
        "INSERT INTO promotions (name, discount_pct, starts_at, ends_at, skus, status, green_channel, "
        f"created_by, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING {PROMOTION_COLUMNS}",
        (fields["name"], fields["discount_pct"], fields["starts_at"], fields["ends_at"],
         fields.get("skus"), status, green, actor, now))
    return _record(cur.fetchone())


def promotion(cur, promotion_id: int, for_update: bool = False) -> PromotionRecord | None:
    cur.execute(f"SELECT {PROMOTION_COLUMNS} FROM promotions WHERE id = %s"
                + (" FOR UPDATE" if for_update else ""), (promotion_id,))
    row = cur.fetchone()
    return _record(row) if row else None


def decide_promotion(cur, promotion_id: int, status: str, actor: str, now: datetime,
                     reason: str | None) -> PromotionRecord:
    cur.execute(f"UPDATE promotions SET status = %s, decided_by = %s, decided_at = %s, reason = %s "
                f"WHERE id = %s RETURNING {PROMOTION_COLUMNS}", (status, actor, now, reason, promotion_id))
    return _record(cur.fetchone())


def list_promotions(cur, status: str | None, after: int | None, limit: int) -> list[PromotionRecord]:
    where, args = [], []
    if status:
        where.append("status = %s")
        args.append(status)
    if after is not None:
        where.append("id > %s")
        args.append(after)
    sql = f"SELECT {PROMOTION_COLUMNS} FROM promotions" + (" WHERE " + " AND ".join(where) if where else "")
    cur.execute(sql + " ORDER BY id LIMIT %s", (*args, limit + 1))
    return [_record(r) for r in cur.fetchall()]


def live_promotions(cur, skus: Iterable[str], at: datetime) -> list[Promotion]:
    """Approved promotions active at ``at`` that cover any of ``skus`` (or every SKU)."""
    cur.execute(f"SELECT {PROMOTION_COLUMNS} FROM promotions WHERE status = 'approved' "
                "AND starts_at <= %s AND ends_at > %s AND (skus IS NULL OR skus && %s)",
                (at, at, list(skus)))
    return [_promotion(r) for r in cur.fetchall()]


_PRICING_INPUTS = """
    SELECT
      (SELECT json_build_object('id', d.id, 'tier', d.tier, 'status', d.status,
                                'version', d.version, 'flagged_for_review', d.flagged_for_review)
         FROM distributors d WHERE d.id = $1) AS distributor,
      (SELECT coalesce(json_agg(json_build_object('sku', p.sku, 'status', p.status,
                                                  'version', p.version{document})), '[]')
         FROM products p WHERE p.sku = ANY($2::text[])) AS products,
      (SELECT coalesce(json_agg(json_build_object(
                'id', e.id, 'sku', e.sku, 'list_price', e.list_price::text,
                'floor_price', e.floor_price::text, 'currency', e.currency,
                'effective_from', e.effective_from, 'set_by', e.set_by, 'set_at', e.set_at)), '[]')
         FROM (SELECT DISTINCT ON (sku) * FROM list_prices
                WHERE sku = ANY($2::text[]) AND effective_from <= $3::timestamptz
                ORDER BY sku, effective_from DESC, id DESC) e) AS prices,
      (SELECT json_build_object('name', t.name, 'discount_pct', t.discount_pct::text,
                                'volume_breaks', t.volume_breaks)
         FROM tiers t WHERE t.name = (SELECT tier FROM distributors WHERE id = $1)) AS tier,
      (SELECT coalesce(json_agg(json_build_object(
                'id', pr.id, 'name', pr.name, 'discount_pct', pr.discount_pct::text,
                'starts_at', pr.starts_at, 'ends_at', pr.ends_at, 'skus', pr.skus,
                'status', pr.status)), '[]')
         FROM promotions pr WHERE pr.status = 'approved' AND pr.starts_at <= $3::timestamptz
          AND pr.ends_at > $3::timestamptz AND (pr.skus IS NULL OR pr.skus && $2::text[])) AS promotions,
      (SELECT version FROM price_version) AS price_version{book}
    """
# what the price book keeps a quote's inputs by (book.py): their version and how long they hold
_BOOK_COLUMNS = """,
      (SELECT version FROM inputs_version) AS inputs_version,
      least((SELECT min(effective_from) FROM list_prices
              WHERE sku = ANY($2::text[]) AND effective_from > $3::timestamptz),
            (SELECT min(CASE WHEN starts_at > $3::timestamptz THEN starts_at ELSE ends_at END)
               FROM promotions WHERE status = 'approved' AND ends_at > $3::timestamptz
                AND (skus IS NULL OR skus && $2::text[]))) AS next_change"""
_INPUTS = {  # (with each product's whole document, with the book's columns) → its statement
    (False, True): Statement("pricing_quote_inputs", _PRICING_INPUTS.format(document="", book=_BOOK_COLUMNS), 3),
    (False, False): Statement("pricing_unit_inputs", _PRICING_INPUTS.format(document="", book=""), 3),
    (True, False): Statement("pricing_view_inputs",
                             _PRICING_INPUTS.format(document=", 'document', p.document", book=""), 3),
    (True, True): Statement("pricing_cached_view_inputs",
                            _PRICING_INPUTS.format(document=", 'document', p.document", book=_BOOK_COLUMNS), 3),
}


def quote_inputs(cur, distributor_id: int, skus: list[str], at: datetime, *, documents: bool = False,
                 book: bool = False) -> QuoteInputs:
    """One round trip instead of six, prepared once per connection; numbers travel as text so they
    stay Decimal. With ``documents``, each product carries the catalog's whole document (a catalog
    view); with ``book``, the inputs carry what the price book keeps them by (a quote)."""
    _INPUTS[(documents, book)].execute(cur, distributor_id, skus, at)
    row = cur.fetchone()
    prices = {e["sku"]: PriceEntry(e["id"], e["sku"], Decimal(e["list_price"]), Decimal(e["floor_price"]),
                                   e["currency"], datetime.fromisoformat(e["effective_from"]), e["set_by"],
                                   datetime.fromisoformat(e["set_at"])) for e in row["prices"]}
    promotions = [Promotion(p["id"], p["name"], Decimal(p["discount_pct"]),
                            datetime.fromisoformat(p["starts_at"]), datetime.fromisoformat(p["ends_at"]),
                            tuple(p["skus"]) if p["skus"] is not None else None, p["status"])
                  for p in row["promotions"]]
    tier_row = row["tier"]
    tier = _tier({**tier_row, "discount_pct": Decimal(tier_row["discount_pct"])}) if tier_row else None
    d = row["distributor"]
    distributor = (DistributorState(d["id"], d["tier"], d["status"], d["version"], d["flagged_for_review"])
                   if d is not None else None)
    products = {p["sku"]: ProductState(p["sku"], p["status"], p["version"], p.get("document"))
                for p in row["products"]}
    return QuoteInputs(distributor, products, prices, tier, promotions, row["price_version"],
                       row.get("inputs_version"), row.get("next_change"))


# ---- quotes and observations --------------------------------------------------------------------


# Several quotes in one statement (pricing/writer.py gathers them). Each gets its id from the
# sequence beside its position, so ids come back in the order the quotes were given; with an
# ``inputs_version`` they are stored only if that is still the current version in this statement's
# snapshot (nothing they were priced from has changed since), else none is and no id comes back.
INSERT_QUOTES = Statement(
    "pricing_insert_quotes",
    "WITH q AS MATERIALIZED ("
    " SELECT nextval('quotes_id_seq') AS id, d, b, c, n"
    " FROM unnest($1::bigint[], $2::text[], $3::timestamptz[]) WITH ORDINALITY AS u(d, b, c, n)"
    " WHERE $4::bigint IS NULL OR EXISTS (SELECT FROM inputs_version WHERE version = $4::bigint)),"
    " stored AS (INSERT INTO quotes (id, distributor_id, body, created_at)"
    " SELECT id, d, b::jsonb, c FROM q)"
    " SELECT id FROM q ORDER BY n", 4)


def insert_quotes(cur, quotes: list[tuple[int, str, datetime]], inputs_version: int | None) -> list[int]:
    """Store ``(distributor_id, body as JSON text, created_at)`` quotes; their ids in the same
    order, or none at all when ``inputs_version`` is given and no longer current."""
    INSERT_QUOTES.execute(cur, [q[0] for q in quotes], [q[1] for q in quotes], [q[2] for q in quotes],
                          inputs_version)
    return [row["id"] for row in cur.fetchall()]


OBSERVATION_COLUMNS = ("o.id, o.channel, o.seller, o.distributor_id, o.sku, o.observed_price, "
                       "o.observed_at, o.source_url, o.result, o.direction, o.expected_price, "
                       "o.deviation_pct, coalesce(d.flagged_for_review, false) AS flagged_for_review")


def insert_observation(cur, fields: dict, distributor_id: int | None, check, actor: str,
                       now: datetime) -> int:
    cur.execute(
        "INSERT INTO observations (channel, seller, distributor_id, sku, observed_price, observed_at, "
        "source_url, result, direction, expected_price, deviation_pct, created_by, created_at) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (fields["channel"], fields["seller"], distributor_id, fields["sku"], fields["observed_price"],
         fields["observed_at"], fields["source_url"], check.result, check.direction,
         check.expected_price, check.deviation_pct, actor, now))
    return cur.fetchone()["id"]


def _observation(r: dict) -> Observation:
    return Observation(r["id"], r["channel"], r["seller"], r["distributor_id"], r["sku"], r["observed_price"],
                       r["observed_at"], r["source_url"], r["result"], r["direction"], r["expected_price"],
                       r["deviation_pct"], r["flagged_for_review"])


def observation(cur, observation_id: int) -> Observation | None:
    cur.execute(f"SELECT {OBSERVATION_COLUMNS} FROM observations o "
                "LEFT JOIN distributors d ON d.id = o.distributor_id WHERE o.id = %s", (observation_id,))
    row = cur.fetchone()
    return _observation(row) if row else None


def violation_times(cur, seller: str, since: datetime, until: datetime) -> list[datetime]:
    cur.execute("SELECT observed_at FROM observations WHERE seller = %s AND result = 'violation' "
                "AND observed_at > %s AND observed_at <= %s", (seller, since, until))
    return [r["observed_at"] for r in cur.fetchall()]


def list_violations(cur, filters: dict, after: list | None, limit: int) -> list[Observation]:
    """By seller (distributor) and time; the cursor is the last (seller, observed_at, id)."""
    where, args = ["o.result = 'violation'"], []
    if filters.get("distributor_id"):
        where.append("o.distributor_id = %s")
        args.append(filters["distributor_id"])
    for key, clause in (("seller", "o.seller = %s"), ("sku", "o.sku = %s"),
                        ("since", "o.observed_at >= %s"), ("until", "o.observed_at < %s")):
        if filters.get(key):
            where.append(clause)
            args.append(filters[key])
    if after is not None:
        where.append("(o.seller, o.observed_at, o.id) > (%s, %s::timestamptz, %s)")
        args += after
    cur.execute(f"SELECT {OBSERVATION_COLUMNS} FROM observations o "
                "LEFT JOIN distributors d ON d.id = o.distributor_id WHERE " + " AND ".join(where)
                + " ORDER BY o.seller, o.observed_at, o.id LIMIT %s", (*args, limit + 1))
    return [_observation(r) for r in cur.fetchall()]


# ---- read models --------------------------------------------------------------------------------


def products(cur, skus: Iterable[str]) -> dict[str, ProductState]:
    cur.execute("SELECT sku, status, version FROM products WHERE sku = ANY(%s)", (list(skus),))
    return {r["sku"]: ProductState(r["sku"], r["status"], r["version"]) for r in cur.fetchall()}


def upsert_product(cur, product: dict) -> None:
    """Apply a product (as the catalog dumps it) unless a newer one is already here: events may
    arrive out of order. A row from before documents were kept takes the document of its version."""
    cur.execute("INSERT INTO products (sku, status, version, document) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (sku) DO UPDATE SET status = EXCLUDED.status, version = EXCLUDED.version, "
                "document = EXCLUDED.document WHERE products.version < EXCLUDED.version "
                "OR (products.version = EXCLUDED.version AND products.document IS NULL)",
                (product["sku"], product["status"], product["version"], psycopg2.extras.Json(product)))


def distributor(cur, distributor_id: int) -> DistributorState | None:
    cur.execute("SELECT id, tier, status, version, flagged_for_review FROM distributors WHERE id = %s",
                (distributor_id,))
    r = cur.fetchone()
    return DistributorState(r["id"], r["tier"], r["status"], r["version"], r["flagged_for_review"]) if r else None


def upsert_distributor(cur, distributor_id: int, tier: str, status: str, version: int) -> None:
    cur.execute("INSERT INTO distributors (id, tier, status, version) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (id) DO UPDATE SET tier = EXCLUDED.tier, status = EXCLUDED.status, "
                "version = EXCLUDED.version WHERE distributors.version < EXCLUDED.version",
                (distributor_id, tier, status, version))


def flag_distributor(cur, distributor_id: int) -> None:
    cur.execute("UPDATE distributors SET flagged_for_review = true WHERE id = %s", (distributor_id,))
