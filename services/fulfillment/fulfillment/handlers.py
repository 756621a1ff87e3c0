"""The fulfillment service layer: one function per use case, taking a unit of work
(``fulfillment.unit_of_work``) and plain arguments, returning plain results (the RPC answers).

Each one loads what it needs through the unit of work, lets the domain decide (the ``Order``
aggregate, routing), writes what was decided, adds the events to the outbox and commits. The
nameko entrypoints (``fulfillment.service``) only adapt to these; the tests drive them with an
in-memory unit of work.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import structlog

from common.errors import parse_id
from common.pagination import page
from common.schemas import MAX_MONEY
from fulfillment import domain, events, settlement
from fulfillment.domain import Assignment, Decision, Location, Order, OrderChange, Routing
from fulfillment.errors import (
    AssignmentNotFound,
    DistributorNotActive,
    KeyReused,
    LocationNotFound,
    OrderNotFound,
    StatementNotFound,
    StockConflict,
)
from fulfillment.schemas import AssignmentSchema, OrderAdminSchema, OrderSchema, StockRowSchema
from fulfillment.unit_of_work import Store, UnitOfWork

ORDER, ORDER_ADMIN, ASSIGNMENT, STOCK_ROW = OrderSchema(), OrderAdminSchema(), AssignmentSchema(), StockRowSchema()
ROUTE_ATTEMPTS = 5  # routings of one round whose reservations a concurrent order may win

log = structlog.get_logger()


# ---- views and events ---------------------------------------------------------------------------


def order_view(order: Order | domain.OrderSummary, assignments: Iterable[Assignment],
               admin: bool = False) -> dict:
    """The order as a channel sees it (``admin``: with the routing explanation); rejected and
    re-routed assignments are not its shipments any more."""
    data = {
        "id": order.id, "external_id": order.external_id, "channel": order.channel, "status": order.status,
        "ship_to": order.ship_to, "geocode": order.geocode, "lines": order.lines,
        "backordered": order.backordered,
        "retail_total": str(order.retail_total), "created_at": order.created_at,
        "shipments": [{"assignment_id": a.id, "distributor_id": a.distributor_id, "location_id": a.location_id,
                       "distance_km": a.distance_km, "lines": a.lines, "status": a.status, "carrier": a.carrier,
                       "tracking_no": a.tracking_no}
                      for a in assignments if a.status not in (domain.REJECTED, domain.REROUTED)],
    }
    if not admin:
        return ORDER.dump(data)
    return ORDER_ADMIN.dump({**data, "explanation": [domain.bounded_round(r) for r in order.explanation]})


def _saved_view(store: Store, order_id: int, admin: bool = False) -> dict:
    order = store.order(order_id)
    return order_view(order, order.assignments, admin)


def assignment_views(store: Store, assignments: Sequence[Assignment],
                     ship_to: Mapping[int, dict] | None = None) -> list[dict]:
    """Assignments with their order's ship-to address (``ship_to`` by order id when the caller has
    it, else read in one query)."""
    if ship_to is None:
        ship_to = store.ship_to_of(list({a.order_id for a in assignments}))
    return [ASSIGNMENT.dump({**a.__dict__, "ship_to": ship_to.get(a.order_id)}) for a in assignments]


def _events(recorded: Iterable[domain.Event], order: dict | None = None,
            assignment: dict | None = None) -> list[Any]:
    """The published events (fulfillment.events) for what a change recorded: an order's events carry
    the order's view, an assignment's its view."""
    published: list[Any] = []
    for event in recorded:
        match event:
            case domain.OrderRouted(trigger=trigger):
                published.append(events.OrderRouted(order, trigger))
            case domain.OrderBackordered(trigger=trigger):
                published.append(events.OrderBackordered(order, trigger))
            case domain.OrderCancelled(actor=actor):
                published.append(events.OrderCancelled(order, actor))
            case domain.AssignmentAccepted():
                published.append(events.AssignmentAccepted(assignment))
            case domain.AssignmentRejected(reason=reason):
                published.append(events.AssignmentRejected(assignment, reason))
            case domain.ShipmentShipped():  # the order as its channel sees it, with the shipment in it
                published.append(events.ShipmentShipped(assignment, order))
            case _:
                raise TypeError(f"no published event for {type(event).__name__}")
    return published


# ---- read models --------------------------------------------------------------------------------


def distributor_status(uow: UnitOfWork, distributor_id: int, fresh: bool = False) -> str | None:
    """From the read model; a miss (or always, when ``fresh``) is asked of the distributors
    service and written back."""
    status = None if fresh else uow.store.distributor_status(distributor_id)
    if status is None:
        profile = uow.distributors.profile(distributor_id)
        if profile is None:
            return None
        uow.store.upsert_distributor(distributor_id, profile.status, profile.version)
        for loc in profile.locations:
            uow.store.upsert_location(loc)
        status = profile.status
    return status


def own_location(uow: UnitOfWork, distributor_id, location_id, writing: bool) -> int:
    """The caller's location id; another's (or none) is 404; a write by an inactive one is 403."""
    did = parse_id(distributor_id, LocationNotFound, "distributor")
    lid = parse_id(location_id, LocationNotFound, "location")
    status = distributor_status(uow, did)
    loc = uow.store.location(lid)
    if loc is None:
        facts = uow.distributors.location(lid)
        if facts is not None:
            uow.store.upsert_location(facts)
        loc = uow.store.location(lid)
    if loc is None or loc.distributor_id != did or status is None:
        raise LocationNotFound(f"location {location_id} not found")
    if writing and status != "active" and distributor_status(uow, did, fresh=True) != "active":
        # refused only once the owner confirms it: a reinstatement counts at once
        raise DistributorNotActive(f"distributor {did} is {status}: it may read but not change stock")
    return lid


def apply_location_change(uow: UnitOfWork, event_id: str, location: domain.LocationFacts, now: datetime,
                          freshness: timedelta = domain.FRESHNESS) -> None:
    """A location gone inactive re-routes its open assignments (its distributor is not excluded)."""
    if not uow.first_delivery("fulfillment.locations", event_id):
        return
    uow.store.upsert_location(location)
    if not location.active:
        reroute(uow, uow.store.open_assignments(location_id=location.id), "location_inactive", now, freshness,
                exclude=False)
    uow.commit()


def apply_distributor_change(uow: UnitOfWork, event_id: str, distributor: domain.DistributorFacts,
                             trigger: str | None, now: datetime, freshness: timedelta = domain.FRESHNESS) -> None:
    """The read model follows the distributor; with a ``trigger`` (suspended, terminated) its stock
    leaves routing and its open assignments are re-routed in the same step."""
    if not uow.first_delivery("fulfillment.distributors", event_id):
        return
    uow.store.upsert_distributor(distributor.id, distributor.status, distributor.version)
    for loc in distributor.locations:
        uow.store.upsert_location(loc)
    if trigger:
        reroute(uow, uow.store.open_assignments(distributor_id=distributor.id), trigger, now, freshness)
    uow.commit()


# ---- stock --------------------------------------------------------------------------------------


def get_stock(uow: UnitOfWork, distributor_id, location_id, after: str | None, limit: int) -> dict:
    lid = own_location(uow, distributor_id, location_id, writing=False)
    result = page(uow.store.stock_of(lid, after, limit), limit, key=lambda r: r.sku)
    result["items"] = STOCK_ROW.dump(result["items"], many=True)
    return result


def put_stock(uow: UnitOfWork, distributor_id, location_id, items: Sequence[tuple[str, int]],
              now: datetime) -> dict:
    """A full snapshot: listed SKUs take the given on_hand, unlisted ones 0; a line that would go
    below what is reserved is refused and reported, and every other line is applied."""
    lid = own_location(uow, distributor_id, location_id, writing=True)
    rejected = uow.store.apply_snapshot(lid, items, now)
    uow.commit()
    listed = {sku for sku, _ in items}
    return {"applied": len(items) - sum(1 for r in rejected if r.sku in listed),
            "rejected": [{**r._asdict(), "reason": "on_hand would fall below reserved"} for r in rejected]}


def adjust_stock(uow: UnitOfWork, distributor_id, location_id, deltas: Sequence[tuple[str, int]],
                 request: Mapping[str, Any], now: datetime, request_key: str | None = None) -> dict:
    """Deltas, all or nothing: one that would go below reserved or below 0 refuses them all.
    With ``request_key`` (the caller's Idempotency-Key) they are applied once however often the
    request (``request``, the body as sent) arrives: a repeat answers what the first did."""
    lid = own_location(uow, distributor_id, location_id, writing=True)
    if request_key is not None:
        fingerprint = domain.request_fingerprint(lid, dict(request))
        first = uow.store.claim_request(request_key, fingerprint)
        if first is not None:
            if first.fingerprint != fingerprint:
                raise KeyReused("this Idempotency-Key was used with a different request")
            return first.result
    rows = []
    for i, (sku, delta) in enumerate(deltas):
        row = uow.store.apply_adjustment(lid, sku, delta, now)
        if row is None:
            have = uow.store.current_stock(lid, sku)
            on_hand, reserved = (have.on_hand, have.reserved) if have else (0, 0)
            above = on_hand + delta > domain.MAX_ON_HAND
            broken = f"on_hand ≤ {domain.MAX_ON_HAND}" if above else "on_hand ≥ reserved ≥ 0"
            raise StockConflict(
                f"adjustments[{i}]: {sku} has on_hand {on_hand} and reserved {reserved}; a delta of {delta} "
                f"would break {broken}; nothing was applied",
                [{"field": f"adjustments[{i}].delta",
                  "message": f"would go above {domain.MAX_ON_HAND}" if above else "would go below reserved or 0"}])
        rows.append(row)
    result = {"applied": len(rows), "items": STOCK_ROW.dump(rows, many=True)}
    if request_key is not None:
        uow.store.record_request(request_key, result)
    uow.commit()
    return result


# ---- routing ------------------------------------------------------------------------------------


def decide(store: Store, lat: float, lon: float, lines: Sequence[tuple[str, int]], skus: list[str],
           excluded: Iterable[int], max_shipments: int, fresh_since: datetime,
           reach_km: float | None = None) -> tuple[Decision, tuple[Location, ...]]:
    """The decision and the locations it was made over: over the nearest few candidates when that
    settles it (``domain.decided_by_short_list``: the same decision every candidate would give),
    else over every candidate in range that has any of ``skus``. A re-route (some distributor
    excluded) always looks at every candidate, so its explanation shows why the excluded ones
    were passed over. ``reach_km`` (the largest service radius) is read with the first scan, or on
    its own before every candidate is, unless given."""
    excluded = frozenset(excluded)
    if not excluded:
        wanted: dict[str, int] = {}
        for sku, qty in lines:
            wanted[sku] = wanted.get(sku, 0) + qty
        for limit in domain.SCAN_LIMITS:  # the nearest few first (most orders), more only when they fall short
            scan = store.nearest_scan(lat, lon, wanted, [], fresh_since, limit)
            if reach_km is None:
                reach_km = scan.reach_km  # read in the scan's own statement
            short = domain.short_list(scan, lat, lon, reach_km)
            decision = domain.decided_by_short_list(lines, lat, lon, short, max_shipments)
            if decision is not None:
                return decision, short.locations
            if not domain.scan_cut_short(scan, reach_km):
                break  # it saw every location in reach: a longer scan would see nothing more
    if reach_km is None:
        reach_km = store.max_radius_km()
    everyone = store.candidates(lat, lon, skus, fresh_since, reach_km)
    return domain.route(list(lines), lat, lon, everyone, excluded, max_shipments), tuple(everyone)


def route_and_reserve(store: Store, order: Order, lines: Sequence[tuple[str, int]], excluded: Iterable[int],
                      max_shipments: int, now: datetime, freshness: timedelta) -> Routing:
    """Route ``lines`` and reserve what the decision ships. A reservation lost to a concurrent order
    routes again from fresh stock figures; after ``ROUTE_ATTEMPTS`` nothing is placed."""
    fresh_since = now - freshness
    skus = order.skus_to_look_up(lines)
    for _attempt in range(ROUTE_ATTEMPTS):  # each attempt reads the largest radius afresh, with its scan
        decision, locations = decide(store, order.lat, order.lon, lines, skus, excluded, max_shipments,
                                     fresh_since)
        if store.reserve_all(decision.reservations()):
            return Routing(decision, locations)
    return Routing(Decision.nothing_placed(lines), ())


def _record(store: Store, change: OrderChange, now: datetime) -> list[Assignment]:
    """Write what an order's change decided (the reservations of new shipments are made); returns
    the new assignments as stored."""
    for a in change.changed:
        store.set_assignment(a)
    for move in change.released:
        store.release(move)
    for move in change.consumed:
        store.consume(move)
    created = [store.insert_assignment(change.order.id, shipment, now) for shipment in change.shipments]
    store.save_order(change.order)
    return created


WITHDRAWN = (domain.REROUTED, domain.CANCELLED)


def _assignment_events(store: Store, created: Sequence[Assignment], ended: Iterable[Assignment],
                       ship_to: Mapping[int, dict] | None = None) -> list[Any]:
    """``assignment_created`` for each new assignment (as stored) and ``assignment_withdrawn`` for
    each one taken away from its distributor (re-routed away or its order cancelled; a rejection is
    the distributor's own act), each with the assignment as ``GET /v1/assignments`` lists it
    (``ship_to``: the orders' addresses by id, when the caller has them)."""
    withdrawn = [store.assignment(a.id) for a in ended if a.status in WITHDRAWN]
    if not created and not withdrawn:
        return []
    views = assignment_views(store, [*created, *withdrawn], ship_to)
    return ([events.AssignmentCreated(v) for v in views[:len(created)]]
            + [events.AssignmentWithdrawn(v) for v in views[len(created):]])


def reroute(uow: UnitOfWork, assignments: Iterable[Assignment], trigger: str, now: datetime,
            freshness: timedelta = domain.FRESHNESS, *, action: str = domain.REROUTE, reason: str | None = None,
            exclude: bool = True) -> list[tuple[str, dict]]:
    """End these assignments, release what they reserved and place their lines again without their
    distributor (for the rest of the order); what cannot be placed joins ``backordered``. The
    outbox gets each order's event; returned are the events for the ended assignments (whose
    views are the caller's to render)."""
    by_order: dict[int, list[int]] = {}
    for a in assignments:
        by_order.setdefault(a.order_id, []).append(a.id)
    assignment_events = []
    for order_id, ending in by_order.items():
        order = uow.store.order(order_id, for_update=True)
        rerouting = order.reroute(ending, trigger, now, action=action, reason=reason, exclude=exclude)
        if not rerouting.ended:
            continue  # no longer open (cancelled, say, since they were read)
        for a in rerouting.ended:
            uow.store.set_assignment(a)
        for move in rerouting.released:
            uow.store.release(move)
        routing = route_and_reserve(uow.store, rerouting.order, rerouting.lines, rerouting.excluded,
                                    rerouting.max_shipments, now, freshness)
        change = rerouting.place(routing, now)
        created = _record(uow.store, change, now)
        view = _saved_view(uow.store, order_id)
        order_events = [e for e in change.events if not isinstance(e, domain.AssignmentRejected)]
        uow.add_events([*_events(order_events, order=view),  # one outbox insert
                        *_assignment_events(uow.store, created, rerouting.ended)])
        assignment_events += [e for e in change.events if isinstance(e, domain.AssignmentRejected)]
        log.info("order_rerouted", order_id=order_id, trigger=trigger, status=change.status)
    return assignment_events


def reroute_overdue(uow: UnitOfWork, now: datetime, timeout: timedelta = domain.ACCEPT_TIMEOUT,
                    freshness: timedelta = domain.FRESHNESS) -> int:
    """A pending assignment not accepted within the timeout is re-routed without its distributor;
    returns how many were."""
    overdue = uow.store.overdue_assignments(now - timeout)
    if overdue:
        reroute(uow, overdue, "timeout", now, freshness)
        uow.commit()
    return len(overdue)


# ---- orders -------------------------------------------------------------------------------------


def create_order(uow: UnitOfWork, channel: str, external_id: str, ship_to: Mapping[str, Any],
                 lines: Sequence[tuple[str, int]], now: datetime,
                 freshness: timedelta = domain.FRESHNESS) -> dict:
    """``{"order": view, "replayed": bool}``: a repeated ``external_id`` answers the order placed
    first."""
    existing = uow.store.order_by_external_id(channel, external_id)
    if existing:
        return {"order": order_view(existing, existing.assignments), "replayed": True}
    place = domain.locate_ship_to(ship_to)
    skus = list(dict.fromkeys(sku for sku, _ in lines))
    products, prices = uow.order_facts(skus)
    new = domain.new_order(channel, external_id, ship_to, lines, products, prices, MAX_MONEY, place)
    order = uow.store.insert_order(new, now)
    if order is None:  # the same external_id won a race a moment ago
        existing = uow.store.order_by_external_id(channel, external_id)
        return {"order": order_view(existing, existing.assignments), "replayed": True}
    routing = route_and_reserve(uow.store, order, new.lines, (), domain.MAX_SHIPMENTS, now, freshness)
    change = order.place(routing, now)
    created = _record(uow.store, change, now)
    # the order as saved: what was stored (the rows the inserts returned) with what place() changed
    view = order_view(change.order, created)
    uow.add_events([*_events(change.events, order=view),  # one outbox insert
                    *_assignment_events(uow.store, created, (), {order.id: order.ship_to})])
    uow.commit()
    return {"order": view, "replayed": False}


def _order(store: Store, order_id, channel: str | None, for_update: bool = False) -> Order:
    number = parse_id(order_id, OrderNotFound, "order")
    order = store.order(number, for_update)
    if order is None or (channel is not None and order.channel != channel):
        raise OrderNotFound(f"order {order_id} not found")
    return order


def get_order(uow: UnitOfWork, channel: str | None, order_id) -> dict:
    """A channel sees its own orders; ``channel=None`` is the sales team's view with the explanation.
    The order and its assignments are read from one snapshot: a re-route committing between the
    two reads would otherwise show the new shipments beside the old explanation."""
    uow.repeatable_read()
    order = _order(uow.store, order_id, channel)
    return order_view(order, order.assignments, admin=channel is None)


def list_orders(uow: UnitOfWork, filters: Mapping[str, Any], after: int | None, limit: int) -> dict:
    """The sales team's search; a list view carries no routing explanation (the order's own view
    does)."""
    uow.repeatable_read()  # the page and its assignments from one snapshot (see get_order)
    result = page(uow.store.list_orders(filters, after, limit), limit, key=lambda r: r.id)
    by_order: dict[int, list[Assignment]] = {r.id: [] for r in result["items"]}
    for a in uow.store.assignments_of(list(by_order)):  # one query for the whole page
        by_order[a.order_id].append(a)
    result["items"] = [order_view(r, by_order[r.id]) for r in result["items"]]
    return result


def cancel_order(uow: UnitOfWork, channel: str | None, order_id, actor: str, now: datetime) -> dict:
    order = _order(uow.store, order_id, channel, for_update=True)
    change = order.cancel(actor, now)
    if change is None:  # cancelled already
        return order_view(order, order.assignments, admin=channel is None)
    _record(uow.store, change, now)
    # the event carries the order as its channel sees it (webhooks deliver it to the channel)
    uow.add_events([*_events(change.events, order=_saved_view(uow.store, order.id)),  # one outbox insert
                    *_assignment_events(uow.store, (), change.changed)])
    view = _saved_view(uow.store, order.id, admin=channel is None)
    uow.commit()
    return view


# ---- assignments --------------------------------------------------------------------------------


def _own_assignment(uow: UnitOfWork, distributor_id, assignment_id, writing: bool) -> Assignment:
    did = parse_id(distributor_id, AssignmentNotFound, "distributor")
    number = parse_id(assignment_id, AssignmentNotFound, "assignment")
    a = uow.store.assignment(number, for_update=writing)
    if a is None or a.distributor_id != did:
        raise AssignmentNotFound(f"assignment {assignment_id} not found")
    if writing and distributor_status(uow, did) != "active" \
            and distributor_status(uow, did, fresh=True) != "active":
        raise DistributorNotActive(f"distributor {did} is not active: it may read but not accept work")
    return a


def _assignment_view(store: Store, assignment_id: int) -> dict:
    return assignment_views(store, [store.assignment(assignment_id)])[0]


def list_assignments(uow: UnitOfWork, distributor_id, status: str | None, after: int | None,
                     limit: int) -> dict:
    did = parse_id(distributor_id, AssignmentNotFound, "distributor")
    result = page(uow.store.distributor_assignments(did, status, after, limit), limit, key=lambda r: r.id)
    result["items"] = assignment_views(uow.store, result["items"])
    return result


def accept_assignment(uow: UnitOfWork, distributor_id, assignment_id, now: datetime) -> dict:
    change = _own_assignment(uow, distributor_id, assignment_id, writing=True).accept(now)
    uow.store.set_assignment(change.assignment)
    view = _assignment_view(uow.store, change.assignment.id)
    uow.add_events(_events(change.events, assignment=view))
    uow.commit()
    return view


def ship_assignment(uow: UnitOfWork, distributor_id, assignment_id, carrier: str, tracking_no: str,
                    now: datetime) -> dict:
    a = _own_assignment(uow, distributor_id, assignment_id, writing=True)
    domain.move_assignment(a.status, domain.SHIP)  # refused before the order is locked
    order = uow.store.order(a.order_id, for_update=True)
    change = order.ship(a.id, carrier, tracking_no, now)
    _record(uow.store, change, now)
    _settle(uow.store, order, change.order.assignment(a.id), now)
    view = _assignment_view(uow.store, a.id)
    uow.add_events(_events(change.events, assignment=view, order=_saved_view(uow.store, order.id)))
    uow.commit()
    return view


def reject_assignment(uow: UnitOfWork, distributor_id, assignment_id, reason: str, now: datetime,
                      freshness: timedelta = domain.FRESHNESS) -> dict:
    a = _own_assignment(uow, distributor_id, assignment_id, writing=True)
    domain.move_assignment(a.status, domain.REJECT)
    rejected = reroute(uow, [a], "rejected", now, freshness, action=domain.REJECT, reason=reason)
    view = _assignment_view(uow.store, a.id)
    uow.add_events(_events(rejected, assignment=view))
    uow.commit()
    return view


# ---- settlement (分账) ----------------------------------------------------------------------------


def _settle(store: Store, order: Order, shipped: Assignment, now: datetime) -> None:
    """A shipped assignment's settlement lines, in the shipment's own transaction: each order line at
    the order's retail unit price less the channel's commission now, added to the distributor's
    statement for this month (locked, so concurrent shipments add up). The lines' (assignment, sku)
    is unique: an assignment is settled exactly once, or (the transaction failing) not at all."""
    pct = store.channel_rate(order.channel) or settlement.ZERO
    lines = settlement.settle(shipped.id, shipped.distributor_id, order.id, order.external_id, order.channel,
                              shipped.lines, dict(order.retail), pct, now)
    statement = store.open_statement_for_update(shipped.distributor_id, settlement.period_of(now))
    store.save_statement(statement.adding(lines))
    store.insert_settlement_lines(lines)


def _channel_view(rate: settlement.ChannelRate) -> dict:
    return {"channel": rate.channel, "commission_pct": settlement.pct_text(rate.commission_pct),
            "updated_at": rate.updated_at.isoformat() if rate.updated_at else None, "updated_by": rate.updated_by}


def set_channel_rate(uow: UnitOfWork, channel: str, pct, actor: str, now: datetime) -> dict:
    rate = uow.store.set_channel_rate(channel, pct, actor, now)
    uow.commit()
    return _channel_view(rate)


def list_channels(uow: UnitOfWork, known: Sequence[str]) -> dict:
    """Every channel with a rate, and each of ``known`` (those with API keys) at 0 % until one is set."""
    rates = {rate.channel: rate for rate in uow.store.channel_rates()}
    for channel in known:
        rates.setdefault(channel, settlement.ChannelRate(channel, settlement.ZERO, None, None))
    return {"items": [_channel_view(rates[c]) for c in sorted(rates)], "next_cursor": None}


def list_statements(uow: UnitOfWork, distributor_id: int | None, period: str | None,
                    after: tuple[str, int] | None, limit: int) -> dict:
    rows = uow.store.list_statements(distributor_id, period, tuple(after) if after else None, limit)
    result = page(rows, limit, key=lambda s: [s.period, s.distributor_id])
    result["items"] = [settlement.statement_view(s) for s in result["items"]]
    return result


def _statement(uow: UnitOfWork, distributor_id, period) -> tuple[int, str, settlement.Statement]:
    did = parse_id(distributor_id, StatementNotFound, "distributor")
    month = settlement.parse_period(period)
    found = uow.store.statement(did, month)
    if found is None or found.totals.lines == 0:
        raise StatementNotFound(f"distributor {did} has no statement for {month}")
    return did, month, found


def get_statement(uow: UnitOfWork, distributor_id, period, after: int | None, limit: int) -> dict:
    """The statement with a page of its lines (404 for a period without lines); the statement and the
    page are read from one snapshot, so an open statement's totals match what was there."""
    uow.repeatable_read()
    did, month, found = _statement(uow, distributor_id, period)
    lines = page(uow.store.statement_lines(did, month, after, limit), limit, key=lambda row: row[0])
    return {**settlement.statement_view(found), "items": [settlement.line_view(x) for _, x in lines["items"]],
            "next_cursor": lines["next_cursor"]}


def statement_lines(uow: UnitOfWork, distributor_id, period, after: int | None, limit: int) -> dict:
    """A page of lines for the CSV export: ``{"items", "after"}`` (``after``: the key of the next
    page, None at the end), raw keys since the gateway pages through them itself."""
    did, month, _ = _statement(uow, distributor_id, period)
    rows = uow.store.statement_lines(did, month, after, limit)
    return {"items": [settlement.line_view(x) for _, x in rows[:limit]],
            "after": rows[limit - 1][0] if len(rows) > limit else None}


def close_statement(uow: UnitOfWork, distributor_id, period, actor: str, now: datetime) -> dict:
    did = parse_id(distributor_id, StatementNotFound, "distributor")
    month = settlement.parse_period(period)
    found = uow.store.statement(did, month, for_update=True)
    if found is None or found.totals.lines == 0:
        raise StatementNotFound(f"distributor {did} has no statement for {month}")
    closed = found.close(actor, now)
    uow.store.save_statement(closed)
    uow.commit()
    return settlement.statement_view(closed)


def settlement_summary(uow: UnitOfWork, period: str) -> dict:
    uow.repeatable_read()
    channels, distributors = uow.store.settlement_summary(period)
    return {"period": period, "currency": settlement.CURRENCY,
            "channels": [{"channel": c.channel, "gross": settlement.money(c.gross),
                          "commission": settlement.money(c.commission), "net": settlement.money(c.net)}
                         for c in channels],
            "distributors": [{"distributor_id": d, "net": settlement.money(net)} for d, net in distributors]}
