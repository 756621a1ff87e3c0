"""Fulfilment's contracts refuse odd but well-formed input with a 400 naming the field, and load what
they take in the form it is stored in."""
from datetime import UTC, datetime, timedelta, timezone

import pytest

from common.errors import InvalidInput
from common.pagination import encode_cursor
from common.schemas import load
from fulfillment.domain import MAX_ON_HAND
from fulfillment.schemas import (
    MAX_SNAPSHOT,
    AdjustmentsSchema,
    AssignmentQuerySchema,
    OrderCreateSchema,
    OrderQuerySchema,
    StockQuerySchema,
    StockSnapshotSchema,
)

SHIP_TO = {"name": "Li Na", "phone": "13812345678", "address": "1 Huaihai Rd", "lat": 31.23, "lon": 121.47}


def fields_of(schema, payload) -> list[str]:
    with pytest.raises(InvalidInput) as refused:
        load(schema, payload)
    return [e["field"] for e in refused.value.errors]


def order(**ship_to):
    return {"external_id": "X-1", "ship_to": {**SHIP_TO, **ship_to}, "lines": [{"sku": "A", "qty": 1}]}


@pytest.mark.parametrize("written,stored", [
    ("13800138000", "+8613800138000"), ("138 0013 8000", "+8613800138000"),
    ("+86 138-0013-8000", "+8613800138000"), ("021-6288 1234", "+862162881234"),
    ("(021) 62881234", "+862162881234"), ("+86 21 6288 1234", "+862162881234"),
])
def test_a_ship_to_phone_is_stored_in_e164(written, stored):
    assert load(OrderCreateSchema, order(phone=written))["ship_to"]["phone"] == stored


@pytest.mark.parametrize("phone", ["12345", "+1 212 555 0100", "1380013800", "phone", "1" * 40, 13800138000])
def test_a_phone_that_is_not_a_chinese_number_is_refused(phone):
    assert fields_of(OrderCreateSchema, order(phone=phone)) == ["ship_to.phone"]


@pytest.mark.parametrize("change,field", [
    ({"lat": float("nan")}, "ship_to.lat"), ({"lon": float("inf")}, "ship_to.lon"),
    ({"lat": 91.0}, "ship_to.lat"), ({"lat": "31.2"}, "ship_to.lat"),
    ({"name": "x" * 101}, "ship_to.name"), ({"address": "x" * 301}, "ship_to.address"),
])
def test_ship_to_coordinates_are_finite_and_strings_bounded(change, field):
    assert fields_of(OrderCreateSchema, order(**change)) == [field]


@pytest.mark.parametrize("items,field", [
    ([{"sku": "A", "on_hand": MAX_ON_HAND + 1}], "items[0].on_hand"),
    ([{"sku": "A", "on_hand": 2**31}], "items[0].on_hand"),
    ([{"sku": "A", "on_hand": 2**63}], "items[0].on_hand"),
    ([{"sku": "A", "on_hand": -1}], "items[0].on_hand"),
    ([{"sku": "A" * 65, "on_hand": 1}], "items[0].sku"),
    ([{"sku": f"S{i}", "on_hand": 1} for i in range(MAX_SNAPSHOT + 1)], "items"),
])
def test_a_snapshot_is_bounded_by_what_the_stock_table_holds(items, field):
    assert field in fields_of(StockSnapshotSchema, {"items": items})


def test_the_largest_snapshot_and_on_hand_are_taken():
    items = [{"sku": f"S{i}", "on_hand": MAX_ON_HAND} for i in range(MAX_SNAPSHOT)]
    assert len(load(StockSnapshotSchema, {"items": items})["items"]) == MAX_SNAPSHOT


@pytest.mark.parametrize("delta", [MAX_ON_HAND + 1, -MAX_ON_HAND - 1, 2**63, 1.5, "3"])
def test_an_adjustment_delta_is_bounded(delta):
    body = {"adjustments": [{"sku": "A", "delta": delta, "reason": "count"}]}
    assert fields_of(AdjustmentsSchema, body) == ["adjustments[0].delta"]


def test_the_order_search_loads_every_filter():
    loaded = load(OrderQuerySchema, {
        "channel": "tmall", "status": "shipped", "external_id": "TM-2026:001", "distributor_id": "42",
        "created_from": "2026-11-01T00:00:00+08:00", "created_to": "2026-12-01T00:00:00+08:00",
        "limit": "10", "cursor": encode_cursor(77)})
    assert loaded == {
        "channel": "tmall", "status": "shipped", "external_id": "TM-2026:001", "distributor_id": 42,
        "created_from": datetime(2026, 11, 1, tzinfo=timezone(timedelta(hours=8))),
        "created_to": datetime(2026, 12, 1, tzinfo=timezone(timedelta(hours=8))),
        "limit": 10, "cursor": 77}
    assert load(OrderQuerySchema, {}) == {"limit": 50, "cursor": None}


@pytest.mark.parametrize("query,field", [
    ({"status": "bogus"}, "status"), ({"status": ""}, "status"),
    ({"channel": "T" * 33}, "channel"), ({"channel": "tmall store"}, "channel"),
    ({"external_id": "x" * 65}, "external_id"), ({"external_id": "a b"}, "external_id"),
    ({"distributor_id": "abc"}, "distributor_id"), ({"distributor_id": "0"}, "distributor_id"),
    ({"distributor_id": str(2**63)}, "distributor_id"), ({"distributor_id": "-3"}, "distributor_id"),
    ({"created_from": "2026-11-01"}, "created_from"),                   # no UTC offset
    ({"created_from": "2026-11-01T00:00:00+15:00"}, "created_from"),
    ({"created_to": "yesterday"}, "created_to"),
    ({"created_from": "2026-11-02T00:00:00Z", "created_to": "2026-11-01T00:00:00Z"}, "created_to"),
    ({"externalid": "X"}, "externalid"),                                # unknown: not silently ignored
    ({"limit": "501"}, "limit"), ({"limit": "0"}, "limit"),
])
def test_a_bad_order_search_names_the_parameter(query, field):
    assert fields_of(OrderQuerySchema, query) == [field]


def test_an_empty_period_is_not_a_mistake():
    at = "2026-11-01T00:00:00Z"
    loaded = load(OrderQuerySchema, {"created_from": at, "created_to": at})
    assert loaded["created_from"] == loaded["created_to"] == datetime(2026, 11, 1, tzinfo=UTC)


@pytest.mark.parametrize("schema", [OrderQuerySchema, AssignmentQuerySchema])
@pytest.mark.parametrize("key", ["SKU-1", 1.5, True, [3], {"id": 3}, 0, -4, 2**63, "1" * 40])
def test_an_id_cursor_with_a_key_of_another_kind_is_refused(schema, key):
    assert fields_of(schema, {"cursor": encode_cursor(key)}) == ["cursor"]


@pytest.mark.parametrize("cursor", ["!!!", "e30", "x" * 600])
def test_a_malformed_cursor_is_refused(cursor):
    assert fields_of(OrderQuerySchema, {"cursor": cursor}) == ["cursor"]


@pytest.mark.parametrize("key", [7, None, ["A"], "bad sku", "A" * 65])
def test_a_stock_cursor_carries_a_sku(key):
    if key is None:
        assert load(StockQuerySchema, {"cursor": encode_cursor(key)})["cursor"] is None
    else:
        assert fields_of(StockQuerySchema, {"cursor": encode_cursor(key)}) == ["cursor"]
    assert load(StockQuerySchema, {"cursor": encode_cursor("SKU-9")})["cursor"] == "SKU-9"
