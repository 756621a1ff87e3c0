"""Pure fulfilment rules: great-circle distance, the routing decision and the assignment state
machine. Deterministic; no I/O; time passed in."""
from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from fulfillment.errors import IllegalAssignmentChange

EARTH_RADIUS_KM = 6371.0
MAX_SHIPMENTS = 3
FRESHNESS = timedelta(hours=24)
ACCEPT_TIMEOUT = timedelta(minutes=30)
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


def _whole(lines: dict[str, int], stock: dict[str, int]) -> bool:
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
    whole = next((u for u in usable if _whole(want, u[4])), None)
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
    if not _whole(wanted, loc.fresh):
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


# ---- orders and assignments ---------------------------------------------------------------------

PENDING, ACCEPTED, SHIPPED, REJECTED, REROUTED, CANCELLED = (
    "pending", "accepted", "shipped", "rejected", "rerouted", "cancelled")
OPEN = (PENDING, ACCEPTED)

ASSIGNMENT_MOVES = {
    "accept": {PENDING: ACCEPTED},
    "ship": {ACCEPTED: SHIPPED},
    "reject": {PENDING: REJECTED, ACCEPTED: REJECTED},
    "reroute": {PENDING: REROUTED, ACCEPTED: REROUTED},
    "cancel": {PENDING: CANCELLED, ACCEPTED: CANCELLED},
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
        return "cancelled"
    live = [s for s in assignment_statuses if s in (PENDING, ACCEPTED, SHIPPED)]
    if not live:
        return "backordered"
    if all(s == SHIPPED for s in live):
        return "shipped"
    if backordered_units:
        return "partially_routed"
    return "routed"


def retail_total(lines: Iterable[tuple[str, int]], unit_prices: dict[str, str]) -> Decimal:
    """The order's value at the retail unit prices it was created with (each already rounded)."""
    return sum((Decimal(unit_prices[sku]) * qty for sku, qty in lines), Decimal("0.00"))


def timed_out(created_at: datetime, now: datetime, timeout: timedelta = ACCEPT_TIMEOUT) -> bool:
    return now - created_at > timeout


def request_fingerprint(location_id: int, payload: dict) -> str:
    """What a repeated request must match to be the same request: its location and its body."""
    body = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{location_id}:{body}".encode()).hexdigest()
