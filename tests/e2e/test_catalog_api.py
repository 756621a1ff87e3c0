"""The sales team and distributors use the catalog through the gateway, as their tools would."""
import time

import pytest

from common.testing import wait_until


def product(sku, **kw):
    return {"sku": sku, "name": kw.pop("name", f"Product {sku}"), "category": kw.pop("category", "towels"),
            "lifecycle": kw.pop("lifecycle", "classic"), **kw}


def test_create_read_update_discontinue(client, uniq):
    sales = client["sales"]
    r = sales.post("/v1/admin/products", json=product(f"{uniq}-A", attributes={"gsm": 600}))
    assert r.status_code == 201, r.text
    assert r.headers["Location"] == f"/v1/admin/products/{uniq}-A"
    body = r.json()
    assert {k: body[k] for k in ("sku", "status", "hero", "substitutes", "attributes")} == {
        "sku": f"{uniq}-A", "status": "draft", "hero": False, "substitutes": [],
        "attributes": {"gsm": 600}}

    r = sales.patch(f"/v1/admin/products/{uniq}-A", json={"status": "active", "name": "Towel XL"})
    assert r.status_code == 200 and r.json()["status"] == "active"
    assert sales.get(f"/v1/admin/products/{uniq}-A").json()["name"] == "Towel XL"

    r = sales.patch(f"/v1/admin/products/{uniq}-A", json={"status": "draft"})
    assert r.status_code == 409 and r.headers["Content-Type"] == "application/problem+json"

    r = sales.post(f"/v1/admin/products/{uniq}-A/discontinue")
    assert r.status_code == 200 and r.json()["status"] == "discontinued"
    assert sales.post(f"/v1/admin/products/{uniq}-A/discontinue").status_code == 409
    r = sales.patch(f"/v1/admin/products/{uniq}-A", json={"status": "active"})
    assert r.status_code == 409
    assert sales.get(f"/v1/admin/products/{uniq}-A").json()["status"] == "discontinued"


def test_duplicate_sku_is_409_and_unknown_is_404(client, uniq):
    sales = client["sales"]
    assert sales.post("/v1/admin/products", json=product(uniq)).status_code == 201
    r = sales.post("/v1/admin/products", json=product(uniq, name="other"))
    assert r.status_code == 409
    assert sales.get(f"/v1/admin/products/{uniq}").json()["name"] == f"Product {uniq}"
    r = sales.get(f"/v1/admin/products/{uniq}-NOPE")
    assert r.status_code == 404 and r.json()["status"] == 404


def test_substitutes_must_exist_and_not_be_itself(client, uniq):
    sales = client["sales"]
    sales.post("/v1/admin/products", json=product(f"{uniq}-B"))
    r = sales.post("/v1/admin/products",
                   json=product(f"{uniq}-A", substitutes=[f"{uniq}-B", f"{uniq}-A", "NOPE"]))
    assert r.status_code == 400
    assert [e["field"] for e in r.json()["errors"]] == ["substitutes[1]", "substitutes[2]"]
    r = sales.post("/v1/admin/products", json=product(f"{uniq}-A", substitutes=[f"{uniq}-B"]))
    assert r.status_code == 201 and r.json()["substitutes"] == [f"{uniq}-B"]


def test_list_filters_and_cursor_pagination(client, uniq):
    sales = client["sales"]
    for i in range(7):
        sales.post("/v1/admin/products", json=product(
            f"{uniq}-{i}", name=f"Sheet {i}" if i % 2 else f"Towel {i}",
            category="bedding" if i % 2 else "towels", lifecycle="new" if i < 2 else "classic",
            status="active" if i < 5 else "draft"))
    seen, cursor = [], None
    while True:
        params = {"q": uniq.lower(), "limit": 3, **({"cursor": cursor} if cursor else {})}
        page = sales.get("/v1/admin/products", params=params).json()
        seen += [p["sku"] for p in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [f"{uniq}-{i}" for i in range(7)]

    def skus(**params):
        r = sales.get("/v1/admin/products", params={"q": uniq, **params})
        assert r.status_code == 200, r.text
        return [p["sku"] for p in r.json()["items"]]

    assert skus(category="bedding") == [f"{uniq}-{i}" for i in (1, 3, 5)]
    assert skus(status="draft") == [f"{uniq}-5", f"{uniq}-6"]
    assert skus(lifecycle="new", status="active") == [f"{uniq}-0", f"{uniq}-1"]
    r = sales.get("/v1/admin/products", params={"q": "SHEET", "category": "bedding"})
    assert {f"{uniq}-1", f"{uniq}-3", f"{uniq}-5"} <= {p["sku"] for p in r.json()["items"]}


@pytest.mark.parametrize("params,field", [
    ({"limit": 0}, "limit"), ({"limit": 501}, "limit"), ({"limit": "x"}, "limit"),
    ({"cursor": "!!not-a-cursor"}, "cursor"), ({"status": "sold"}, "status"),
])
def test_bad_list_parameters_are_400_naming_the_parameter(client, params, field):
    r = client["sales"].get("/v1/admin/products", params=params)
    assert r.status_code == 400
    assert r.headers["Content-Type"] == "application/problem+json"
    assert [e["field"] for e in r.json()["errors"]] == [field]


def test_import_upserts_and_reports_counts(client, uniq):
    sales = client["sales"]
    sales.post("/v1/admin/products", json=product(f"{uniq}-0", name="old name"))
    rows = [product(f"{uniq}-{i}", substitutes=[f"{uniq}-{(i + 1) % 3}"]) for i in range(3)]
    r = sales.post("/v1/admin/products/import", json={"products": rows})
    assert r.status_code == 200, r.text
    assert r.json() == {"created": 2, "updated": 1, "unchanged": 0}
    assert sales.get(f"/v1/admin/products/{uniq}-0").json()["name"] == f"Product {uniq}-0"


def test_a_bad_import_row_is_named_and_nothing_is_written(client, uniq):
    sales = client["sales"]
    rows = [product(f"{uniq}-{i}") for i in range(5)]
    rows[3] = {**rows[3], "sku": "bad sku"}
    r = sales.post("/v1/admin/products/import", json={"products": rows})
    assert r.status_code == 400
    assert [e["field"] for e in r.json()["errors"]] == ["products[3].sku"]
    rows[3] = product(f"{uniq}-3", substitutes=["NOT-THERE"])
    r = sales.post("/v1/admin/products/import", json={"products": rows})
    assert r.status_code == 400
    assert [e["field"] for e in r.json()["errors"]] == ["products[3].substitutes[0]"]
    assert sales.get("/v1/admin/products", params={"q": uniq}).json()["items"] == []


def test_import_of_10000_products_in_one_request(client, uniq):
    sales = client["sales"]
    rows = [product(f"{uniq}-{i:05d}", lifecycle="new" if i % 5 == 0 else "classic",
                    attributes={"colour": "white", "size": "70x140"}) for i in range(10_000)]
    started = time.monotonic()
    r = sales.post("/v1/admin/products/import", json={"products": rows})
    assert r.status_code == 200, r.text[:500]
    assert r.json()["created"] == 10_000
    assert time.monotonic() - started < 60
    last = sales.get(f"/v1/admin/products/{uniq}-09999").json()
    assert last["status"] == "draft" and last["attributes"]["size"] == "70x140"


def test_assortment_report_counts_active_products_against_the_target(client, uniq):
    sales = client["sales"]
    before = sales.get("/v1/admin/catalog/assortment").json()
    assert before["target_new_ratio"] == 0.2
    rows = [product(f"{uniq}-{i}", lifecycle="new" if i == 0 else "classic", status="active")
            for i in range(4)] + [product(f"{uniq}-draft", lifecycle="new")]
    sales.post("/v1/admin/products/import", json={"products": rows})
    after = sales.get("/v1/admin/catalog/assortment").json()
    assert after["active"] == before["active"] + 4
    assert after["new"] == before["new"] + 1 and after["classic"] == before["classic"] + 3
    assert after["new_ratio"] == round(after["new"] / after["active"], 4)


def test_distributors_see_only_active_products(client, uniq):
    sales, dist = client["sales"], client["distributor"]
    sales.post("/v1/admin/products", json=product(f"{uniq}-LIVE", status="active"))
    sales.post("/v1/admin/products", json=product(f"{uniq}-DRAFT"))
    sales.post("/v1/admin/products", json=product(f"{uniq}-GONE", status="active"))
    sales.post(f"/v1/admin/products/{uniq}-GONE/discontinue")
    r = dist.get("/v1/catalog/products", params={"q": uniq})
    assert r.status_code == 200
    assert [p["sku"] for p in r.json()["items"]] == [f"{uniq}-LIVE"]
    assert dist.get(f"/v1/catalog/products/{uniq}-LIVE").status_code == 200
    assert dist.get(f"/v1/catalog/products/{uniq}-DRAFT").status_code == 404
    # one product is read from pricing's copy of the catalog, which follows its events within ms
    def not_found() -> list | None:
        r = dist.get(f"/v1/catalog/products/{uniq}-GONE")
        return [r] if r.status_code == 404 else None  # (a 404 Response is falsy: wrapped)

    [gone] = wait_until(not_found, 5, lambda: f"{uniq}-GONE is 404 to a distributor; still "
                        f"{dist.get(f'/v1/catalog/products/{uniq}-GONE').text}")
    assert gone.headers["Content-Type"] == "application/problem+json"
