"""What pricing's handlers (pricing/handlers.py) work through: the store's operations on the worker's
one transaction, its outbox, and ports to what lies outside the database — the services pricing
asks when a read model misses (catalog, distributors), the container's price book and quote writer.

The transaction itself belongs to the worker (common.db: begun at the first statement, committed
or rolled back before the reply leaves), so a unit of work has no commit of its own. Unit tests give
the handlers an in-memory one with the same operations (tests/pricing_in_memory.py)."""
from __future__ import annotations

from common.unit_of_work import SqlWork, on_cursor
from pricing import store


class SqlUnitOfWork(SqlWork):
    """One worker's unit of work on PostgreSQL (its outbox and processed events: ``SqlWork``)."""

    __slots__ = ("catalog", "distributors", "book", "quotes")

    def __init__(self, db, *, catalog=None, distributors=None, book=None, quotes=None):
        super().__init__(db)
        self.catalog = catalog  # get_products(skus) → {sku: the catalog's product document}
        self.distributors = distributors  # get_profile(distributor_id) → the distributor's document
        self.book = book  # pricing.book.PriceBook
        self.quotes = quotes  # pricing.writer.QuoteWriter

    # ---- messages ------------------------------------------------------------------------------

    # ---- the store -----------------------------------------------------------------------------

    products = on_cursor(store.products)
    upsert_product = on_cursor(store.upsert_product)
    distributor = on_cursor(store.distributor)
    upsert_distributor = on_cursor(store.upsert_distributor)
    flag_distributor = on_cursor(store.flag_distributor)

    insert_price = on_cursor(store.insert_price)
    price_entries = on_cursor(store.price_entries)
    bump_price_version = on_cursor(store.bump_price_version)
    price_version = on_cursor(store.price_version)

    tiers = on_cursor(store.tiers)
    tier = on_cursor(store.tier)
    save_tier = on_cursor(store.save_tier)
    green_channel = on_cursor(store.green_channel)
    save_green_channel = on_cursor(store.save_green_channel)

    insert_promotion = on_cursor(store.insert_promotion)
    promotion = on_cursor(store.promotion)
    decide_promotion = on_cursor(store.decide_promotion)
    list_promotions = on_cursor(store.list_promotions)
    live_promotions = on_cursor(store.live_promotions)

    quote_inputs = on_cursor(store.quote_inputs)

    insert_observation = on_cursor(store.insert_observation)
    observation = on_cursor(store.observation)
    violation_times = on_cursor(store.violation_times)
    list_violations = on_cursor(store.list_violations)
