"""The quote's hand-written dump and request check must say exactly what its marshmallow contracts say;
every request field refuses what the database or a JSON encoder cannot hold."""
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common.errors import InvalidInput
from common.schemas import load
from pricing import domain
from pricing.domain import PriceEntry, Promotion, Tier, VolumeBreak
from pricing.schemas import (
    GreenChannelSchema,
    ObservationSchema,
    PriceSetSchema,
    PromotionCreateSchema,
    PromotionQuerySchema,
    QuoteRequestSchema,
    QuoteSchema,
    RetailQuerySchema,
    TierSetSchema,
    ViolationQuerySchema,
    dump_quote,
    load_quote_request,
)

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
money = st.decimals(min_value=D("0.01"), max_value=D("99999.99"), places=2)
pct = st.decimals(min_value=D(0), max_value=D("45"), places=1)


@st.composite
def quotes(draw):
    n = draw(st.integers(min_value=1, max_value=6))
    prices = {}
    for i in range(n):
        list_price = draw(money)
        floor = min(list_price, draw(money))
        prices[f"SKU-{i}"] = PriceEntry(i, f"SKU-{i}", list_price, floor, "CNY", T0, "m", T0)
    breaks = tuple(VolumeBreak(q, draw(pct)) for q in sorted(draw(st.sets(
        st.integers(min_value=2, max_value=500), max_size=3))))
    tier = Tier("gold", draw(pct), breaks)
    promotions = [Promotion(1, "p", draw(st.decimals(min_value=D("0.5"), max_value=D(50), places=2)),
                            T0, T0 + timedelta(days=1), None, "approved")] if draw(st.booleans()) else []
    lines = [(sku, draw(st.integers(min_value=1, max_value=10_000))) for sku in prices]
    now = T0 + timedelta(seconds=draw(st.integers(min_value=0, max_value=3600)),
                         microseconds=draw(st.integers(min_value=0, max_value=999_999)))
    return domain.quote(lines, prices, tier, promotions, now, timedelta(minutes=15)), now


@given(quotes(), st.integers(min_value=1, max_value=10**9))
def test_dump_quote_equals_the_quote_contract(quote_and_now, version):
    quote, now = quote_and_now
    extra = {"distributor_id": 7, "tier": "gold", "price_version": version, "created_at": now}
    assert dump_quote(quote, **extra) == QuoteSchema().dump({**quote._asdict(), **extra})


def _outcome(load_fn, payload):
    try:
        return "ok", load_fn(payload)
    except InvalidInput as exc:
        return "invalid", exc.errors


sku_text = st.one_of(st.from_regex(r"\A[A-Za-z0-9._-]{1,64}\Z"), st.text(max_size=70),
                     st.sampled_from(["", "A" * 64, "A" * 65, "SKU-1\n", "é", "a b"]))
json_scalar = st.one_of(st.none(), st.booleans(), st.integers(min_value=-2, max_value=2_000_000),
                        st.floats(allow_nan=False), st.text(max_size=5))
quote_line = st.one_of(
    st.fixed_dictionaries({"sku": sku_text, "qty": st.one_of(st.integers(min_value=-1, max_value=1_000_001),
                                                             json_scalar)}),
    st.fixed_dictionaries({"sku": sku_text}, optional={"qty": st.integers(), "extra": json_scalar}),
    json_scalar)
quote_request = st.one_of(
    st.fixed_dictionaries({"lines": st.lists(quote_line, max_size=4)}),
    st.fixed_dictionaries({"lines": st.one_of(json_scalar, st.lists(quote_line, min_size=199, max_size=201))}),
    st.fixed_dictionaries({"lines": st.lists(quote_line, max_size=3)}, optional={"note": json_scalar}),
    json_scalar)


@settings(max_examples=300)
@given(quote_request)
def test_the_quote_request_fast_path_accepts_and_refuses_as_the_contract_does(payload):
    assert _outcome(load_quote_request, payload) == _outcome(lambda p: load(QuoteRequestSchema, p), payload)


# ---- hardening: only what the database and every JSON encoder can hold (SPEC, Hardening rules) ----

PRICE = {"list_price": "199.00", "floor_price": "99.00"}
PROMOTION = {"name": "Double 11", "discount_pct": "10", "starts_at": "2026-11-11T00:00:00+08:00",
             "ends_at": "2026-11-12T00:00:00+08:00"}
OBSERVATION = {"channel": "tmall", "seller": "brand:tmall", "sku": "TWL-1", "observed_price": "189.00",
               "observed_at": "2026-11-11T10:00:00+08:00",
               "source_url": "https://detail.tmall.com/item.htm?id=1"}


def _fields(schema, payload) -> set[str]:
    with pytest.raises(InvalidInput) as caught:
        load(schema, payload)
    return {e["field"] for e in caught.value.errors}


@pytest.mark.parametrize("value,expected", [
    ("9999999999.99", D("9999999999.99")), (9999999999.99, D("9999999999.99")),
    ("0.01", D("0.01")), ("199", D("199")), (199, D("199")), ("12.50", D("12.50")),
])
def test_money_up_to_the_maximum_loads(value, expected):
    assert load(PriceSetSchema, {"list_price": value, "floor_price": "0.01"})["list_price"] == expected


@pytest.mark.parametrize("value", [
    "100000000000000000000.00", "10000000000.00", "10000000000", 10**20, "1e400", "1E+30",
    "9" * 5000, "-1.00", -1, "1.001", "NaN", "Infinity", "-Infinity", "", "12,00", "abc", True, None,
    [1], {"amount": 1},
])
@pytest.mark.parametrize("field", ["list_price", "floor_price"])
def test_money_beyond_the_maximum_or_below_zero_is_refused(field, value):
    assert _fields(PriceSetSchema, {**PRICE, field: value}) == {field}


@pytest.mark.parametrize("value", ["0", "0.00", "-0.01", "10000000000.00", "1e21"])
def test_an_observed_price_is_above_zero_and_at_most_the_maximum(value):
    assert _fields(ObservationSchema, {**OBSERVATION, "observed_price": value}) == {"observed_price"}


@pytest.mark.parametrize("value", [
    "2026-11-11T00:00:00+17:34", "2026-11-11T00:00:00-12:01", "2026-11-11T00:00:00+14:01",
    "2026-11-11T00:00:00", "2026-11-11", "9999-12-31T23:59:59+08:00", "0001-01-01T00:00:00Z",
    "not a time", 1731283200, "", None,
])
def test_request_timestamps_carry_a_real_utc_offset(value):
    assert _fields(PriceSetSchema, {**PRICE, "effective_from": value}) == {"effective_from"}
    assert _fields(RetailQuerySchema, {"at": value}) == {"at"}
    assert _fields(PromotionCreateSchema, {**PROMOTION, "starts_at": value}) == {"starts_at"}
    assert _fields(PromotionCreateSchema, {**PROMOTION, "ends_at": value}) == {"ends_at"}
    assert _fields(ObservationSchema, {**OBSERVATION, "observed_at": value}) == {"observed_at"}
    assert _fields(ViolationQuerySchema, {"since": value}) == {"since"}
    assert _fields(ViolationQuerySchema, {"until": value}) == {"until"}


@pytest.mark.parametrize("value,utc", [
    ("2026-11-11T00:00:00+14:00", datetime(2026, 11, 10, 10, tzinfo=UTC)),
    ("2026-11-11T00:00:00-12:00", datetime(2026, 11, 11, 12, tzinfo=UTC)),
    ("2026-11-11T00:00:00+08:00", datetime(2026, 11, 10, 16, tzinfo=UTC)),
    ("2026-11-11T00:00:00Z", datetime(2026, 11, 11, tzinfo=UTC)),
])
def test_offsets_from_minus_12_to_plus_14_load(value, utc):
    assert load(RetailQuerySchema, {"at": value})["at"] == utc
    assert load(PriceSetSchema, {**PRICE, "effective_from": value})["effective_from"] == utc


@pytest.mark.parametrize("value,expected", [
    ("12.5", D("12.5")), (12.5, D("12.5")), ("0", D(0)), ("100", D(100)), ("33.3333", D("33.3333")),
    ("12.50000", D("12.50000")),
])
def test_percentages_with_up_to_4_places_load(value, expected):
    assert load(TierSetSchema, {"discount_pct": value})["discount_pct"] == expected


@pytest.mark.parametrize("value", ["33.33333", 0.1 + 0.2, "100.0001", "-0.5", "NaN", "Infinity", "1e400",
                                   "1e-400", True, "", None])
def test_percentages_are_0_to_100_with_at_most_4_places(value):
    assert _fields(TierSetSchema, {"discount_pct": value}) == {"discount_pct"}
    assert _fields(PromotionCreateSchema, {**PROMOTION, "discount_pct": value}) == {"discount_pct"}
    assert _fields(GreenChannelSchema, {"max_discount_pct": value, "max_duration_hours": 72}) == {
        "max_discount_pct"}
    assert _fields(TierSetSchema, {"discount_pct": 10, "volume_breaks": [
        {"min_qty": 10, "extra_discount_pct": value}]}) == {"volume_breaks[0].extra_discount_pct"}


@pytest.mark.parametrize("value", ["72.001", "0", "-1", "8785", "1e400", "NaN"])
def test_green_channel_hours_are_positive_with_at_most_2_places(value):
    assert _fields(GreenChannelSchema, {"max_discount_pct": 10, "max_duration_hours": value}) == {
        "max_duration_hours"}


@pytest.mark.parametrize("seller,stored", [
    (42, "42"), ("42", "42"), ("0042", "42"), (2**53 - 1, str(2**53 - 1)),
    ("brand:tmall", "brand:tmall"), ("brand:own_site", "brand:own_site"),
])
def test_a_seller_is_a_distributor_id_as_integer_or_string_or_a_brand_store(seller, stored):
    assert load(ObservationSchema, {**OBSERVATION, "seller": seller})["seller"] == stored
    assert load(ViolationQuerySchema, {"seller": str(seller)})["seller"] == stored


@pytest.mark.parametrize("seller", [
    0, -3, "0", "-3", 2**53, 2**70, "9" * 30, 4.0, "4.0", True, None, "", " 42", "42 ", "４２",
    "brand:", "brand:TMALL", "brand:a b", "brand:" + "x" * 33, "shop:tmall", "tmall", [42], {"id": 42},
])
def test_anything_else_is_not_a_seller(seller):
    assert _fields(ObservationSchema, {**OBSERVATION, "seller": seller}) == {"seller"}


@pytest.mark.parametrize("query,field", [
    ({"distributor_id": "0"}, "distributor_id"), ({"distributor_id": "abc"}, "distributor_id"),
    ({"distributor_id": str(2**53)}, "distributor_id"), ({"seller": "x" * 70}, "seller"),
    ({"sku": "a b"}, "sku"), ({"sku": "x" * 65}, "sku"), ({"limit": "0"}, "limit"),
])
def test_violation_filters_are_validated(query, field):
    assert _fields(ViolationQuerySchema, query) == {field}


def test_violation_filters_load_ids_as_integers():
    assert load(ViolationQuerySchema, {"distributor_id": "7", "sku": "TWL-1"}) == {
        "distributor_id": 7, "sku": "TWL-1", "limit": 50, "cursor": None}


@pytest.mark.parametrize("body,field", [
    ({"name": "x" * 201}, "name"), ({"name": "a\x00"}, "name"), ({"name": " "}, "name"),
    ({"skus": ["bad sku"]}, "skus[0]"), ({"skus": []}, "skus"), ({"skus": ["A"] * 10_001}, "skus"),
])
def test_promotion_fields_are_bounded(body, field):
    assert _fields(PromotionCreateSchema, {**PROMOTION, **body}) == {field}


@pytest.mark.parametrize("body,field", [
    ({"source_url": "https://x.cn/" + "a" * 2000}, "source_url"),
    ({"source_url": "https://x.cn/\x00"}, "source_url"), ({"source_url": "not a url"}, "source_url"),
    ({"channel": "Tmall"}, "channel"), ({"channel": "x" * 33}, "channel"), ({"sku": "x" * 65}, "sku"),
])
def test_observation_text_fields_are_bounded(body, field):
    assert _fields(ObservationSchema, {**OBSERVATION, **body}) == {field}


def test_promotion_status_filter_is_an_enum():
    assert _fields(PromotionQuerySchema, {"status": "live"}) == {"status"}
    assert load(PromotionQuerySchema, {"status": "approved"})["status"] == "approved"


@pytest.mark.parametrize("line,field", [
    ({"sku": "A", "qty": 1_000_001}, "lines[0].qty"), ({"sku": "A", "qty": 2**70}, "lines[0].qty"),
    ({"sku": "A", "qty": 0}, "lines[0].qty"), ({"sku": "A", "qty": 1.0}, "lines[0].qty"),
    ({"sku": "a b", "qty": 1}, "lines[0].sku"), ({"sku": "x" * 65, "qty": 1}, "lines[0].sku"),
])
def test_quote_lines_are_bounded(line, field):
    assert _fields(QuoteRequestSchema, {"lines": [line]}) == {field}
    with pytest.raises(InvalidInput):
        load_quote_request({"lines": [line]})


@pytest.mark.parametrize("schema,body,field", [
    (PriceSetSchema, {**PRICE, "list_price": "1e400"}, "list_price"),
    (PriceSetSchema, {**PRICE, "floor_price": "9" * 5000}, "floor_price"),
    (TierSetSchema, {"discount_pct": "1e400"}, "discount_pct"),
])
def test_a_number_too_long_to_hold_has_one_error_its_range(schema, body, field):
    with pytest.raises(InvalidInput) as caught:
        load(schema, body)
    assert [e["field"] for e in caught.value.errors] == [field]
    assert "decimal places" not in caught.value.errors[0]["message"]
