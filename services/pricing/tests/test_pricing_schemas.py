"""The quote's hand-written dump must say exactly what its marshmallow contract says."""
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

from hypothesis import given
from hypothesis import strategies as st
from pricing import domain
from pricing.domain import PriceEntry, Promotion, Tier, VolumeBreak
from pricing.schemas import QuoteSchema, dump_quote

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
    assert dump_quote(quote, **extra) == QuoteSchema().dump({**quote.__dict__, **extra})
