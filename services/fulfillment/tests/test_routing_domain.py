"""The routing decision on plain values: a table for each rule and tie-break, and a property test
against an independently written brute-force reference on random networks."""
import math
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fulfillment import domain
from fulfillment.domain import Location
from fulfillment.errors import IllegalAssignmentChange

HOME = (31.2304, 121.4737)  # the customer, central Shanghai


def loc(id_, dlat=0.0, dlon=0.0, fresh=None, stale=None, radius=50.0, active=True, dist_active=True,
        distributor=None):
    return Location(id_, distributor or id_ * 10, HOME[0] + dlat, HOME[1] + dlon, radius, active,
                    dist_active, fresh or {}, stale or {})


def test_haversine_on_a_6371_km_sphere():
    assert domain.distance_km(31.2304, 121.4737, 39.9042, 116.4074) == pytest.approx(1067.3, abs=0.1)
    assert domain.distance_km(*HOME, *HOME) == 0.0


def test_the_nearest_location_that_ships_everything_wins():
    d = domain.route([("A", 2), ("B", 1)], *HOME, [
        loc(1, 0.01, fresh={"A": 5, "B": 5}), loc(2, 0.001, fresh={"A": 5}),  # nearer but partial
        loc(3, 0.02, fresh={"A": 9, "B": 9})])
    assert [(s.location_id, s.lines) for s in d.shipments] == [(1, (("A", 2), ("B", 1)))]
    reasons = {c.location_id: c.reason for c in d.candidates}
    assert reasons == {1: "chosen", 2: "insufficient_stock", 3: "farther"}
    assert d.backordered == ()


def test_ties_go_to_more_available_units_then_the_lower_location_id():
    same = dict(dlat=0.01)
    d = domain.route([("A", 1)], *HOME, [loc(2, **same, fresh={"A": 3}), loc(1, **same, fresh={"A": 3}),
                                         loc(3, **same, fresh={"A": 7})])
    assert d.shipments[0].location_id == 3
    d = domain.route([("A", 1)], *HOME, [loc(2, **same, fresh={"A": 3}), loc(1, **same, fresh={"A": 3})])
    assert d.shipments[0].location_id == 1


def test_otherwise_a_nearest_first_split_of_at_most_three_and_the_rest_backordered():
    d = domain.route([("A", 10)], *HOME, [loc(i, 0.01 * i, fresh={"A": 2}) for i in range(1, 6)])
    assert [(s.location_id, s.lines) for s in d.shipments] == [(1, (("A", 2),)), (2, (("A", 2),)),
                                                               (3, (("A", 2),))]
    assert d.backordered == (("A", 4),)
    assert {c.location_id: c.reason for c in d.candidates}[4] == "shipment_limit"


def test_ineligible_locations_are_explained():
    d = domain.route([("A", 1)], *HOME, [
        loc(1, 1.0, fresh={"A": 5}),                       # ~111 km away, radius 50
        loc(2, 0.01, fresh={"A": 5}, active=False),
        loc(3, 0.01, fresh={"A": 5}, dist_active=False),
        loc(4, 0.01, fresh={"B": 5}),
        loc(5, 0.01, fresh={"A": 5}, distributor=99),
        loc(6, 0.02, fresh={"A": 5})], excluded_distributors=frozenset({99}))
    reasons = {c.location_id: c.reason for c in d.candidates}
    assert reasons == {1: "out_of_radius", 2: "location_inactive", 3: "distributor_inactive",
                       4: "no_stock", 5: "excluded_after_reject", 6: "chosen"}
    assert [c.distance_km for c in d.candidates][:1] == [1.1]


def test_stale_stock_serves_only_what_fresh_stock_cannot():
    d = domain.route([("A", 3)], *HOME, [loc(1, 0.001, stale={"A": 9}), loc(2, 0.02, fresh={"A": 3})])
    assert [s.location_id for s in d.shipments] == [2]
    assert {c.location_id: c.reason for c in d.candidates}[1] == "stale_stock"
    d = domain.route([("A", 5)], *HOME, [loc(1, 0.001, stale={"A": 9}), loc(2, 0.02, fresh={"A": 3})])
    assert [(s.location_id, s.lines, s.stale) for s in d.shipments] == [
        (2, (("A", 3),), False), (1, (("A", 2),), True)]


def test_nothing_anywhere_is_all_backordered():
    d = domain.route([("A", 1), ("B", 2)], *HOME, [])
    assert d.shipments == () and d.backordered == (("A", 1), ("B", 2))


@pytest.mark.parametrize("status,action,result", [
    ("pending", "accept", "accepted"), ("accepted", "ship", "shipped"), ("pending", "reject", "rejected"),
    ("accepted", "reject", "rejected"), ("pending", "reroute", "rerouted"), ("accepted", "cancel", "cancelled"),
])
def test_legal_assignment_moves(status, action, result):
    assert domain.move_assignment(status, action) == result


@pytest.mark.parametrize("status,action", [
    ("accepted", "accept"), ("pending", "ship"), ("shipped", "reject"), ("shipped", "cancel"),
    ("rejected", "accept"), ("cancelled", "ship"),
])
def test_illegal_assignment_moves(status, action):
    with pytest.raises(IllegalAssignmentChange):
        domain.move_assignment(status, action)


@pytest.mark.parametrize("statuses,backordered,cancelled,expected", [
    (["pending"], 0, False, "routed"), (["pending", "shipped"], 0, False, "routed"),
    (["accepted", "rejected"], 0, False, "routed"),
    (["shipped", "shipped"], 0, False, "shipped"), (["pending"], 2, False, "partially_routed"),
    (["shipped", "accepted"], 2, False, "partially_routed"),
    (["shipped"], 2, False, "shipped"),                    # the rest is back-ordered: nothing more ships
    (["shipped", "rerouted"], 1, False, "shipped"), (["shipped", "cancelled"], 0, False, "shipped"),
    ([], 2, False, "backordered"), (["rejected"], 2, False, "backordered"),
    (["rerouted", "rejected"], 3, False, "backordered"),
    (["pending"], 0, True, "cancelled"), (["shipped"], 2, True, "cancelled"),
])
def test_order_status(statuses, backordered, cancelled, expected):
    assert domain.order_status(statuses, backordered, cancelled) == expected


def test_the_retail_total_is_the_sum_of_unit_price_times_qty():
    assert domain.retail_total([("A", 3), ("B", 1)], {"A": "99.90", "B": "0.05"}) == Decimal("299.75")
    assert domain.retail_total([], {}) == Decimal("0.00")


# ---- the bounded explanation --------------------------------------------------------------------


def cand(id_, km, available, reason, chosen=False):
    return domain.Candidate(id_, id_ * 10, km, available, chosen, "chosen" if chosen else reason)


def test_an_explanation_lists_the_chosen_and_the_nearest_20_others_with_stock():
    far_chosen = cand(1, 40.0, 5, "", chosen=True)
    with_stock = [cand(100 + i, 1.0 + i, 2, "insufficient_stock") for i in range(25)]
    without = [cand(200 + i, 0.5, 0, "no_stock") for i in range(7)]
    ineligible = [cand(300, 0.1, 0, "location_inactive"), cand(301, 0.2, 4, "excluded_after_reject")]
    listed, omitted = domain.explained([*with_stock, far_chosen, *without, *ineligible])
    assert [c.location_id for c in listed] == [301, *range(100, 119), 1]   # nearest first
    assert sum(not c.chosen for c in listed) == 20
    assert omitted == {"insufficient_stock": 6, "location_inactive": 1, "no_stock": 7}
    assert len(listed) + sum(omitted.values()) == 35


def test_a_small_round_omits_only_the_candidates_without_stock():
    listed, omitted = domain.explained([cand(1, 2.0, 3, "", chosen=True), cand(2, 1.0, 1, "insufficient_stock"),
                                        cand(3, 0.5, 0, "no_stock"), cand(4, 60.0, 9, "out_of_radius")])
    assert [c.location_id for c in listed] == [2, 1, 4]
    assert omitted == {"no_stock": 1}
    assert domain.explained([]) == ((), {})


def test_every_chosen_candidate_is_listed_even_beyond_the_limit():
    chosen = [cand(i, 30.0 + i, 1, "", chosen=True) for i in range(1, 4)]
    others = [cand(10 + i, 1.0 + i / 10, 1, "farther") for i in range(30)]
    listed, omitted = domain.explained(others + chosen, others=20)
    assert {c.location_id for c in listed if c.chosen} == {1, 2, 3}
    assert len(listed) == 23 and omitted == {"farther": 10}


# ---- the reference ------------------------------------------------------------------------------

def reference_distance(lat1, lon1, lat2, lon2):
    """The same great circle by the atan2 form, written separately."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlmb = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 6371.0 * 2 * math.atan2(math.sqrt(a), math.sqrt(1 - a))


def reference(lines, lat, lon, locations, max_shipments=3):
    want = {}
    for sku, qty in lines:
        want[sku] = want.get(sku, 0) + qty
    left = dict(want)
    plan = []
    for kind in ("fresh", "stale"):
        options = []
        for x in locations:
            stock = getattr(x, kind)
            if (x.active and x.distributor_active and reference_distance(lat, lon, x.lat, x.lon) <= x.service_radius_km
                    and any(stock.get(s, 0) > 0 for s in want)):
                options.append((round(reference_distance(lat, lon, x.lat, x.lon), 1),
                                -sum(stock.get(s, 0) for s in want), x.id, stock))
        need = {s: q for s, q in left.items() if q}
        options = [o for o in options if any(o[3].get(s, 0) > 0 for s in need)]
        if not need or len(plan) >= max_shipments:
            continue
        everything = sorted(o for o in options if all(o[3].get(s, 0) >= q for s, q in need.items()))
        if everything:
            plan.append((everything[0][2], tuple(sorted(need.items()))))
            left = {s: 0 for s in left}
            continue
        for _, _, lid, stock in sorted(options, key=lambda o: o[:3]):
            if len(plan) >= max_shipments:
                break
            take = {s: min(q, stock.get(s, 0)) for s, q in left.items() if q and stock.get(s, 0)}
            if take:
                plan.append((lid, tuple(sorted(take.items()))))
                for s, q in take.items():
                    left[s] -= q
    return plan, tuple((s, q) for s, q in left.items() if q)


stock_maps = st.dictionaries(st.sampled_from(["A", "B", "C"]), st.integers(0, 6), max_size=3)
networks = st.lists(st.tuples(st.floats(-0.6, 0.6), st.floats(-0.6, 0.6), stock_maps, stock_maps,
                              st.booleans(), st.integers(5, 80)), min_size=0, max_size=10)
orders = st.lists(st.tuples(st.sampled_from(["A", "B", "C"]), st.integers(1, 8)), min_size=1, max_size=3,
                  unique_by=lambda t: t[0])


@settings(max_examples=300, deadline=None)
@given(order=orders, network=networks)
def test_the_decision_matches_the_brute_force_reference(order, network):
    locations = [Location(i + 1, 100 + i, HOME[0] + dlat, HOME[1] + dlon, radius, True, active, fresh, stale)
                 for i, (dlat, dlon, fresh, stale, active, radius) in enumerate(network)]
    d = domain.route(order, *HOME, locations)
    plan, left = reference(order, *HOME, locations)
    # a location chosen over both fresh and stale stock ships once: compare merged plans
    merged = {}
    for lid, shipped in plan:
        for sku, q in shipped:
            merged.setdefault(lid, {}).setdefault(sku, 0)
            merged[lid][sku] += q
    assert {s.location_id: dict(s.lines) for s in d.shipments} == merged
    assert d.backordered == left
    routed = sum(q for s in d.shipments for _, q in s.lines)
    assert routed + sum(q for _, q in d.backordered) == sum(q for _, q in order)


@settings(max_examples=200, deadline=None)
@given(order=orders, network=st.lists(st.tuples(st.floats(-0.6, 0.6), st.floats(-0.6, 0.6), stock_maps,
                                               st.booleans()), max_size=40))
def test_a_bounded_round_accounts_for_every_candidate(order, network):
    locations = [Location(i + 1, 100 + i, HOME[0] + dlat, HOME[1] + dlon, 50.0, True, active, fresh, {})
                 for i, (dlat, dlon, fresh, active) in enumerate(network)]
    candidates = domain.route(order, *HOME, locations).candidates
    listed, omitted = domain.explained(candidates, others=5)
    assert len(listed) + sum(omitted.values()) == len(candidates)
    assert {c.location_id for c in candidates if c.chosen} <= {c.location_id for c in listed}
    assert sum(not c.chosen for c in listed) <= 5 and all(c.available > 0 for c in listed)
    nearest = sorted((c for c in candidates if not c.chosen and c.available > 0),
                     key=lambda c: (c.distance_km, c.location_id))[:5]
    assert [c for c in listed if not c.chosen] == nearest
