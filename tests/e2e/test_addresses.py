"""Orders and locations from Chinese addresses, resolved offline (SPEC: Orders and locations from
Chinese addresses) — through the gateway, on the real services."""
import uuid

from test_admin_orders import stock
from test_onboarding_api import application, onboard

# Harbin and Urumqi: far from the other tests' distributors (Shanghai, Hangzhou, the 35-41°N band),
# so the only candidates with this test's SKUs are this test's own.
HARBIN_DAOLI = "黑龙江省哈尔滨市道里区中央大街100号"
HARBIN_NANGANG = "黑龙江省哈尔滨市南岗区西大直街92号"


def ship_to(address: str, **extra) -> dict:
    return {"name": "李娜", "phone": "13812345678", "address": address, **extra}


def place_order(channel, sku: str, qty: int, to: dict, external_id: str | None = None):
    return channel.post("/v1/orders", json={"external_id": external_id or uuid.uuid4().hex, "ship_to": to,
                                            "lines": [{"sku": sku, "qty": qty}]})


def test_an_order_with_only_an_address_routes_as_if_its_districts_centre_were_sent(client, system, skus):
    a = skus[0]
    # one location placed from its address (南岗区), one given by coordinates 0.3° north of 道里区
    distributor_id, dist = onboard(client, system, address="哈尔滨市南岗区西大直街92号", province="黑龙江省",
                                   city="哈尔滨市", locations=[
                                       {"name": "Nangang", "address": HARBIN_NANGANG},
                                       {"name": "North", "lat": 46.07, "lon": 126.62}])
    locations = {loc["name"]: loc for loc in dist.get("/v1/me").json()["locations"]}
    nangang = locations["Nangang"]
    assert nangang["geocode"]["precision"] == "district" and nangang["geocode"]["adcode"] == "230103"
    assert (nangang["lat"], nangang["lon"]) == (nangang["geocode"]["lat"], nangang["geocode"]["lon"])
    assert locations["North"]["geocode"]["precision"] == "given"
    stock(dist, nangang["id"], {a: 5})
    stock(dist, locations["North"]["id"], {a: 5})

    by_address = place_order(client["channel"], a, 1, ship_to(HARBIN_DAOLI))
    assert by_address.status_code == 201, by_address.text
    placed = by_address.json()
    geocode = placed["geocode"]
    assert (geocode["precision"], geocode["adcode"], geocode["province"], geocode["city"], geocode["district"]) == (
        "district", "230102", "黑龙江省", "哈尔滨市", "道里区")
    by_coordinates = place_order(client["channel"], a, 1, ship_to("道里区", lat=geocode["lat"], lon=geocode["lon"]))
    assert by_coordinates.status_code == 201, by_coordinates.text
    assert by_coordinates.json()["geocode"] == {"precision": "given", "adcode": None, "province": None,
                                                "city": None, "district": None, "lat": geocode["lat"],
                                                "lon": geocode["lon"]}
    [first], [second] = placed["shipments"], by_coordinates.json()["shipments"]
    assert (first["distributor_id"], first["location_id"], first["distance_km"]) == (
        second["distributor_id"], second["location_id"], second["distance_km"]) == (
        distributor_id, nangang["id"], first["distance_km"])
    assert 0 < first["distance_km"] < 10  # 道里区's centre to 南岗区's

    admin = client["sales"].get(f"/v1/admin/orders/{placed['id']}").json()
    assert admin["geocode"] == geocode
    assert admin["explanation"][0]["geocode_precision"] == "district"
    assert client["channel"].get(f"/v1/orders/{placed['id']}").json()["geocode"] == geocode


def test_a_shared_district_name_is_settled_by_the_province_or_city_or_refused(client, skus):
    a = skus[0]
    external_id = uuid.uuid4().hex
    refused = place_order(client["channel"], a, 1, ship_to("朝阳区建国路88号"), external_id)
    assert refused.status_code == 400, refused.text
    problem = refused.json()
    assert problem["errors"][0]["field"] == "ship_to.address"
    assert "北京市朝阳区" in problem["detail"] and "吉林省长春市朝阳区" in problem["detail"]
    assert problem["errors"][0]["candidates"] == ["北京市朝阳区", "吉林省长春市朝阳区"]
    # nothing of the refused order was stored
    found = client["sales"].get("/v1/admin/orders", params={"external_id": external_id}).json()
    assert found["items"] == []

    settled = place_order(client["channel"], a, 1, ship_to("朝阳区建国路88号", city="北京"), external_id)
    assert settled.status_code == 201, settled.text
    assert settled.json()["geocode"]["adcode"] == "110105"
    in_text = place_order(client["channel"], a, 1, ship_to("吉林省长春市朝阳区人民大街1号"))
    assert in_text.json()["geocode"]["adcode"] == "220104"


def test_addresses_that_cannot_be_placed_are_refused_naming_the_field(client, skus):
    a = skus[0]
    for to, field in [(ship_to("1 Main Street, Springfield"), "ship_to.address"),
                      (ship_to("西湖区文三路90号"), "ship_to.address"),       # Hangzhou or Nanchang
                      (ship_to("文三路90号", city="火星市"), "ship_to.city"),
                      (ship_to("浙江省杭州市西湖区", lat=30.26), "ship_to.lon"),
                      (ship_to("浙江省杭州市西湖区", lon=120.13), "ship_to.lat")]:
        r = place_order(client["channel"], a, 1, to)
        assert r.status_code == 400, (to, r.text)
        assert r.json()["errors"][0]["field"] == field, (to, r.text)


def test_a_province_only_address_is_routed_from_its_centre_and_says_so(client, skus):
    r = place_order(client["channel"], skus[0], 1, ship_to("新疆某某路1号"))
    assert r.status_code == 201, r.text
    assert r.json()["geocode"]["precision"] == "province" and r.json()["geocode"]["adcode"] == "650000"
    [round_] = client["sales"].get(f"/v1/admin/orders/{r.json()['id']}").json()["explanation"]
    assert round_["geocode_precision"] == "province" and "province" in round_["note"]


def test_locations_are_added_and_moved_by_address(client, system):
    _, dist = onboard(client, system)
    r = dist.post("/v1/locations", json={"name": "Wuhan", "address": "湖北省武汉市江夏区文化大道1号"})
    assert r.status_code == 201, r.text
    added = r.json()
    assert added["geocode"]["adcode"] == "420115" and added["lat"] == added["geocode"]["lat"]
    moved = dist.patch(f"/v1/locations/{added['id']}", json={"address": "湖北省武汉市洪山区珞喻路1037号"})
    assert moved.status_code == 200, moved.text
    assert moved.json()["geocode"]["adcode"] == "420111" and moved.json()["lat"] != added["lat"]
    pinned = dist.patch(f"/v1/locations/{added['id']}", json={"lat": 30.5, "lon": 114.4})
    assert pinned.json()["geocode"]["precision"] == "given"
    kept = dist.patch(f"/v1/locations/{added['id']}", json={"address": "湖北省武汉市江夏区文化大道1号"})
    assert (kept.json()["lat"], kept.json()["lon"]) == (30.5, 114.4)  # coordinates given win

    for body, field in [({"name": "x", "address": "鼓楼区中山路1号"}, "address"),
                        ({"name": "x"}, "address"),
                        ({"name": "x", "address": "湖北省武汉市", "lat": 30.5}, "lon")]:
        r = dist.post("/v1/locations", json=body)
        assert r.status_code == 400, (body, r.text)
        assert r.json()["errors"][0]["field"] == field, (body, r.text)


def test_an_application_location_that_cannot_be_placed_is_refused_naming_it(client):
    r = client["anonymous"].post("/v1/applications", json=application(locations=[
        {"name": "a", "lat": 30.27, "lon": 120.15}, {"name": "b", "address": "鼓楼区中山路1号"}]))
    assert r.status_code == 400, r.text
    assert r.json()["errors"][0]["field"] == "locations[1].address"
    assert len(r.json()["errors"][0]["candidates"]) >= 4
