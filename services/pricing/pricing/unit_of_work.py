"""What pricing's handlers (pricing/handlers.py) work through: the store's operations on the worker's
one transaction, its outbox, and ports to what lies outside the database — the services pricing
asks when a read model misses (catalog, distributors), the container's price book and quote writer.

The transaction itself belongs to the worker (common.db: begun at the first statement, committed
or rolled back before the reply leaves), so a unit of work has no commit of its own. Unit tests give
the handlers an in-memory one with the same operations (tests/pricing_in_memory.py)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from common.outbox import add_events, first_delivery, new_event
from pricing import store


def _on_cursor(operation: Callable) -> Callable:
    """A store function as an operation of the unit of work, run on its cursor."""

    def run(self, *args, **kwargs):
        return operation(self.cursor, *args, **kwargs)

    run.__name__, run.__qualname__, run.__doc__ = operation.__name__, operation.__name__, operation.__doc__
    return run


class SqlUnitOfWork:
    """One worker's unit of work on PostgreSQL; built per entrypoint call, its cursor on first use."""

    __slots__ = ("_db", "_cursor", "catalog", "distributors", "book", "quotes")

    def __init__(self, db, *, catalog=None, distributors=None, book=None, quotes=None):
        self._db = db  # the worker's common.db.Transaction
        self._cursor = None
        self.catalog = catalog  # get_products(skus) → {sku: the catalog's product document}
        self.distributors = distributors  # get_profile(distributor_id) → the distributor's document
        self.book = book  # pricing.book.PriceBook
        self.quotes = quotes  # pricing.writer.QuoteWriter

    @property
    def cursor(self):
        if self._cursor is None:
            self._cursor = self._db.cursor()
        return self._cursor

    def standalone(self) -> None:
        """Each statement from here on is its own transaction (reads of one statement: a quote)."""
        self._db.standalone()

    # ---- messages ------------------------------------------------------------------------------

    def add_event(self, event_type: str, data: dict[str, Any]) -> None:
        """Announce a fact: written to the outbox in this transaction, relayed once it commits."""
        add_events(self.cursor, [new_event(event_type, data)])

    def first_delivery(self, consumer: str, event_id: str) -> bool:
        """True the first time ``consumer`` is handed ``event_id`` (applied once however often)."""
        return first_delivery(self.cursor, consumer, event_id)

    # ---- the store -----------------------------------------------------------------------------

    products = _on_cursor(store.products)
    upsert_product = _on_cursor(store.upsert_product)
    distributor = _on_cursor(store.distributor)
    upsert_distributor = _on_cursor(store.upsert_distributor)
    flag_distributor = _on_cursor(store.flag_distributor)

    insert_price = _on_cursor(store.insert_price)
    price_entries = _on_cursor(store.price_entries)
    bump_price_version = _on_cursor(store.bump_price_version)
    price_version = _on_cursor(store.price_version)

    tiers = _on_cursor(store.tiers)
    tier = _on_cursor(store.tier)
    save_tier = _on_cursor(store.save_tier)
    green_channel = _on_cursor(store.green_channel)
    save_green_channel = _on_cursor(store.save_green_channel)

    insert_promotion = _on_cursor(store.insert_promotion)
    promotion = _on_cursor(store.promotion)
    decide_promotion = _on_cursor(store.decide_promotion)
    list_promotions = _on_cursor(store.list_promotions)
    live_promotions = _on_cursor(store.live_promotions)

    quote_inputs = _on_cursor(store.quote_inputs)

    insert_observation = _on_cursor(store.insert_observation)
    observation = _on_cursor(store.observation)
    violation_times = _on_cursor(store.violation_times)
    list_violations = _on_cursor(store.list_violations)
