"""Pure fulfilment rules: great-circle distance, the routing decision and its short list, the
assignment state machine and the ``Order`` aggregate. Deterministic; no I/O; time passed in."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

from common.geocode import GIVEN, locate
from fulfillment.errors import IllegalAssignmentChange, IllegalOrderChange, InvalidOrder

EARTH_RADIUS_KM = 6371.0
MAX_SHIPMENTS = 3
# the defaults of what the service's config may override (STOCK_FRESHNESS_HOURS, ACCEPT_TIMEOUT_MINUTES)
FRESHNESS = timedelta(hours=24)  # stock synced longer ago than this is stale
ACCEPT_TIMEOUT = timedelta(minutes=30)  # a pending assignment older than this is re-routed
EXPLAINED_OTHERS = 20  # passed-over candidates with stock that a routing round lists by name
MAX_ON_HAND = 1_000_000_000  # units of one SKU at one location (the column is a 4-byte integer)


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Haversine on a sphere of radius 6371.0 km."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


# ---- routing ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Location:
    """A location as routing sees it, with its available stock of the ordered SKUs."""

    id: int
    distributor_id: int
    lat: float
    lon: float
    service_radius_km: float
    active: bool
    distributor_active: bool
    fresh: dict[str, int] = field(default_factory=dict)  # sku → available, synced within the window
    stale: dict[str, int] = field(default_factory=dict)  # sku → available, older stock


@dataclass(frozen=True)
class Shipment:
    location_id: int
    distributor_id: int
    distance_km: float
    lines: tuple[tuple[str, int], ...]
    stale: bool = False


@dataclass(frozen=True)
class Candidate:
    location_id: int
    distributor_id: int
    distance_km: float
    available: int
    chosen: bool
    reason: str


@dataclass(frozen=True)
class Decision:
    shipments: tuple[Shipment, ...]
    backordered: tuple[tuple[str, int], ...]
    candidates: tuple[Candidate, ...]

    @classmethod
    def nothing_placed(cls, lines: Iterable[tuple[str, int]]) -> Decision:
        return cls((), tuple(lines), ())

    def reservations(self) -> tuple[StockMove, ...]:
        """What its shipments take from stock, shipment by shipment."""
        return tuple(StockMove(s.location_id, sku, qty) for s in self.shipments for sku, qty in s.lines)


def ships_whole(lines: Mapping[str, int], stock: Mapping[str, int]) -> bool:
    """``stock`` holds every line's quantity."""
    return all(stock.get(sku, 0) >= qty for sku, qty in lines.items())


def _units(lines: dict[str, int], stock: dict[str, int]) -> int:
    return sum(stock.get(sku, 0) for sku in lines)


def _place(remaining: dict[str, int], ordered: dict[str, int],
           offers: list[tuple[float, Location, dict[str, int]]], slots: int, stale: bool
           ) -> tuple[list[Shipment], set[int]]:
    """Steps 2 and 3 of SPEC over one kind of stock: the nearest location that ships everything
    left, else a nearest-first split within ``slots`` shipments; ties go to more available units
    of the ordered SKUs, then the lower location id. Mutates ``remaining``."""
    want = {sku: qty for sku, qty in remaining.items() if qty > 0}
    if not want or slots <= 0:
        return [], set()
    # (distance, −units of the ordered SKUs, id): the order in which locations are preferred
    usable = sorted(((d, -_units(ordered, stock), loc.id, loc, stock) for d, loc, stock in offers
                     if any(stock.get(sku, 0) > 0 for sku in want)), key=lambda u: u[:3])
    whole = next((u for u in usable if ships_whole(want, u[4])), None)
    if whole:
        d, _, _, loc, stock = whole
        for sku in want:
            remaining[sku] = 0
        return [Shipment(loc.id, loc.distributor_id, d, tuple(sorted(want.items())), stale)], {loc.id}
    shipments, chosen = [], set()
    for d, _, _, loc, stock in usable:
        if len(shipments) >= slots:
            break
        take = {sku: min(qty, stock.get(sku, 0)) for sku, qty in remaining.items() if qty > 0}
        take = {sku: q for sku, q in take.items() if q > 0}
        if not take:
            continue
        for sku, q in take.items():
            remaining[sku] -= q
        shipments.append(Shipment(loc.id, loc.distributor_id, d, tuple(sorted(take.items())), stale))
        chosen.add(loc.id)
    return shipments, chosen


def route(lines: list[tuple[str, int]], lat: float, lon: float, locations: list[Location],
          excluded_distributors: frozenset[int] = frozenset(), max_shipments: int = MAX_SHIPMENTS
          ) -> Decision:
    """Decide who ships what for the order lines to (lat, lon). Fresh stock first; what it cannot
    place goes over stale stock with the same rules, inside the same shipment limit."""
    wanted: dict[str, int] = {}
    for sku, qty in lines:
        wanted[sku] = wanted.get(sku, 0) + qty
    remaining = dict(wanted)
    verdicts: dict[int, tuple[float, int, str]] = {}
    fresh_offers, stale_offers = [], []
    for loc in sorted(locations, key=lambda x: x.id):
        exact = distance_km(lat, lon, loc.lat, loc.lon)
        d = round(exact, 1)
        units = _units(wanted, loc.fresh) + _units(wanted, loc.stale)
        if loc.distributor_id in excluded_distributors:
            verdicts[loc.id] = (d, units, "excluded_after_reject")
        elif not loc.distributor_active:
            verdicts[loc.id] = (d, units, "distributor_inactive")
        elif not loc.active:
            verdicts[loc.id] = (d, units, "location_inactive")
        elif exact > loc.service_radius_km:
            verdicts[loc.id] = (d, units, "out_of_radius")
        elif units == 0:
            verdicts[loc.id] = (d, units, "no_stock")
        else:
            verdicts[loc.id] = (d, units, "")
            if _units(wanted, loc.fresh):
                fresh_offers.append((d, loc, loc.fresh))
            if _units(wanted, loc.stale):
                stale_offers.append((d, loc, loc.stale))
    shipments, chosen = _place(remaining, wanted, fresh_offers, max_shipments, stale=False)
    stale_shipments, stale_chosen = _place(remaining, wanted, stale_offers, max_shipments - len(shipments),
                                           stale=True)
    shipments += stale_shipments
    chosen |= stale_chosen
    by_id = {loc.id: loc for loc in locations}
    unplaced = any(qty > 0 for qty in remaining.values())
    candidates = []
    for loc_id, (d, units, reason) in sorted(verdicts.items(), key=lambda v: (v[1][0], v[0])):
        loc = by_id[loc_id]
        if loc_id in chosen:
            reason = "chosen"
        elif not reason:
            reason = _why_not(loc, wanted, unplaced, len(shipments) >= max_shipments)
        candidates.append(Candidate(loc_id, loc.distributor_id, d, units, loc_id in chosen, reason))
    backordered = tuple((sku, qty) for sku, qty in remaining.items() if qty > 0)
    return Decision(tuple(_merge(shipments)), backordered, tuple(candidates))


def _why_not(loc: Location, wanted: dict[str, int], unplaced: bool, limit_reached: bool) -> str:
    """Why an eligible location with stock was passed over."""
    if not _units(wanted, loc.fresh):
        return "stale_stock"
    if unplaced and limit_reached:
        return "shipment_limit"
    if not ships_whole(wanted, loc.fresh):
        return "insufficient_stock"
    return "farther"  # it could ship everything, but a nearer location (or a tie-break) won


def explained(candidates: Sequence[Candidate], others: int = EXPLAINED_OTHERS
              ) -> tuple[tuple[Candidate, ...], dict[str, int]]:
    """What a routing round records of its candidates: every chosen one and, nearest first, at most
    ``others`` more that had an ordered SKU available; the rest are only counted, by reason. A dense
    city has thousands of locations in range, and an explanation lists why the few that mattered
    were passed over, not every shop without the goods."""
    kept: list[Candidate] = []
    omitted: dict[str, int] = {}
    named = 0
    for c in sorted(candidates, key=lambda c: (c.distance_km, c.location_id)):
        if c.chosen:
            kept.append(c)
        elif c.available > 0 and named < others:
            kept.append(c)
            named += 1
        else:
            omitted[c.reason] = omitted.get(c.reason, 0) + 1
    return tuple(kept), dict(sorted(omitted.items()))


def _merge(shipments: list[Shipment]) -> list[Shipment]:
    """A location chosen over both fresh and stale stock ships once."""
    merged: dict[int, Shipment] = {}
    for s in shipments:
        if s.location_id in merged:
            old = merged[s.location_id]
            qty = dict(old.lines)
            for sku, q in s.lines:
                qty[sku] = qty.get(sku, 0) + q
            merged[s.location_id] = Shipment(s.location_id, s.distributor_id, s.distance_km,
                                             tuple(sorted(qty.items())), old.stale or s.stale)
        else:
            merged[s.location_id] = s
    return list(merged.values())


# ---- the short list: most orders are decided by their nearest few candidates ----------------------


@dataclass(frozen=True)
class NearestScan:
    """What a nearest-first scan around a customer found: among the ``scanned`` nearest locations
    (at most ``scan_limit``; the farthest of them ``window_km`` away), the eligible ones — active, of
    an active distributor not excluded, covering the customer — nearest first: at most
    ``whole_limit`` that ship every ordered line from fresh stock, and at most ``stocked_limit`` with
    any ordered SKU available; ``reach_km``, the largest service radius of any location, read with
    it (None: not read)."""

    whole: tuple[Location, ...]
    stocked: tuple[Location, ...]
    scanned: int
    window_km: float | None
    scan_limit: int
    whole_limit: int
    stocked_limit: int
    reach_km: float | None = None


@dataclass(frozen=True)
class ShortList:
    locations: tuple[Location, ...]
    complete: bool  # nothing was cut off: every eligible location with stock is here
    whole_known: bool  # the nearest location that ships everything cannot hide beyond the cut


# how many of the nearest locations a first routing scans: the first few settle most orders; more
# are scanned only when they do not, and every candidate in reach only when those do not either
SCAN_LIMITS = (20, 60)


def scan_cut_short(scan: NearestScan, reach_km: float) -> bool:
    """Whether the scan stopped at its limit short of the largest service radius (``reach_km``):
    locations beyond what it saw may still be in reach."""
    return scan.scanned == scan.scan_limit and (scan.window_km or 0) < reach_km * 1.002


def short_list(scan: NearestScan, lat: float, lon: float, reach_km: float) -> ShortList:
    """The short list a scan gives. Each of its two lists is kept as a prefix, nearest first, of what
    routing would look at: cut before the distance (to 0.1 km, for ties) where a full list stopped,
    or where the scan stopped short of ``reach_km`` (the largest service radius)."""
    window_edge = None
    if scan_cut_short(scan, reach_km):
        window_edge = int((scan.window_km - 0.05) * 10) / 10
    found: dict[int, Location] = {}
    complete, whole_known = True, True
    for rows, limit, whole in ((scan.whole, scan.whole_limit, True), (scan.stocked, scan.stocked_limit, False)):
        rows = sorted(rows, key=lambda r: distance_km(lat, lon, r.lat, r.lon))
        edges = [] if window_edge is None else [window_edge]
        if len(rows) == limit:
            edges.append(round(distance_km(lat, lon, rows[-1].lat, rows[-1].lon), 1))
        if edges:
            complete = False
            edge = min(edges)
            rows = [r for r in rows if round(distance_km(lat, lon, r.lat, r.lon), 1) < edge]
            if whole and not rows:
                whole_known = False
        for r in rows:
            found[r.id] = r
    return ShortList(tuple(found.values()), complete, whole_known)


def decided_by_short_list(lines: Sequence[tuple[str, int]], lat: float, lon: float, short: ShortList,
                          max_shipments: int = MAX_SHIPMENTS) -> Decision | None:
    """The decision over the short list when it is the one every candidate would give: it places
    everything from fresh stock, or it places everything and nothing was cut off. None: routing
    looks at every candidate (back-ordered lines need them all: their substitutes are looked up
    there). Only for a first routing: a re-route shows why the excluded were passed over."""
    if not short.whole_known:
        return None
    decision = route(list(lines), lat, lon, list(short.locations), frozenset(), max_shipments)
    settled = not decision.backordered and not any(s.stale for s in decision.shipments)
    if settled or (short.complete and not decision.backordered):
        return decision
    return None


@dataclass(frozen=True)
class Routing:
    """A routing round: its decision (its reservations made) and the locations it was made over."""

    decision: Decision
    locations: tuple[Location, ...]


# ---- orders and assignments ---------------------------------------------------------------------

PENDING, ACCEPTED, SHIPPED, REJECTED, REROUTED, CANCELLED = (
    "pending", "accepted", "shipped", "rejected", "rerouted", "cancelled")
OPEN = (PENDING, ACCEPTED)
LIVE = OPEN + (SHIPPED,)  # assignments that still count for their order
NEW, ROUTED, PARTIALLY_ROUTED, BACKORDERED = "new", "routed", "partially_routed", "backordered"
ACCEPT, SHIP, REJECT, REROUTE, CANCEL = "accept", "ship", "reject", "reroute", "cancel"
ORDER_CREATED = "order_created"  # the trigger of an order's first routing round
# reasons that keep a location from routing whatever its stock: its stock is no substitute either
INELIGIBLE = frozenset({"out_of_radius", "distributor_inactive", "location_inactive", "excluded_after_reject"})
STALE_NOTE = "fresh stock could not serve everything; stock older than the freshness window was used"

ASSIGNMENT_MOVES = {
    ACCEPT: {PENDING: ACCEPTED},
    SHIP: {ACCEPTED: SHIPPED},
    REJECT: {PENDING: REJECTED, ACCEPTED: REJECTED},
    REROUTE: {PENDING: REROUTED, ACCEPTED: REROUTED},
    CANCEL: {PENDING: CANCELLED, ACCEPTED: CANCELLED},
}


def move_assignment(status: str, action: str) -> str:
    allowed = ASSIGNMENT_MOVES[action]
    if status not in allowed:
        raise IllegalAssignmentChange(f"cannot {action} an assignment that is {status}")
    return allowed[status]


def order_status(assignment_statuses: Iterable[str], backordered_units: int, cancelled: bool) -> str:
    """From the order's assignments (rejected, re-routed and cancelled ones no longer count):
    ``cancelled``; ``backordered`` when nothing is assigned; ``shipped`` when every assigned line
    has shipped, even if another line is back-ordered (nothing more will ship); ``partially_routed``
    while some of it waits to ship and some is back-ordered; else ``routed``."""
    if cancelled:
        return CANCELLED
    live = [s for s in assignment_statuses if s in LIVE]
    if not live:
        return BACKORDERED
    if all(s == SHIPPED for s in live):
        return SHIPPED
    if backordered_units:
        return PARTIALLY_ROUTED
    return ROUTED


def retail_total(lines: Iterable[tuple[str, int]], unit_prices: Mapping[str, Decimal | str]) -> Decimal:
    """The order's value at the retail unit prices it was created with (each already rounded)."""
    return sum((Decimal(unit_prices[sku]) * qty for sku, qty in lines), Decimal("0.00"))


def request_fingerprint(location_id: int, payload: dict) -> str:
    """What a repeated request must match to be the same request: its location and its body."""
    body = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{location_id}:{body}".encode()).hexdigest()


class StockMove(NamedTuple):
    """Units of one SKU at one location that are reserved, released or shipped."""

    location_id: int
    sku: str
    qty: int


class OrderLine(NamedTuple):
    sku: str
    qty: int


@dataclass(frozen=True)
class Product:
    """What the catalog says of an ordered SKU."""

    sku: str
    status: str
    substitutes: tuple[str, ...] = ()


@dataclass(frozen=True)
class LocationFacts:
    """A location as the distributors service announces it (fulfilment keeps a read model)."""

    id: int
    distributor_id: int
    name: str
    lat: float
    lon: float
    service_radius_km: float
    active: bool
    updated_at: datetime | str  # as announced: a newer fact replaces an older one


@dataclass(frozen=True)
class DistributorFacts:
    id: int
    status: str
    version: int = 1
    locations: tuple[LocationFacts, ...] = ()


@dataclass(frozen=True)
class Backorder:
    """An order line nobody could ship: the product's substitutes in stock near the customer, and
    what the customer gets back (retail unit price × qty)."""

    sku: str
    qty: int
    substitutes: tuple[str, ...]
    refund_amount: Decimal


@dataclass(frozen=True)
class Assignment:
    """A shipment assigned to a distributor's location."""

    id: int
    order_id: int
    distributor_id: int
    location_id: int
    distance_km: float
    lines: tuple[OrderLine, ...]
    status: str
    stale_stock: bool = False
    reason: str | None = None
    carrier: str | None = None
    tracking_no: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def stock(self) -> tuple[StockMove, ...]:
        """What it holds at its location."""
        return tuple(StockMove(self.location_id, sku, qty) for sku, qty in self.lines)

    def moved(self, action: str, now: datetime, *, reason: str | None = None, carrier: str | None = None,
              tracking_no: str | None = None) -> Assignment:
        """After ``action`` (IllegalAssignmentChange where its status does not allow it); a detail
        not given keeps its value."""
        return dataclasses.replace(
            self, status=move_assignment(self.status, action), updated_at=now,
            reason=self.reason if reason is None else reason,
            carrier=self.carrier if carrier is None else carrier,
            tracking_no=self.tracking_no if tracking_no is None else tracking_no)

    def accept(self, now: datetime) -> AssignmentChange:
        return AssignmentChange(self.moved(ACCEPT, now), (AssignmentAccepted(self.id),))


# ---- what changes record (events are past tense; the service announces them) ---------------------


@dataclass(frozen=True)
class OrderRouted:
    order_id: int
    trigger: str | None = None  # what re-routed it; None for its first routing


@dataclass(frozen=True)
class OrderBackordered:
    order_id: int
    trigger: str | None = None


@dataclass(frozen=True)
class OrderCancelled:
    order_id: int
    actor: str


@dataclass(frozen=True)
class AssignmentAccepted:
    assignment_id: int


@dataclass(frozen=True)
class ShipmentShipped:
    assignment_id: int


@dataclass(frozen=True)
class AssignmentRejected:
    assignment_id: int
    reason: str


Event = (OrderRouted | OrderBackordered | OrderCancelled | AssignmentAccepted | ShipmentShipped
         | AssignmentRejected)


@dataclass(frozen=True)
class AssignmentChange:
    assignment: Assignment
    events: tuple[Event, ...]


# ---- the order aggregate ------------------------------------------------------------------------


@dataclass(frozen=True)
class NewOrder:
    """An order as a channel places it, priced at retail, before it has an id."""

    channel: str
    external_id: str
    ship_to: Mapping[str, Any]  # name, phone (E.164), address and what else was sent (lat, lon, province, …)
    lines: tuple[OrderLine, ...]
    retail: Mapping[str, Decimal]  # retail unit price by SKU
    substitutes: Mapping[str, tuple[str, ...]]
    retail_total: Decimal
    geocode: Mapping[str, Any]  # where it is routed from: see locate_ship_to

    @property
    def lat(self) -> float:
        return self.geocode["lat"]

    @property
    def lon(self) -> float:
        return self.geocode["lon"]


def locate_ship_to(ship_to: Mapping[str, Any]) -> dict[str, Any]:
    """Where an order is routed from: its own ``lat``/``lon`` (precision ``given``), else the centre of
    the most precise division its address names, resolved offline (``common.geocode``). InvalidOrder
    naming ``ship_to.address`` (with the candidates) when the address is ambiguous or names nothing,
    ``ship_to.lat``/``lon`` when only one of them is given."""
    place, errors = locate(ship_to, "ship_to.")
    if errors:
        raise InvalidOrder(f"{errors[0]['field']}: {errors[0]['message']}", errors)
    return place


def new_order(channel: str, external_id: str, ship_to: Mapping[str, Any], lines: Sequence[tuple[str, int]],
              products: Mapping[str, Product], prices: Mapping[str, Decimal], max_total: Decimal,
              place: Mapping[str, Any]) -> NewOrder:
    """An order priced at the retail prices in force, routed from ``place`` (``locate_ship_to``);
    InvalidOrder naming ``lines[i].sku`` for an unknown, inactive or unpriced SKU, or ``lines`` when
    its total is above ``max_total``."""
    errors = []
    for i, (sku, _qty) in enumerate(lines):
        product = products.get(sku)
        if product is None:
            errors.append({"field": f"lines[{i}].sku", "message": f"unknown SKU {sku!r}"})
        elif product.status != "active":
            errors.append({"field": f"lines[{i}].sku", "message": f"{sku!r} is {product.status}"})
        elif sku not in prices:
            errors.append({"field": f"lines[{i}].sku", "message": f"{sku!r} has no retail price"})
    if errors:
        raise InvalidOrder(f"{errors[0]['field']}: {errors[0]['message']}", errors)
    skus = list(dict.fromkeys(sku for sku, _ in lines))
    unit = {sku: prices[sku] for sku in skus}
    total = retail_total(lines, unit)
    if total > max_total:
        raise InvalidOrder(f"lines: the order's retail total {total} is above {max_total}",
                           [{"field": "lines", "message": f"retail total above {max_total}"}])
    return NewOrder(channel, external_id, dict(ship_to), tuple(OrderLine(sku, qty) for sku, qty in lines),
                    unit, {sku: tuple(products[sku].substitutes) for sku in skus}, total, dict(place))


def backorders(decision: Decision, locations: Iterable[Location], substitutes: Mapping[str, Sequence[str]],
               retail: Mapping[str, Decimal]) -> tuple[Backorder, ...]:
    """The lines a decision could not place, each with the product's substitutes that an eligible
    location it looked at has available, and its refund."""
    reasons = {c.location_id: c.reason for c in decision.candidates}
    eligible = [loc for loc in locations if reasons.get(loc.id) not in INELIGIBLE]
    return tuple(
        Backorder(sku, qty, tuple(s for s in substitutes.get(sku, ())
                                  if any(loc.fresh.get(s, 0) + loc.stale.get(s, 0) > 0 for loc in eligible)),
                  retail[sku] * qty)
        for sku, qty in decision.backordered)


def merge_backorders(existing: Iterable[Backorder], new: Iterable[Backorder],
                     retail: Mapping[str, Decimal]) -> tuple[Backorder, ...]:
    """A SKU back-ordered again adds to its quantity (and refund) and takes the latest substitutes."""
    merged = {b.sku: b for b in existing}
    for b in new:
        if b.sku in merged:
            qty = merged[b.sku].qty + b.qty
            merged[b.sku] = dataclasses.replace(merged[b.sku], qty=qty, substitutes=b.substitutes,
                                                refund_amount=retail[b.sku] * qty)
        else:
            merged[b.sku] = b
    return tuple(merged.values())


PRECISION_NOTES = {
    "province": "the address named only a province: routed from the province's centre, so distances "
                "are to that centre, not to the customer",
    "city": "the address named no district: routed from the city's centre",
}


def routing_round(decision: Decision, trigger: str, now: datetime,
                  precision: str = GIVEN) -> dict[str, Any]:
    """What an order's explanation records of a routing round (a JSON document, stored and shown);
    ``precision`` is how precisely the destination was placed (``Order.geocode``)."""
    listed, omitted = explained(decision.candidates)
    stale = any(s.stale for s in decision.shipments)
    round_ = {"trigger": trigger, "at": now.isoformat(), "candidates": [dataclasses.asdict(c) for c in listed],
              "omitted": omitted, "stale_stock_used": stale, "geocode_precision": precision}
    notes = [STALE_NOTE] if stale else []
    if precision in PRECISION_NOTES:
        notes.append(PRECISION_NOTES[precision])
    if notes:
        round_["note"] = "; ".join(notes)
    return round_


def bounded_round(round_: Mapping[str, Any]) -> Mapping[str, Any]:
    """A round recorded before explanations were bounded is bounded when shown."""
    if "omitted" in round_:
        return round_
    listed, omitted = explained([Candidate(**c) for c in round_["candidates"]])
    return {**round_, "candidates": [dataclasses.asdict(c) for c in listed], "omitted": omitted}


@dataclass(frozen=True)
class OrderChange:
    """What a change of an order records: the order as it now stands, its new assignments
    (``shipments``: pending, their ids given when recorded), the assignments whose status changed,
    the stock they release or ship, and the events to announce."""

    order: Order
    shipments: tuple[Shipment, ...] = ()
    changed: tuple[Assignment, ...] = ()
    released: tuple[StockMove, ...] = ()
    consumed: tuple[StockMove, ...] = ()
    events: tuple[Event, ...] = ()

    @property
    def status(self) -> str:
        return self.order.status

    @property
    def backordered(self) -> tuple[Backorder, ...]:
        return self.order.backordered

    @property
    def refunds(self) -> dict[str, Decimal]:
        """What the customer gets back, by back-ordered SKU."""
        return {b.sku: b.refund_amount for b in self.order.backordered}


@dataclass(frozen=True)
class Rerouting:
    """Assignments an order ends (rejected or re-routed) and what must be placed again: their lines,
    without the excluded distributors, within the shipments the order has left. Their stock is
    released before routing (``released``); ``place`` then records the new routing round."""

    order: Order  # with those assignments ended
    ended: tuple[Assignment, ...]
    lines: tuple[OrderLine, ...]
    excluded: frozenset[int]
    max_shipments: int
    trigger: str
    reason: str | None = None

    @property
    def released(self) -> tuple[StockMove, ...]:
        return tuple(move for a in self.ended for move in a.stock)

    def place(self, routing: Routing, now: datetime) -> OrderChange:
        change = self.order.place(routing, now, self.trigger, self.excluded)
        rejected = tuple(AssignmentRejected(a.id, self.reason) for a in self.ended if a.status == REJECTED)
        return dataclasses.replace(change, events=change.events + rejected)


@dataclass(frozen=True)
class Order:
    """An order with its assignments: the aggregate through which every change of an order goes."""

    id: int
    channel: str
    external_id: str
    ship_to: Mapping[str, Any]
    lat: float
    lon: float
    lines: tuple[OrderLine, ...]
    retail: Mapping[str, Decimal]  # the retail unit prices it was created with, by SKU
    substitutes: Mapping[str, tuple[str, ...]]  # each ordered SKU's substitutes when it was created
    retail_total: Decimal
    status: str
    created_at: datetime
    updated_at: datetime
    backordered: tuple[Backorder, ...] = ()
    excluded_distributors: frozenset[int] = frozenset()
    explanation: tuple[Mapping[str, Any], ...] = ()  # routing rounds, as recorded
    assignments: tuple[Assignment, ...] = ()  # by id
    geocode: Mapping[str, Any] | None = None  # where it is routed from (locate_ship_to); lat/lon are its

    @property
    def precision(self) -> str:
        return self.geocode["precision"] if self.geocode else GIVEN

    def assignment(self, assignment_id: int) -> Assignment:
        return next(a for a in self.assignments if a.id == assignment_id)

    def skus_to_look_up(self, lines: Iterable[tuple[str, int]]) -> list[str]:
        """The SKUs routing asks candidates about: the lines' own, then their substitutes."""
        skus = list(dict.fromkeys(sku for sku, _ in lines))
        return skus + sorted({s for sku in skus for s in self.substitutes.get(sku, ())} - set(skus))

    def place(self, routing: Routing, now: datetime, trigger: str = ORDER_CREATED,
              excluded: frozenset[int] = frozenset()) -> OrderChange:
        """Record a routing round: its shipments become pending assignments, what it could not place
        joins the back-orders (merged by SKU), the round joins the explanation and the status
        follows. A first routing announces ``OrderRouted`` (or ``OrderBackordered`` when nothing was
        placed), and ``OrderBackordered`` too when some of it was; a re-route announces one of
        them with its trigger."""
        decision = routing.decision
        new = backorders(decision, routing.locations, self.substitutes, self.retail)
        merged = merge_backorders(self.backordered, new, self.retail)
        statuses = [a.status for a in self.assignments] + [PENDING] * len(decision.shipments)
        status = order_status(statuses, sum(b.qty for b in merged), self.status == CANCELLED)
        order = dataclasses.replace(
            self, status=status, backordered=merged, excluded_distributors=self.excluded_distributors | excluded,
            explanation=self.explanation + (routing_round(decision, trigger, now, self.precision),), updated_at=now)
        announced = OrderRouted if status != BACKORDERED else OrderBackordered
        if trigger == ORDER_CREATED:
            events: list[Event] = [announced(self.id)]
            if new and status != BACKORDERED:
                events.append(OrderBackordered(self.id))
        else:
            events = [announced(self.id, trigger)]
        return OrderChange(order, shipments=decision.shipments, events=tuple(events))

    def reroute(self, assignment_ids: Iterable[int], trigger: str, now: datetime, *, action: str = REROUTE,
                reason: str | None = None, exclude: bool = True) -> Rerouting:
        """End these assignments (``action``: reject or reroute; one no longer open is left alone)
        and plan placing their lines again, their distributors excluded for the rest of the order
        (unless ``exclude`` is false: a location gone inactive excludes only itself)."""
        ending = set(assignment_ids)
        assignments, ended, lines = [], [], []
        excluded = set(self.excluded_distributors)
        for a in self.assignments:
            if a.id in ending and a.status in OPEN:
                a = a.moved(action, now, reason=reason or trigger)
                ended.append(a)
                lines.extend(a.lines)
                if exclude:
                    excluded.add(a.distributor_id)
            assignments.append(a)
        live = sum(1 for a in assignments if a.status in LIVE)
        return Rerouting(dataclasses.replace(self, assignments=tuple(assignments)), tuple(ended), tuple(lines),
                         frozenset(excluded), max(1, MAX_SHIPMENTS - live), trigger, reason)

    def ship(self, assignment_id: int, carrier: str, tracking_no: str, now: datetime) -> OrderChange:
        """One of its assignments ships: its reservation and its units leave stock."""
        shipped = self.assignment(assignment_id).moved(SHIP, now, carrier=carrier, tracking_no=tracking_no)
        assignments = tuple(shipped if a.id == assignment_id else a for a in self.assignments)
        status = order_status((a.status for a in assignments), sum(b.qty for b in self.backordered),
                              self.status == CANCELLED)
        order = dataclasses.replace(self, status=status, assignments=assignments, updated_at=now)
        return OrderChange(order, changed=(shipped,), consumed=shipped.stock, events=(ShipmentShipped(shipped.id),))

    def cancel(self, actor: str, now: datetime) -> OrderChange | None:
        """Its open assignments are cancelled and their reservations released; None when it already
        was cancelled; IllegalOrderChange once something has shipped."""
        if self.status == CANCELLED:
            return None
        if any(a.status == SHIPPED for a in self.assignments):
            raise IllegalOrderChange(f"order {self.id} has a shipped assignment; it cannot be cancelled")
        cancelled = tuple(a.moved(CANCEL, now, reason=f"order cancelled by {actor}")
                          for a in self.assignments if a.status in OPEN)
        by_id = {a.id: a for a in cancelled}
        order = dataclasses.replace(self, status=CANCELLED, updated_at=now,
                                    assignments=tuple(by_id.get(a.id, a) for a in self.assignments))
        return OrderChange(order, changed=cancelled, released=tuple(m for a in cancelled for m in a.stock),
                           events=(OrderCancelled(self.id, actor),))


@dataclass(frozen=True)
class OrderSummary:
    """An order as a list shows it: not its explanation, nor what only routing reads."""

    id: int
    channel: str
    external_id: str
    ship_to: Mapping[str, Any]
    lines: tuple[OrderLine, ...]
    retail_total: Decimal
    status: str
    backordered: tuple[Backorder, ...]
    created_at: datetime
    geocode: Mapping[str, Any] | None = None
