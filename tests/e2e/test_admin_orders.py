"""The sales team searches orders and reads their routing explanation; an order whose assigned lines
have shipped reads `shipped`; a ship-to phone comes back in E.164 — through the gateway."""
import random
import uuid

import pytest
from test_onboarding_api import application

from conftest import Client, onboard_distributor

PHONE = "13812345678"


def quiet_spot() -> tuple[float, float]:
    """A customer position of the test's own, away from the other tests' distributors (they sit near
    Shanghai, lon ≈ 121.5), so the candidates near it are this test's alone."""
    return round(random.uniform(35.0, 41.0), 4), round(random.uniform(100.0, 112.0), 4)


def distributor(client, system, lat: float, lon: float, offsets: list[float]):
    """A distributor with a location ``offset`` degrees north of (lat, lon) for each offset; returns
    (its client, its id, its location ids in the order of ``offsets``)."""
    manager_key = client["manager"].session.headers["Authorization"].split()[1]
    approved = onboard_distributor(system.base_url, manager_key, application(locations=[
        {"name": f"DC {i}", "lat": round(lat + d, 6), "lon": lon} for i, d in enumerate(offsets)]))
    dist = Client(system.base_url, approved["api_key"])
    by_name = {loc["name"]: loc["id"] for loc in dist.get("/v1/me").json()["locations"]}
    return dist, approved["distributor_id"], [by_name[f"DC {i}"] for i in range(len(offsets))]


def stock(dist, location_id: int, items: dict[str, int]) -> None:
    r = dist.put(f"/v1/locations/{location_id}/stock",
                 json={"items": [{"sku": sku, "on_hand": n} for sku, n in items.items()]})
    assert r.status_code == 200, r.text


def order(channel: Client, lines, lat: float, lon: float, external_id: str | None = None, phone=PHONE):
    r = channel.post("/v1/orders", json={
        "external_id": external_id or uuid.uuid4().hex,
        "ship_to": {"name": "Li Na", "phone": phone, "address": "1 Binhe Rd", "lat": lat, "lon": lon},
        "lines": [{"sku": s, "qty": q} for s, q in lines]})
    return r


def search(client, **params) -> list[int]:
    r = client["sales"].get("/v1/admin/orders", params={"limit": 500, **params})
    assert r.status_code == 200, r.text
    assert all("explanation" not in o for o in r.json()["items"])
    return [o["id"] for o in r.json()["items"]]


def test_admin_finds_orders_by_external_id_distributor_period_and_status(client, system, skus):
    a = skus[0]
    lat, lon = quiet_spot()
    near, near_id, (near_loc,) = distributor(client, system, lat, lon, [0.01])
    far, far_id, (far_loc,) = distributor(client, system, lat, lon, [0.05])
    stock(near, near_loc, {a: 2})
    stock(far, far_loc, {a: 10})
    jd = Client(system.base_url, system.issue_key("channel", channel="jd"))
    tag = uuid.uuid4().hex[:10]
    first = order(client["channel"], [(a, 1)], lat, lon, f"TM-{tag}-1").json()
    second = order(jd, [(a, 1)], lat, lon, f"JD-{tag}-2").json()         # the nearer one's last unit
    third = order(client["channel"], [(a, 4)], lat, lon, f"TM-{tag}-3").json()
    assert [o["shipments"][0]["distributor_id"] for o in (first, second, third)] == [near_id, near_id, far_id]

    # the external id finds exactly that order (it used to list every order)
    r = client["sales"].get("/v1/admin/orders", params={"external_id": f"TM-{tag}-1"})
    assert r.status_code == 200 and [o["id"] for o in r.json()["items"]] == [first["id"]]
    found = r.json()["items"][0]
    assert (found["external_id"], found["channel"], found["status"]) == (f"TM-{tag}-1", "tmall", "routed")
    assert "explanation" not in found and found["shipments"][0]["location_id"] == near_loc
    assert search(client, external_id=f"JD-{tag}-2", channel="tmall") == []
    assert search(client, external_id=f"JD-{tag}-2", channel="jd") == [second["id"]]

    assert search(client, distributor_id=near_id) == [second["id"], first["id"]]      # newest first
    assert search(client, distributor_id=str(far_id)) == [third["id"]]
    assert search(client, distributor_id=near_id, channel="jd") == [second["id"]]
    assert search(client, distributor_id=near_id, status="routed") == [second["id"], first["id"]]
    assert search(client, distributor_id=near_id, status="shipped") == []

    # created_from is inclusive, created_to exclusive
    at = second["created_at"]
    assert search(client, distributor_id=near_id, created_from=at) == [second["id"]]
    assert search(client, distributor_id=near_id, created_to=at) == [first["id"]]
    assert search(client, distributor_id=near_id, created_from=first["created_at"], created_to=at) == [
        first["id"]]
    assert search(client, distributor_id=far_id, created_from="2000-01-01T08:00:00+08:00",
                  created_to="2000-01-02T08:00:00+08:00") == []

    page = client["sales"].get("/v1/admin/orders", params={"distributor_id": near_id, "limit": 1}).json()
    assert [o["id"] for o in page["items"]] == [second["id"]] and page["next_cursor"]
    page = client["sales"].get("/v1/admin/orders", params={"distributor_id": near_id, "limit": 1,
                                                            "cursor": page["next_cursor"]}).json()
    assert [o["id"] for o in page["items"]] == [first["id"]] and page["next_cursor"] is None

    detail = client["sales"].get(f"/v1/admin/orders/{first['id']}").json()
    assert detail["explanation"][0]["trigger"] == "order_created" and "omitted" in detail["explanation"][0]


@pytest.mark.parametrize("params,field", [
    ({"status": "bogus"}, "status"),
    ({"distributor_id": "abc"}, "distributor_id"),
    ({"distributor_id": str(2**64)}, "distributor_id"),
    ({"external_id": "x" * 65}, "external_id"),
    ({"channel": "c" * 33}, "channel"),
    ({"created_from": "2026-11-01T00:00:00"}, "created_from"),          # no UTC offset
    ({"created_to": "2026-11-01T00:00:00+15:00"}, "created_to"),
    ({"created_from": "2026-11-02T00:00:00Z", "created_to": "2026-11-01T00:00:00Z"}, "created_to"),
    ({"externalid": "X"}, "externalid"),
])
def test_a_bad_order_search_is_400_naming_the_parameter(client, params, field):
    r = client["sales"].get("/v1/admin/orders", params=params)
    assert r.status_code == 400 and r.headers["Content-Type"] == "application/problem+json", r.text
    assert field in [e["field"] for e in r.json()["errors"]], r.text


def test_the_explanation_names_at_most_20_passed_over_candidates_and_counts_the_rest(client, system, skus):
    a = skus[0]
    lat, lon = quiet_spot()
    steps = [round(0.004 * k, 3) for k in range(1, 31)]   # 30 locations, 0.44 km apart, northwards
    locations = []
    for i in range(5):                                      # 5 distributors of 6 locations each
        dist, did, locs = distributor(client, system, lat, lon, steps[i::5])
        locations += [(d, dist, did, loc) for d, loc in zip(steps[i::5], locs, strict=True)]
    locations.sort(key=lambda x: x[0])
    for k, (_, dist, _, loc) in enumerate(locations):
        if k % 6 != 5:                                      # 25 with one unit each, 5 with none
            stock(dist, loc, {a: 1})
    with_stock = [loc for k, (_, _, _, loc) in enumerate(locations) if k % 6 != 5]

    r = order(client["channel"], [(a, 40)], lat, lon)
    assert r.status_code == 201, r.text
    placed = r.json()
    assert placed["status"] == "partially_routed"
    assert [s["location_id"] for s in placed["shipments"]] == with_stock[:3]   # nearest first, at most 3
    assert placed["backordered"][0]["qty"] == 37

    detail = client["sales"].get(f"/v1/admin/orders/{placed['id']}").json()
    round_ = detail["explanation"][0]
    chosen = [c["location_id"] for c in round_["candidates"] if c["chosen"]]
    others = [c for c in round_["candidates"] if not c["chosen"]]
    assert chosen == with_stock[:3]
    assert len(others) == 20 and [c["location_id"] for c in others] == with_stock[3:23]
    assert all(c["available"] > 0 and c["reason"] == "shipment_limit" for c in others)
    assert round_["omitted"]["shipment_limit"] == 2
    assert round_["omitted"]["no_stock"] >= 5             # ours, and any other test's shop in range
    assert set(round_["omitted"]) <= {"shipment_limit", "no_stock"}
    distances = [c["distance_km"] for c in round_["candidates"]]
    assert distances == sorted(distances)

    # the list does not carry it
    listed = client["sales"].get("/v1/admin/orders", params={"external_id": placed["external_id"]}).json()
    assert [o["id"] for o in listed["items"]] == [placed["id"]] and "explanation" not in listed["items"][0]


def test_an_order_whose_assigned_lines_shipped_reads_shipped_though_a_line_is_backordered(client, system,
                                                                                           skus):
    a, b = skus
    lat, lon = quiet_spot()
    dist, did, (loc,) = distributor(client, system, lat, lon, [0.01])
    stock(dist, loc, {a: 3})                                # nobody has b
    placed = order(client["channel"], [(a, 2), (b, 1)], lat, lon).json()
    assert placed["status"] == "partially_routed"
    assert placed["backordered"] == [{"sku": b, "qty": 1, "substitutes": [], "refund_amount": "110.00"}]
    assignment = placed["shipments"][0]["assignment_id"]
    assert dist.post(f"/v1/assignments/{assignment}/accept").status_code == 200
    assert client["channel"].get(f"/v1/orders/{placed['id']}").json()["status"] == "partially_routed"
    r = dist.post(f"/v1/assignments/{assignment}/ship", json={"carrier": "SF", "tracking_no": "SF42"})
    assert r.status_code == 200, r.text
    now = client["channel"].get(f"/v1/orders/{placed['id']}").json()
    assert now["status"] == "shipped" and now["backordered"][0]["sku"] == b
    assert client["sales"].get(f"/v1/admin/orders/{placed['id']}").json()["status"] == "shipped"
    assert search(client, status="shipped", distributor_id=did) == [placed["id"]]
    assert client["channel"].post(f"/v1/orders/{placed['id']}/cancel").status_code == 409


def test_a_ship_to_phone_is_returned_in_e164(client, skus):
    lat, lon = quiet_spot()
    r = order(client["channel"], [(skus[0], 1)], lat, lon, phone="+86 138-0013-8000")
    assert r.status_code == 201, r.text
    assert r.json()["ship_to"]["phone"] == "+8613800138000"
    assert client["channel"].get(f"/v1/orders/{r.json()['id']}").json()["ship_to"]["phone"] == "+8613800138000"
    r = order(client["channel"], [(skus[0], 1)], lat, lon, phone="(021) 62881234")
    assert r.json()["ship_to"]["phone"] == "+862162881234"
    for bad in ("12345", "+1 212 555 0100", "phone"):
        r = order(client["channel"], [(skus[0], 1)], lat, lon, phone=bad)
        assert r.status_code == 400 and [e["field"] for e in r.json()["errors"]] == ["ship_to.phone"], r.text


def test_ids_beyond_bigint_are_404_and_stock_beyond_its_column_is_refused(client, system, skus):
    a = skus[0]
    for path in (f"/v1/admin/orders/{2**64}", f"/v1/admin/orders/{2**63}", "/v1/admin/orders/9" + "9" * 30):
        assert client["sales"].get(path).status_code == 404
    assert client["channel"].get(f"/v1/orders/{2**63}").status_code == 404
    lat, lon = quiet_spot()
    dist, _, (loc,) = distributor(client, system, lat, lon, [0.01])
    assert dist.get(f"/v1/locations/{2**64}/stock").status_code == 404
    assert dist.put(f"/v1/locations/{2**63}/stock", json={"items": []}).status_code == 404
    assert dist.post(f"/v1/assignments/{2**64}/accept").status_code == 404

    r = dist.put(f"/v1/locations/{loc}/stock", json={"items": [{"sku": a, "on_hand": 2**31}]})
    assert r.status_code == 400 and [e["field"] for e in r.json()["errors"]] == ["items[0].on_hand"]
    stock(dist, loc, {a: 1_000_000_000})
    for delta in (1, 1_000_000_000):
        r = dist.post(f"/v1/locations/{loc}/stock/adjustments",
                      json={"adjustments": [{"sku": a, "delta": delta, "reason": "count"}]})
        assert r.status_code == 409 and r.json()["detail"].startswith("adjustments[0]:"), r.text
        assert "1000000000" in r.json()["detail"]
    r = dist.post(f"/v1/locations/{loc}/stock/adjustments",
                  json={"adjustments": [{"sku": a, "delta": 2**40, "reason": "count"}]})
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "adjustments[0].delta"
    rows = dist.get(f"/v1/locations/{loc}/stock").json()["items"]
    assert [(x["sku"], x["on_hand"]) for x in rows] == [(a, 1_000_000_000)]
