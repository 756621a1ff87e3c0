"""The fulfillment handlers with an in-memory unit of work (fulfillment_fakes): the order workflow,
stock and read models without PostgreSQL or RabbitMQ. Each call goes through ``call``, which does
what an entrypoint does — what the handler did not commit is rolled back."""
import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from fulfillment_fakes import InMemoryUnitOfWork

from fulfillment import domain, handlers
from fulfillment.domain import DistributorFacts, LocationFacts, Product, StockMove
from fulfillment.errors import (
    DistributorNotActive,
    IllegalAssignmentChange,
    IllegalOrderChange,
    InvalidOrder,
    KeyReused,
    LocationNotFound,
    OrderNotFound,
    StockConflict,
)

HOME = (31.2304, 121.4737)  # the customer
SHIP_TO = {"name": "c", "phone": "+8613800000001", "address": "a", "lat": HOME[0], "lon": HOME[1]}
T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


def call(uow, handler, *args, **kwargs):
    try:
        return handler(uow, *args, **kwargs)
    finally:
        uow.rollback()


def location(did: int, lid: int, dlat: float, radius: float = 50.0, active: bool = True,
             at: datetime = T0) -> LocationFacts:
    """A location ``dlat`` degrees (about 111 km each) north of the customer."""
    return LocationFacts(lid, did, f"L{lid}", HOME[0] + dlat, HOME[1], radius, active, at)


def distributor(uow, did: int, *locations: LocationFacts, status: str = "active") -> DistributorFacts:
    facts = DistributorFacts(did, status, 1, locations)
    uow.distributors.known[did] = facts
    call(uow, handlers.apply_distributor_change, f"approved-{did}", facts, None, T0)
    return facts


def stock(uow, did: int, lid: int, **on_hand: int) -> None:
    call(uow, handlers.put_stock, did, lid, list(on_hand.items()), T0)


def reserved(uow, lid: int, sku: str = "A") -> int:
    return uow.store.current_stock(lid, sku).reserved


def place(uow, external_id: str, *lines: tuple[str, int], now: datetime = T0, channel: str = "tmall") -> dict:
    return call(uow, handlers.create_order, channel, external_id, SHIP_TO, list(lines), now)["order"]


def event_types(uow) -> list[str]:
    return [event_type for event_type, _ in uow.events]


@pytest.fixture
def uow():
    uow = InMemoryUnitOfWork()
    uow.catalog.known.update(A=Product("A", "active", ("A2",)), A2=Product("A2", "active"),
                             B=Product("B", "active"), OLD=Product("OLD", "discontinued"))
    uow.pricing.retail.update(A=Decimal("10.00"), A2=Decimal("12.00"), B=Decimal("2.50"), OLD=Decimal("1.00"))
    return uow


@pytest.fixture
def two(uow):
    """Distributor 1 about 1 km from the customer (location 11), distributor 2 about 6 km (21)."""
    distributor(uow, 1, location(1, 11, 0.01))
    distributor(uow, 2, location(2, 21, 0.05))
    return uow


# ---- placing orders -----------------------------------------------------------------------------


def test_the_nearest_location_with_everything_ships_and_its_stock_is_reserved(two):
    uow = two
    stock(uow, 1, 11, A=1)
    stock(uow, 2, 21, A=5)
    placed = place(uow, "E-1", ("A", 2))
    assert placed["status"] == "routed" and placed["retail_total"] == "20.00"
    assert [(s["location_id"], s["lines"], s["status"]) for s in placed["shipments"]] == \
        [(21, [{"sku": "A", "qty": 2}], "pending")]
    assert reserved(uow, 21) == 2 and reserved(uow, 11) == 0
    assert uow.events[0] == ("order_routed", {"order": placed, "version": 1})  # no trigger: first routing
    [(kind, created)] = uow.events[1:]  # the distributor's new work, as GET /v1/assignments lists it
    assert kind == "assignment_created"
    assert (created["assignment"]["id"], created["assignment"]["distributor_id"], created["assignment"]["status"],
            created["assignment"]["ship_to"]) == (placed["shipments"][0]["assignment_id"], 2, "pending", SHIP_TO)
    again = call(uow, handlers.create_order, "tmall", "E-1", SHIP_TO, [("A", 9)], T0 + timedelta(hours=1))
    assert again == {"order": placed, "replayed": True}
    assert len(uow.events) == 2 and reserved(uow, 21) == 2


def scans_recorded(uow, monkeypatch) -> list:
    """What routing asked the store for: ("scan", how many nearest) and ("candidates", None)."""
    asked, cls = [], type(uow.store)
    scan, candidates = cls.nearest_scan, cls.candidates
    monkeypatch.setattr(cls, "nearest_scan", lambda self, *a: asked.append(("scan", a[-1])) or scan(self, *a))
    monkeypatch.setattr(cls, "candidates", lambda self, *a: asked.append(("candidates", None)) or candidates(self, *a))
    return asked


def test_the_nearest_few_are_scanned_first_and_more_only_when_they_fall_short(uow, monkeypatch):
    for i in range(1, 26):  # 25 locations, about 110 m apart going north; only the 23rd has the stock
        distributor(uow, i, location(i, 100 + i, 0.001 * i))
    stock(uow, 23, 123, A=5)
    asked = scans_recorded(uow, monkeypatch)
    placed = place(uow, "S-1", ("A", 2))
    assert [s["location_id"] for s in placed["shipments"]] == [123]
    assert asked == [("scan", 20), ("scan", 60)]  # the nearest 20 have none of it: 60 settle it
    asked.clear()
    placed = place(uow, "S-2", ("A", 1))
    assert [s["location_id"] for s in placed["shipments"]] == [123] and asked == [("scan", 20), ("scan", 60)]


def test_a_scan_that_saw_every_location_is_not_repeated_longer(two, monkeypatch):
    asked = scans_recorded(two, monkeypatch)
    placed = place(two, "S-3", ("A", 1))  # two locations, no stock: back-ordered over every candidate
    assert placed["status"] == "backordered" and asked == [("scan", 20), ("candidates", None)]


def test_what_nobody_can_ship_is_backordered_with_substitutes_and_a_refund(two):
    uow = two
    stock(uow, 1, 11, A=1, A2=3)
    placed = place(uow, "E-1", ("A", 3), ("B", 1))
    assert placed["status"] == "partially_routed"
    assert [(s["location_id"], s["lines"]) for s in placed["shipments"]] == [(11, [{"sku": "A", "qty": 1}])]
    assert placed["backordered"] == [
        {"sku": "A", "qty": 2, "substitutes": ["A2"], "refund_amount": "20.00"},
        {"sku": "B", "qty": 1, "substitutes": [], "refund_amount": "2.50"}]
    assert event_types(uow) == ["order_routed", "order_backordered", "assignment_created"]


def test_an_order_nobody_can_ship_is_backordered(two):
    placed = place(two, "E-1", ("A", 1))
    assert placed["status"] == "backordered" and placed["shipments"] == []
    assert event_types(two) == ["order_backordered"]


def test_an_order_with_a_bad_line_is_refused_and_nothing_is_stored(two):
    uow = two
    stock(uow, 1, 11, A=5)
    for lines, field in (([("A", 1), ("NOPE", 1)], "lines[1].sku"), ([("OLD", 1)], "lines[0].sku"),
                         ([("A", 1_000_000_000)], "lines")):
        with pytest.raises(InvalidOrder) as refused:
            call(uow, handlers.create_order, "tmall", "E-1", SHIP_TO, lines, T0)
        assert [e["field"] for e in refused.value.errors] == [field]
    assert call(uow, handlers.list_orders, {}, None, 10)["items"] == []
    assert uow.events == [] and reserved(uow, 11) == 0


def test_a_reservation_lost_to_a_concurrent_order_routes_again_from_fresh_figures(two):
    uow = two
    stock(uow, 1, 11, A=2)
    stock(uow, 2, 21, A=5)

    def concurrent_order(store):  # takes one unit at 11 between our decision and our reservation
        store.before_reserving = None
        assert store.reserve_all([StockMove(11, "A", 1)])

    uow.store.before_reserving = concurrent_order
    placed = place(uow, "E-1", ("A", 2))
    assert [s["location_id"] for s in placed["shipments"]] == [21]
    assert reserved(uow, 11) == 1 and reserved(uow, 21) == 2
    assert len(call(uow, handlers.get_order, None, placed["id"])["explanation"]) == 1


# ---- the assignment workflow --------------------------------------------------------------------


def test_a_rejected_assignment_is_routed_again_without_its_distributor(two):
    uow = two
    stock(uow, 1, 11, A=5)
    stock(uow, 2, 21, A=5)
    placed = place(uow, "E-1", ("A", 2))
    first = placed["shipments"][0]["assignment_id"]
    assert placed["shipments"][0]["location_id"] == 11
    rejected = call(uow, handlers.reject_assignment, 1, first, "no driver", T0)
    assert rejected["status"] == "rejected" and rejected["reason"] == "no driver"
    assert reserved(uow, 11) == 0 and reserved(uow, 21) == 2
    view = call(uow, handlers.get_order, None, placed["id"])
    assert [s["location_id"] for s in view["shipments"]] == [21] and view["status"] == "routed"
    last = view["explanation"][-1]
    assert last["trigger"] == "rejected"
    assert {c["location_id"]: c["reason"] for c in last["candidates"]} == {11: "excluded_after_reject", 21: "chosen"}
    assert event_types(uow)[-3:] == ["order_routed", "assignment_created", "assignment_rejected"]
    (_, routed), (_, created), (_, announced) = uow.events[-3:]
    assert created["assignment"]["location_id"] == 21  # a rejection is no withdrawal: the distributor did it
    assert routed["trigger"] == "rejected" and routed["order"]["shipments"] == view["shipments"]
    assert announced == {"assignment": rejected, "reason": "no driver", "version": 1}
    with pytest.raises(IllegalAssignmentChange):
        call(uow, handlers.reject_assignment, 1, first, "again", T0)


def test_accepted_then_shipped_the_stock_leaves_and_the_order_is_shipped(two):
    uow = two
    stock(uow, 1, 11, A=5)
    placed = place(uow, "E-1", ("A", 2), ("B", 1))
    a = placed["shipments"][0]["assignment_id"]
    with pytest.raises(IllegalAssignmentChange):  # pending: not yet
        call(uow, handlers.ship_assignment, 1, a, "SF", "SF1", T0)
    assert call(uow, handlers.accept_assignment, 1, a, T0)["status"] == "accepted"
    shipped = call(uow, handlers.ship_assignment, 1, a, "SF", "SF1", T0)
    assert (shipped["status"], shipped["carrier"], shipped["tracking_no"]) == ("shipped", "SF", "SF1")
    assert shipped["ship_to"] == SHIP_TO
    level = uow.store.current_stock(11, "A")
    assert (level.on_hand, level.reserved) == (3, 0)
    assert call(uow, handlers.get_order, "tmall", placed["id"])["status"] == "shipped"
    assert event_types(uow)[-2:] == ["assignment_accepted", "shipment_shipped"]
    assert uow.events[-1][1]["order"] == call(uow, handlers.get_order, "tmall", placed["id"])  # the channel's view
    with pytest.raises(IllegalOrderChange):
        call(uow, handlers.cancel_order, "tmall", placed["id"], "channel", T0)


def test_cancelling_releases_the_reservations_once(two):
    uow = two
    stock(uow, 1, 11, A=5)
    placed = place(uow, "E-1", ("A", 2))
    cancelled = call(uow, handlers.cancel_order, None, placed["id"], "sales", T0)
    assert cancelled["status"] == "cancelled" and "explanation" in cancelled
    assert cancelled["shipments"][0]["status"] == "cancelled" and reserved(uow, 11) == 0
    channel_view = {k: v for k, v in cancelled.items() if k != "explanation"}
    assert uow.events[-2] == ("order_cancelled", {"order": channel_view, "actor": "sales", "version": 1})
    assert uow.events[-1][0] == "assignment_withdrawn"
    assert uow.events[-1][1]["assignment"]["status"] == "cancelled"
    again = call(uow, handlers.cancel_order, "tmall", placed["id"], "channel", T0)
    assert again["status"] == "cancelled" and len(uow.events) == 4 and reserved(uow, 11) == 0


def test_an_assignment_left_pending_past_the_timeout_is_rerouted(two):
    uow = two
    stock(uow, 1, 11, A=5)
    stock(uow, 2, 21, A=5)
    placed = place(uow, "E-1", ("A", 2))
    accepted = place(uow, "E-2", ("A", 1))
    call(uow, handlers.accept_assignment, 1, accepted["shipments"][0]["assignment_id"], T0)
    assert call(uow, handlers.reroute_overdue, T0 + timedelta(minutes=29)) == 0
    assert call(uow, handlers.reroute_overdue, T0 + timedelta(minutes=31)) == 1
    view = call(uow, handlers.get_order, None, placed["id"])
    assert [s["location_id"] for s in view["shipments"]] == [21] and view["explanation"][-1]["trigger"] == "timeout"
    assert call(uow, handlers.get_order, None, accepted["id"])["shipments"][0]["status"] == "accepted"
    assert reserved(uow, 11) == 1 and reserved(uow, 21) == 2
    assert event_types(uow)[-3:] == ["order_routed", "assignment_created", "assignment_withdrawn"]
    assert uow.events[-3][1]["trigger"] == "timeout"
    assert uow.events[-1][1]["assignment"]["status"] == "rerouted"


def test_three_live_shipments_leave_a_reroute_one_slot(uow):
    for did in (1, 2, 3, 4):
        distributor(uow, did, location(did, did * 10 + 1, did / 100))
        stock(uow, did, did * 10 + 1, A=1)
    placed = place(uow, "E-1", ("A", 4))  # 1, 2 and 3 ship one each; 1 back-ordered
    assert [s["location_id"] for s in placed["shipments"]] == [11, 21, 31]
    call(uow, handlers.reject_assignment, 3, placed["shipments"][2]["assignment_id"], "no", T0)
    view = call(uow, handlers.get_order, None, placed["id"])
    assert [s["location_id"] for s in view["shipments"]] == [11, 21, 41]
    assert view["backordered"][0]["qty"] == 1 and view["backordered"][0]["refund_amount"] == "10.00"


# ---- what the distributors service announces ----------------------------------------------------


def test_a_suspension_reroutes_the_distributors_open_assignments_once(two):
    uow = two
    stock(uow, 1, 11, A=5)
    stock(uow, 2, 21, A=5)
    placed = place(uow, "E-1", ("A", 2))
    suspended = dataclasses.replace(uow.distributors.known[1], status="suspended", version=2)
    for _ in range(2):  # a redelivery is applied once
        call(uow, handlers.apply_distributor_change, "suspended-1", suspended, "distributor_suspended", T0)
    view = call(uow, handlers.get_order, None, placed["id"])
    assert [s["location_id"] for s in view["shipments"]] == [21]
    assert [r["trigger"] for r in view["explanation"]] == ["order_created", "distributor_suspended"]
    assert reserved(uow, 11) == 0 and reserved(uow, 21) == 2
    assert uow.store.distributor_status(1) == "suspended"


def test_a_location_gone_inactive_reroutes_within_its_distributor_too(uow):
    distributor(uow, 1, location(1, 11, 0.01), location(1, 12, 0.05))
    stock(uow, 1, 11, A=5)
    stock(uow, 1, 12, A=5)
    placed = place(uow, "E-1", ("A", 2))
    closed = location(1, 11, 0.01, active=False, at=T0 + timedelta(minutes=1))
    call(uow, handlers.apply_location_change, "closed-11", closed, T0)
    view = call(uow, handlers.get_order, None, placed["id"])
    assert [s["location_id"] for s in view["shipments"]] == [12] and reserved(uow, 11) == 0
    # no distributor is excluded, so the short list decides: it holds only eligible locations
    assert [(c["location_id"], c["reason"]) for c in view["explanation"][-1]["candidates"]] == [(12, "chosen")]


def test_an_older_location_fact_does_not_replace_a_newer_one(uow):
    distributor(uow, 1, location(1, 11, 0.01, at=T0))
    call(uow, handlers.apply_location_change, "late", location(1, 11, 0.01, active=False, at=T0 - timedelta(1)), T0)
    assert uow.store.location(11).active


# ---- stock --------------------------------------------------------------------------------------


def test_a_snapshot_line_below_what_is_reserved_is_reported_and_the_rest_applied(two):
    uow = two
    stock(uow, 1, 11, A=5, B=2)
    place(uow, "E-1", ("A", 3))
    answer = call(uow, handlers.put_stock, 1, 11, [("A", 1), ("C", 4)], T0)
    assert answer == {"applied": 1, "rejected": [
        {"sku": "A", "on_hand": 1, "reserved": 3, "reason": "on_hand would fall below reserved"}]}
    page = call(uow, handlers.get_stock, 1, 11, None, 10)
    assert [(r["sku"], r["on_hand"], r["reserved"], r["available"]) for r in page["items"]] == \
        [("A", 5, 3, 2), ("B", 0, 0, 0), ("C", 4, 0, 4)]


def test_deltas_are_all_or_nothing_and_applied_once_per_request_key(two):
    uow = two
    body = {"adjustments": [{"sku": "K", "delta": 5, "reason": "count"}]}
    first = call(uow, handlers.adjust_stock, 1, 11, [("K", 5)], body, T0, "key-1")
    assert first["applied"] == 1 and first["items"][0]["on_hand"] == 5
    assert call(uow, handlers.adjust_stock, 1, 11, [("K", 5)], body, T0, "key-1") == first
    with pytest.raises(KeyReused):
        call(uow, handlers.adjust_stock, 1, 11, [("K", 6)], {"adjustments": [{"sku": "K", "delta": 6}]}, T0,
             "key-1")
    refused = {"adjustments": [{"sku": "K", "delta": 1}, {"sku": "L", "delta": -1}]}
    with pytest.raises(StockConflict) as conflict:
        call(uow, handlers.adjust_stock, 1, 11, [("K", 1), ("L", -1)], refused, T0, "key-2")
    assert [e["field"] for e in conflict.value.errors] == ["adjustments[1].delta"]
    assert uow.store.current_stock(11, "K").on_hand == 5 and uow.store.current_stock(11, "L") is None
    call(uow, handlers.adjust_stock, 1, 11, [("K", -5)], {"other": 1}, T0, "key-2")  # the key was not spent
    assert uow.store.current_stock(11, "K").on_hand == 0


def test_a_distributor_reaches_only_its_own_locations_and_writes_only_while_active(two):
    uow = two
    with pytest.raises(LocationNotFound):
        call(uow, handlers.get_stock, 2, 11, None, 10)
    with pytest.raises(LocationNotFound):
        call(uow, handlers.get_stock, 1, "+11", None, 10)
    suspended = dataclasses.replace(uow.distributors.known[1], status="suspended", version=2)
    uow.distributors.known[1] = suspended
    call(uow, handlers.apply_distributor_change, "suspended-1", suspended, "distributor_suspended", T0)
    assert call(uow, handlers.get_stock, 1, 11, None, 10)["items"] == []  # it may read
    with pytest.raises(DistributorNotActive):
        stock(uow, 1, 11, A=1)
    uow.distributors.known[1] = dataclasses.replace(suspended, status="active", version=3)  # reinstated
    stock(uow, 1, 11, A=1)  # before its event arrives: the distributors service is asked
    assert uow.store.current_stock(11, "A").on_hand == 1


def test_a_location_unknown_here_is_asked_of_the_distributors_service(uow):
    uow.distributors.known[5] = DistributorFacts(5, "active", 1, (location(5, 51, 0.01),))
    stock(uow, 5, 51, A=3)
    assert uow.store.location(51).distributor_id == 5 and uow.store.distributor_status(5) == "active"


# ---- reading orders -----------------------------------------------------------------------------


def test_a_channel_sees_only_its_own_orders_and_the_sales_team_sees_the_explanation(two):
    uow = two
    placed = place(uow, "E-1", ("A", 1))
    assert "explanation" not in call(uow, handlers.get_order, "tmall", placed["id"])
    assert call(uow, handlers.get_order, None, str(placed["id"]))["explanation"][0]["trigger"] == "order_created"
    for channel, order_id in (("jd", placed["id"]), ("tmall", f" {placed['id']}"), ("tmall", 2**53)):
        with pytest.raises(OrderNotFound):
            call(uow, handlers.get_order, channel, order_id)


def test_the_order_search_filters_and_pages(two):
    uow = two
    stock(uow, 1, 11, A=1)
    stock(uow, 2, 21, A=5)
    first = place(uow, "E-1", ("A", 1))                      # from 1
    second = place(uow, "E-2", ("A", 1), channel="jd")      # from 2: 1 is empty
    nothing = place(uow, "E-3", ("B", 1))                   # nobody has B
    search = handlers.list_orders
    assert [o["id"] for o in call(uow, search, {}, None, 10)["items"]] == [nothing["id"], second["id"], first["id"]]
    assert [o["id"] for o in call(uow, search, {"distributor_id": 1}, None, 10)["items"]] == [first["id"]]
    assert [o["id"] for o in call(uow, search, {"channel": "jd"}, None, 10)["items"]] == [second["id"]]
    assert [o["id"] for o in call(uow, search, {"status": "backordered"}, None, 10)["items"]] == [nothing["id"]]
    page = call(uow, search, {}, None, 2)
    assert len(page["items"]) == 2 and page["next_cursor"] and "explanation" not in page["items"][0]
    assert page["items"][1]["shipments"][0]["location_id"] == 21


def test_a_distributor_lists_its_assignments_with_the_ship_to_address(two):
    uow = two
    stock(uow, 1, 11, A=5)
    a = place(uow, "E-1", ("A", 1))["shipments"][0]["assignment_id"]
    place(uow, "E-2", ("A", 1))
    call(uow, handlers.accept_assignment, 1, a, T0)
    listed = call(uow, handlers.list_assignments, 1, "pending", None, 10)
    assert [x["status"] for x in listed["items"]] == ["pending"] and listed["items"][0]["ship_to"] == SHIP_TO
    assert call(uow, handlers.list_assignments, 2, None, None, 10)["items"] == []


# ---- the unit of work ---------------------------------------------------------------------------


def test_every_handler_that_writes_commits_what_it_wrote(two):
    """``call`` drops what was not committed: a handler that forgot to commit would lose it here."""
    uow = two
    stock(uow, 1, 11, A=5)
    commits = uow.commits
    placed = place(uow, "E-1", ("A", 1))
    call(uow, handlers.accept_assignment, 1, placed["shipments"][0]["assignment_id"], T0)
    assert uow.commits == commits + 2
    assert call(uow, handlers.get_order, "tmall", placed["id"])["shipments"][0]["status"] == "accepted"
    assert domain.FRESHNESS == timedelta(hours=24) and domain.ACCEPT_TIMEOUT == timedelta(minutes=30)
