"""The Order aggregate and the short-list policy on plain values: build an order, call a method,
look at what it decided — shipments, back-orders, refunds, status, events. No database, no mocks."""
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from fulfillment import domain
from fulfillment.domain import (
    Assignment,
    AssignmentRejected,
    Backorder,
    Location,
    NearestScan,
    Order,
    OrderBackordered,
    OrderCancelled,
    OrderLine,
    OrderRouted,
    Product,
    Routing,
    ShipmentShipped,
    StockMove,
)
from fulfillment.errors import IllegalAssignmentChange, IllegalOrderChange, InvalidOrder

HOME = (31.2304, 121.4737)
T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
NOW = T0 + timedelta(hours=1)


def loc(id_, dlat=0.0, fresh=None, stale=None, radius=50.0, distributor=None):
    return Location(id_, distributor or id_ * 10, HOME[0] + dlat, HOME[1], radius, True, True,
                    fresh or {}, stale or {})


def assignment(id_, status=domain.PENDING, location=1, lines=(("A", 1),), order_id=7):
    return Assignment(id_, order_id, location * 10, location, 1.0, tuple(OrderLine(*line) for line in lines),
                      status, created_at=T0, updated_at=T0)


def order(lines=(("A", 2),), assignments=(), backordered=(), status=domain.NEW, excluded=frozenset(),
          substitutes=None):
    return Order(id=7, channel="tmall", external_id="E-1", ship_to={"lat": HOME[0], "lon": HOME[1]},
                 lat=HOME[0], lon=HOME[1], lines=tuple(OrderLine(*line) for line in lines),
                 retail={"A": Decimal("10.00"), "B": Decimal("2.50")},
                 substitutes=substitutes or {"A": ("A2", "A3"), "B": ()}, retail_total=Decimal("20.00"),
                 status=status, created_at=T0, updated_at=T0, backordered=tuple(backordered),
                 excluded_distributors=frozenset(excluded), assignments=tuple(assignments))


def routed(o: Order, lines, locations, excluded=frozenset(), max_shipments=domain.MAX_SHIPMENTS) -> Routing:
    return Routing(domain.route(list(lines), o.lat, o.lon, list(locations), frozenset(excluded), max_shipments),
                   tuple(locations))


# ---- placing an order ---------------------------------------------------------------------------


def test_an_order_one_location_ships_whole_is_routed():
    o = order()
    change = o.place(routed(o, o.lines, [loc(1, 0.01, fresh={"A": 5})]), NOW)
    assert change.status == domain.ROUTED
    assert [(s.location_id, s.lines) for s in change.shipments] == [(1, (("A", 2),))]
    assert change.backordered == () and change.refunds == {}
    assert change.events == (OrderRouted(7),)
    round_ = change.order.explanation[-1]
    assert round_["trigger"] == "order_created" and round_["at"] == NOW.isoformat()
    assert [(c["location_id"], c["reason"]) for c in round_["candidates"]] == [(1, "chosen")]
    assert round_["omitted"] == {} and round_["stale_stock_used"] is False and "note" not in round_
    assert change.order.updated_at == NOW


def test_what_nobody_can_ship_is_backordered_with_substitutes_in_stock_nearby_and_a_refund():
    o = order(lines=(("A", 3), ("B", 4)))
    near = loc(1, 0.01, fresh={"A": 1, "B": 4, "A3": 2})
    beyond = loc(2, 0.9, fresh={"A2": 9}, radius=5.0)  # has a substitute, but does not reach the customer
    change = o.place(routed(o, o.lines, [near, beyond]), NOW)
    assert change.status == domain.PARTIALLY_ROUTED
    assert change.backordered == (Backorder("A", 2, ("A3",), Decimal("20.00")),)
    assert change.refunds == {"A": Decimal("20.00")}
    assert change.events == (OrderRouted(7), OrderBackordered(7))


def test_an_order_nothing_of_which_can_ship_is_backordered_and_announced_once():
    o = order()
    change = o.place(Routing(domain.Decision.nothing_placed(o.lines), ()), NOW)
    assert change.status == domain.BACKORDERED and change.shipments == ()
    assert change.backordered == (Backorder("A", 2, (), Decimal("20.00")),)
    assert change.events == (OrderBackordered(7),)


def test_stale_stock_is_noted_in_the_round():
    o = order()
    change = o.place(routed(o, o.lines, [loc(1, 0.01, stale={"A": 5})]), NOW)
    round_ = change.order.explanation[-1]
    assert round_["stale_stock_used"] is True and "freshness window" in round_["note"]


# ---- re-routing ---------------------------------------------------------------------------------


def test_a_reroute_ends_the_assignments_releases_their_stock_and_excludes_their_distributor():
    o = order(lines=(("A", 2), ("B", 1)), status=domain.ROUTED, excluded={99}, assignments=[
        assignment(1, domain.PENDING, location=1, lines=(("A", 2),)),
        assignment(2, domain.ACCEPTED, location=2, lines=(("B", 1),))])
    plan = o.reroute([1], "timeout", NOW)
    assert [(a.id, a.status, a.reason, a.updated_at) for a in plan.ended] == [(1, "rerouted", "timeout", NOW)]
    assert plan.released == (StockMove(1, "A", 2),)
    assert plan.lines == (("A", 2),)
    assert plan.excluded == {10, 99}
    assert plan.max_shipments == 2  # one assignment still counts
    assert plan.order.assignment(1).status == domain.REROUTED and plan.order.assignment(2).status == domain.ACCEPTED


def test_a_reroute_places_again_merges_the_backorders_and_announces_with_its_trigger():
    o = order(lines=(("A", 4), ("B", 1)), status=domain.PARTIALLY_ROUTED, assignments=[
        assignment(1, domain.PENDING, location=1, lines=(("A", 2),)),
        assignment(2, domain.ACCEPTED, location=2, lines=(("B", 1),))],
        backordered=[Backorder("A", 2, ("A2",), Decimal("20.00"))])
    plan = o.reroute([1], "distributor_suspended", NOW)
    still_there = loc(1, 0.01, fresh={"A": 9, "A3": 1})  # of the excluded distributor
    other = loc(3, 0.02, fresh={"A": 1})
    change = plan.place(routed(plan.order, plan.lines, [still_there, other], plan.excluded, plan.max_shipments),
                        NOW)
    assert [(s.location_id, s.lines) for s in change.shipments] == [(3, (("A", 1),))]
    # 2 from before and 1 now: one line, its refund for 3, substitutes as found now (A3 is excluded's)
    assert change.backordered == (Backorder("A", 3, (), Decimal("30.00")),)
    assert change.status == domain.PARTIALLY_ROUTED
    assert change.events == (OrderRouted(7, "distributor_suspended"),)
    reasons = {c["location_id"]: c["reason"] for c in change.order.explanation[-1]["candidates"]}
    assert reasons == {1: "excluded_after_reject", 3: "chosen"}
    assert change.order.excluded_distributors == {10}


def test_a_rejection_is_announced_after_the_order():
    o = order(status=domain.ROUTED, assignments=[assignment(1, domain.ACCEPTED)])
    plan = o.reroute([1], "rejected", NOW, action=domain.REJECT, reason="no driver")
    assert plan.ended[0].status == domain.REJECTED and plan.ended[0].reason == "no driver"
    change = plan.place(Routing(domain.Decision.nothing_placed(plan.lines), ()), NOW)
    assert change.status == domain.BACKORDERED
    assert change.events == (OrderBackordered(7, "rejected"), AssignmentRejected(1, "no driver"))


def test_a_location_gone_inactive_does_not_exclude_its_distributor():
    o = order(status=domain.ROUTED, assignments=[assignment(1)])
    assert o.reroute([1], "location_inactive", NOW, exclude=False).excluded == frozenset()


def test_an_assignment_no_longer_open_is_left_alone():
    o = order(status=domain.ROUTED, assignments=[assignment(1, domain.CANCELLED), assignment(2, domain.SHIPPED)])
    plan = o.reroute([1, 2], "timeout", NOW)
    assert plan.ended == () and plan.lines == () and plan.released == ()


def test_after_three_live_assignments_a_reroute_still_gets_one_shipment():
    o = order(status=domain.ROUTED, assignments=[assignment(i, domain.ACCEPTED, location=i) for i in (1, 2, 3)]
              + [assignment(4, domain.PENDING, location=4)])
    assert o.reroute([4], "timeout", NOW).max_shipments == 1


# ---- shipping and cancelling --------------------------------------------------------------------


def test_shipping_consumes_the_stock_and_ships_the_order_once_every_live_line_has_shipped():
    o = order(status=domain.PARTIALLY_ROUTED, backordered=[Backorder("B", 1, (), Decimal("2.50"))], assignments=[
        assignment(1, domain.ACCEPTED, lines=(("A", 2),)), assignment(2, domain.REJECTED, location=2)])
    change = o.ship(1, "SF", "SF1", NOW)
    assert change.status == domain.SHIPPED  # the back-ordered line will not ship: nothing more will
    assert [(a.status, a.carrier, a.tracking_no) for a in change.changed] == [("shipped", "SF", "SF1")]
    assert change.consumed == (StockMove(1, "A", 2),) and change.released == ()
    assert change.events == (ShipmentShipped(1),)
    assert change.order.backordered == o.backordered


def test_only_an_accepted_assignment_ships():
    with pytest.raises(IllegalAssignmentChange):
        order(assignments=[assignment(1, domain.PENDING)]).ship(1, "SF", "SF1", NOW)


def test_cancelling_releases_what_open_assignments_hold():
    o = order(status=domain.ROUTED, assignments=[
        assignment(1, domain.PENDING, lines=(("A", 1),)), assignment(2, domain.ACCEPTED, location=2),
        assignment(3, domain.REJECTED, location=3)])
    change = o.cancel("sales", NOW)
    assert change.status == domain.CANCELLED
    assert [(a.id, a.status, a.reason) for a in change.changed] == [
        (1, "cancelled", "order cancelled by sales"), (2, "cancelled", "order cancelled by sales")]
    assert change.released == (StockMove(1, "A", 1), StockMove(2, "A", 1))
    assert change.events == (OrderCancelled(7, "sales"),)
    assert change.order.explanation == o.explanation and change.order.backordered == o.backordered


def test_a_cancelled_order_cancels_to_nothing_and_a_shipped_one_not_at_all():
    assert order(status=domain.CANCELLED).cancel("sales", NOW) is None
    with pytest.raises(IllegalOrderChange):
        order(status=domain.ROUTED, assignments=[assignment(1, domain.SHIPPED)]).cancel("sales", NOW)


def test_an_accepted_assignment_records_its_event():
    change = assignment(1).accept(NOW)
    assert change.assignment.status == domain.ACCEPTED and change.assignment.updated_at == NOW
    assert change.events == (domain.AssignmentAccepted(1),)


# ---- a new order --------------------------------------------------------------------------------

PRODUCTS = {"A": Product("A", "active", ("A2",)), "D": Product("D", "discontinued"), "N": Product("N", "active")}
PRICES = {"A": Decimal("10.00"), "D": Decimal("1.00")}


def test_a_new_order_is_priced_at_retail_with_its_substitutes():
    place = domain.locate_ship_to({"address": "x", "lat": 1.0, "lon": 2.0})
    new = domain.new_order("tmall", "E-1", {"lat": 1.0, "lon": 2.0}, [("A", 2), ("A", 1)], PRODUCTS, PRICES,
                           Decimal("100"), place)
    assert (new.lat, new.lon, new.geocode["precision"]) == (1.0, 2.0, "given")
    assert new.retail_total == Decimal("30.00") and new.retail == {"A": Decimal("10.00")}
    assert new.substitutes == {"A": ("A2",)} and new.lines == (("A", 2), ("A", 1))


@pytest.mark.parametrize(("lines", "fields"), [
    ([("A", 1), ("X", 1)], ["lines[1].sku"]),   # unknown
    ([("D", 1)], ["lines[0].sku"]),             # not active
    ([("N", 1), ("X", 1)], ["lines[0].sku", "lines[1].sku"]),  # no retail price; every line named
    ([("A", 11)], ["lines"]),                   # worth more than the limit
])
def test_a_new_order_names_what_is_wrong(lines, fields):
    with pytest.raises(InvalidOrder) as refused:
        domain.new_order("tmall", "E-1", {}, lines, PRODUCTS, PRICES, Decimal("100"), GIVEN_PLACE)
    assert [e["field"] for e in refused.value.errors] == fields


GIVEN_PLACE = {"precision": "given", "adcode": None, "province": None, "city": None, "district": None,
               "lat": 1.0, "lon": 2.0}


# ---- where an order is routed from --------------------------------------------------------------


def test_coordinates_win_over_the_address():
    assert domain.locate_ship_to({"address": "浙江省杭州市西湖区文三路90号", "lat": 31.0, "lon": 121.0}) == {
        "precision": "given", "adcode": None, "province": None, "city": None, "district": None,
        "lat": 31.0, "lon": 121.0}


def test_an_address_alone_is_placed_at_its_district_centre():
    place = domain.locate_ship_to({"address": "浙江省杭州市西湖区文三路90号"})
    assert (place["precision"], place["adcode"], place["province"], place["city"], place["district"]) == (
        "district", "330106", "浙江省", "杭州市", "西湖区")
    assert 30 < place["lat"] < 30.5 and 119.9 < place["lon"] < 120.3


def test_the_hint_fields_settle_a_shared_district_name():
    assert domain.locate_ship_to({"address": "朝阳区建国路1号", "city": "长春市"})["adcode"] == "220104"
    assert domain.locate_ship_to({"address": "朝阳区建国路1号", "province": "北京"})["adcode"] == "110105"


@pytest.mark.parametrize(("ship_to", "field", "words"), [
    ({"address": "朝阳区建国路1号"}, "ship_to.address", ["北京市朝阳区", "吉林省长春市朝阳区"]),
    ({"address": "西湖区文三路90号"}, "ship_to.address", ["浙江省杭州市西湖区", "江西省南昌市西湖区"]),
    ({"address": "Main Street 1"}, "ship_to.address", []),
    ({"address": "文三路90号", "city": "火星市"}, "ship_to.city", []),
    ({"address": "浙江省杭州市西湖区", "lat": 30.0}, "ship_to.lon", []),
    ({"address": "浙江省杭州市西湖区", "lon": 120.0}, "ship_to.lat", []),
])
def test_an_address_that_cannot_be_placed_is_refused_naming_the_field(ship_to, field, words):
    with pytest.raises(InvalidOrder) as refused:
        domain.locate_ship_to(ship_to)
    [error] = refused.value.errors
    assert error["field"] == field
    assert error.get("candidates", []) == words
    assert all(word in refused.value.detail for word in words)


def test_a_round_says_how_precisely_the_destination_was_placed():
    decision = domain.route([("A", 1)], 30.0, 120.0, [])
    assert domain.routing_round(decision, "order_created", NOW)["geocode_precision"] == "given"
    province = domain.routing_round(decision, "order_created", NOW, "province")
    assert province["geocode_precision"] == "province" and "province" in province["note"]
    assert "note" not in domain.routing_round(decision, "order_created", NOW, "district")


# ---- the short list -----------------------------------------------------------------------------


def scan(whole=(), stocked=(), scanned=None, window_km=None, limits=(60, 4, 20)):
    scanned = len({x.id for x in (*whole, *stocked)}) if scanned is None else scanned
    return NearestScan(tuple(whole), tuple(stocked), scanned, window_km, *limits)


def test_a_short_list_nothing_was_cut_from_is_complete():
    a, b = loc(1, 0.01, fresh={"A": 5}), loc(2, 0.02, fresh={"A": 1})
    short = domain.short_list(scan(whole=[a], stocked=[b, a]), *HOME, reach_km=50)
    assert short.locations == (a, b) and short.complete and short.whole_known


def test_a_full_list_is_cut_before_its_last_distance():
    near, tie1, tie2 = loc(1, 0.01, fresh={"A": 1}), loc(2, 0.02, fresh={"A": 1}), loc(3, 0.02, fresh={"A": 1})
    short = domain.short_list(scan(stocked=[near, tie1, tie2], limits=(60, 4, 3)), *HOME, reach_km=50)
    assert short.locations == (near,) and not short.complete and short.whole_known


def test_a_scan_that_stopped_short_of_the_reach_may_hide_the_one_that_ships_everything():
    far = loc(1, 0.3, fresh={"A": 9})  # ~33 km, beyond the 20 km the scan covered
    short = domain.short_list(scan(whole=[far], scanned=60, window_km=20.0), *HOME, reach_km=50)
    assert short.locations == () and not short.complete and not short.whole_known
    assert domain.decided_by_short_list([("A", 1)], *HOME, short) is None


@pytest.mark.parametrize(("stock", "complete", "decided"), [
    ({"fresh": {"A": 5}}, False, True),   # everything placed from fresh stock: settled even if cut
    ({"stale": {"A": 5}}, True, True),    # stale stock used, but nothing was cut: every candidate is here
    ({"stale": {"A": 5}}, False, False),  # stale and cut: a fresh one may be beyond the cut
    ({"fresh": {"A": 1}}, True, False),   # back-ordered: substitutes are looked up among everyone
])
def test_the_short_list_decides_only_what_every_candidate_would(stock, complete, decided):
    short = domain.ShortList((loc(1, 0.01, **stock),), complete, whole_known=True)
    decision = domain.decided_by_short_list([("A", 2)], *HOME, short)
    assert (decision is not None) == decided


def test_a_round_recorded_before_rounds_were_bounded_is_bounded_when_shown():
    legacy = {"trigger": "order_created", "candidates": [
        {"location_id": i, "distributor_id": 1, "distance_km": i / 10, "available": 1, "chosen": i == 0,
         "reason": "farther"} for i in range(30)]}
    shown = domain.bounded_round(legacy)
    assert len(shown["candidates"]) == 21 and shown["omitted"] == {"farther": 9}
    assert domain.bounded_round(shown) is shown
