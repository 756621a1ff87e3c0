"""The gateway refuses what no service could hold, before any service sees it (SPEC, Hardening rules):
bodies that are not JSON, too deep, with integers beyond ±2^53 or NUL characters; unknown, repeated
or NUL query parameters; a cursor from another list. Each refusal is a 400 (415) problem naming the
field, nothing of it is stored, and it is logged at info without a stack trace."""
import json
import time

import pytest


def product(sku, **extra):
    return {"sku": sku, "name": "Towel", "category": "towels", "lifecycle": "new", **extra}


def field_of(response):
    assert response.headers["Content-Type"] == "application/problem+json", response.text
    return response.json()["errors"][0]["field"]


def assert_not_stored(client, sku):
    assert client["sales"].get(f"/v1/admin/products/{sku}").status_code == 404
    assert client["sales"].get("/v1/admin/products").status_code == 200


def test_a_json_body_sent_as_another_media_type_is_415(client, uniq):
    r = client["sales"].post("/v1/admin/products", data=json.dumps(product(uniq)),
                             headers={"Content-Type": "text/plain"})
    assert r.status_code == 415 and r.json()["status"] == 415
    assert "application/json" in r.json()["detail"]
    assert_not_stored(client, uniq)


def test_a_body_on_a_route_without_one_must_still_be_json(client, uniq):
    client["sales"].post("/v1/admin/products", json=product(uniq)).raise_for_status()
    r = client["sales"].post(f"/v1/admin/products/{uniq}/discontinue", data="please",
                             headers={"Content-Type": "text/plain"})
    assert r.status_code == 415
    assert client["sales"].get(f"/v1/admin/products/{uniq}").json()["status"] == "draft"


@pytest.mark.parametrize("attributes,field", [
    ({"size": 2**70}, "attributes.size"),
    ({"size": -(2**53)}, "attributes.size"),
    ({"note": "a\x00b"}, "attributes.note"),
])
def test_integers_out_of_range_and_nul_characters_are_400_naming_the_field(client, uniq, attributes,
                                                                         field):
    r = client["sales"].post("/v1/admin/products", json=product(uniq, attributes=attributes))
    assert r.status_code == 400 and field_of(r) == field
    assert_not_stored(client, uniq)


def test_a_nul_in_a_key_or_a_top_level_string_names_the_place(client, uniq):
    r = client["sales"].post("/v1/admin/products", json=product(uniq + "\x00"))
    assert r.status_code == 400 and field_of(r) == "sku"
    r = client["sales"].post("/v1/admin/products", json=product(uniq, attributes={"a\x00": 1}))
    assert r.status_code == 400 and field_of(r) == "attributes"
    assert_not_stored(client, uniq)


def test_a_lone_surrogate_is_400_naming_the_field(client, uniq):
    data = json.dumps(product(uniq))[:-1] + ', "attributes": {"note": "a\\ud800b"}}'
    r = client["sales"].post("/v1/admin/products", data=data,
                             headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and field_of(r) == "attributes.note"
    assert_not_stored(client, uniq)


@pytest.mark.parametrize("depth", [33, 500, 10_000])
def test_bodies_nested_deeper_than_32_levels_are_400(client, uniq, depth):
    nested = "[" * depth + "]" * depth
    data = json.dumps(product(uniq))[:-1] + f', "attributes": {{"deep": {nested}}}}}'
    r = client["sales"].post("/v1/admin/products", data=data,
                             headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "32 levels" in r.json()["errors"][0]["message"]
    assert_not_stored(client, uniq)


def test_32_levels_are_still_taken_to_the_service(client, uniq):
    # the gateway lets it through; the catalog refuses nested attributes for reasons of its own
    nested = "[" * 30 + "]" * 30
    data = json.dumps(product(uniq))[:-1] + f', "attributes": {{"deep": {nested}}}}}'
    r = client["sales"].post("/v1/admin/products", data=data,
                             headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "32 levels" not in r.json()["detail"]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "1e999"])
def test_numbers_json_cannot_hold_are_400(client, uniq, literal):
    data = json.dumps(product(uniq))[:-1] + f', "attributes": {{"x": {literal}}}}}'
    r = client["sales"].post("/v1/admin/products", data=data,
                             headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert_not_stored(client, uniq)


def test_an_unknown_query_parameter_is_400_naming_it(client):
    r = client["sales"].get("/v1/admin/products?colour=red")
    assert r.status_code == 400 and field_of(r) == "colour"
    assert "status" in r.json()["errors"][0]["message"]  # says what the route takes
    r = client["sales"].get("/v1/admin/green-channel?limit=5")  # a route that takes none at all
    assert r.status_code == 400 and field_of(r) == "limit"
    assert client["sales"].get("/v1/admin/tiers?limit=5").status_code == 200  # a list takes them


def test_a_repeated_query_parameter_is_400(client):
    r = client["sales"].get("/v1/admin/products?status=draft&status=active")
    assert r.status_code == 400 and field_of(r) == "status"


@pytest.mark.parametrize("path", [
    "/v1/admin/products?q=a%00b",
    "/v1/admin/products?q%00=x",
    "/v1/admin/products/A%00B",
    "/v1/admin/retail-prices/SKU%00?at=2026-01-01T00:00:00Z",
])
def test_a_nul_in_a_query_or_path_is_400(client, path):
    r = client["sales"].get(path)
    assert r.status_code == 400, r.text
    assert r.headers["Content-Type"] == "application/problem+json"


def test_a_cursor_is_valid_only_for_the_list_that_issued_it(client, uniq):
    for n in range(3):
        client["sales"].post("/v1/admin/products", json=product(f"{uniq}-{n}")).raise_for_status()
    first = client["sales"].get(f"/v1/admin/products?limit=1&q={uniq}").json()
    cursor = first["next_cursor"]
    second = client["sales"].get(f"/v1/admin/products?limit=1&q={uniq}&cursor={cursor}")
    assert second.status_code == 200 and second.json()["items"] != first["items"]
    for other in ("/v1/admin/promotions", "/v1/admin/orders", "/v1/admin/distributors"):
        r = client["sales"].get(f"{other}?cursor={cursor}")
        assert r.status_code == 400 and field_of(r) == "cursor", other
    r = client["sales"].get("/v1/admin/products?cursor=not-a-cursor")
    assert r.status_code == 400 and field_of(r) == "cursor"
    assert client["sales"].get("/v1/admin/products?cursor=").status_code == 200  # the first page


def test_refusals_are_logged_at_info_without_a_stack_trace(client, system, uniq):
    rid = f"refused-{uniq}"
    client["anonymous"].get("/v1/admin/products", headers={"X-Request-Id": rid + "-401"})
    client["sales"].get("/v1/admin/products?x=1", headers={"X-Request-Id": rid + "-400"})
    client["sales"].post("/v1/admin/products", json={"sku": uniq}, headers={"X-Request-Id": rid + "-svc"})
    client["sales"].get("/health", headers={"X-Request-Id": rid + "-end"})
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        gateway_log = (system.log_dir / "gateway.log").read_text()
        if rid + "-end" in gateway_log:
            break
        time.sleep(0.05)
    for service in ("gateway", "catalog"):
        text = (system.log_dir / f"{service}.log").read_text()
        lines = [line for line in text.splitlines() if rid in line]
        assert all(line.startswith("{") for line in lines), f"{service}: a non-JSON line (a trace?)"
        records = [json.loads(line) for line in lines]
        assert all(r["level"] == "info" for r in records), records
        assert not any("exception" in r or "exc_info" in r for r in records), records
        assert "Traceback" not in "\n".join(lines)
    gateway = [json.loads(line) for line in (system.log_dir / "gateway.log").read_text().splitlines()
               if rid in line and line.startswith("{")]
    for suffix in ("-401", "-400", "-svc"):  # one line per request
        assert sum(1 for r in gateway if r["request_id"] == rid + suffix) == 1, suffix


def test_docs_renders_the_openapi_document_from_local_assets(client):
    page = client["anonymous"].get("/docs")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "/openapi.json" in client["anonymous"].get("/docs/assets/init.js").text
    assert "http://" not in page.text and "https://" not in page.text  # no CDN
    for asset in ("swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js"):
        assert f"/docs/assets/{asset}" in page.text
        r = client["anonymous"].get(f"/docs/assets/{asset}")
        assert r.status_code == 200 and len(r.content) > 1000, asset
    assert client["anonymous"].get("/docs/assets/secrets.txt").status_code == 404


def forged(list_name: str, inner_key) -> str:
    import base64

    inner = base64.urlsafe_b64encode(json.dumps({"after": inner_key}).encode()).decode().rstrip("=")
    outer = json.dumps([list_name, inner]).encode()
    return base64.urlsafe_b64encode(outer).decode().rstrip("=")


@pytest.mark.parametrize("route,list_name,key", [
    ("/v1/admin/products", "list_products", {"x": 1}),
    ("/v1/admin/products", "list_products", "a\x00b"),
    ("/v1/admin/distributors", "list_distributors", "seven"),
    ("/v1/admin/applications", "list_applications", 2**70),
    ("/v1/admin/promotions", "list_promotions", [1]),
    ("/v1/admin/parity/violations", "list_violations", ["42", "not a time", 1]),
    ("/v1/admin/parity/violations", "list_violations", "abc"),
    ("/v1/admin/orders", "list_orders", "x"),
])
def test_a_forged_cursor_is_400_not_a_500(client, route, list_name, key):
    r = client["sales"].get(f"{route}?cursor={forged(list_name, key)}")
    assert r.status_code == 400 and field_of(r) == "cursor", r.text
    deep = base64_of("[" * 5000)
    r = client["sales"].get(f"{route}?cursor={deep}")
    assert r.status_code == 400 and field_of(r) == "cursor"


def base64_of(text: str) -> str:
    import base64

    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def test_a_body_sent_where_a_route_takes_none_is_refused(client, uniq):
    client["sales"].post("/v1/admin/products", json=product(uniq)).raise_for_status()
    r = client["sales"].post(f"/v1/admin/products/{uniq}/discontinue", data="[" * 5000 + "]" * 5000,
                             headers={"Content-Type": "application/json", "Idempotency-Key": uniq})
    assert r.status_code == 400 and field_of(r) == "body"
    r = client["sales"].request("GET", "/v1/admin/products", data="hello",
                                headers={"Content-Type": "text/plain"})
    assert r.status_code == 415
    assert client["sales"].get(f"/v1/admin/products/{uniq}").json()["status"] == "draft"


def test_an_idempotency_key_must_be_printable_ascii(client, uniq):
    r = client["sales"].post("/v1/admin/products", json=product(uniq),
                             headers={"Idempotency-Key": "a\x01b"})
    assert r.status_code == 400 and field_of(r) == "Idempotency-Key"
    assert_not_stored(client, uniq)


def test_a_list_that_fits_one_page_still_checks_its_paging(client):
    for bad in ("limit=0", "limit=abc", "limit=501"):
        r = client["sales"].get(f"/v1/admin/tiers?{bad}")
        assert r.status_code == 400 and field_of(r) == "limit", bad


@pytest.mark.parametrize("price", ["0E-1000000", "0E+1000000", "1E+30"])
def test_money_written_with_a_huge_exponent_is_400(client, uniq, price):
    client["sales"].post("/v1/admin/products", json=product(uniq)).raise_for_status()
    r = client["manager"].put(f"/v1/admin/prices/{uniq}",
                              json={"list_price": price, "floor_price": "1.00"})
    assert r.status_code == 400 and field_of(r) == "list_price", r.text
    assert client["sales"].get(f"/v1/admin/prices/{uniq}").json()["history"] == []
