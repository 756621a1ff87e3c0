"""Catalog SQL. Rows become frozen ``Product`` values at this boundary; driver errors become ours."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import psycopg2
import psycopg2.extras

from catalog.domain import ACTIVE, Product
from catalog.errors import ProductExists

COLUMNS = ("sku, name, category, lifecycle, hero, attributes, substitutes, status, version, "
           "created_at, updated_at")


INSERT = ("INSERT INTO products (sku, name, category, lifecycle, hero, attributes, substitutes, status, "
          "version, created_by, updated_by, created_at, updated_at) VALUES ")


def _product(row: dict) -> Product:
    return Product(
        sku=row["sku"], name=row["name"], category=row["category"], lifecycle=row["lifecycle"],
        hero=row["hero"], attributes=row["attributes"], substitutes=tuple(row["substitutes"]),
        status=row["status"], version=row["version"], created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _values(p: Product, actor: str) -> tuple:
    return (p.sku, p.name, p.category, p.lifecycle, p.hero, psycopg2.extras.Json(dict(p.attributes)),
            list(p.substitutes), p.status, p.version, actor, actor, p.created_at, p.updated_at)


def get(cur, sku: str, for_update: bool = False) -> Product | None:
    cur.execute(f"SELECT {COLUMNS} FROM products WHERE sku = %s" + (" FOR UPDATE" if for_update else ""),
                (sku,))
    row = cur.fetchone()
    return _product(row) if row else None


def get_many(cur, skus: Iterable[str], for_update: bool = False) -> dict[str, Product]:
    cur.execute(f"SELECT {COLUMNS} FROM products WHERE sku = ANY(%s) ORDER BY sku"
                + (" FOR UPDATE" if for_update else ""), (list(skus),))
    return {row["sku"]: _product(row) for row in cur.fetchall()}


def existing_skus(cur, skus: Iterable[str]) -> set[str]:
    cur.execute("SELECT sku FROM products WHERE sku = ANY(%s)", (list(skus),))
    return {row["sku"] for row in cur.fetchall()}


def insert(cur, product: Product, actor: str) -> None:
    try:
        cur.execute("SAVEPOINT insert_product")
        cur.execute(INSERT + "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    _values(product, actor))
    except psycopg2.errors.UniqueViolation:
        cur.execute("ROLLBACK TO SAVEPOINT insert_product")
        raise ProductExists(f"product {product.sku!r} already exists",
                            [{"field": "sku", "message": "already exists"}]) from None


def update(cur, product: Product, actor: str) -> None:
    cur.execute(
        "UPDATE products SET name = %s, category = %s, lifecycle = %s, hero = %s, attributes = %s, "
        "substitutes = %s, status = %s, version = %s, updated_by = %s, updated_at = %s WHERE sku = %s",
        (product.name, product.category, product.lifecycle, product.hero,
         psycopg2.extras.Json(dict(product.attributes)), list(product.substitutes), product.status,
         product.version, actor, product.updated_at, product.sku),
    )


def upsert_many(cur, products: Iterable[Product], actor: str) -> None:
    rows = [_values(p, actor) for p in products]
    if not rows:
        return
    psycopg2.extras.execute_values(
        cur,
        INSERT + "%s ON CONFLICT (sku) DO UPDATE SET name = EXCLUDED.name, category = EXCLUDED.category, "
        "lifecycle = EXCLUDED.lifecycle, hero = EXCLUDED.hero, attributes = EXCLUDED.attributes, "
        "substitutes = EXCLUDED.substitutes, status = EXCLUDED.status, version = EXCLUDED.version, "
        "updated_by = EXCLUDED.updated_by, updated_at = EXCLUDED.updated_at",
        rows, page_size=1000,
    )


def list_page(cur, filters: dict[str, Any], after: str | None, limit: int) -> list[Product]:
    """Products ordered by sku after the cursor; fetches ``limit + 1`` to tell if more remain."""
    where, args = [], []
    for column in ("status", "lifecycle", "category"):
        if filters.get(column):
            where.append(f"{column} = %s")
            args.append(filters[column])
    if filters.get("q"):
        pattern = "%" + filters["q"].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where.append("(sku ILIKE %s OR name ILIKE %s)")
        args += [pattern, pattern]
    if after is not None:
        where.append("sku > %s")
        args.append(after)
    sql = f"SELECT {COLUMNS} FROM products"
    if where:
        sql += " WHERE " + " AND ".join(where)
    cur.execute(sql + " ORDER BY sku LIMIT %s", (*args, limit + 1))
    return [_product(r) for r in cur.fetchall()]


def lifecycle_counts(cur) -> dict[str, int]:
    cur.execute("SELECT lifecycle, count(*) AS n FROM products WHERE status = %s GROUP BY lifecycle",
                (ACTIVE,))
    return {row["lifecycle"]: row["n"] for row in cur.fetchall()}
