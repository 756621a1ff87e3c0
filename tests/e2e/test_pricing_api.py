"""One retail price everywhere, tiers, green-channel promotions, quotes and parity monitoring, used
through the gateway as the sales team and distributors would."""
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from test_onboarding_api import application

from common.testing import wait_until
from conftest import Client, onboard_distributor


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


NOW = datetime.now(UTC)


@pytest.fixture
def sku(client, uniq):
    """An active product with list 199.00 and floor 99.00."""
    sku = f"{uniq}-TWL"
    client["sales"].post("/v1/admin/products", json={"sku": sku, "name": "Towel", "category": "towels",
                                                     "lifecycle": "classic", "status": "active"})
    r = client["manager"].put(f"/v1/admin/prices/{sku}", json={"list_price": "199.00",
                                                               "floor_price": "99.00"})
    assert r.status_code == 200, r.text
    return sku


def new_distributor(client, system, tier="gold"):
    approved = onboard_distributor(system.base_url, client["manager"].session.headers[
        "Authorization"].split()[1], application(), tier)
    return approved["distributor_id"], Client(system.base_url, approved["api_key"])


def test_a_new_product_can_be_priced_as_soon_as_it_exists(client, uniq):
    sku = f"{uniq}-FRESH"
    client["sales"].post("/v1/admin/products", json={"sku": sku, "name": "x", "category": "c",
                                                     "lifecycle": "new"})
    r = client["manager"].put(f"/v1/admin/prices/{sku}", json={"list_price": 59.9, "floor_price": "30"})
    assert r.status_code == 200, r.text
    assert r.json()["current"]["list_price"] == "59.90"


def test_prices_keep_history_and_scheduled_changes(client, sku):
    manager, sales = client["manager"], client["sales"]
    later = NOW + timedelta(days=30)
    r = manager.put(f"/v1/admin/prices/{sku}", json={"list_price": "219.00", "floor_price": "109.00",
                                                     "effective_from": iso(later)})
    assert r.status_code == 200
    doc = sales.get(f"/v1/admin/prices/{sku}").json()
    assert doc["current"]["list_price"] == "199.00"
    assert [e["list_price"] for e in doc["scheduled"]] == ["219.00"]
    assert [e["list_price"] for e in doc["history"]] == ["199.00", "219.00"]
    assert all(e["set_by"].startswith("manager:") and e["set_at"] for e in doc["history"])

    def retail(at):
        return sales.get(f"/v1/admin/retail-prices/{sku}", params={"at": iso(at)})

    assert retail(later - timedelta(microseconds=1)).json()["list_price"] == "199.00"
    assert retail(later).json()["list_price"] == "219.00"
    assert retail(NOW - timedelta(days=365)).status_code == 404


@pytest.mark.parametrize("body,field", [
    ({"list_price": "99.00", "floor_price": "100.00"}, "floor_price"),
    ({"list_price": "0", "floor_price": "0"}, "list_price"),
    ({"list_price": "-5", "floor_price": "1"}, "list_price"),
    ({"list_price": "19.999", "floor_price": "1"}, "list_price"),
    ({"list_price": "abc", "floor_price": "1"}, "list_price"),
    ({"list_price": True, "floor_price": "1"}, "list_price"),
    ({"list_price": "10", "floor_price": "1", "currency": "yuan"}, "currency"),
    ({"list_price": "10", "floor_price": "1", "effective_from": "2020-01-01T00:00:00Z"}, "effective_from"),
    ({"list_price": "10", "floor_price": "1", "effective_from": "2030-01-01T00:00:00"}, "effective_from"),
    ({"list_price": "10"}, "floor_price"),
    ({"list_price": "10", "floor_price": "1", "retail_price": "9"}, "retail_price"),
])
def test_bad_prices_are_400_naming_the_field(client, sku, body, field):
    r = client["manager"].put(f"/v1/admin/prices/{sku}", json=body)
    assert r.status_code == 400, r.text
    assert field in [e["field"] for e in r.json()["errors"]]


def test_unknown_or_discontinued_products_cannot_be_priced(client, sku):
    assert client["manager"].put("/v1/admin/prices/NO-SUCH-SKU", json={
        "list_price": "1", "floor_price": "1"}).status_code == 404
    client["sales"].post(f"/v1/admin/products/{sku}/discontinue")
    r = client["manager"].put(f"/v1/admin/prices/{sku}", json={"list_price": "1", "floor_price": "1"})
    assert r.status_code == 409


def test_green_channel_promotions_and_approval(client, sku):
    sales, manager = client["sales"], client["manager"]
    inside = {"name": "Weekend", "discount_pct": 10, "starts_at": iso(NOW - timedelta(hours=1)),
              "ends_at": iso(NOW + timedelta(hours=71)), "skus": [sku]}
    r = sales.post("/v1/admin/promotions", json=inside)
    assert r.status_code == 201 and r.json()["status"] == "approved"
    assert r.json()["created_by"].startswith("sales:")
    retail = sales.get(f"/v1/admin/retail-prices/{sku}").json()
    assert (retail["retail_price"], retail["promotion"]["discount_pct"]) == ("179.10", "10")

    big = {**inside, "name": "Clearance", "discount_pct": "25"}
    pending = sales.post("/v1/admin/promotions", json=big).json()
    assert pending["status"] == "pending_approval"
    assert sales.get(f"/v1/admin/retail-prices/{sku}").json()["retail_price"] == "179.10"
    assert sales.post(f"/v1/admin/promotions/{pending['id']}/approve").status_code == 403
    approved = manager.post(f"/v1/admin/promotions/{pending['id']}/approve")
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    retail = sales.get(f"/v1/admin/retail-prices/{sku}").json()
    assert (retail["retail_price"], retail["promotion"]["id"]) == ("149.25", pending["id"])  # largest wins

    long_one = sales.post("/v1/admin/promotions", json={**inside, "ends_at": iso(NOW + timedelta(
        hours=80))}).json()
    assert long_one["status"] == "pending_approval"
    assert manager.post(f"/v1/admin/promotions/{long_one['id']}/reject", json={}).status_code == 400
    rejected = manager.post(f"/v1/admin/promotions/{long_one['id']}/reject", json={"reason": "too long"})
    assert rejected.json()["status"] == "rejected" and rejected.json()["reason"] == "too long"
    assert manager.post(f"/v1/admin/promotions/{long_one['id']}/approve").status_code == 409
    mine = manager.post("/v1/admin/promotions", json={**big, "discount_pct": 50, "starts_at": iso(
        NOW + timedelta(days=300)), "ends_at": iso(NOW + timedelta(days=310))}).json()
    assert mine["status"] == "approved"
    listed = sales.get("/v1/admin/promotions", params={"status": "rejected", "limit": 500}).json()
    assert long_one["id"] in [p["id"] for p in listed["items"]]


@pytest.mark.parametrize("change,field", [
    ({"discount_pct": 0}, "discount_pct"), ({"discount_pct": 100}, "discount_pct"),
    ({"discount_pct": "ten"}, "discount_pct"), ({"ends_at": "2020-01-01T00:00:00Z"}, "ends_at"),
    ({"starts_at": "yesterday"}, "starts_at"), ({"skus": ["NO-SUCH-SKU"]}, "skus[0]"),
    ({"skus": []}, "skus"), ({"colour": "red"}, "colour"),
])
def test_bad_promotions_name_the_field(client, sku, change, field):
    body = {"name": "x", "discount_pct": 5, "starts_at": iso(NOW), "ends_at": iso(NOW + timedelta(hours=1)),
            "skus": [sku], **change}
    r = client["sales"].post("/v1/admin/promotions", json=body)
    assert r.status_code == 400 and field in [e["field"] for e in r.json()["errors"]], r.text


def test_the_green_channel_can_be_widened_by_a_manager(client, sku):
    manager, sales = client["manager"], client["sales"]
    assert sales.get("/v1/admin/green-channel").json() == {"max_discount_pct": "10",
                                                           "max_duration_hours": "72"}
    assert sales.put("/v1/admin/green-channel", json={"max_discount_pct": 20,
                                                      "max_duration_hours": 72}).status_code == 403
    try:
        assert manager.put("/v1/admin/green-channel", json={"max_discount_pct": 20,
                                                            "max_duration_hours": 96}).status_code == 200
        r = sales.post("/v1/admin/promotions", json={
            "name": "wider", "discount_pct": 20, "starts_at": iso(NOW + timedelta(days=400)),
            "ends_at": iso(NOW + timedelta(days=404)), "skus": [sku]})
        assert r.json()["status"] == "approved"
    finally:
        manager.put("/v1/admin/green-channel", json={"max_discount_pct": 10, "max_duration_hours": 72})


def test_quotes_at_the_callers_tier_with_volume_breaks(client, system, sku):
    manager = client["manager"]
    tiers = client["sales"].get("/v1/admin/tiers").json()
    assert tiers["next_cursor"] is None
    assert {t["tier"]: t["discount_pct"] for t in tiers["items"]}["platinum"] == "40"
    r = manager.put("/v1/admin/tiers/silver", json={"discount_pct": 30, "volume_breaks": [
        {"min_qty": 10, "extra_discount_pct": 2}, {"min_qty": 100, "extra_discount_pct": "5"}]})
    assert r.status_code == 200 and len(r.json()["volume_breaks"]) == 2
    assert manager.put("/v1/admin/tiers/diamond", json={"discount_pct": 50}).status_code == 404
    _, silver = new_distributor(client, system, "silver")
    r = silver.post("/v1/quotes", json={"lines": [{"sku": sku, "qty": 1}, {"sku": sku, "qty": 12},
                                                  {"sku": sku, "qty": 150}]})
    assert r.status_code == 201, r.text
    q = r.json()
    assert [(line["unit_price"], line["volume_discount_pct"], line["line_total"]) for line in q["lines"]] == [
        ("139.30", "0", "139.30"), ("135.32", "2", "1623.84"), ("129.35", "5", "19402.50")]
    line = q["lines"][0]
    assert (line["list_price"], line["tier_discount_pct"]) == ("199.00", "30")
    assert q["total"] == "21165.64" and q["currency"] == "CNY" and isinstance(q["price_version"], int)
    valid_until = datetime.fromisoformat(q["valid_until"])
    assert timedelta(minutes=14) < valid_until - datetime.now(UTC) <= timedelta(minutes=15)
    manager.put("/v1/admin/tiers/silver", json={"discount_pct": 30, "volume_breaks": []})


def test_a_distributor_sees_only_its_own_tier_price(client, system, sku):
    _, gold = new_distributor(client, system, "gold")
    _, platinum = new_distributor(client, system, "platinum")
    assert gold.get(f"/v1/catalog/products/{sku}").json()["price"]["unit_price"] == "129.35"
    assert platinum.get(f"/v1/catalog/products/{sku}").json()["price"]["unit_price"] == "119.40"
    listed = gold.get("/v1/catalog/products", params={"q": sku}).json()["items"]
    assert [(p["sku"], p["price"]["unit_price"], p["price"]["tier_discount_pct"]) for p in listed] == [
        (sku, "129.35", "35")]


def test_quote_refusals_name_the_line(client, system, sku, uniq):
    client["sales"].post("/v1/admin/products", json={"sku": f"{uniq}-DRAFT", "name": "d", "category": "c",
                                                     "lifecycle": "new"})
    _, dist = new_distributor(client, system)
    r = dist.post("/v1/quotes", json={"lines": [{"sku": sku, "qty": 1}, {"sku": "NO-SUCH", "qty": 1},
                                                {"sku": f"{uniq}-DRAFT", "qty": 1}]})
    assert r.status_code == 400
    assert [e["field"] for e in r.json()["errors"]] == ["lines[1].sku", "lines[2].sku"]
    for body, field in [({"lines": []}, "lines"), ({"lines": [{"sku": sku, "qty": 0}]}, "lines[0].qty"),
                        ({"lines": [{"sku": sku, "qty": "3"}]}, "lines[0].qty"),
                        ({"lines": [{"sku": sku, "qty": 1}] * 201}, "lines")]:
        r = dist.post("/v1/quotes", json=body)
        assert r.status_code == 400 and field in [e["field"] for e in r.json()["errors"]]


def test_a_suspended_distributor_may_read_but_not_quote(client, system, sku):
    did, dist = new_distributor(client, system)
    first = dist.post("/v1/quotes", json={"lines": [{"sku": sku, "qty": 1}]})
    assert first.status_code == 201, first.text
    client["manager"].post(f"/v1/admin/distributors/{did}/suspend", json={"reason": "audit"})

    def refused() -> list | None:  # pricing learns it from the distributors service's event
        r = dist.post("/v1/quotes", json={"lines": [{"sku": sku, "qty": 1}]})
        return [r] if r.status_code == 403 else None  # (a 403 Response is falsy: wrapped)

    [r] = wait_until(refused, 5, "quotes refused (403) once the suspension reaches pricing")
    assert "suspended" in r.json()["detail"]
    assert dist.get(f"/v1/catalog/products/{sku}").status_code == 200


def test_parity_observations_and_the_review_flag(client, system, sku):
    did, _ = new_distributor(client, system)
    sales = client["sales"]

    priced_at = datetime.now(UTC)  # the sku fixture set its price just before

    def observe(price, step, seller=str(did), channel="tmall"):
        return sales.post("/v1/admin/price-observations", json={
            "channel": channel, "seller": seller, "sku": sku, "observed_price": price,
            "observed_at": iso(priced_at + timedelta(milliseconds=step)),
            "source_url": "https://detail.tmall.com/item.htm?id=1"})

    ok = observe("199.00", 1)
    assert ok.status_code == 201
    assert (ok.json()["result"], ok.json()["direction"], ok.json()["deviation_pct"]) == ("ok", None, "0")
    brand = observe("189.00", 2, seller="brand:jd", channel="jd").json()
    assert (brand["result"], brand["direction"], brand["expected_price"]) == ("violation", "below", "199.00")
    first = observe("179.00", 3).json()
    assert (first["result"], first["direction"], first["deviation_pct"]) == ("violation", "below", "-10.05")
    assert observe("209.00", 4).json()["direction"] == "above"
    assert client["sales"].get(f"/v1/admin/distributors/{did}").json()["flagged_for_review"] is False
    third = observe("150.00", 5).json()
    assert third["flagged_for_review"] is True
    wait_until(lambda: client["sales"].get(f"/v1/admin/distributors/{did}").json()["flagged_for_review"],
               5, "distributor_flagged did not reach the distributors service")
    listed = sales.get("/v1/admin/parity/violations", params={"distributor_id": did}).json()["items"]
    assert [v["observed_price"] for v in listed] == ["179.00", "209.00", "150.00"]
    assert all(v["flagged_for_review"] for v in listed)
    r = observe("150.00", 3_600_000)
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "observed_at"
    r = observe("150.00", 6, seller="999999")
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "seller"
    assert Decimal(third["deviation_pct"]) == Decimal("-24.62")


def test_a_distributors_catalog_view_shows_every_acknowledged_change_at_once(client, system, sku, uniq):
    """The gateway keeps copies of catalog views (gateway/views.py); no copy outlives a change the API
    has acknowledged, nor a scheduled price's start."""
    _, gold = new_distributor(client, system, "gold")
    view = f"/v1/catalog/products/{sku}"

    def unit_price() -> str:
        r = gold.get(view)
        assert r.status_code == 200, r.text
        return r.json()["price"]["unit_price"]

    assert unit_price() == unit_price() == "129.35"  # the second from the gateway's copy
    assert client["manager"].put(f"/v1/admin/prices/{sku}", json={"list_price": "299.00",
                                                                  "floor_price": "99.00"}).status_code == 200
    assert unit_price() == "194.35"
    promotion = client["sales"].post("/v1/admin/promotions", json={
        "name": f"{uniq} flash", "discount_pct": 10, "starts_at": iso(datetime.now(UTC) - timedelta(minutes=1)),
        "ends_at": iso(datetime.now(UTC) + timedelta(hours=1)), "skus": [sku]})
    assert promotion.status_code == 201 and promotion.json()["status"] == "approved", promotion.text
    assert gold.get(view).json()["price"]["retail_price"] == "269.10"
    assert client["sales"].patch(f"/v1/admin/products/{sku}", json={"name": "Bath towel"}).status_code == 200
    assert gold.get(view).json()["name"] == "Bath towel"

    soon = datetime.now(UTC) + timedelta(seconds=3)
    assert client["manager"].put(f"/v1/admin/prices/{sku}", json={
        "list_price": "99.00", "floor_price": "50.00", "effective_from": iso(soon)}).status_code == 200
    assert gold.get(view).json()["price"]["list_price"] == "299.00"  # not yet
    wait_until(lambda: gold.get(view).json()["price"]["list_price"] == "99.00", 10,
               "the scheduled price shown once it is in force")
    assert datetime.now(UTC) >= soon
    assert client["sales"].post(f"/v1/admin/products/{sku}/discontinue").status_code == 200
    assert gold.get(view).status_code == 404
