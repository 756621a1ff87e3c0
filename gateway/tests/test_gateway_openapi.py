"""/openapi.json is valid OpenAPI 3 and describes every declared route."""
from openapi_spec_validator import validate

import gateway.service  # noqa: F401  (declares the routes)
from gateway.http import ROUTES
from gateway.openapi import build_spec, openapi_path


def test_the_generated_document_is_valid_openapi_3():
    validate(build_spec())


def test_every_route_is_described_with_its_security_and_body():
    spec = build_spec()
    for route in ROUTES:
        op = spec["paths"][openapi_path(route.path)][route.method.lower()]
        assert str(route.status) in op["responses"]
        assert ("security" in op) == (route.roles is not None)
        assert ("requestBody" in op) == (route.body is not None)


def test_product_schemas_come_from_the_catalog_contract():
    spec = build_spec()
    product = spec["components"]["schemas"]["Product"]
    assert {"sku", "name", "category", "lifecycle", "hero", "attributes", "substitutes",
            "status"} <= set(product["properties"])
    create = spec["components"]["schemas"]["ProductCreate"]
    assert set(create["required"]) == {"sku", "name", "category", "lifecycle"}


def test_a_distributor_product_is_documented_with_its_unit_price():
    spec = build_spec()
    one = spec["paths"]["/v1/catalog/products/{sku}"]["get"]["responses"]["200"]
    assert one["content"]["application/json"]["schema"]["$ref"].endswith("/DistributorProduct")
    product = spec["components"]["schemas"]["DistributorProduct"]
    assert "sku" in product["properties"] and "price" in product["properties"]
    price = spec["components"]["schemas"]["UnitPrice"]
    assert {"list_price", "retail_price", "unit_price", "tier_discount_pct", "currency"} == set(
        price["properties"])
    page = spec["paths"]["/v1/catalog/products"]["get"]["responses"]["200"]
    assert page["content"]["application/json"]["schema"]["$ref"].endswith("/DistributorProductPage")


def test_every_status_a_route_can_answer_is_documented():
    spec = build_spec()
    for route in ROUTES:
        responses = spec["paths"][openapi_path(route.path)][route.method.lower()]["responses"]
        if route.method in ("POST", "PUT", "PATCH"):
            assert {"409", "413", "415"} <= set(responses), route.name
        if route.method in ("POST", "PUT"):
            assert "422" in responses, route.name  # Idempotency-Key reused with another body
        gateway_only = ("/health", "/openapi.json", "/docs", "/docs/assets/<name>")
        assert ("503" in responses) == (route.path not in gateway_only), route.name
    assert "200" in spec["paths"]["/v1/orders"]["post"]["responses"]  # a repeated external_id
