"""What the handlers work with: a unit of work — the store's operations inside one transaction, its
commit, the outbox — and ports to the other services (catalog, pricing, distributors).

``SqlUnitOfWork`` wraps a worker's transaction (``common.db.Transaction``) and its RPC proxies; the
tests' in-memory unit of work implements the same protocols with dictionaries.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

import catalog.errors
import common.errors
import distributors.errors
import pricing.errors
from common.contracts import dump
from common.db import Transaction
from common.errors import NotFound, make_deserializable
from common.outbox import add_events, first_delivery, new_event
from fulfillment.domain import (
    Assignment,
    DistributorFacts,
    Location,
    LocationFacts,
    NearestScan,
    NewOrder,
    Order,
    OrderSummary,
    Product,
    Shipment,
    StockMove,
)
from fulfillment.settlement import ChannelRate, SettlementLine, Statement
from fulfillment.store import AppliedRequest, ChannelTotals, LocationOwner, RejectedLine, SqlStore, StockLevel

# remote errors arrive as the types they were raised as (``except NotFound`` catches the
# distributors service's LocationNotFound), and the gateway maps them by type
make_deserializable(common.errors, catalog.errors, distributors.errors, pricing.errors)


# ---- ports to the other services ----------------------------------------------------------------


class Catalog(Protocol):
    def products(self, skus: Sequence[str]) -> Mapping[str, Product]:
        """The SKUs that exist."""


class Pricing(Protocol):
    def retail_prices(self, skus: Sequence[str]) -> Mapping[str, Decimal]:
        """Retail unit prices in force now; an unpriced SKU is left out."""


class Distributors(Protocol):
    def profile(self, distributor_id: int) -> DistributorFacts | None:
        """None: no such distributor."""

    def location(self, location_id: int) -> LocationFacts | None:
        """None: no such location."""


def location_facts(doc: Mapping[str, Any]) -> LocationFacts:
    """A location as the distributors service's contract carries it (RPC answers and events)."""
    return LocationFacts(id=doc["id"], distributor_id=doc["distributor_id"], name=doc["name"], lat=doc["lat"],
                         lon=doc["lon"], service_radius_km=doc["service_radius_km"], active=doc["active"],
                         updated_at=doc["updated_at"])


def distributor_facts(doc: Mapping[str, Any]) -> DistributorFacts:
    return DistributorFacts(id=doc["id"], status=doc["status"], version=doc.get("version", 1),
                            locations=tuple(location_facts(loc) for loc in doc.get("locations", [])))


class CatalogRpc:
    def __init__(self, proxy):
        self._proxy = proxy

    def products(self, skus: Sequence[str]) -> dict[str, Product]:
        return self.read_products(self._proxy.get_products(list(skus)))

    @staticmethod
    def read_products(answer: Mapping[str, Any]) -> dict[str, Product]:
        return {sku: Product(sku, p["status"], tuple(p["substitutes"])) for sku, p in answer.items()}


class PricingRpc:
    def __init__(self, proxy):
        self._proxy = proxy

    def retail_prices(self, skus: Sequence[str]) -> dict[str, Decimal]:
        return self.read_prices(self._proxy.get_retail_prices(list(skus)))

    @staticmethod
    def read_prices(answer: Mapping[str, Any]) -> dict[str, Decimal]:
        return {sku: Decimal(p["retail_price"]) for sku, p in answer.items()}


class DistributorsRpc:
    def __init__(self, proxy):
        self._proxy = proxy

    def profile(self, distributor_id: int) -> DistributorFacts | None:
        try:
            return distributor_facts(self._proxy.get_profile(distributor_id))
        except NotFound:
            return None

    def location(self, location_id: int) -> LocationFacts | None:
        try:
            return location_facts(self._proxy.get_location(location_id))
        except NotFound:
            return None


# ---- the store and the unit of work -------------------------------------------------------------


class Store(Protocol):
    """The store's operations (``fulfillment.store``), inside the unit of work's transaction."""

    def distributor_status(self, distributor_id: int) -> str | None: ...
    def upsert_distributor(self, distributor_id: int, status: str, version: int) -> None: ...
    def upsert_location(self, loc: LocationFacts) -> None: ...
    def location(self, location_id: int) -> LocationOwner | None: ...

    def max_radius_km(self) -> float: ...
    def candidates(self, lat: float, lon: float, skus: list[str], fresh_since: datetime,
                   reach_km: float) -> list[Location]: ...
    def nearest_scan(self, lat: float, lon: float, wanted: Mapping[str, int], excluded: Sequence[int],
                     fresh_since: datetime, scan: int) -> NearestScan: ...

    def stock_of(self, location_id: int, after: str | None, limit: int) -> list[StockLevel]: ...
    def apply_snapshot(self, location_id: int, items: Sequence[tuple[str, int]],
                       now: datetime) -> list[RejectedLine]: ...
    def apply_adjustment(self, location_id: int, sku: str, delta: int, now: datetime) -> StockLevel | None: ...
    def current_stock(self, location_id: int, sku: str) -> StockLevel | None: ...
    def claim_request(self, key: str, fingerprint: str) -> AppliedRequest | None: ...
    def record_request(self, key: str, result: Any) -> None: ...
    def reserve_all(self, moves: Iterable[StockMove]) -> bool:
        """All of these reservations or none."""
    def release(self, move: StockMove) -> None: ...
    def consume(self, move: StockMove) -> None: ...

    def insert_order(self, new: NewOrder, now: datetime) -> Order | None:
        """The order as stored; None when the channel has one with this external_id already."""
    def order(self, order_id: int, for_update: bool = False) -> Order | None: ...
    def order_by_external_id(self, channel: str, external_id: str) -> Order | None: ...
    def save_order(self, order: Order) -> None: ...
    def list_orders(self, filters: Mapping[str, Any], after: int | None, limit: int) -> list[OrderSummary]: ...
    def ship_to_of(self, order_ids: list[int]) -> dict[int, dict]: ...
    def insert_assignment(self, order_id: int, shipment: Shipment, now: datetime) -> Assignment:
        """The assignment as stored."""
    def assignments_of(self, order_ids: list[int]) -> list[Assignment]: ...
    def assignment(self, assignment_id: int, for_update: bool = False) -> Assignment | None: ...
    def set_assignment(self, a: Assignment) -> None: ...
    def distributor_assignments(self, distributor_id: int, status: str | None, after: int | None,
                                limit: int) -> list[Assignment]: ...
    def open_assignments(self, distributor_id: int | None = None,
                         location_id: int | None = None) -> list[Assignment]: ...
    def overdue_assignments(self, older_than: datetime, limit: int = 100) -> list[Assignment]: ...

    def channel_rate(self, channel: str) -> Decimal | None: ...
    def set_channel_rate(self, channel: str, pct: Decimal, actor: str, now: datetime) -> ChannelRate: ...
    def channel_rates(self) -> list[ChannelRate]: ...
    def statement(self, distributor_id: int, period: str, for_update: bool = False) -> Statement | None: ...
    def open_statement_for_update(self, distributor_id: int, period: str) -> Statement:
        """The statement locked, created open and empty if it did not exist."""
    def save_statement(self, s: Statement) -> None: ...
    def insert_settlement_lines(self, lines: Sequence[SettlementLine]) -> None: ...
    def list_statements(self, distributor_id: int | None, period: str | None, after: tuple[str, int] | None,
                        limit: int) -> list[Statement]: ...
    def statement_lines(self, distributor_id: int, period: str, after: int | None, limit: int
                        ) -> list[tuple[int, SettlementLine]]: ...
    def settlement_summary(self, period: str) -> tuple[list[ChannelTotals], list[tuple[int, Decimal]]]: ...


class UnitOfWork(Protocol):
    store: Store
    catalog: Catalog
    pricing: Pricing
    distributors: Distributors

    def repeatable_read(self) -> None:
        """Read the rest of the unit of work from one snapshot (before its first read)."""

    def order_facts(self, skus: Sequence[str]) -> tuple[Mapping[str, Product], Mapping[str, Decimal]]:
        """The SKUs' products (catalog) and retail prices (pricing), asked of both at once."""

    def first_delivery(self, consumer: str, event_id: str) -> bool:
        """Record that ``consumer`` applied this event; False if it already had."""

    def add_events(self, events: Iterable[Any]) -> None:
        """Events to announce once the unit of work commits (the outbox): instances of
        fulfillment.events, each dumped through its contract."""

    def commit(self) -> None: ...


class SqlUnitOfWork:
    """A worker's transaction and its calls to other services. ``commit`` commits now, before the
    entrypoint answers; what fails rolls back when the worker ends (``common.db.Database``)."""

    def __init__(self, tx: Transaction, *, catalog, pricing, distributors):
        self._tx = tx
        self._store: SqlStore | None = None
        self.catalog = CatalogRpc(catalog)
        self.pricing = PricingRpc(pricing)
        self.distributors = DistributorsRpc(distributors)
        self._proxies = (catalog, pricing)

    def order_facts(self, skus: Sequence[str]) -> tuple[dict[str, Product], dict[str, Decimal]]:
        """Both calls in flight at once: an order waits one round trip for its facts, not two."""
        catalog, pricing = self._proxies
        calls = (catalog.get_products.spawn(list(skus)), pricing.get_retail_prices.spawn(list(skus)))
        answers, errors = [], []
        for call in calls:  # both waited for, so neither is left running unwatched
            try:
                answers.append(call.wait())
            except Exception as exc:  # noqa: BLE001 - the first one is raised below
                errors.append(exc)
        if errors:
            raise errors[0]
        return CatalogRpc.read_products(answers[0]), PricingRpc.read_prices(answers[1])

    @property
    def store(self) -> SqlStore:
        if self._store is None:  # the transaction begins at its first query
            self._store = SqlStore(self._tx.cursor())
        return self._store

    def repeatable_read(self) -> None:
        self._tx.repeatable_read()

    def first_delivery(self, consumer: str, event_id: str) -> bool:
        return first_delivery(self.store.cur, consumer, event_id)

    def add_events(self, events: Iterable[Any]) -> None:
        add_events(self.store.cur, [new_event(*dump(event)) for event in events])

    def commit(self) -> None:
        self._tx.commit()
