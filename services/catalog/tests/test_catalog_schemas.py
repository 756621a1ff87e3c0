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


# ---- hardening: only what the database and every JSON encoder can hold (SPEC, Hardening rules) ----


def nested(depth: int):
    value = 1
    for _ in range(depth):
        value = {"a": value}
    return value


GOOD_ATTRIBUTES = [
    {},
    {"colour": "white", "gsm": 600, "weight_kg": 0.45, "organic": True, "eco": False},
    {"k": "x" * 500},
    {"k" * 64: 1},
    {"big": 2**53 - 1, "small": -(2**53 - 1), "tiny": 1e-300, "huge": 1.5e308},
    {f"a{i}": i for i in range(50)},
    {"颜色": "白色", "尺寸": "70×140"},
]


@pytest.mark.parametrize("attributes", GOOD_ATTRIBUTES)
def test_scalar_attributes_load_as_given(attributes):
    assert load(ProductCreateSchema, {**VALID, "attributes": attributes})["attributes"] == attributes


BAD_ATTRIBUTES = [
    ({"gsm": 2**70}, "integer"),
    ({"gsm": 2**53}, "integer"),
    ({"gsm": -(2**53)}, "integer"),
    (nested(40), "no objects"),
    (nested(500), "no objects"),
    ({"size": {"w": 70}}, "no objects"),
    ({"sizes": [70, 140]}, "lists"),
    ({"note": None}, "null"),
    ({f"a{i}": i for i in range(51)}, "at most 50"),
    ({"": 1}, "1-64"),
    ({"   ": 1}, "1-64"),
    ({"k" * 65: 1}, "1-64"),
    ({"k": "x" * 501}, "500"),
    ({"k": float("nan")}, "finite"),
    ({"k": float("inf")}, "finite"),
    ({"k": "a\x00b"}, "NUL"),
    ({"a\x00b": 1}, "NUL"),
    ({"k": "\ud800"}, "surrogate"),
    ("colour=white", "Not a valid"),
]


@pytest.mark.parametrize("attributes,message", BAD_ATTRIBUTES)
@pytest.mark.parametrize("schema", [ProductCreateSchema, ProductPatchSchema])
def test_attributes_hold_at_most_50_scalars(schema, attributes, message):
    body = {**VALID, "attributes": attributes} if schema is ProductCreateSchema else {
        "attributes": attributes}
    with pytest.raises(InvalidInput) as caught:
        load(schema, body)
    assert [e["field"] for e in caught.value.errors] == ["attributes"]
    assert message in caught.value.errors[0]["message"]


@pytest.mark.parametrize("attributes,message", BAD_ATTRIBUTES[:6])
def test_an_import_row_with_bad_attributes_is_named(attributes, message):
    rows = [VALID, {**VALID, "sku": "ok2"}, {**VALID, "sku": "ok3"},
            {**VALID, "sku": "bad4", "attributes": attributes}]
    with pytest.raises(InvalidInput) as caught:
        load(ImportSchema, {"products": rows})
    assert fields_of(caught.value) == {"products[3].attributes"}


@pytest.mark.parametrize("change,field", [
    ({"name": "x" * 201}, "name"),
    ({"name": "   "}, "name"),
    ({"name": "Towel\x00"}, "name"),
    ({"name": "Towel \udfff"}, "name"),
    ({"category": "x" * 101}, "category"),
    ({"category": ""}, "category"),
    ({"category": "bath\x00"}, "category"),
    ({"substitutes": [f"S{i}" for i in range(51)]}, "substitutes"),
])
def test_text_fields_are_bounded_and_storable(change, field):
    for schema, body in ((ProductCreateSchema, {**VALID, **change}), (ProductPatchSchema, change)):
        with pytest.raises(InvalidInput) as caught:
            load(schema, body)
        assert fields_of(caught.value) == {field}


def test_the_longest_name_category_and_substitute_list_load():
    body = {**VALID, "name": "n" * 200, "category": "c" * 100,
            "substitutes": [f"S{i}" for i in range(50)]}
    assert load(ProductCreateSchema, body) == body


@pytest.mark.parametrize("query,field", [
    ({"category": "x" * 101}, "category"), ({"category": "a\x00"}, "category"),
    ({"q": "x" * 101}, "q"), ({"q": ""}, "q"), ({"q": "\x00"}, "q"),
    ({"lifecycle": "old"}, "lifecycle"),
])
def test_list_filters_are_bounded(query, field):
    with pytest.raises(InvalidInput) as caught:
        load(ProductQuerySchema, query)
    assert fields_of(caught.value) == {field}
