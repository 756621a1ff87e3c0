"""The catalog's input contracts: every bad field is named, unknown fields are refused."""
import pytest

from catalog.schemas import ImportSchema, ProductCreateSchema, ProductPatchSchema, ProductQuerySchema
from common.errors import InvalidInput
from common.schemas import load

VALID = {"sku": "TWL-1.a_b", "name": "Towel", "category": "towels", "lifecycle": "new"}


def fields_of(exc: InvalidInput) -> set[str]:
    return {e["field"] for e in exc.errors}


def test_a_minimal_product_loads():
    assert load(ProductCreateSchema, VALID) == VALID


@pytest.mark.parametrize("change,field", [
    ({"sku": "has space"}, "sku"),
    ({"sku": "x" * 65}, "sku"),
    ({"sku": ""}, "sku"),
    ({"name": ""}, "name"),
    ({"name": 5}, "name"),
    ({"lifecycle": "vintage"}, "lifecycle"),
    ({"hero": "yes"}, "hero"),
    ({"hero": 1}, "hero"),
    ({"attributes": ["not", "an", "object"]}, "attributes"),
    ({"substitutes": "A"}, "substitutes"),
    ({"substitutes": ["bad sku"]}, "substitutes[0]"),
    ({"status": "discontinued"}, "status"),
    ({"colour": "red"}, "colour"),
])
def test_bad_fields_are_named(change, field):
    with pytest.raises(InvalidInput) as caught:
        load(ProductCreateSchema, {**VALID, **change})
    assert field in fields_of(caught.value)


@pytest.mark.parametrize("missing", ["sku", "name", "category", "lifecycle"])
def test_required_fields(missing):
    body = {k: v for k, v in VALID.items() if k != missing}
    with pytest.raises(InvalidInput) as caught:
        load(ProductCreateSchema, body)
    assert fields_of(caught.value) == {missing}


def test_patch_cannot_change_the_sku():
    with pytest.raises(InvalidInput) as caught:
        load(ProductPatchSchema, {"sku": "OTHER"})
    assert fields_of(caught.value) == {"sku"}


def test_import_rows_are_named_by_position():
    rows = [VALID, {**VALID, "sku": "ok2"}, {**VALID, "sku": "bad sku", "extra": 1}]
    with pytest.raises(InvalidInput) as caught:
        load(ImportSchema, {"products": rows})
    assert fields_of(caught.value) == {"products[2].sku", "products[2].extra"}


def test_import_is_bounded():
    with pytest.raises(InvalidInput):
        load(ImportSchema, {"products": []})
    with pytest.raises(InvalidInput):
        load(ImportSchema, {"products": [VALID] * 10_001})


@pytest.mark.parametrize("query,field", [
    ({"limit": "0"}, "limit"), ({"limit": "501"}, "limit"), ({"limit": "ten"}, "limit"),
    ({"limit": "1.5"}, "limit"), ({"status": "gone"}, "status"),
])
def test_list_query_bounds(query, field):
    with pytest.raises(InvalidInput) as caught:
        load(ProductQuerySchema, query)
    assert fields_of(caught.value) == {field}


def test_list_query_defaults_and_ignores_unknown_parameters():
    assert load(ProductQuerySchema, {"utm": "x"}) == {"limit": 50, "cursor": None}
