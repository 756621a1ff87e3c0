"""An in-memory unit of work for the fulfillment handlers: the store's operations on dictionaries,
a commit that keeps what was written and a rollback that drops what was not committed, an outbox
list, and ports to catalog, pricing and distributors answering from what a test gives them.

It keeps the store's contracts (conditional reservations, the snapshot's and the adjustment's
refusals, the newest fact winning in the read models, lists newest or oldest first with one row
more than the page) but not its SQL: distances are haversine, without earthdistance's margin."""
from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from common.contracts import dump
from fulfillment import domain
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
from fulfillment.settlement import OPEN, ChannelRate, SettlementLine, Statement, Totals
from fulfillment.store import AppliedRequest, ChannelTotals, LocationOwner, RejectedLine, StockLevel


@dataclass
class Tables:
    distributors: dict[int, tuple[str, int]] = field(default_factory=dict)  # id → (status, version)
    locations: dict[int, LocationFacts] = field(default_factory=dict)
    stock: dict[tuple[int, str], StockLevel] = field(default_factory=dict)
    orders: dict[int, Order] = field(default_factory=dict)  # without their assignments
    assignments: dict[int, Assignment] = field(default_factory=dict)
    applied_requests: dict[str, AppliedRequest] = field(default_factory=dict)
    channel_rates: dict[str, ChannelRate] = field(default_factory=dict)
    statements: dict[tuple[int, str], Statement] = field(default_factory=dict)
    settlement_lines: list[tuple[int, SettlementLine]] = field(default_factory=list)
    processed_events: set[tuple[str, str]] = field(default_factory=set)
    outbox: list[tuple[str, dict]] = field(default_factory=list)
    last_id: int = 0


class InMemoryStore:
    """``fulfillment.unit_of_work.Store`` on the unit of work's tables."""

    whole_limit, stocked_limit = 4, 20

    def __init__(self, uow: InMemoryUnitOfWork):
        self._uow = uow
        # called before each reservation attempt: a test stands in for a concurrent order here
        self.before_reserving: Callable[[InMemoryStore], None] | None = None

    @property
    def t(self) -> Tables:
        return self._uow.tables

    def _next_id(self) -> int:
        self.t.last_id += 1
        return self.t.last_id

    # ---- read models ----

    def distributor_status(self, distributor_id: int) -> str | None:
        known = self.t.distributors.get(distributor_id)
        return known[0] if known else None

    def upsert_distributor(self, distributor_id: int, status: str, version: int) -> None:
        known = self.t.distributors.get(distributor_id)
        if known is None or known[1] < version:
            self.t.distributors[distributor_id] = (status, version)

    def upsert_location(self, loc: LocationFacts) -> None:
        known = self.t.locations.get(loc.id)
        if known is None or known.updated_at <= loc.updated_at:
            self.t.locations[loc.id] = loc

    def location(self, location_id: int) -> LocationOwner | None:
        loc = self.t.locations.get(location_id)
        return LocationOwner(loc.id, loc.distributor_id, loc.active) if loc else None

    # ---- routing ----

    def max_radius_km(self) -> float:
        return max((loc.service_radius_km for loc in self.t.locations.values()), default=0.0)

    def _routing_location(self, loc: LocationFacts, skus: Iterable[str], fresh_since: datetime) -> Location:
        fresh, stale = {}, {}
        for sku in skus:
            level = self.t.stock.get((loc.id, sku))
            if level and level.available > 0:
                (fresh if level.last_synced_at >= fresh_since else stale)[sku] = level.available
        status = self.distributor_status(loc.distributor_id) or "active"
        return Location(loc.id, loc.distributor_id, loc.lat, loc.lon, loc.service_radius_km, loc.active,
                        status == "active", fresh, stale)

    def _by_distance(self, lat: float, lon: float) -> list[tuple[float, LocationFacts]]:
        return sorted(((domain.distance_km(lat, lon, loc.lat, loc.lon), loc) for loc in self.t.locations.values()),
                      key=lambda d: (d[0], d[1].id))

    def candidates(self, lat: float, lon: float, skus: list[str], fresh_since: datetime,
                   reach_km: float) -> list[Location]:
        """Within the radius give or take the store's margin (routing decides on the exact distance)."""
        return [self._routing_location(loc, skus, fresh_since) for d, loc in self._by_distance(lat, lon)
                if d <= loc.service_radius_km * 1.002 + 0.1]

    def nearest_scan(self, lat: float, lon: float, wanted: Mapping[str, int], excluded: Sequence[int],
                     fresh_since: datetime, scan: int) -> NearestScan:
        near = self._by_distance(lat, lon)[:scan]
        eligible = [self._routing_location(loc, wanted, fresh_since) for d, loc in near
                    if d <= loc.service_radius_km and loc.active and loc.distributor_id not in excluded
                    and (self.distributor_status(loc.distributor_id) or "active") == "active"]
        whole = [x for x in eligible if all(x.fresh.get(sku, 0) >= qty for sku, qty in wanted.items())]
        stocked = [x for x in eligible if x.fresh or x.stale]
        return NearestScan(tuple(whole[:self.whole_limit]), tuple(stocked[:self.stocked_limit]), len(near),
                           near[-1][0] if near else None, scan, self.whole_limit, self.stocked_limit,
                           self.max_radius_km())

    # ---- stock ----

    def stock_of(self, location_id: int, after: str | None, limit: int) -> list[StockLevel]:
        rows = sorted((level for (loc, _), level in self.t.stock.items() if loc == location_id),
                      key=lambda level: level.sku)
        return [r for r in rows if after is None or r.sku > after][:limit + 1]

    def apply_snapshot(self, location_id: int, items: Sequence[tuple[str, int]],
                       now: datetime) -> list[RejectedLine]:
        listed = dict(items)
        held = {sku: level for (loc, sku), level in self.t.stock.items() if loc == location_id}
        rejected = [RejectedLine(sku, qty, held[sku].reserved) for sku, qty in listed.items()
                    if sku in held and qty < held[sku].reserved]
        rejected += [RejectedLine(sku, 0, level.reserved) for sku, level in held.items()
                     if sku not in listed and level.reserved > 0]
        refused = {r.sku for r in rejected}
        for sku, qty in listed.items():
            if sku not in refused:
                reserved = held[sku].reserved if sku in held else 0
                self.t.stock[location_id, sku] = StockLevel(sku, qty, reserved, now)
        for sku, level in held.items():
            if sku not in listed and level.reserved == 0:
                self.t.stock[location_id, sku] = level._replace(on_hand=0, last_synced_at=now)
        return sorted(rejected, key=lambda r: r.sku)

    def apply_adjustment(self, location_id: int, sku: str, delta: int, now: datetime) -> StockLevel | None:
        level = self.t.stock.setdefault((location_id, sku), StockLevel(sku, 0, 0, now))
        if not level.reserved <= level.on_hand + delta <= domain.MAX_ON_HAND:
            return None
        self.t.stock[location_id, sku] = level._replace(on_hand=level.on_hand + delta, last_synced_at=now)
        return self.t.stock[location_id, sku]

    def current_stock(self, location_id: int, sku: str) -> StockLevel | None:
        return self.t.stock.get((location_id, sku))

    def claim_request(self, key: str, fingerprint: str) -> AppliedRequest | None:
        if key not in self.t.applied_requests:
            self.t.applied_requests[key] = AppliedRequest(fingerprint, None)
            return None
        return self.t.applied_requests[key]

    def record_request(self, key: str, result: Any) -> None:
        self.t.applied_requests[key] = self.t.applied_requests[key]._replace(result=copy.deepcopy(result))

    def _reserve(self, move: StockMove) -> bool:
        level = self.t.stock.get((move.location_id, move.sku))
        if level is None or level.available < move.qty:
            return False
        self.t.stock[move.location_id, move.sku] = level._replace(reserved=level.reserved + move.qty)
        return True

    def reserve_all(self, moves: Iterable[StockMove]) -> bool:
        if self.before_reserving:
            self.before_reserving(self)
        before = dict(self.t.stock)
        if all(self._reserve(move) for move in moves):
            return True
        self.t.stock = before
        return False

    def release(self, move: StockMove) -> None:
        level = self.t.stock[move.location_id, move.sku]
        self.t.stock[move.location_id, move.sku] = level._replace(reserved=level.reserved - move.qty)

    def consume(self, move: StockMove) -> None:
        level = self.t.stock[move.location_id, move.sku]
        self.t.stock[move.location_id, move.sku] = level._replace(
            reserved=level.reserved - move.qty, on_hand=level.on_hand - move.qty)

    # ---- orders and assignments ----

    def insert_order(self, new: NewOrder, now: datetime) -> Order | None:
        if any((o.channel, o.external_id) == (new.channel, new.external_id) for o in self.t.orders.values()):
            return None
        order_id = self._next_id()
        self.t.orders[order_id] = Order(
            id=order_id, channel=new.channel, external_id=new.external_id, ship_to=dict(new.ship_to),
            lat=new.lat, lon=new.lon, geocode=dict(new.geocode), lines=new.lines, retail=dict(new.retail),
            substitutes=dict(new.substitutes), retail_total=new.retail_total, status=domain.NEW, created_at=now,
            updated_at=now)
        return self.t.orders[order_id]

    def _with_assignments(self, order: Order | None) -> Order | None:
        if order is None:
            return None
        return dataclasses.replace(order, assignments=tuple(self.assignments_of([order.id])))

    def order(self, order_id: int, for_update: bool = False) -> Order | None:
        return self._with_assignments(self.t.orders.get(order_id))

    def order_by_external_id(self, channel: str, external_id: str) -> Order | None:
        return self._with_assignments(next((o for o in self.t.orders.values()
                                            if (o.channel, o.external_id) == (channel, external_id)), None))

    def save_order(self, order: Order) -> None:
        self.t.orders[order.id] = dataclasses.replace(
            self.t.orders[order.id], status=order.status, backordered=order.backordered,
            excluded_distributors=order.excluded_distributors, explanation=order.explanation,
            updated_at=order.updated_at)

    def list_orders(self, filters: Mapping[str, Any], after: int | None, limit: int) -> list[OrderSummary]:
        tests = {
            "channel": lambda o, v: o.channel == v, "status": lambda o, v: o.status == v,
            "external_id": lambda o, v: o.external_id == v,
            "distributor_id": lambda o, v: any(a.order_id == o.id and a.distributor_id == v
                                               for a in self.t.assignments.values()),
            "created_from": lambda o, v: o.created_at >= v, "created_to": lambda o, v: o.created_at < v,
        }
        rows = [o for o in sorted(self.t.orders.values(), key=lambda o: -o.id)
                if (after is None or o.id < after)
                and all(test(o, filters[name]) for name, test in tests.items() if filters.get(name) is not None)]
        return [OrderSummary(o.id, o.channel, o.external_id, o.ship_to, o.lines, o.retail_total, o.status,
                             o.backordered, o.created_at, o.geocode) for o in rows[:limit + 1]]

    def ship_to_of(self, order_ids: list[int]) -> dict[int, dict]:
        return {i: self.t.orders[i].ship_to for i in order_ids if i in self.t.orders}

    def insert_assignment(self, order_id: int, shipment: Shipment, now: datetime) -> Assignment:
        assignment_id = self._next_id()
        self.t.assignments[assignment_id] = Assignment(
            assignment_id, order_id, shipment.distributor_id, shipment.location_id, shipment.distance_km,
            tuple(domain.OrderLine(sku, qty) for sku, qty in shipment.lines), domain.PENDING, shipment.stale,
            created_at=now, updated_at=now)
        return self.t.assignments[assignment_id]

    def assignments_of(self, order_ids: list[int]) -> list[Assignment]:
        return [a for _, a in sorted(self.t.assignments.items()) if a.order_id in order_ids]

    def assignment(self, assignment_id: int, for_update: bool = False) -> Assignment | None:
        return self.t.assignments.get(assignment_id)

    def set_assignment(self, a: Assignment) -> None:
        old = self.t.assignments[a.id]
        self.t.assignments[a.id] = dataclasses.replace(
            old, status=a.status, updated_at=a.updated_at,  # the rest as coalesce(given, stored)
            reason=old.reason if a.reason is None else a.reason,
            carrier=old.carrier if a.carrier is None else a.carrier,
            tracking_no=old.tracking_no if a.tracking_no is None else a.tracking_no)

    def distributor_assignments(self, distributor_id: int, status: str | None, after: int | None,
                                limit: int) -> list[Assignment]:
        return [a for _, a in sorted(self.t.assignments.items())
                if a.distributor_id == distributor_id and status in (None, a.status)
                and (after is None or a.id > after)][:limit + 1]

    def open_assignments(self, distributor_id: int | None = None,
                         location_id: int | None = None) -> list[Assignment]:
        return [a for _, a in sorted(self.t.assignments.items()) if a.status in domain.OPEN
                and distributor_id in (None, a.distributor_id) and location_id in (None, a.location_id)]

    def overdue_assignments(self, older_than: datetime, limit: int = 100) -> list[Assignment]:
        return [a for _, a in sorted(self.t.assignments.items())
                if a.status == domain.PENDING and a.created_at < older_than][:limit]

    # ---- settlement ----

    def channel_rate(self, channel: str) -> Decimal | None:
        rate = self.t.channel_rates.get(channel)
        return rate.commission_pct if rate else None

    def set_channel_rate(self, channel: str, pct: Decimal, actor: str, now: datetime) -> ChannelRate:
        self.t.channel_rates[channel] = ChannelRate(channel, pct, now, actor)
        return self.t.channel_rates[channel]

    def channel_rates(self) -> list[ChannelRate]:
        return [self.t.channel_rates[c] for c in sorted(self.t.channel_rates)]

    def statement(self, distributor_id: int, period: str, for_update: bool = False) -> Statement | None:
        return self.t.statements.get((distributor_id, period))

    def open_statement_for_update(self, distributor_id: int, period: str) -> Statement:
        return self.t.statements.setdefault((distributor_id, period),
                                            Statement(distributor_id, period, OPEN, Totals()))

    def save_statement(self, s: Statement) -> None:
        self.t.statements[(s.distributor_id, s.period)] = s

    def insert_settlement_lines(self, lines: Sequence[SettlementLine]) -> None:
        for line in lines:
            if any((x.assignment_id, x.sku) == (line.assignment_id, line.sku) for _, x in self.t.settlement_lines):
                raise AssertionError("unique (assignment_id, sku) violated")  # the table's constraint
            self.t.settlement_lines.append((self._next_id(), line))

    def list_statements(self, distributor_id: int | None, period: str | None, after: tuple[str, int] | None,
                        limit: int) -> list[Statement]:
        rows = sorted(self.t.statements.values(), key=lambda s: (_descending(s.period), s.distributor_id))
        rows = [s for s in rows if distributor_id in (None, s.distributor_id) and period in (None, s.period)
                and (after is None or s.period < after[0] or (s.period == after[0] and s.distributor_id > after[1]))]
        return rows[:limit + 1]

    def statement_lines(self, distributor_id: int, period: str, after: int | None, limit: int
                        ) -> list[tuple[int, SettlementLine]]:
        return [(i, x) for i, x in self.t.settlement_lines
                if (x.distributor_id, x.period) == (distributor_id, period) and i > (after or 0)][:limit + 1]

    def settlement_summary(self, period: str) -> tuple[list[ChannelTotals], list[tuple[int, Decimal]]]:
        by_channel: dict[str, list[SettlementLine]] = {}
        for _, x in self.t.settlement_lines:
            if x.period == period:
                by_channel.setdefault(x.channel, []).append(x)
        channels = [ChannelTotals(c, *(sum((getattr(x, f) for x in xs), Decimal(0))
                                       for f in ("gross", "commission", "net")))
                    for c, xs in sorted(by_channel.items())]
        return channels, [(s.distributor_id, s.totals.net) for (_, p), s in sorted(self.t.statements.items())
                          if p == period]


def _descending(period: str) -> tuple[int, ...]:
    return tuple(-ord(c) for c in period)


class InMemoryCatalog:
    def __init__(self):
        self.known: dict[str, Product] = {}

    def products(self, skus: Sequence[str]) -> dict[str, Product]:
        return {sku: self.known[sku] for sku in skus if sku in self.known}


class InMemoryPricing:
    def __init__(self):
        self.retail: dict[str, Decimal] = {}

    def retail_prices(self, skus: Sequence[str]) -> dict[str, Decimal]:
        return {sku: self.retail[sku] for sku in skus if sku in self.retail}


class InMemoryDistributors:
    def __init__(self):
        self.known: dict[int, DistributorFacts] = {}

    def profile(self, distributor_id: int) -> DistributorFacts | None:
        return self.known.get(distributor_id)

    def location(self, location_id: int) -> LocationFacts | None:
        return next((loc for d in self.known.values() for loc in d.locations if loc.id == location_id), None)


class InMemoryUnitOfWork:
    """``fulfillment.unit_of_work.UnitOfWork`` in memory. ``rollback`` drops what was not committed:
    what ``common.db.Database`` does when an entrypoint fails."""

    def __init__(self):
        self.tables = Tables()
        self._committed = copy.deepcopy(self.tables)
        self.commits = 0
        self.store = InMemoryStore(self)
        self.catalog = InMemoryCatalog()
        self.pricing = InMemoryPricing()
        self.distributors = InMemoryDistributors()

    def repeatable_read(self) -> None:
        pass

    def order_facts(self, skus):
        return self.catalog.products(skus), self.pricing.retail_prices(skus)

    def first_delivery(self, consumer: str, event_id: str) -> bool:
        if (consumer, event_id) in self.tables.processed_events:
            return False
        self.tables.processed_events.add((consumer, event_id))
        return True

    def add_events(self, events: Iterable[Any]) -> None:  # (event_type, payload) through the contracts
        self.tables.outbox.extend(copy.deepcopy([dump(event) for event in events]))

    def commit(self) -> None:
        self._committed = copy.deepcopy(self.tables)
        self.commits += 1

    def rollback(self) -> None:
        self.tables = copy.deepcopy(self._committed)

    @property
    def events(self) -> list[tuple[str, dict]]:
        """The committed outbox."""
        return self._committed.outbox
