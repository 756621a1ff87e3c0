"""Pricing formulas on plain Decimal values: tables for each rule, properties for the invariants."""
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pricing import domain
from pricing.domain import (
    DistributorState,
    GreenChannel,
    PriceEntry,
    ProductState,
    Promotion,
    QuoteInputs,
    Tier,
    VolumeBreak,
)
from pricing.errors import DistributorMayNotQuote, IllegalPromotionChange, ProductNotPriceable, ProductUnknown

T0 = datetime(2026, 11, 11, tzinfo=UTC)
H = timedelta(hours=1)


def entry(id_, list_price, floor, effective_from, sku="TWL"):
    return PriceEntry(id_, sku, D(list_price), D(floor), "CNY", effective_from, "manager:1", T0)


def promo(id_, pct, start=T0, end=T0 + 24 * H, skus=None, status="approved"):
    return Promotion(id_, f"p{id_}", D(pct), start, end, skus, status)


# ---- rounding and percentages -------------------------------------------------------------------

@pytest.mark.parametrize("amount,rounded", [("0.005", "0.01"), ("0.015", "0.02"), ("2.675", "2.68"),
                                            ("129.345", "129.35"), ("-0.005", "-0.01")])
def test_money_rounds_half_up_to_cents(amount, rounded):
    assert domain.money(D(amount)) == D(rounded)


@pytest.mark.parametrize("value,text", [(D(40), "40"), (D("12.50"), "12.5"), (D("0.0"), "0"),
                                        (D("-20.66"), "-20.66")])
def test_percentages_are_compact_decimal_strings(value, text):
    assert domain.pct_text(value) == text


# ---- list prices over time ----------------------------------------------------------------------

def test_a_scheduled_price_takes_over_at_exactly_its_effective_instant():
    entries = [entry(1, "199.00", "99.00", T0), entry(2, "219.00", "99.00", T0 + 10 * H)]
    assert domain.price_in_force(entries, T0 - timedelta(microseconds=1)) is None
    assert domain.price_in_force(entries, T0).id == 1
    assert domain.price_in_force(entries, T0 + 10 * H - timedelta(microseconds=1)).id == 1
    assert domain.price_in_force(entries, T0 + 10 * H).id == 2


def test_of_two_entries_for_the_same_instant_the_later_set_wins():
    entries = [entry(1, "199.00", "99.00", T0), entry(2, "189.00", "99.00", T0)]
    assert domain.price_in_force(entries, T0 + H).list_price == D("189.00")


@pytest.mark.parametrize("list_price,floor,fields", [
    ("199.00", "99.00", []), ("199.00", "199.00", []), ("0", "0", ["list_price", "floor_price"]),
    ("-1", "1", ["list_price", "floor_price"]), ("99.00", "100.00", ["floor_price"]),
])
def test_price_problems(list_price, floor, fields):
    assert [e["field"] for e in domain.price_problems(D(list_price), D(floor))] == fields


# ---- promotions and the retail price ------------------------------------------------------------

def test_spec_example_retail_price():
    """199.00 with a 15 % promotion: 199 × 0.85 = 169.15."""
    assert domain.retail_price(D("199.00"), promo(1, 15)) == D("169.15")
    assert domain.retail_price(D("199.00"), None) == D("199.00")


def test_overlapping_promotions_the_largest_discount_wins():
    promotions = [promo(1, 10), promo(2, 25, skus=("TWL",)), promo(3, 30, skus=("OTHER",)),
                  promo(4, 50, status="pending_approval"), promo(5, 60, status="rejected")]
    assert domain.best_promotion(promotions, "TWL", T0 + H).id == 2
    assert domain.best_promotion(promotions, "SHEET", T0 + H).id == 1


def test_a_promotion_covers_exactly_the_skus_it_names_however_many():
    many = tuple(f"SKU-{i}" for i in range(10_000))
    p = promo(1, 10, skus=many)
    assert p.covers("SKU-9999") and p.covers("SKU-0") and not p.covers("SKU-10000")
    assert promo(2, 10).covers("ANYTHING")  # no list: every SKU
    assert p == promo(1, 10, skus=many) and p.skus == many  # the list keeps its order


def test_a_promotion_is_active_from_its_start_until_just_before_its_end():
    p = promo(1, 10, start=T0, end=T0 + H)
    assert not p.applies("TWL", T0 - timedelta(microseconds=1))
    assert p.applies("TWL", T0)
    assert p.applies("TWL", T0 + H - timedelta(microseconds=1))
    assert not p.applies("TWL", T0 + H)


@pytest.mark.parametrize("pct,hours,role,status", [
    ("10", 72, "sales", "approved"),             # both limits inclusive
    ("10.01", 72, "sales", "pending_approval"),
    ("5", 72.01, "sales", "pending_approval"),
    ("50", 240, "manager", "approved"),          # a manager's is approved at once
])
def test_green_channel(pct, hours, role, status):
    end = T0 + timedelta(hours=hours)
    assert domain.initial_status(role, D(pct), T0, end, GreenChannel()) == status


def test_a_promotion_is_decided_once():
    assert domain.decide_promotion("pending_approval", "approved") == "approved"
    for status in ("approved", "rejected"):
        with pytest.raises(IllegalPromotionChange):
            domain.decide_promotion(status, "approved")


@pytest.mark.parametrize("pct,end,fields", [
    ("0", T0 + H, ["discount_pct"]), ("100", T0 + H, ["discount_pct"]), ("10", T0, ["ends_at"]),
    ("10", T0 + H, []),
])
def test_promotion_problems(pct, end, fields):
    assert [e["field"] for e in domain.promotion_problems(D(pct), T0, end)] == fields


# ---- tiers, volume breaks and wholesale prices --------------------------------------------------

GOLD = Tier("gold", D(35), (VolumeBreak(10, D(2)), VolumeBreak(100, D(5)), VolumeBreak(50, D(3))))


@pytest.mark.parametrize("qty,extra", [(1, "0"), (9, "0"), (10, "2"), (49, "2"), (50, "3"),
                                       (99, "3"), (100, "5"), (10_000, "5")])
def test_the_break_with_the_highest_min_qty_not_above_qty(qty, extra):
    assert domain.volume_discount(GOLD, qty) == D(extra)


@pytest.mark.parametrize("tier_pct,volume_pct,unit", [
    ("40", "0", "119.40"),   # platinum: 199 × 0.60
    ("35", "0", "129.35"),   # gold: 199 × 0.65
    ("30", "0", "139.30"),   # silver: 199 × 0.70
    ("35", "5", "119.40"),   # gold with a 5-point break
    ("45", "10", "99.00"),   # 199 × 0.45 = 89.55 is below the floor: the floor holds
])
def test_spec_examples_of_wholesale_prices(tier_pct, volume_pct, unit):
    assert domain.wholesale_unit_price(D("199.00"), D("99.00"), D(tier_pct), D(volume_pct)) == D(unit)


def test_tier_problems():
    breaks = (VolumeBreak(10, D(2)), VolumeBreak(10, D(3)), VolumeBreak(20, D(70)))
    fields = [e["field"] for e in domain.tier_problems(D(35), breaks)]
    assert fields == ["volume_breaks[1].min_qty", "volume_breaks[2].extra_discount_pct"]
    assert [e["field"] for e in domain.tier_problems(D(100), ())] == ["discount_pct"]


def test_a_tier_change_changes_the_next_quote():
    prices = {"TWL": entry(1, "199.00", "99.00", T0)}
    before = domain.quote([("TWL", 1)], prices, GOLD, [], T0 + H, timedelta(minutes=15))
    after = domain.quote([("TWL", 1)], prices, Tier("gold", D(38)), [], T0 + H, timedelta(minutes=15))
    assert (before.lines[0].unit_price, after.lines[0].unit_price) == (D("129.35"), D("123.38"))


def test_quote_totals_and_validity():
    prices = {"TWL": entry(1, "199.00", "99.00", T0), "SHEET": entry(2, "349.90", "150.00", T0, "SHEET")}
    q = domain.quote([("TWL", 12), ("SHEET", 3)], prices, GOLD, [promo(1, 10)], T0 + H,
                     timedelta(minutes=15))
    twl, sheet = q.lines
    assert (twl.tier_discount_pct, twl.volume_discount_pct, twl.unit_price, twl.line_total) == (
        D(35), D(2), D("125.37"), D("1504.44"))
    assert twl.retail_price == D("179.10")
    assert (sheet.unit_price, sheet.line_total) == (D("227.44"), D("682.32"))
    assert q.total == D("2186.76") and q.currency == "CNY"
    assert q.valid_until == T0 + H + timedelta(minutes=15)


@pytest.mark.parametrize("lines,fields", [
    ([("BIG", 1)], []),
    ([("BIG", 1_000_000)], ["lines[0].qty"]),
    ([("TWL", 2), ("BIG", 2), ("BIG", 3)], ["lines[1].qty", "lines[2].qty"]),
    ([("HALF", 1), ("HALF", 1)], []),
    ([("HALF", 1), ("HALF", 1), ("TWL", 1)], ["lines"]),
])
def test_a_quote_worth_more_than_money_holds_names_the_quantity(lines, fields):
    prices = {"BIG": entry(1, "9999999999.99", "9999999999.99", T0, "BIG"),
              "HALF": entry(2, "4999999999.99", "4999999999.99", T0, "HALF"),
              "TWL": entry(3, "199.00", "99.00", T0)}
    q = domain.quote(lines, prices, Tier("gold", D(0)), [], T0 + H, timedelta(minutes=15))
    assert [e["field"] for e in domain.quote_problems(q)] == fields


def test_the_largest_amount_is_the_contracts_money_bound():
    from common.schemas import MAX_MONEY
    assert domain.MAX_AMOUNT == MAX_MONEY


def test_the_same_quote_inputs_at_the_same_instant_give_the_same_quote():
    prices = {"TWL": entry(1, "199.00", "99.00", T0)}
    make = lambda: domain.quote([("TWL", 7)], prices, GOLD, [promo(1, 10)], T0 + H,  # noqa: E731
                                timedelta(minutes=15))
    assert make() == make()


# ---- parity -------------------------------------------------------------------------------------

@pytest.mark.parametrize("observed,expected,tolerance,result,direction,deviation", [
    ("199.00", "199.00", "0", "ok", None, "0.00"),
    ("189.05", "199.00", "0", "violation", "below", "-5.00"),
    ("209.00", "199.00", "0", "violation", "above", "5.03"),
    ("189.05", "199.00", "5", "ok", None, "-5.00"),       # tolerance inclusive
    ("189.00", "199.00", "5", "violation", "below", "-5.03"),
    # the widest deviation an observation can carry: the migrated column holds it
    ("9999999999.99", "0.01", "0", "violation", "above", "99999999999800.00"),
    ("0.01", "9999999999.99", "0", "violation", "below", "-100.00"),
])
def test_parity_checks(observed, expected, tolerance, result, direction, deviation):
    check = domain.check_parity(D(observed), D(expected), D(tolerance))
    assert (check.result, check.direction, check.deviation_pct) == (result, direction, D(deviation))


def test_a_retail_price_of_zero_has_no_deviation_to_report():
    check = domain.check_parity(D("5.00"), D("0.00"))
    assert (check.result, check.direction, check.deviation_pct) == ("violation", "above", None)
    assert domain.check_parity(D("0.00"), D("0.00")).result == "ok"


def test_the_third_violation_within_30_days_flags():
    day = timedelta(days=1)
    assert not domain.reaches_flag([T0, T0 + day], T0 + day)
    assert domain.reaches_flag([T0, T0 + day, T0 + 2 * day], T0 + 2 * day)
    # the first one fell out of the 30 days ending at the third
    assert not domain.reaches_flag([T0, T0 + 20 * day, T0 + 30 * day], T0 + 30 * day)
    assert domain.reaches_flag([T0 + timedelta(seconds=1), T0 + 20 * day, T0 + 30 * day], T0 + 30 * day)


# ---- list prices, products and retail prices as the service decides them ----------------------

def test_a_price_takes_effect_now_or_later_within_the_clocks_skew():
    assert domain.price_change_problems(D("100.00"), D("50.00"), T0 - domain.CLOCK_SKEW, T0) == []
    assert domain.price_change_problems(D("100.00"), D("50.00"), T0 - domain.CLOCK_SKEW - H / 3600, T0) == [
        {"field": "effective_from", "message": "must not be in the past"}]
    assert [e["field"] for e in domain.price_change_problems(D("50.00"), D("100.00"), T0 - H, T0)] == [
        "floor_price", "effective_from"]


def test_scheduled_prices_are_those_after_now():
    entries = [entry(1, "100.00", "50.00", T0 - H), entry(2, "110.00", "50.00", T0),
               entry(3, "120.00", "50.00", T0 + H)]
    assert domain.scheduled_prices(entries, T0) == [entries[2]]


@pytest.mark.parametrize("status,error", [(None, ProductUnknown), ("discontinued", ProductNotPriceable),
                                          ("draft", None), ("active", None)])
def test_a_price_may_be_set_for_a_known_product_not_discontinued(status, error):
    product = None if status is None else ProductState("TWL", status, 1)
    if error is None:
        domain.require_priceable(product, "TWL")
    else:
        with pytest.raises(error, match="'TWL'"):
            domain.require_priceable(product, "TWL")


@pytest.mark.parametrize("status,viewable", [(None, False), ("draft", False), ("discontinued", False),
                                             ("active", True)])
def test_a_distributor_views_active_products_only(status, viewable):
    assert domain.viewable(None if status is None else ProductState("TWL", status, 1)) is viewable


def test_a_promotion_names_known_skus_only():
    assert domain.unknown_skus(["A", "X", "B", "Y"], {"A": 1, "B": 2}) == [
        {"field": "skus[1]", "message": "unknown SKU 'X'"}, {"field": "skus[3]", "message": "unknown SKU 'Y'"}]


def test_the_retail_price_at_an_instant_names_its_promotion():
    entries = [entry(1, "199.00", "99.00", T0 - H)]
    best = promo(2, "20")
    assert domain.retail(entries, [promo(1, "10"), best], "TWL", T0) == domain.RetailPrice(
        "TWL", T0, D("199.00"), "CNY", D("159.20"), best)
    assert domain.retail(entries, [], "TWL", T0).promotion is None
    assert domain.retail(entries, [], "TWL", T0 - 2 * H) is None  # no list price in force yet


# ---- what a quote or a catalog view reads, and what it may refuse ------------------------------

GOLD_35 = Tier("gold", D(35), (VolumeBreak(10, D(2)),))
ACTIVE_DIST = DistributorState(7, "gold", "active", 1, False)


def inputs(products: dict[str, str], prices: dict[str, str] | None = None, promotions=(), currency="CNY",
           documents: dict | None = None) -> QuoteInputs:
    """Quote inputs for ``{sku: status}`` priced at ``{sku: list price}`` (floor 50.00)."""
    documents = documents or {}
    return QuoteInputs(
        ACTIVE_DIST, {s: ProductState(s, status, 1, documents.get(s)) for s, status in products.items()},
        {s: PriceEntry(1, s, D(p), D("50.00"), currency if s != "EUR" else "EUR", T0 - H, "m", T0)
         for s, p in (prices or {}).items()}, GOLD_35, list(promotions), 3, None, None)


def test_unknown_and_draft_skus_are_asked_of_the_catalog_once_each():
    read = inputs({"A": "active", "D": "draft", "X": "discontinued"})
    assert domain.unsettled(read, ["A", "N", "D", "N", "X"]) == ["N", "D"]


def test_a_view_also_asks_for_a_product_kept_without_its_document():
    read = inputs({"A": "active", "B": "active"}, documents={"B": {"sku": "B"}})
    assert domain.unsettled(read, ["A", "B"]) == []
    assert domain.unsettled(read, ["A", "B"], documents=True) == ["A"]


def test_a_quote_is_refused_line_by_line():
    read = inputs({"A": "active", "D": "draft", "U": "active"}, {"A": "100.00", "D": "100.00"})
    assert domain.refusals(read, ["A", "N", "D", "U"]) == [
        {"field": "lines[1].sku", "message": "unknown SKU 'N'"},
        {"field": "lines[2].sku", "message": "'D' is draft"},
        {"field": "lines[3].sku", "message": "'U' has no list price"}]
    assert domain.refusals(read, ["A", "A"]) == []


def test_a_quote_is_in_one_currency():
    read = inputs({"A": "active", "EUR": "active"}, {"A": "100.00", "EUR": "100.00"})
    assert domain.refusals(read, ["A", "EUR"]) == [
        {"field": "lines", "message": "lines are priced in ['CNY', 'EUR']"}]


def test_a_unit_price_is_one_unit_at_the_tier_with_the_retail_price_beside_it():
    read = inputs({"V": "active", "W": "active"}, {"V": "199.00"}, promotions=[promo(1, "10", skus=("V",))])
    assert domain.unit_price(read, "V", T0) == domain.UnitPrice(D("199.00"), "CNY", D("179.10"), D("129.35"),
                                                                D(35))
    assert domain.unit_price(read, "W", T0) is None  # not priced yet


def test_quote_from_prices_what_was_read():
    read = inputs({"A": "active"}, {"A": "100.00"})
    assert domain.quote_from(read, [("A", 10)], T0, 15 * H / 60) == domain.quote(
        [("A", 10)], read.prices, GOLD_35, [], T0, 15 * H / 60)


@pytest.mark.parametrize("status", ["suspended", "terminated"])
def test_only_an_active_distributor_may_quote(status):
    domain.require_may_quote(ACTIVE_DIST)
    with pytest.raises(DistributorMayNotQuote, match=f"distributor 7 is {status}: it may not quote"):
        domain.require_may_quote(ACTIVE_DIST._replace(status=status))


# ---- parity: who observes, and who may be flagged ----------------------------------------------

@pytest.mark.parametrize("seller,brand", [("brand:tmall", True), ("42", False)])
def test_a_seller_is_a_brand_store_or_a_distributor(seller, brand):
    assert domain.is_brand_seller(seller) is brand


def test_an_observation_may_not_be_from_the_future_beyond_the_clocks_skew():
    assert not domain.observed_in_future(T0 + domain.CLOCK_SKEW, T0)
    assert domain.observed_in_future(T0 + domain.CLOCK_SKEW + H / 3600, T0)


@pytest.mark.parametrize("result,distributor,may", [
    ("violation", ACTIVE_DIST, True),
    ("ok", ACTIVE_DIST, False),
    ("violation", None, False),  # a brand store
    ("violation", ACTIVE_DIST._replace(flagged_for_review=True), False),  # flagged already
])
def test_only_a_violation_by_an_unflagged_distributor_may_flag_it(result, distributor, may):
    check = domain.ParityCheck(result, None, D("100.00"), D(0))
    assert domain.may_flag(check, distributor) is may


# ---- properties ---------------------------------------------------------------------------------

prices_ = st.decimals(min_value=D("0.01"), max_value=D("99999.99"), places=2)
pcts = st.decimals(min_value=D(0), max_value=D("99.99"), places=2)


@given(list_price=prices_, floor_share=st.decimals(min_value=D("0.01"), max_value=D(1), places=2),
       tier_pct=pcts, volume_pct=pcts)
def test_a_unit_price_is_never_below_the_floor_nor_above_the_list_price(list_price, floor_share,
                                                                         tier_pct, volume_pct):
    floor = max(D("0.01"), domain.money(list_price * floor_share))
    unit = domain.wholesale_unit_price(list_price, floor, tier_pct, min(volume_pct, 99 - tier_pct)
                                       if tier_pct < 99 else D(0))
    assert floor <= unit <= list_price
    assert unit == domain.money(unit)


@given(list_price=prices_, discounts=st.lists(st.decimals(min_value=D("0.01"), max_value=D("99.99"),
                                                           places=2), max_size=5),
       channels=st.lists(st.sampled_from(["tmall", "jd", "douyin", "own_site", "offline_store"]),
                         min_size=2, max_size=5))
def test_the_retail_price_is_the_same_in_every_channel(list_price, discounts, channels):
    """Parity by construction: the retail price has no channel input, so every channel's observation
    is checked against one figure."""
    promotions = [promo(i + 1, d) for i, d in enumerate(discounts)]
    expected = {ch: domain.retail_price(list_price, domain.best_promotion(promotions, "TWL", T0 + H))
                for ch in channels}
    assert len(set(expected.values())) == 1
    assert expected[channels[0]] <= list_price
