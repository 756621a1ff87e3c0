"""The quote's hand-written dump and request check must say exactly what its marshmallow contracts say."""
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st
from pricing import domain
from pricing.domain import PriceEntry, Promotion, Tier, VolumeBreak
from pricing.schemas import QuoteRequestSchema, QuoteSchema, dump_quote, load_quote_request

from common.errors import InvalidInput
from common.schemas import load

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
