"""What the webhooks handlers work through: the store's operations on the worker's one transaction,
and the ports they need of the world (the distributors service, pricing, name resolution)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from common.unit_of_work import SqlWork, on_cursor
from webhooks import store


class SqlUnitOfWork(SqlWork):
    """One worker's unit of work on PostgreSQL, with its ports:

    - ``distributor_active(id) -> bool`` (a suspended or terminated distributor may read, not write);
    - ``catalog_product(distributor_id, sku) -> dict | None`` (the product as that distributor's
      ``GET /v1/catalog/products/{sku}`` shows it, with its unit price);
    - ``resolve(host) -> list[str]`` (the host's addresses)."""

    __slots__ = ("distributor_active", "catalog_product", "resolve")

    def __init__(self, db, *, distributor_active: Callable[[int], bool],
                 catalog_product: Callable[[int, str], dict[str, Any] | None], resolve: Callable[[str], list[str]]):
        super().__init__(db)
        self.distributor_active = distributor_active
        self.catalog_product = catalog_product
        self.resolve = resolve

    lock_party = on_cursor(store.lock_party)
    count_endpoints = on_cursor(store.count_endpoints)
    insert_endpoint = on_cursor(store.insert_endpoint)
    endpoint = on_cursor(store.endpoint)
    endpoints = on_cursor(store.endpoints)
    update_endpoint = on_cursor(store.update_endpoint)
    delete_endpoint = on_cursor(store.delete_endpoint)
    subscribers = on_cursor(store.subscribers)
    anyone_subscribed = on_cursor(store.anyone_subscribed)
    insert_delivery = on_cursor(store.insert_delivery)
    deliveries = on_cursor(store.deliveries)
