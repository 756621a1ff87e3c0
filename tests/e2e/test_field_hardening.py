"""Request fields refuse what the database or a JSON encoder cannot hold, with a 400 naming the field
and nothing stored; what people really send (phones as they write them, ids as integers or strings)
is taken and answered in one canonical form (SPEC, Hardening rules)."""
from datetime import UTC, datetime, timedelta

import pytest
from test_onboarding_api import application
from test_pricing_api import iso, new_distributor

from conftest import Client


def fields_of(response) -> list[str]:
    return [e["field"] for e in response.json().get("errors", [])]


def nested(depth: int):
    value = 1
    for _ in range(depth):
        value = {"a": value}
    return value


@pytest.fixture
def sku(client, uniq):
    """An active product with list 199.00 and floor 99.00."""
    sku = f"{uniq}-HARD"
    r = client["sales"].post("/v1/admin/products", json={
        "sku": sku, "name": "Towel", "category": "towels", "lifecycle": "classic", "status": "active"})
    assert r.status_code == 201, r.text
    r = client["manager"].put(f"/v1/admin/prices/{sku}", json={"list_price": "199.00",
                                                               "floor_price": "99.00"})
    assert r.status_code == 200, r.text
    return sku


# ---- phones --------------------------------------------------------------------------------------


@pytest.mark.parametrize("written,e164", [("+86 138-0013-8000", "+8613800138000"),
                                          ("138 0013 8000", "+8613800138000"),
                                          ("(021) 62881234", "+862162881234"),
                                          ("+86 21 6288 1234", "+862162881234")])
def test_an_application_phone_is_stored_and_shown_in_e164(client, written, e164):
    body = application()
    body["contact"] = {**body["contact"], "phone": written}
    r = client["anonymous"].post("/v1/applications", json=body)
    assert r.status_code == 201, r.text
    receipt = r.json()
    mine = client["anonymous"].get(f"/v1/applications/{receipt['id']}",
                                   headers={"X-Application-Token": receipt["status_token"]})
    assert mine.json()["contact"]["phone"] == e164
    assert client["sales"].get(f"/v1/admin/applications/{receipt['id']}").json()["contact"][
        "phone"] == e164


@pytest.mark.parametrize("phone", ["+1 650 253 0000", "12345", "400-820-8820", "021-6288 1234 ext 5"])
def test_a_phone_that_is_no_chinese_mobile_or_landline_is_400(client, phone):
    body = application()
    body["contact"] = {**body["contact"], "phone": phone}
    r = client["anonymous"].post("/v1/applications", json=body)
    assert r.status_code == 400 and fields_of(r) == ["contact.phone"], r.text
    # nothing stored: the same credit code may apply at once
    assert client["anonymous"].post("/v1/applications", json={**body, "contact": {
        **body["contact"], "phone": "13800138000"}}).status_code == 201


# ---- catalog attributes --------------------------------------------------------------------------


@pytest.mark.parametrize("attributes", [{"gsm": 2**70}, {"gsm": 2**60}, nested(40), nested(5),
                                        {"sizes": [70, 140]}, {f"k{i}": i for i in range(51)},
                                        {"note": "x" * 501}])
def test_attributes_no_client_can_hold_are_400_and_the_product_list_still_answers(client, uniq,
                                                                                  attributes):
    sales = client["sales"]
    r = sales.post("/v1/admin/products", json={"sku": uniq, "name": "Towel", "category": "towels",
                                               "lifecycle": "new", "attributes": attributes})
    assert r.status_code == 400, r.text
    assert fields_of(r) and all(f.startswith("attributes") for f in fields_of(r)), fields_of(r)
    assert sales.get(f"/v1/admin/products/{uniq}").status_code == 404
    rows = [{"sku": f"{uniq}-{i}", "name": "Towel", "category": "towels", "lifecycle": "new"}
            for i in range(4)]
    rows[3]["attributes"] = attributes
    r = sales.post("/v1/admin/products/import", json={"products": rows})
    assert r.status_code == 400, r.text
    assert all(f.startswith("products[3].attributes") for f in fields_of(r)), fields_of(r)
    assert sales.get(f"/v1/admin/products/{uniq}-0").status_code == 404
    listed = sales.get("/v1/admin/products", params={"limit": 500})
    assert listed.status_code == 200


def test_the_widest_attributes_allowed_are_stored_and_listed(client, uniq):
    attributes = {f"k{i}": "x" * 500 for i in range(47)}
    attributes.update({"big": 2**53 - 1, "ratio": 0.45, "organic": True})
    r = client["sales"].post("/v1/admin/products", json={
        "sku": uniq, "name": "Towel", "category": "towels", "lifecycle": "new",
        "attributes": attributes})
    assert r.status_code == 201, r.text
    assert client["sales"].get(f"/v1/admin/products/{uniq}").json()["attributes"] == attributes
    listed = client["sales"].get("/v1/admin/products", params={"q": uniq})
    assert listed.status_code == 200 and listed.json()["items"][0]["attributes"] == attributes


# ---- pricing -------------------------------------------------------------------------------------


@pytest.mark.parametrize("body,field", [
    ({"list_price": "100000000000000000000.00", "floor_price": "99.00"}, "list_price"),
    ({"list_price": "10000000000.00", "floor_price": "99.00"}, "list_price"),
    ({"list_price": "199.00", "floor_price": "-1"}, "floor_price"),
    ({"list_price": "199.00", "floor_price": "99.00", "effective_from": "2030-01-01T00:00:00+17:34"},
     "effective_from"),
    ({"list_price": "199.00", "floor_price": "99.00", "effective_from": "2030-01-01T00:00:00-12:30"},
     "effective_from"),
    ({"list_price": "199.00", "floor_price": "99.00", "effective_from": "9999-12-31T23:59:59+14:00"},
     "effective_from"),
])
def test_a_price_beyond_what_is_kept_is_400_and_nothing_is_stored(client, sku, body, field):
    r = client["manager"].put(f"/v1/admin/prices/{sku}", json=body)
    assert r.status_code == 400 and fields_of(r) == [field], r.text
    assert [e["list_price"] for e in client["sales"].get(f"/v1/admin/prices/{sku}").json()[
        "history"]] == ["199.00"]


def test_the_largest_price_is_kept(client, sku):
    r = client["manager"].put(f"/v1/admin/prices/{sku}", json={"list_price": "9999999999.99",
                                                               "floor_price": "99.00"})
    assert r.status_code == 200 and r.json()["current"]["list_price"] == "9999999999.99", r.text


def test_a_quote_worth_more_than_money_holds_is_400_naming_the_quantity(client, system, sku):
    client["manager"].put(f"/v1/admin/prices/{sku}", json={"list_price": "9999999999.99",
                                                           "floor_price": "9999999999.99"})
    _, dist = new_distributor(client, system)
    one = dist.post("/v1/quotes", json={"lines": [{"sku": sku, "qty": 1}]})
    assert one.status_code == 201 and one.json()["total"] == "9999999999.99", one.text
    for _ in range(2):  # the second time from the price book
        r = dist.post("/v1/quotes", json={"lines": [{"sku": sku, "qty": 1}, {"sku": sku, "qty": 2}]})
        assert r.status_code == 400 and fields_of(r) == ["lines[1].qty"], r.text
    r = dist.post("/v1/quotes", json={"lines": [{"sku": sku, "qty": 1}, {"sku": sku, "qty": 1}]})
    assert r.status_code == 400 and fields_of(r) == ["lines"], r.text


@pytest.mark.parametrize("at", ["2030-01-01T00:00:00+17:34", "2030-01-01T00:00:00", "soon"])
def test_a_retail_price_asked_at_an_impossible_time_is_400(client, sku, at):
    r = client["sales"].get(f"/v1/admin/retail-prices/{sku}", params={"at": at})
    assert r.status_code == 400 and fields_of(r) == ["at"], r.text


def test_promotion_times_and_percentages_are_bounded(client, sku):
    start = datetime.now(UTC) + timedelta(days=1)
    good = {"name": "Spring", "discount_pct": "5", "starts_at": iso(start),
            "ends_at": iso(start + timedelta(hours=2)), "skus": [sku]}
    for change, field in [({"starts_at": "2030-01-01T00:00:00+15:00"}, "starts_at"),
                          ({"ends_at": "2030-01-01T00:00:00-13:00"}, "ends_at"),
                          ({"discount_pct": "5.12345"}, "discount_pct"),
                          ({"discount_pct": "1e400"}, "discount_pct")]:
        r = client["sales"].post("/v1/admin/promotions", json={**good, **change})
        assert r.status_code == 400 and fields_of(r) == [field], r.text


def test_an_observation_seller_may_be_an_integer_id(client, system, sku):
    did, _ = new_distributor(client, system)
    observed = datetime.now(UTC)
    body = {"channel": "tmall", "sku": sku, "observed_price": "199.00",
            "source_url": "https://detail.tmall.com/item.htm?id=2"}
    for step, seller in enumerate([did, str(did)]):
        r = client["sales"].post("/v1/admin/price-observations", json={
            **body, "seller": seller, "observed_at": iso(observed + timedelta(milliseconds=step))})
        assert r.status_code == 201, r.text
        assert (r.json()["result"], r.json()["seller"], r.json()["distributor_id"]) == (
            "ok", str(did), did)
    r = client["sales"].post("/v1/admin/price-observations", json={
        **body, "seller": 2**60, "observed_at": iso(observed)})
    assert r.status_code == 400 and fields_of(r) == ["seller"], r.text
    r = client["sales"].post("/v1/admin/price-observations", json={
        **body, "seller": did, "observed_at": "2030-01-01T00:00:00+17:34"})
    assert r.status_code == 400 and fields_of(r) == ["observed_at"], r.text
    r = client["sales"].post("/v1/admin/price-observations", json={
        **body, "seller": did, "observed_price": "100000000000000000000.00",
        "observed_at": iso(observed)})
    assert r.status_code == 400 and fields_of(r) == ["observed_price"], r.text


def test_an_observation_however_far_from_the_retail_price_is_recorded(client, uniq):
    """The deviation is unbounded above (+99999999999800 % at the extremes), and a retail price
    that a near-100 % promotion rounds to 0.00 leaves none to report: neither is a 500."""
    sku = f"{uniq}-CHEAP"
    client["sales"].post("/v1/admin/products", json={"sku": sku, "name": "Cloth", "category": "c",
                                                     "lifecycle": "new", "status": "active"})
    r = client["manager"].put(f"/v1/admin/prices/{sku}", json={"list_price": "0.01",
                                                               "floor_price": "0.01"})
    assert r.status_code == 200, r.text
    now = datetime.now(UTC)
    body = {"channel": "jd", "seller": "brand:jd", "sku": sku, "observed_price": "9999999999.99",
            "source_url": "https://item.jd.com/1.html"}
    r = client["sales"].post("/v1/admin/price-observations", json={**body, "observed_at": iso(now)})
    assert r.status_code == 201, r.text
    assert (r.json()["direction"], r.json()["deviation_pct"]) == ("above", "99999999999800")
    r = client["manager"].post("/v1/admin/promotions", json={
        "name": "Almost free", "discount_pct": "99.9999", "starts_at": iso(now),
        "ends_at": iso(now + timedelta(hours=1)), "skus": [sku]})
    assert r.status_code == 201 and r.json()["status"] == "approved", r.text
    later = iso(now + timedelta(seconds=1))
    assert client["sales"].get(f"/v1/admin/retail-prices/{sku}", params={"at": later}).json()[
        "retail_price"] == "0.00"
    r = client["sales"].post("/v1/admin/price-observations", json={**body, "observed_price": "1.00",
                                                                   "observed_at": later})
    assert r.status_code == 201, r.text
    assert (r.json()["result"], r.json()["direction"], r.json()["deviation_pct"]) == (
        "violation", "above", None)


@pytest.mark.parametrize("params,field", [({"since": "2030-01-01T00:00:00+17:34"}, "since"),
                                          ({"distributor_id": "0"}, "distributor_id"),
                                          ({"seller": "shop:x"}, "seller")])
def test_violation_filters_are_validated(client, params, field):
    r = client["sales"].get("/v1/admin/parity/violations", params=params)
    assert r.status_code == 400 and fields_of(r) == [field], r.text


# ---- API keys ------------------------------------------------------------------------------------


@pytest.mark.parametrize("form", [int, str, lambda did: f"00{did}"])
def test_a_distributor_key_takes_the_id_as_integer_or_string_and_answers_an_integer(client, system,
                                                                                    form):
    did, _ = new_distributor(client, system)
    r = client["manager"].post("/v1/admin/api-keys", json={"role": "distributor",
                                                           "distributor_id": form(did)})
    assert r.status_code == 201, r.text
    assert r.json()["distributor_id"] == did and isinstance(r.json()["distributor_id"], int)
    assert Client(system.base_url, r.json()["api_key"]).get("/v1/me").json()["id"] == did


@pytest.mark.parametrize("distributor_id", [0, -1, 2**53, "abc", 4.5, True])
def test_a_distributor_key_for_no_possible_id_is_400(client, distributor_id):
    r = client["manager"].post("/v1/admin/api-keys", json={"role": "distributor",
                                                           "distributor_id": distributor_id})
    assert r.status_code == 400 and fields_of(r) == ["distributor_id"], r.text
