"""Distributors upload stock, storefronts order, routing picks the nearest distributors, and the
assignment workflow runs — through the gateway."""
import uuid
from concurrent.futures import ThreadPoolExecutor

import psycopg2
import pytest
from test_onboarding_api import application

from common.testing import wait_until
from conftest import Client, onboard_distributor

CUSTOMER = {"name": "Li Na", "phone": "13812345678", "address": "1 Huaihai Rd, Shanghai",
            "lat": 31.2304, "lon": 121.4737}


@pytest.fixture
def skus(client, uniq):
    """Three active, priced products; the third is the first's substitute."""
    made = [f"{uniq}-A", f"{uniq}-B", f"{uniq}-SUB"]
    for i, sku in enumerate(made):
        body = {"sku": sku, "name": sku, "category": "towels", "lifecycle": "classic", "status": "active"}
        if i == 0:
            client["sales"].post("/v1/admin/products", json={**body, "sku": made[2]})
            body["substitutes"] = [made[2]]
        if i < 2:
            client["sales"].post("/v1/admin/products", json=body)
        client["manager"].put(f"/v1/admin/prices/{sku}", json={"list_price": f"{100 + i * 10}.00",
                                                               "floor_price": "50.00"})
    return made


def distributor_at(client, system, dlat: float, dlon: float = 0.0, radius: float = 50):
    """A distributor with one location (dlat, dlon) degrees from the customer; returns (client, ids)."""
    app = application(locations=[{"name": "DC", "lat": CUSTOMER["lat"] + dlat,
                                  "lon": CUSTOMER["lon"] + dlon, "service_radius_km": radius}])
    approved = onboard_distributor(system.base_url, client["manager"].session.headers[
        "Authorization"].split()[1], app)
    dist = Client(system.base_url, approved["api_key"])
    location_id = dist.get("/v1/me").json()["locations"][0]["id"]
    return dist, approved["distributor_id"], location_id


def two_distributors(client, system, base_lat: float, sku: str, on_hand: int):
    """Two distributors 0.1° apart on a latitude band of the test's own, each holding ``on_hand`` of
    ``sku``; returns (lat, (client, distributor id, location id) for the nearer, … for the farther)."""
    lat = base_lat + (uuid.uuid4().int % 1000) / 1000
    pair = []
    for offset in (0.0, 0.1):
        dist, did, loc = distributor_at(client, system, lat - CUSTOMER["lat"] + offset)
        dist.put(f"/v1/locations/{loc}/stock", json={"items": [{"sku": sku, "on_hand": on_hand}]})
        pair.append((dist, did, loc))
    return lat, pair[0], pair[1]


def order(client, lines, external_id=None, **ship_to):
    return client["channel"].post("/v1/orders", json={
        "external_id": external_id or uuid.uuid4().hex, "ship_to": {**CUSTOMER, **ship_to},
        "lines": [{"sku": s, "qty": q} for s, q in lines]})


def stock(dist, location_id):
    return {r["sku"]: r for r in dist.get(f"/v1/locations/{location_id}/stock", params={"limit": 500})
            .json()["items"]}


def test_stock_snapshots_and_adjustments(client, system, skus):
    a, b, sub = skus
    dist, _, loc = distributor_at(client, system, 0.01)
    r = dist.put(f"/v1/locations/{loc}/stock", json={"items": [{"sku": a, "on_hand": 10},
                                                               {"sku": b, "on_hand": 4}]})
    assert r.status_code == 200 and r.json() == {"applied": 2, "rejected": []}
    assert order(client, [(a, 3)]).json()["status"] == "routed"
    r = dist.put(f"/v1/locations/{loc}/stock", json={"items": [{"sku": a, "on_hand": 2},
                                                               {"sku": sub, "on_hand": 7}]})
    body = r.json()
    assert r.status_code == 200 and body["applied"] == 1
    assert [(x["sku"], x["on_hand"], x["reserved"]) for x in body["rejected"]] == [(a, 2, 3)]
    now = stock(dist, loc)
    assert (now[a]["on_hand"], now[a]["reserved"], now[a]["available"]) == (10, 3, 7)
    assert now[b]["on_hand"] == 0 and now[sub]["on_hand"] == 7   # unlisted SKUs become 0
    assert now[a]["last_synced_at"]

    r = dist.post(f"/v1/locations/{loc}/stock/adjustments", json={"adjustments": [
        {"sku": sub, "delta": 5, "reason": "delivery"}, {"sku": a, "delta": -8, "reason": "damaged"}]})
    assert r.status_code == 409 and r.headers["Content-Type"] == "application/problem+json"
    assert stock(dist, loc)[sub]["on_hand"] == 7                   # nothing of it applied
    r = dist.post(f"/v1/locations/{loc}/stock/adjustments", json={"adjustments": [
        {"sku": sub, "delta": 5, "reason": "delivery"}, {"sku": a, "delta": -7, "reason": "damaged"}]})
    assert r.status_code == 200 and r.json()["applied"] == 2
    assert (stock(dist, loc)[a]["on_hand"], stock(dist, loc)[sub]["on_hand"]) == (3, 12)
    for bad, field in [({"items": [{"sku": a, "on_hand": -1}]}, "items[0].on_hand"),
                       ({"items": [{"sku": a, "on_hand": 1}, {"sku": a, "on_hand": 2}]}, "items[1].sku"),
                       ({"items": [{"sku": a, "on_hand": "5"}]}, "items[0].on_hand")]:
        r = dist.put(f"/v1/locations/{loc}/stock", json=bad)
        assert r.status_code == 400 and field in [e["field"] for e in r.json()["errors"]], r.text
    r = dist.post(f"/v1/locations/{loc}/stock/adjustments", json={"adjustments": [{"sku": a, "delta": 1}]})
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "adjustments[0].reason"


def test_another_distributors_location_and_assignments_are_404(client, system, skus):
    a = skus[0]
    one, _, loc_one = distributor_at(client, system, 0.01)
    two, _, _ = distributor_at(client, system, 0.02)
    assert two.get(f"/v1/locations/{loc_one}/stock").status_code == 404
    assert two.put(f"/v1/locations/{loc_one}/stock", json={"items": []}).status_code == 404
    one.put(f"/v1/locations/{loc_one}/stock", json={"items": [{"sku": a, "on_hand": 5}]})
    placed = order(client, [(a, 1)], lat=CUSTOMER["lat"] + 0.01).json()
    assignment = placed["shipments"][0]["assignment_id"]
    assert two.post(f"/v1/assignments/{assignment}/accept").status_code == 404
    assert assignment not in [x["id"] for x in two.get("/v1/assignments").json()["items"]]
    other_channel = Client(system.base_url, system.issue_key("channel", channel="jd"))
    assert other_channel.get(f"/v1/orders/{placed['id']}").status_code == 404
    assert other_channel.post(f"/v1/orders/{placed['id']}/cancel").status_code == 404


def test_an_order_goes_to_the_nearest_and_the_rest_is_split_or_backordered(client, system, skus):
    a, b, sub = skus
    lat = 30.5 + (uuid.uuid4().int % 1000) / 1000   # a quiet spot of our own
    near, near_id, near_loc = distributor_at(client, system, lat - CUSTOMER["lat"])
    far, far_id, far_loc = distributor_at(client, system, lat - CUSTOMER["lat"] + 0.2)
    near.put(f"/v1/locations/{near_loc}/stock", json={"items": [{"sku": a, "on_hand": 2}]})
    far.put(f"/v1/locations/{far_loc}/stock", json={"items": [{"sku": a, "on_hand": 5},
                                                              {"sku": sub, "on_hand": 3}]})
    r = order(client, [(a, 4)], lat=lat)
    assert r.status_code == 201, r.text
    placed = r.json()
    assert placed["status"] == "routed" and placed["retail_total"] == "400.00"
    assert [(s["location_id"], s["lines"]) for s in placed["shipments"]] == [
        (far_loc, [{"sku": a, "qty": 4}])]             # the nearest that ships the whole order
    detail = client["sales"].get(f"/v1/admin/orders/{placed['id']}").json()
    first = detail["explanation"][0]
    assert first["trigger"] == "order_created"
    reasons = {c["location_id"]: (c["reason"], c["chosen"]) for c in first["candidates"]}
    assert reasons[far_loc] == ("chosen", True) and reasons[near_loc] == ("insufficient_stock", False)
    assert all("distance_km" in c and "available" in c for c in first["candidates"])

    split = order(client, [(a, 2), (b, 2)], lat=lat).json()   # nobody has B: nearest first
    assert split["status"] == "partially_routed" and split["retail_total"] == "420.00"
    assert [(s["location_id"], s["lines"]) for s in split["shipments"]] == [
        (near_loc, [{"sku": a, "qty": 2}])]
    assert split["backordered"] == [{"sku": b, "qty": 2, "substitutes": [], "refund_amount": "220.00"}]

    last = order(client, [(a, 2)], lat=lat).json()
    assert [(s["location_id"], s["lines"][0]["qty"]) for s in last["shipments"]] == [(far_loc, 1)]
    assert last["backordered"] == [{"sku": a, "qty": 1, "substitutes": [sub], "refund_amount": "100.00"}]
    assert order(client, [(b, 1)], lat=lat).json()["status"] == "backordered"


def test_a_repeated_external_id_returns_the_first_result(client, system, skus):
    external_id = uuid.uuid4().hex
    first = order(client, [(skus[0], 1)], external_id)
    again = order(client, [(skus[0], 1)], external_id)
    assert first.status_code == 201 and again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true" and again.json()["id"] == first.json()["id"]


@pytest.mark.parametrize("change,field", [
    ({"lines": []}, "lines"), ({"lines": [{"sku": "x", "qty": 1000}]}, "lines[0].qty"),
    ({"ship_to": {**CUSTOMER, "lat": None}}, "ship_to.lat"),
    ({"ship_to": {k: v for k, v in CUSTOMER.items() if k != "lon"}}, "ship_to.lon"),
    ({"lines": [{"sku": "NO-SUCH-SKU", "qty": 1}]}, "lines[0].sku"),
])
def test_bad_orders_name_the_field(client, change, field):
    body = {"external_id": uuid.uuid4().hex, "ship_to": CUSTOMER, "lines": [{"sku": "x", "qty": 1}], **change}
    r = client["channel"].post("/v1/orders", json=body)
    assert r.status_code == 400 and field in [e["field"] for e in r.json()["errors"]], r.text


def test_accept_ship_reject_and_cancel(client, system, skus):
    a = skus[0]
    lat, (first, first_id, first_loc), (second, second_id, second_loc) = two_distributors(
        client, system, 29.0, a, 10)

    placed = order(client, [(a, 2)], lat=lat).json()
    assignment = placed["shipments"][0]["assignment_id"]
    assert placed["shipments"][0]["distributor_id"] == first_id
    assert first.post(f"/v1/assignments/{assignment}/ship", json={"carrier": "SF",
                                                                  "tracking_no": "1"}).status_code == 409
    assert first.post(f"/v1/assignments/{assignment}/reject", json={}).status_code == 400
    r = first.post(f"/v1/assignments/{assignment}/reject", json={"reason": "warehouse flooded"})
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    now = client["channel"].get(f"/v1/orders/{placed['id']}").json()
    assert [(s["distributor_id"], s["status"]) for s in now["shipments"]] == [(second_id, "pending")]
    assert stock(first, first_loc)[a]["reserved"] == 0 and stock(second, second_loc)[a]["reserved"] == 2
    rounds = client["sales"].get(f"/v1/admin/orders/{placed['id']}").json()["explanation"]
    assert [x["trigger"] for x in rounds] == ["order_created", "rejected"]
    assert {c["location_id"]: c["reason"] for c in rounds[1]["candidates"]}[first_loc] == "excluded_after_reject"

    moved = now["shipments"][0]["assignment_id"]
    assert second.post(f"/v1/assignments/{moved}/accept").status_code == 200
    listed = second.get("/v1/assignments", params={"status": "accepted"}).json()["items"]
    assert moved in [x["id"] for x in listed] and listed[0]["ship_to"]["address"]
    r = second.post(f"/v1/assignments/{moved}/ship", json={"carrier": "SF Express", "tracking_no": "SF1001"})
    assert r.status_code == 200 and r.json()["status"] == "shipped"
    assert (stock(second, second_loc)[a]["on_hand"], stock(second, second_loc)[a]["reserved"]) == (8, 0)
    assert client["channel"].get(f"/v1/orders/{placed['id']}").json()["status"] == "shipped"
    assert client["channel"].post(f"/v1/orders/{placed['id']}/cancel").status_code == 409

    other = order(client, [(a, 3)], lat=lat).json()   # the reject excluded `first` for that order only
    assert other["shipments"][0]["distributor_id"] == first_id
    assert stock(first, first_loc)[a]["reserved"] == 3
    r = client["channel"].post(f"/v1/orders/{other['id']}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert stock(first, first_loc)[a]["reserved"] == 0


def test_suspending_a_distributor_reroutes_its_open_assignments(client, system, skus):
    a = skus[0]
    lat, (first, first_id, first_loc), (second, second_id, second_loc) = two_distributors(
        client, system, 28.0, a, 5)
    placed = order(client, [(a, 1)], lat=lat).json()
    assert placed["shipments"][0]["distributor_id"] == first_id
    client["manager"].post(f"/v1/admin/distributors/{first_id}/suspend", json={"reason": "audit"})

    def shipped_by() -> list[int]:
        return [s["distributor_id"] for s in client["channel"].get(f"/v1/orders/{placed['id']}").json()[
            "shipments"]]

    wait_until(lambda: shipped_by() == [second_id], 5,
               lambda: f"the order re-routed to distributor {second_id}; shipped by {shipped_by()}")
    assert stock(first, first_loc)[a]["reserved"] == 0
    assert first.put(f"/v1/locations/{first_loc}/stock", json={"items": []}).status_code == 403
    rounds = client["sales"].get(f"/v1/admin/orders/{placed['id']}").json()["explanation"]
    assert rounds[-1]["trigger"] == "distributor_suspended"
    assert order(client, [(a, 1)], lat=lat).json()["shipments"][0]["distributor_id"] == second_id


def test_500_concurrent_orders_reserve_exactly_the_100_units_there_are(client, system, skus):
    a = skus[0]
    lat = 27.0 + (uuid.uuid4().int % 1000) / 1000
    one, _, loc_one = distributor_at(client, system, lat - CUSTOMER["lat"])
    two, _, loc_two = distributor_at(client, system, lat - CUSTOMER["lat"] + 0.05)
    one.put(f"/v1/locations/{loc_one}/stock", json={"items": [{"sku": a, "on_hand": 60}]})
    two.put(f"/v1/locations/{loc_two}/stock", json={"items": [{"sku": a, "on_hand": 40}]})
    channel_key = client["channel"].session.headers["Authorization"].split()[1]

    def place(_):
        c = Client(system.base_url, channel_key)
        return order({"channel": c}, [(a, 1)], lat=lat).json()

    with ThreadPoolExecutor(max_workers=25) as pool:
        results = list(pool.map(place, range(500)))
    routed = sum(line["qty"] for r in results for s in r["shipments"] for line in s["lines"])
    backordered = sum(b["qty"] for r in results for b in r["backordered"])
    assert (routed, backordered) == (100, 400)
    for dist, loc in ((one, loc_one), (two, loc_two)):
        row = stock(dist, loc)[a]
        assert row["available"] == 0 and row["reserved"] == row["on_hand"]
    conn = psycopg2.connect(system.database_urls["fulfillment"])
    with conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM stock WHERE on_hand < reserved OR reserved < 0")
        assert cur.fetchone() == (0,)
    conn.close()


def test_a_new_location_takes_stock_as_soon_as_it_exists(client, system, skus):
    dist, _, _ = distributor_at(client, system, 0.5)
    created = dist.post("/v1/locations", json={"name": "New shop", "lat": CUSTOMER["lat"] + 0.51,
                                               "lon": CUSTOMER["lon"]}).json()
    r = dist.put(f"/v1/locations/{created['id']}/stock", json={"items": [{"sku": skus[0], "on_hand": 4}]})
    assert r.status_code == 200 and r.json()["applied"] == 1
    assert stock(dist, created["id"])[skus[0]]["available"] == 4


def test_deactivating_a_location_reroutes_its_open_assignments_and_sales_can_cancel(client, system, skus):
    a = skus[0]
    lat, (first, first_id, first_loc), (second, second_id, second_loc) = two_distributors(
        client, system, 26.0, a, 5)
    placed = order(client, [(a, 2)], lat=lat).json()
    assert placed["shipments"][0]["location_id"] == first_loc
    assert first.patch(f"/v1/locations/{first_loc}", json={"active": False}).status_code == 200

    def order_now() -> dict:
        return client["sales"].get(f"/v1/admin/orders/{placed['id']}").json()

    def rerouted() -> dict | None:
        now = order_now()
        return now if [s["location_id"] for s in now["shipments"]] == [second_loc] else None

    now = wait_until(rerouted, 5, lambda: f"the order re-routed to location {second_loc}; "
                     f"shipments {order_now()['shipments']}")
    assert now["explanation"][-1]["trigger"] == "location_inactive"
    assert stock(first, first_loc)[a]["reserved"] == 0
    r = client["sales"].post(f"/v1/admin/orders/{placed['id']}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert stock(second, second_loc)[a]["reserved"] == 0
    listed = client["sales"].get("/v1/admin/orders", params={"status": "cancelled", "limit": 500}).json()
    assert placed["id"] in [o["id"] for o in listed["items"]]
