"""An in-memory unit of work for the catalog's handlers: the operations of ``SqlUnitOfWork`` on a
dictionary of products, a clock that stands still until told, and the events it announced in
``events`` (as their contracts dump them). test_catalog_handlers.py holds its operations' names and
parameters equal to the SQL one's."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from catalog.domain import ACTIVE, Product
from catalog.errors import ProductExists
from common.contracts import dump


class InMemoryUnitOfWork:
    def __init__(self, now: datetime):
        self.clock = now  # what now() answers; a test moves it on
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.products: dict[str, Product] = {}
        self.written_by: dict[str, str] = {}  # sku → the actor of its last write

    def now(self) -> datetime:
        return self.clock

    def standalone(self) -> None:  # each statement its own transaction: nothing to model in memory
        pass

    # ---- messages ------------------------------------------------------------------------------

    def add_events(self, announcements: Sequence[Any]) -> None:
        self.events.extend(dump(event) for event in announcements)  # through the contracts, as the SQL one

    # ---- the store -----------------------------------------------------------------------------

    def get(self, sku: str, for_update: bool = False) -> Product | None:
        return self.products.get(sku)

    def get_many(self, skus: Iterable[str], for_update: bool = False) -> dict[str, Product]:
        return {sku: self.products[sku] for sku in sorted(set(skus)) if sku in self.products}

    def existing_skus(self, skus: Iterable[str]) -> set[str]:
        return {sku for sku in skus if sku in self.products}

    def insert(self, product: Product, actor: str) -> None:
        if product.sku in self.products:
            raise ProductExists(f"product {product.sku!r} already exists",
                                [{"field": "sku", "message": "already exists"}])
        self.update(product, actor)

    def update(self, product: Product, actor: str) -> None:
        self.products[product.sku] = product
        self.written_by[product.sku] = actor

    def upsert_many(self, products: Iterable[Product], actor: str) -> None:
        for product in products:
            self.update(product, actor)

    def list_page(self, filters: dict[str, Any], after: str | None, limit: int) -> list[Product]:
        def matches(p: Product) -> bool:
            q = (filters.get("q") or "").lower()
            return (all(getattr(p, c) == filters[c] for c in ("status", "lifecycle", "category") if filters.get(c))
                    and (not q or q in p.sku.lower() or q in p.name.lower())
                    and (after is None or p.sku > after))

        return [p for _, p in sorted(self.products.items()) if matches(p)][:limit + 1]

    def lifecycle_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for p in self.products.values():
            if p.status == ACTIVE:
                counts[p.lifecycle] = counts.get(p.lifecycle, 0) + 1
        return counts
