"""Fulfillment entrypoints: stock, orders, routing with reservations, the assignment workflow."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import distributors.errors
import pricing.errors
from nameko.timer import timer

import catalog.errors
import common.errors
from common.config import Settings, setting
from common.db import Database
from common.entrypoints import event_handler, rpc
from common.errors import NotFound, ServiceError, make_deserializable, parse_id
from common.health import check_database
from common.logs import WorkerLogging
from common.outbox import OutboxRelay, add_events, first_delivery, new_event
from common.pagination import page
from common.rpc import RpcProxy
from common.schemas import MAX_ID, MAX_MONEY, load
from fulfillment import domain, store
from fulfillment.errors import (
    AssignmentNotFound,
    DistributorNotActive,
    IllegalOrderChange,
    InvalidOrder,
    KeyReused,
    LocationNotFound,
    OrderNotFound,
    StockConflict,
)
from fulfillment.schemas import (
    AdjustmentsSchema,
    AssignmentQuerySchema,
    AssignmentRejectSchema,
    AssignmentSchema,
    OrderAdminSchema,
    OrderCreateSchema,
    OrderQuerySchema,
    OrderSchema,
    ShipSchema,
    StockQuerySchema,
    StockRowSchema,
    StockSnapshotSchema,
)

make_deserializable(common.errors, catalog.errors, distributors.errors, pricing.errors)

ORDER, ORDER_ADMIN, ASSIGNMENT, STOCK_ROW = OrderSchema(), OrderAdminSchema(), AssignmentSchema(), StockRowSchema()
ROUTE_ATTEMPTS = 5
INELIGIBLE = {"out_of_radius", "distributor_inactive", "location_inactive", "excluded_after_reject"}


def _now() -> datetime:
    return datetime.now(UTC)


def _id(value, not_found: type[ServiceError], what: str) -> int:
    """An id from a path: one that is not a positive integer written in ASCII digits (``int()`` also
    reads " 7", "+7", "7_0" and "٧"), or is beyond any id we hand out (and beyond what the database's
    bigint holds), names nothing: 404."""
    number = parse_id(value, not_found, what)
    if number > MAX_ID or (isinstance(value, str) and not (value.isascii() and value.isdigit())):
        raise not_found(f"{what} {value!r} not found")
    return number


def _bounded(round_: dict) -> dict:
    """A round recorded before explanations were bounded is bounded when shown."""
    if "omitted" in round_:
        return round_
    listed, omitted = domain.explained([domain.Candidate(**c) for c in round_["candidates"]])
    return {**round_, "candidates": [c.__dict__ for c in listed], "omitted": omitted}


class FulfillmentService:
    name = "fulfillment"

    db = Database("fulfillment")
    log = WorkerLogging()
    config = Settings()
    outbox = OutboxRelay()
    catalog = RpcProxy("catalog")
    distributors = RpcProxy("distributors")
    pricing = RpcProxy("pricing")

    @rpc
    def health(self) -> dict:
        return {"service": self.name, **check_database(self.db)}

    # ---- read models ----------------------------------------------------------------------------

    def _distributor_status(self, cur, distributor_id: int, fresh: bool = False) -> str | None:
        """From the read model; a miss (or always, when ``fresh``) is asked of the distributors
        service and written back."""
        status = None if fresh else store.distributor_status(cur, distributor_id)
        if status is None:
            try:
                profile = self.distributors.get_profile(distributor_id)
            except NotFound:
                return None
            store.upsert_distributor(cur, distributor_id, profile["status"], profile.get("version", 1))
            for loc in profile["locations"]:
                store.upsert_location(cur, loc)
            status = profile["status"]
        return status

    def _own_location(self, cur, distributor_id, location_id, writing: bool) -> int:
        """The caller's location id; another's (or none) is 404; a write by an inactive one is 403."""
        did = _id(distributor_id, LocationNotFound, "distributor")
        lid = _id(location_id, LocationNotFound, "location")
        status = self._distributor_status(cur, did)
        loc = store.location(cur, lid)
        if loc is None:
            try:
                store.upsert_location(cur, self.distributors.get_location(lid))
            except NotFound:
                pass
            loc = store.location(cur, lid)
        if loc is None or loc["distributor_id"] != did or status is None:
            raise LocationNotFound(f"location {location_id} not found")
        if writing and status != "active" and self._distributor_status(cur, did, fresh=True) != "active":
            # refused only once the owner confirms it: a reinstatement counts at once
            raise DistributorNotActive(f"distributor {did} is {status}: it may read but not change stock")
        return lid

    @event_handler("distributors", "location_changed")
    def on_location_changed(self, payload: dict) -> None:
        cur = self.db.cursor()
        if not first_delivery(cur, "fulfillment.locations", payload["event_id"]):
            return
        loc = payload["location"]
        store.upsert_location(cur, loc)
        if not loc["active"]:
            self._reroute(cur, store.open_assignments(cur, location_id=loc["id"]), "location_inactive",
                          "rerouted", exclude=False)

    def _on_distributor(self, payload: dict, trigger: str | None = None) -> None:
        cur = self.db.cursor()
        if not first_delivery(cur, "fulfillment.distributors", payload["event_id"]):
            return
        d = payload["distributor"]
        store.upsert_distributor(cur, d["id"], d["status"], d.get("version", 1))
        for loc in d.get("locations", []):
            store.upsert_location(cur, loc)
        if trigger:
            self._reroute(cur, store.open_assignments(cur, distributor_id=d["id"]), trigger, "rerouted")

    @event_handler("distributors", "distributor_approved")
    def on_distributor_approved(self, payload: dict) -> None:
        self._on_distributor(payload)

    @event_handler("distributors", "distributor_reinstated")
    def on_distributor_reinstated(self, payload: dict) -> None:
        self._on_distributor(payload)

    @event_handler("distributors", "distributor_suspended")
    def on_distributor_suspended(self, payload: dict) -> None:
        """Its stock leaves routing and its open assignments are re-routed in the same step."""
        self._on_distributor(payload, "distributor_suspended")

    @event_handler("distributors", "distributor_terminated")
    def on_distributor_terminated(self, payload: dict) -> None:
        self._on_distributor(payload, "distributor_terminated")

    # ---- stock ----------------------------------------------------------------------------------

    @rpc(expected_exceptions=ServiceError)
    def get_stock(self, distributor_id, location_id, query: dict) -> dict:
        params = load(StockQuerySchema, query)
        cur = self.db.cursor()
        lid = self._own_location(cur, distributor_id, location_id, writing=False)
        rows = store.stock_of(cur, lid, params["cursor"], params["limit"])
        result = page(rows, params["limit"], key=lambda r: r["sku"])
        result["items"] = STOCK_ROW.dump(result["items"], many=True)
        return result

    @rpc(expected_exceptions=ServiceError)
    def put_stock(self, distributor_id, location_id, payload: dict) -> dict:
        """A full snapshot: listed SKUs take the given on_hand, unlisted ones 0; a line that would go
        below what is reserved is refused and reported, and every other line is applied."""
        items = load(StockSnapshotSchema, payload)["items"]
        cur = self.db.cursor()
        lid = self._own_location(cur, distributor_id, location_id, writing=True)
        rejected = store.apply_snapshot(cur, lid, [(i["sku"], i["on_hand"]) for i in items], _now())
        listed = {i["sku"] for i in items}
        return {"applied": len(items) - sum(1 for r in rejected if r["sku"] in listed),
                "rejected": [{**r, "reason": "on_hand would fall below reserved"} for r in rejected]}

    @rpc(expected_exceptions=ServiceError)
    def adjust_stock(self, distributor_id, location_id, payload: dict,
                     request_key: str | None = None) -> dict:
        """Deltas, all or nothing: one that would go below reserved or below 0 refuses them all.
        With ``request_key`` (the caller's Idempotency-Key) they are applied once however often the
        request arrives: a repeat answers what the first application did."""
        adjustments = load(AdjustmentsSchema, payload)["adjustments"]
        cur = self.db.cursor()
        lid = self._own_location(cur, distributor_id, location_id, writing=True)
        if request_key is not None:
            fingerprint = domain.request_fingerprint(lid, payload)
            first = store.claim_request(cur, request_key, fingerprint)
            if first is not None:
                if first["fingerprint"] != fingerprint:
                    raise KeyReused("this Idempotency-Key was used with a different request")
                return first["result"]
        result = self._apply_adjustments(cur, lid, adjustments)
        if request_key is not None:
            store.record_request(cur, request_key, result)
        return result

    def _apply_adjustments(self, cur, lid: int, adjustments: list[dict]) -> dict:
        now, rows = _now(), []
        for i, adj in enumerate(adjustments):
            row = store.apply_adjustment(cur, lid, adj["sku"], adj["delta"], now)
            if row is None:
                have = store.current_stock(cur, lid, adj["sku"]) or {"on_hand": 0, "reserved": 0}
                above = have["on_hand"] + adj["delta"] > domain.MAX_ON_HAND
                broken = f"on_hand ≤ {domain.MAX_ON_HAND}" if above else "on_hand ≥ reserved ≥ 0"
                raise StockConflict(
                    f"adjustments[{i}]: {adj['sku']} has on_hand {have['on_hand']} and reserved "
                    f"{have['reserved']}; a delta of {adj['delta']} would break {broken}; "
                    "nothing was applied",
                    [{"field": f"adjustments[{i}].delta",
                      "message": f"would go above {domain.MAX_ON_HAND}" if above
                      else "would go below reserved or 0"}])
            rows.append({**row, "available": row["on_hand"] - row["reserved"], "last_synced_at": now})
        return {"applied": len(rows), "items": STOCK_ROW.dump(rows, many=True)}

    # ---- orders ---------------------------------------------------------------------------------

    @rpc(expected_exceptions=ServiceError)
    def create_order(self, channel: str, payload: dict) -> dict:
        fields = load(OrderCreateSchema, payload)
        cur = self.db.cursor()
        existing = store.order_by_external_id(cur, channel, fields["external_id"])
        if existing:
            return {"order": self._view(cur, existing), "replayed": True}
        skus = list(dict.fromkeys(line["sku"] for line in fields["lines"]))
        products = self.catalog.get_products(skus)
        retail = self.pricing.get_retail_prices(skus)
        errors = []
        for i, line in enumerate(fields["lines"]):
            product = products.get(line["sku"])
            if product is None:
                errors.append({"field": f"lines[{i}].sku", "message": f"unknown SKU {line['sku']!r}"})
            elif product["status"] != "active":
                errors.append({"field": f"lines[{i}].sku", "message": f"{line['sku']!r} is {product['status']}"})
            elif line["sku"] not in retail:
                errors.append({"field": f"lines[{i}].sku", "message": f"{line['sku']!r} has no retail price"})
        if errors:
            raise InvalidOrder(f"{errors[0]['field']}: {errors[0]['message']}", errors)
        unit = {sku: retail[sku]["retail_price"] for sku in skus}
        total = domain.retail_total(((line["sku"], line["qty"]) for line in fields["lines"]), unit)
        if total > MAX_MONEY:
            raise InvalidOrder(f"lines: the order's retail total {total} is above {MAX_MONEY}",
                               [{"field": "lines", "message": f"retail total above {MAX_MONEY}"}])
        substitutes = {sku: products[sku]["substitutes"] for sku in skus}
        now = _now()
        order_id = store.insert_order(cur, channel, fields, unit, substitutes, total, now)
        if order_id is None:  # the same external_id won a race a moment ago
            return {"order": self._view(cur, store.order_by_external_id(cur, channel, fields["external_id"])),
                    "replayed": True}
        order = store.order(cur, order_id)
        lines = [(line["sku"], line["qty"]) for line in fields["lines"]]
        backordered, round_ = self._place(cur, order, lines, set(), domain.MAX_SHIPMENTS, "order_created", now)
        status = self._finish(cur, order, backordered, set(), [round_], now)
        view = self._view(cur, store.order(cur, order_id))
        events = [new_event("order_routed" if status != "backordered" else "order_backordered",
                            {"order": view})]
        if backordered and status != "backordered":
            events.append(new_event("order_backordered", {"order": view}))
        add_events(cur, events)
        return {"order": view, "replayed": False}

    def _place(self, cur, order: dict, lines: list[tuple[str, int]], excluded: set[int], max_shipments: int,
               trigger: str, now: datetime) -> tuple[list[dict], dict]:
        """Route and reserve ``lines``; returns the back-ordered lines and the explanation round.
        A reservation lost to a concurrent order re-routes from fresh stock figures."""
        skus = list(dict.fromkeys(sku for sku, _ in lines))
        wanted_subs = sorted({s for sku in skus for s in order["substitutes"].get(sku, [])} - set(skus))
        freshness = timedelta(hours=setting(self.config, "STOCK_FRESHNESS_HOURS", 24.0))
        reach = store.max_radius_km(cur)
        wanted: dict[str, int] = {}
        for sku, qty in lines:
            wanted[sku] = wanted.get(sku, 0) + qty
        for _attempt in range(ROUTE_ATTEMPTS):
            cur.execute("SAVEPOINT routing")
            decision, locations = self._decide(cur, order, lines, wanted, skus + wanted_subs, excluded,
                                               max_shipments, now - freshness, reach)
            if all(store.reserve(cur, s.location_id, sku, qty) for s in decision.shipments
                   for sku, qty in s.lines):
                break
            cur.execute("ROLLBACK TO SAVEPOINT routing")
        else:
            decision, locations = domain.Decision((), tuple(lines), ()), []
        cur.execute("RELEASE SAVEPOINT routing")
        for shipment in decision.shipments:
            store.insert_assignment(cur, order["id"], shipment, now)
        reasons = {c.location_id: c.reason for c in decision.candidates}
        eligible = [loc for loc in locations if reasons.get(loc.id) not in INELIGIBLE]
        backordered = []
        for sku, qty in decision.backordered:
            subs = [s for s in order["substitutes"].get(sku, [])
                    if any(loc.fresh.get(s, 0) + loc.stale.get(s, 0) > 0 for loc in eligible)]
            backordered.append({"sku": sku, "qty": qty, "substitutes": subs,
                                "refund_amount": str(Decimal(order["retail"][sku]) * qty)})
        listed, omitted = domain.explained(decision.candidates)
        round_ = {"trigger": trigger, "at": now.isoformat(), "candidates": [c.__dict__ for c in listed],
                  "omitted": omitted, "stale_stock_used": any(s.stale for s in decision.shipments)}
        if round_["stale_stock_used"]:
            round_["note"] = "fresh stock could not serve everything; stock older than the freshness window was used"
        return backordered, round_

    @staticmethod
    def _decide(cur, order: dict, lines, wanted: dict[str, int], skus: list[str], excluded: set[int],
                max_shipments: int, fresh_since: datetime, reach: float):
        """Decide over the nearest few candidates when that settles the order from fresh stock (the
        same decision every candidate would give), else over every candidate in range. A re-route
        (some distributor excluded) always looks at every candidate, so its explanation shows why
        the excluded ones were passed over."""
        short, complete, whole_known = store.nearest_candidates(
            cur, order["lat"], order["lon"], wanted, sorted(excluded), fresh_since, reach)
        if whole_known and not excluded:
            decision = domain.route(lines, order["lat"], order["lon"], short, frozenset(excluded),
                                    max_shipments)
            settled = not decision.backordered and not any(s.stale for s in decision.shipments)
            # back-ordered lines need every candidate: their substitutes are looked up there
            if settled or (complete and not decision.backordered):
                return decision, short
        everyone = store.candidates(cur, order["lat"], order["lon"], skus, fresh_since, reach)
        return domain.route(lines, order["lat"], order["lon"], everyone, frozenset(excluded),
                            max_shipments), everyone

    def _finish(self, cur, order: dict, backordered: list[dict], excluded: set[int], rounds: list[dict],
                now: datetime) -> str:
        statuses = [a["status"] for a in store.assignments_of(cur, [order["id"]])]
        merged: dict[str, dict] = {b["sku"]: dict(b) for b in order["backordered"]}
        for b in backordered:
            if b["sku"] in merged:
                merged[b["sku"]]["qty"] += b["qty"]
                merged[b["sku"]]["refund_amount"] = str(Decimal(order["retail"][b["sku"]]) * merged[b["sku"]]["qty"])
                merged[b["sku"]]["substitutes"] = b["substitutes"]
            else:
                merged[b["sku"]] = b
        all_backordered = list(merged.values())
        status = domain.order_status(statuses, sum(b["qty"] for b in all_backordered),
                                     order["status"] == "cancelled")
        store.save_order(cur, order["id"], status, all_backordered,
                         set(order["excluded_distributors"]) | excluded, order["explanation"] + rounds, now)
        return status

    def _view(self, cur, order: dict, admin: bool = False, assignments: list[dict] | None = None) -> dict:
        if assignments is None:
            assignments = store.assignments_of(cur, [order["id"]])
        shown = [a for a in assignments if a["status"] not in ("rejected", "rerouted")]
        data = {**order, "lines": order["lines"], "retail_total": str(order["retail_total"]),
                "shipments": [{"assignment_id": a["id"], **a} for a in shown]}
        if not admin:
            return ORDER.dump(data)
        return ORDER_ADMIN.dump({**data, "explanation": [_bounded(r) for r in order["explanation"]]})

    def _order(self, cur, order_id, channel: str | None, for_update: bool = False) -> dict:
        number = _id(order_id, OrderNotFound, "order")
        order = store.order(cur, number, for_update)
        if order is None or (channel is not None and order["channel"] != channel):
            raise OrderNotFound(f"order {order_id} not found")
        return order

    @rpc(expected_exceptions=ServiceError)
    def get_order(self, channel: str | None, order_id) -> dict:
        """A channel sees its own orders; ``channel=None`` is the sales team's view with the explanation.
        The order and its assignments are read from one snapshot: a re-route committing between the
        two reads would otherwise show the new shipments beside the old explanation."""
        self.db.repeatable_read()
        cur = self.db.cursor()
        return self._view(cur, self._order(cur, order_id, channel), admin=channel is None)

    @rpc(expected_exceptions=ServiceError)
    def list_orders(self, query: dict) -> dict:
        """The sales team's search; a list view carries no routing explanation (the order's own view
        does)."""
        params = load(OrderQuerySchema, query)
        after = params.pop("cursor")
        limit = params.pop("limit")
        self.db.repeatable_read()  # the page and its assignments from one snapshot (see get_order)
        cur = self.db.cursor()
        rows = store.list_orders(cur, params, after, limit)
        result = page(rows, limit, key=lambda r: r["id"])
        by_order: dict[int, list[dict]] = {r["id"]: [] for r in result["items"]}
        for a in store.assignments_of(cur, list(by_order)):  # one query for the whole page
            by_order[a["order_id"]].append(a)
        result["items"] = [self._view(cur, r, assignments=by_order[r["id"]]) for r in result["items"]]
        return result

    @rpc(expected_exceptions=ServiceError)
    def cancel_order(self, channel: str | None, order_id, actor: str) -> dict:
        cur = self.db.cursor()
        order = self._order(cur, order_id, channel, for_update=True)
        if order["status"] == "cancelled":
            return self._view(cur, order, admin=channel is None)
        assignments = store.assignments_of(cur, [order["id"]])
        if any(a["status"] == domain.SHIPPED for a in assignments):
            raise IllegalOrderChange(f"order {order_id} has a shipped assignment; it cannot be cancelled")
        now = _now()
        for a in assignments:
            if a["status"] in domain.OPEN:
                for line in a["lines"]:
                    store.release(cur, a["location_id"], line["sku"], line["qty"])
                store.set_assignment(cur, a["id"], domain.move_assignment(a["status"], "cancel"), now,
                                     reason=f"order cancelled by {actor}")
        store.save_order(cur, order["id"], "cancelled", order["backordered"], order["excluded_distributors"],
                         order["explanation"], now)
        view = self._view(cur, store.order(cur, order["id"]), admin=channel is None)
        add_events(cur, [new_event("order_cancelled", {"order": view, "actor": actor})])
        return view

    # ---- assignments ----------------------------------------------------------------------------

    def _own_assignment(self, cur, distributor_id, assignment_id, writing: bool) -> dict:
        did = _id(distributor_id, AssignmentNotFound, "distributor")
        number = _id(assignment_id, AssignmentNotFound, "assignment")
        a = store.assignment(cur, number, for_update=writing)
        if a is None or a["distributor_id"] != did:
            raise AssignmentNotFound(f"assignment {assignment_id} not found")
        if writing and self._distributor_status(cur, did) != "active" \
                and self._distributor_status(cur, did, fresh=True) != "active":
            raise DistributorNotActive(f"distributor {did} is not active: it may read but not accept work")
        return a

    def _assignment_view(self, cur, a: dict) -> dict:
        return self._assignment_views(cur, [a])[0]

    @staticmethod
    def _assignment_views(cur, assignments: list[dict]) -> list[dict]:
        """Assignments with their order's ship-to address, read in one query."""
        ship_to = store.ship_to_of(cur, list({a["order_id"] for a in assignments}))
        return [ASSIGNMENT.dump({**a, "ship_to": ship_to.get(a["order_id"])}) for a in assignments]

    @rpc(expected_exceptions=ServiceError)
    def list_assignments(self, distributor_id, query: dict) -> dict:
        params = load(AssignmentQuerySchema, query)
        did = _id(distributor_id, AssignmentNotFound, "distributor")
        cur = self.db.cursor()
        rows = store.distributor_assignments(cur, did, params.get("status"), params["cursor"], params["limit"])
        result = page(rows, params["limit"], key=lambda r: r["id"])
        result["items"] = self._assignment_views(cur, result["items"])
        return result

    @rpc(expected_exceptions=ServiceError)
    def accept_assignment(self, distributor_id, assignment_id) -> dict:
        cur = self.db.cursor()
        a = self._own_assignment(cur, distributor_id, assignment_id, writing=True)
        store.set_assignment(cur, a["id"], domain.move_assignment(a["status"], "accept"), _now())
        view = self._assignment_view(cur, store.assignment(cur, a["id"]))
        add_events(cur, [new_event("assignment_accepted", {"assignment": view})])
        return view

    @rpc(expected_exceptions=ServiceError)
    def ship_assignment(self, distributor_id, assignment_id, payload: dict) -> dict:
        fields = load(ShipSchema, payload)
        cur = self.db.cursor()
        a = self._own_assignment(cur, distributor_id, assignment_id, writing=True)
        status = domain.move_assignment(a["status"], "ship")
        order = store.order(cur, a["order_id"], for_update=True)
        now = _now()
        for line in a["lines"]:
            store.consume(cur, a["location_id"], line["sku"], line["qty"])
        store.set_assignment(cur, a["id"], status, now, carrier=fields["carrier"],
                             tracking_no=fields["tracking_no"])
        self._finish(cur, order, [], set(), [], now)
        view = self._assignment_view(cur, store.assignment(cur, a["id"]))
        add_events(cur, [new_event("shipment_shipped", {"assignment": view})])
        return view

    @rpc(expected_exceptions=ServiceError)
    def reject_assignment(self, distributor_id, assignment_id, payload: dict) -> dict:
        reason = load(AssignmentRejectSchema, payload)["reason"]
        cur = self.db.cursor()
        a = self._own_assignment(cur, distributor_id, assignment_id, writing=True)
        domain.move_assignment(a["status"], "reject")
        self._reroute(cur, [a], "rejected", "rejected", reason=reason)
        view = self._assignment_view(cur, store.assignment(cur, a["id"]))
        add_events(cur, [new_event("assignment_rejected", {"assignment": view, "reason": reason})])
        return view

    def _reroute(self, cur, assignments: list[dict], trigger: str, end_status: str,
                 reason: str | None = None, exclude: bool = True) -> None:
        """End these assignments, release what they reserved and place their lines again without their
        distributor (for the rest of the order); what cannot be placed joins ``backordered``."""
        now = _now()
        by_order: dict[int, list[dict]] = {}
        for a in assignments:
            by_order.setdefault(a["order_id"], []).append(a)
        for order_id, ended in by_order.items():
            order = store.order(cur, order_id, for_update=True)
            lines, excluded = [], set()
            for a in ended:
                action = "reject" if end_status == "rejected" else "reroute"
                store.set_assignment(cur, a["id"], domain.move_assignment(a["status"], action), now,
                                     reason=reason or trigger)
                for line in a["lines"]:
                    store.release(cur, a["location_id"], line["sku"], line["qty"])
                    lines.append((line["sku"], line["qty"]))
                if exclude:
                    excluded.add(a["distributor_id"])
            live = [x for x in store.assignments_of(cur, [order_id]) if x["status"] in domain.OPEN + (domain.SHIPPED,)]
            excluded |= set(order["excluded_distributors"])
            backordered, round_ = self._place(cur, order, lines, excluded,
                                              max(1, domain.MAX_SHIPMENTS - len(live)), trigger, now)
            status = self._finish(cur, order, backordered, excluded, [round_], now)
            view = self._view(cur, store.order(cur, order_id))
            add_events(cur, [new_event("order_routed" if status != "backordered" else "order_backordered",
                                       {"order": view, "trigger": trigger})])
            self.log.info("order_rerouted", order_id=order_id, trigger=trigger, status=status)

    @timer(interval=30)
    def reroute_overdue(self) -> None:
        """A pending assignment not accepted within the timeout is re-routed without its distributor."""
        timeout = timedelta(minutes=setting(self.config, "ACCEPT_TIMEOUT_MINUTES", 30.0))
        cur = self.db.cursor()
        overdue = store.overdue_assignments(cur, _now() - timeout)
        if overdue:
            self._reroute(cur, overdue, "timeout", "rerouted")
