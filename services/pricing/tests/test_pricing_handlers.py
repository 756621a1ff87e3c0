"""Pricing's service layer on an in-memory unit of work: the workflows (list prices, promotions in
and out of the green channel, parity observations and the flag, quotes and the price book) without
PostgreSQL or RabbitMQ. test_pricing_service.py runs the same entrypoints on the real servers."""
import inspect
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
from pricing_in_memory import FakeCatalog, FakeDistributors, InMemoryUnitOfWork, product, profile

import common.errors
from pricing import domain, handlers, store
from pricing.errors import (
    DistributorMayNotQuote,
    IllegalPromotionChange,
    InvalidPricing,
    ProductNotPriceable,
    ProductUnknown,
    PromotionNotFound,
)
from pricing.unit_of_work import SqlUnitOfWork

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
H = timedelta(hours=1)
DAY = timedelta(days=1)
VALIDITY = timedelta(minutes=15)


def test_the_in_memory_unit_of_work_offers_every_operation_of_the_sql_one():
    fake = InMemoryUnitOfWork()
    for port in SqlUnitOfWork.__slots__:
        if not port.startswith("_"):
            assert getattr(fake, port) is not None, port
    operations = [n for n, _ in inspect.getmembers(SqlUnitOfWork, inspect.isfunction) if not n.startswith("_")]
    assert len(operations) > 25
    for name in operations:
        original = getattr(store, name, None)  # the store function it runs on the cursor, if it is one
        expected = list(inspect.signature(original or getattr(SqlUnitOfWork, name)).parameters)[1:]
        assert list(inspect.signature(getattr(fake, name)).parameters) == expected, name


def priced(uow: InMemoryUnitOfWork, sku: str, list_price: str = "100.00", floor: str = "50.00",
           since: datetime = NOW - DAY) -> None:
    uow.catalog.documents[sku] = product(sku)
    handlers.set_price(uow, sku, {"list_price": D(list_price), "floor_price": D(floor), "currency": "CNY",
                                  "effective_from": since}, "manager:1", since)


def event_types(uow) -> list[str]:
    return [t for t, _ in uow.events]


# ---- list prices --------------------------------------------------------------------------------

def test_a_price_is_set_announced_and_shown_with_its_version():
    uow = InMemoryUnitOfWork(FakeCatalog([product("TWL")]))
    prices = handlers.set_price(uow, "TWL", {"list_price": D("199.00"), "floor_price": D("99.00"),
                                             "currency": "CNY"}, "manager:1", NOW)
    assert prices.current.list_price == D("199.00") and prices.current.effective_from == NOW
    assert (prices.scheduled, prices.price_version) == ([], 2)
    assert uow.events == [("price_changed", {
        "sku": "TWL", "list_price": "199.00", "floor_price": "99.00", "currency": "CNY",
        "effective_from": NOW.isoformat(), "price_version": 2, "actor": "manager:1", "version": 1})]


def test_a_scheduled_price_is_not_current_until_its_instant():
    uow = InMemoryUnitOfWork(FakeCatalog([product("TWL")]))
    priced(uow, "TWL", "100.00")
    prices = handlers.set_price(uow, "TWL", {"list_price": D("120.00"), "floor_price": D("50.00"),
                                             "currency": "CNY", "effective_from": NOW + DAY}, "m", NOW)
    assert prices.current.list_price == D("100.00")
    assert [e.list_price for e in prices.scheduled] == [D("120.00")]
    assert handlers.prices(uow, "TWL", NOW + DAY).current.list_price == D("120.00")


def test_a_price_change_asks_the_catalog_even_when_the_read_model_says_active():
    """A discontinuation acknowledged a moment ago may not have reached the read model yet."""
    uow = InMemoryUnitOfWork(FakeCatalog([product("TWL")]))
    priced(uow, "TWL")
    uow.catalog.documents["TWL"] = product("TWL", "discontinued", version=2)
    with pytest.raises(ProductNotPriceable):
        handlers.set_price(uow, "TWL", {"list_price": D("90.00"), "floor_price": D("50.00"),
                                        "currency": "CNY"}, "m", NOW)
    assert uow.catalog.asked[-1] == ["TWL"]
    assert event_types(uow) == ["price_changed"]  # the first price only


def test_a_price_for_an_unknown_product_or_in_the_past_is_refused_and_nothing_is_written():
    uow = InMemoryUnitOfWork()
    with pytest.raises(ProductUnknown):
        handlers.set_price(uow, "NOPE", {"list_price": D("1.00"), "floor_price": D("1.00"),
                                         "currency": "CNY"}, "m", NOW)
    uow.catalog.documents["TWL"] = product("TWL")
    with pytest.raises(InvalidPricing) as caught:
        handlers.set_price(uow, "TWL", {"list_price": D("1.00"), "floor_price": D("2.00"), "currency": "CNY",
                                        "effective_from": NOW - H}, "m", NOW)
    assert [e["field"] for e in caught.value.errors] == ["floor_price", "effective_from"]
    assert uow.events == [] and uow.price_entries(["TWL", "NOPE"]) == {"TWL": [], "NOPE": []}


def test_retail_prices_leave_out_or_refuse_a_sku_without_a_price():
    uow = InMemoryUnitOfWork()
    priced(uow, "A", "199.00")
    assert set(handlers.retail_prices(uow, ["A", "B"], NOW, missing_ok=True)) == {"A"}
    with pytest.raises(common.errors.NotFound):
        handlers.retail_prices(uow, ["A", "B"], NOW)


# ---- promotions and the green channel -----------------------------------------------------------

def promotion_fields(pct: str = "10", hours: int = 48, skus=None) -> dict:
    fields = {"name": "Spring", "discount_pct": D(pct), "starts_at": NOW, "ends_at": NOW + hours * H}
    if skus is not None:
        fields["skus"] = skus
    return fields


def test_a_sales_promotion_inside_the_green_channel_is_approved_and_announced_at_once():
    uow = InMemoryUnitOfWork()
    promotion = handlers.create_promotion(uow, promotion_fields("10", 72), "sales:1", "sales", NOW)
    assert (promotion.status, promotion.green_channel, promotion.created_by) == ("approved", True, "sales:1")
    [(event_type, data)] = uow.events
    assert event_type == "promotion_approved" and data["price_version"] == 2
    assert data["promotion"]["id"] == promotion.id and data["promotion"]["discount_pct"] == "10"


def test_a_sales_promotion_outside_the_green_channel_waits_for_a_manager():
    uow = InMemoryUnitOfWork()
    promotion = handlers.create_promotion(uow, promotion_fields("25"), "sales:1", "sales", NOW)
    assert (promotion.status, promotion.green_channel) == ("pending_approval", False)
    assert uow.events == [] and uow.price_version() == 1

    approved = handlers.approve_promotion(uow, str(promotion.id), "manager:1", NOW + H)
    assert (approved.status, approved.decided_by, approved.decided_at) == ("approved", "manager:1", NOW + H)
    assert event_types(uow) == ["promotion_approved"] and uow.price_version() == 2
    with pytest.raises(IllegalPromotionChange):
        handlers.approve_promotion(uow, promotion.id, "manager:1", NOW + H)


def test_a_managers_promotion_is_approved_at_once_whatever_its_size():
    uow = InMemoryUnitOfWork()
    promotion = handlers.create_promotion(uow, promotion_fields("40", 24 * 30), "manager:1", "manager", NOW)
    assert (promotion.status, promotion.green_channel) == ("approved", False)
    assert event_types(uow) == ["promotion_approved"]


def test_the_green_channel_is_what_the_manager_set():
    uow = InMemoryUnitOfWork()
    handlers.set_green_channel(uow, domain.GreenChannel(D(30), D(72)), "manager:1", NOW)
    assert handlers.create_promotion(uow, promotion_fields("25"), "sales:1", "sales", NOW).status == "approved"


def test_a_rejected_promotion_keeps_its_reason_and_is_never_announced():
    uow = InMemoryUnitOfWork()
    promotion = handlers.create_promotion(uow, promotion_fields("25"), "sales:1", "sales", NOW)
    rejected = handlers.reject_promotion(uow, promotion.id, "too deep", "manager:1", NOW)
    assert (rejected.status, rejected.reason) == ("rejected", "too deep")
    assert uow.events == []
    with pytest.raises(IllegalPromotionChange):
        handlers.approve_promotion(uow, promotion.id, "manager:1", NOW)


@pytest.mark.parametrize("promotion_id", ["99", "x", "-1", 0])
def test_an_unknown_promotion_is_not_found_by_the_id_given(promotion_id):
    with pytest.raises(PromotionNotFound):
        handlers.approve_promotion(InMemoryUnitOfWork(), promotion_id, "m", NOW)


def test_a_promotion_names_only_skus_the_catalog_knows():
    uow = InMemoryUnitOfWork(FakeCatalog([product("A")]))
    with pytest.raises(InvalidPricing) as caught:
        handlers.create_promotion(uow, promotion_fields(skus=["A", "GHOST"]), "sales:1", "sales", NOW)
    assert caught.value.errors == [{"field": "skus[1]", "message": "unknown SKU 'GHOST'"}]
    assert uow.catalog.asked == [["A", "GHOST"]]  # a read-model miss is asked of the owner
    assert handlers.create_promotion(uow, promotion_fields(skus=["A"]), "sales:1", "sales", NOW).skus == ("A",)


# ---- parity -------------------------------------------------------------------------------------

def observation(seller: str = "7", price: str = "80.00", at: datetime = NOW) -> dict:
    return {"channel": "tmall", "seller": seller, "sku": "TWL", "observed_price": D(price), "observed_at": at,
            "source_url": "https://tmall.example/item/1"}


def parity_uow() -> InMemoryUnitOfWork:
    uow = InMemoryUnitOfWork(distributors=FakeDistributors([profile(7)]))
    priced(uow, "TWL", "100.00", since=NOW - 90 * DAY)
    return uow


def test_a_third_violation_within_30_days_flags_the_distributor_once():
    uow = parity_uow()
    first = handlers.record_observation(uow, observation(at=NOW - 20 * DAY), "channel:tmall", NOW, D(0))
    assert (first.result, first.direction, first.expected_price, first.flagged_for_review) == (
        "violation", "below", D("100.00"), False)
    handlers.record_observation(uow, observation(at=NOW - 10 * DAY), "channel:tmall", NOW, D(0))
    assert event_types(uow) == ["price_changed"]
    third = handlers.record_observation(uow, observation(at=NOW), "channel:tmall", NOW, D(0))
    assert third.flagged_for_review is True
    assert uow.events[-1] == ("distributor_flagged", {"distributor_id": 7, "violations": 3, "window_days": 30,
                                                      "observed_at": NOW.isoformat(), "version": 1})
    handlers.record_observation(uow, observation(at=NOW), "channel:tmall", NOW, D(0))
    assert event_types(uow).count("distributor_flagged") == 1  # flagged already


def test_violations_further_apart_than_30_days_do_not_flag():
    uow = parity_uow()
    for days_ago in (61, 31, 0):
        assert handlers.record_observation(uow, observation(at=NOW - days_ago * DAY), "c", NOW,
                                           D(0)).flagged_for_review is False
    assert "distributor_flagged" not in event_types(uow)


def test_prices_within_the_tolerance_or_the_promotion_are_not_violations():
    uow = parity_uow()
    assert handlers.record_observation(uow, observation(price="99.00"), "c", NOW, D(1)).result == "ok"
    handlers.create_promotion(uow, promotion_fields("20", 24), "manager:1", "manager", NOW - H)
    assert handlers.record_observation(uow, observation(price="80.00"), "c", NOW, D(0)).result == "ok"


def test_a_brand_store_is_checked_but_never_flagged():
    uow = parity_uow()
    for days_ago in (2, 1, 0):
        handlers.record_observation(uow, observation("brand:tmall", at=NOW - days_ago * DAY), "c", NOW, D(0))
    assert "distributor_flagged" not in event_types(uow) and uow.distributors.asked == []


def test_an_observation_is_refused_naming_its_field():
    uow = parity_uow()
    for fields, field in ((observation(at=NOW + H), "observed_at"), (observation("8"), "seller"),
                          ({**observation(), "sku": "UNPRICED"}, "sku"),
                          (observation(at=NOW - 95 * DAY), "sku")):  # before its list price
        with pytest.raises(InvalidPricing) as caught:
            handlers.record_observation(uow, fields, "c", NOW, D(0))
        assert caught.value.errors[0]["field"] == field
    assert uow.distributors.asked == [8, 7]  # a distributor not seen yet is asked of its owner


def test_violations_page_by_seller_and_time():
    uow = parity_uow()
    for days_ago in (3, 2, 1):
        handlers.record_observation(uow, observation(at=NOW - days_ago * DAY), "c", NOW, D(0))
    first = handlers.violations(uow, {}, None, 2)
    assert [o.observed_at for o in first] == [NOW - 3 * DAY, NOW - 2 * DAY, NOW - DAY]  # limit + 1
    last = first[1]
    assert [o.id for o in handlers.violations(uow, {}, [last.seller, last.observed_at.isoformat(), last.id],
                                              2)] == [3]
    with pytest.raises(InvalidPricing):
        handlers.violations(uow, {}, "garbage", 2)


# ---- read models --------------------------------------------------------------------------------

def test_an_event_is_applied_once():
    uow = InMemoryUnitOfWork()
    handlers.apply_product(uow, "e-1", product("A", "discontinued", version=3))
    handlers.apply_product(uow, "e-1", product("A", "active", version=4))  # redelivered
    assert uow.products(["A"])["A"].status == "discontinued"
    handlers.apply_distributor(uow, "e-2", profile(7, status="suspended"))
    assert uow.distributor(7).status == "suspended"


# ---- quotes and the price book ------------------------------------------------------------------

def quote_uow(status: str = "active") -> InMemoryUnitOfWork:
    uow = InMemoryUnitOfWork(distributors=FakeDistributors([profile(7, status=status)]))
    priced(uow, "A", "100.00")
    priced(uow, "B", "199.00", "99.00")
    return uow


def test_a_quote_is_priced_from_a_fresh_read_then_from_the_book():
    uow = quote_uow()
    first = handlers.create_quote(uow, 7, [("A", 1), ("B", 2)], NOW, VALIDITY)
    assert uow.standalone_reads and uow.distributors.asked == [7]  # a read-model miss asked once
    assert (first["id"], first["tier"], first["total"]) == (1, "gold", "323.70")
    assert [line["unit_price"] for line in first["lines"]] == ["65.00", "129.35"]

    uow.standalone_reads = False
    again = handlers.create_quote(uow, 7, [("A", 1), ("B", 2)], NOW + H, VALIDITY)
    assert not uow.standalone_reads  # from the book: nothing read
    assert {k: v for k, v in again.items() if k not in ("id", "valid_until", "created_at")} == {
        k: v for k, v in first.items() if k not in ("id", "valid_until", "created_at")}


def test_a_change_since_the_book_was_read_is_seen_by_the_next_quote():
    uow = quote_uow()
    handlers.create_quote(uow, 7, [("A", 1)], NOW, VALIDITY)
    handlers.set_tier(uow, "gold", {"discount_pct": D(40), "volume_breaks": []}, "manager:1", NOW)
    quote = handlers.create_quote(uow, 7, [("A", 1)], NOW + H, VALIDITY)
    assert quote["lines"][0]["unit_price"] == "60.00"  # the guarded store refused the book's version
    assert len(uow.quotes.stored) == 2


def test_a_suspended_distributor_may_not_quote_unless_reinstated_a_moment_ago():
    uow = quote_uow(status="suspended")
    with pytest.raises(DistributorMayNotQuote):
        handlers.create_quote(uow, 7, [("A", 1)], NOW, VALIDITY)
    uow.distributors.profiles[7] = profile(7, status="active", version=2)  # its event not arrived yet
    assert handlers.create_quote(uow, 7, [("A", 1)], NOW, VALIDITY)["total"] == "65.00"


def test_a_quote_is_refused_line_by_line():
    uow = quote_uow()
    uow.catalog.documents["D"] = product("D", "draft")
    with pytest.raises(InvalidPricing) as caught:
        handlers.create_quote(uow, 7, [("A", 1), ("D", 1), ("NOPE", 1)], NOW, VALIDITY)
    assert [e["field"] for e in caught.value.errors] == ["lines[1].sku", "lines[2].sku"]
    assert uow.quotes.stored == []


def test_a_distributor_nobody_knows_is_not_found():
    with pytest.raises(common.errors.NotFound):
        handlers.create_quote(quote_uow(), 8, [("A", 1)], NOW, VALIDITY)
    with pytest.raises(common.errors.NotFound):
        handlers.create_quote(quote_uow(), "x", [("A", 1)], NOW, VALIDITY)


def test_catalog_views_show_active_products_with_the_unit_price():
    uow = quote_uow()
    uow.catalog.documents["W"] = product("W")  # not priced yet
    assert handlers.unit_prices(uow, 7, ["A", "W"], NOW) == {
        "A": domain.UnitPrice(D("100.00"), "CNY", D("100.00"), D("65.00"), D(35))}
    view = handlers.catalog_product(uow, 7, "W", NOW)
    assert (view.document["sku"], view.price) == ("W", None)
    with pytest.raises(ProductUnknown):
        handlers.catalog_product(uow, 7, "GHOST", NOW)


def test_a_fresh_catalog_view_shows_a_change_whose_event_has_not_arrived():
    """The gateway asks for a view ``fresh`` just after a change the API acknowledged: the product
    and the distributor are read from their owners first, not taken from the read models."""
    uow = quote_uow()
    handlers.catalog_product(uow, 7, "A", NOW)  # the read models now hold A and distributor 7
    uow.catalog.documents["A"] = {**product("A", version=2), "name": "bath towel"}
    uow.distributors.profiles[7] = profile(7, tier="silver", version=2)
    stale, _ = handlers.catalog_view(uow, 7, "A", NOW)
    assert (stale.document["name"], stale.price.unit_price) == ("a", D("65.00"))  # events not in yet
    fresh, _ = handlers.catalog_view(uow, 7, "A", NOW, fresh=True)
    assert fresh.document["name"] == "bath towel" and fresh.price.unit_price != D("65.00")
    uow.catalog.documents["A"] = product("A", "discontinued", version=3)
    with pytest.raises(ProductUnknown):
        handlers.catalog_view(uow, 7, "A", NOW, fresh=True)
    del uow.distributors.profiles[7]
    with pytest.raises(common.errors.NotFound):
        handlers.catalog_view(uow, 7, "A", NOW, fresh=True)


def test_a_fresh_catalog_view_falls_back_to_the_read_models_when_an_owner_is_away(monkeypatch):
    uow = quote_uow()
    handlers.catalog_product(uow, 7, "A", NOW)
    uow.catalog.documents["A"] = {**product("A", version=2), "name": "bath towel"}

    def away(skus):
        raise common.errors.ServiceNotRunning("the catalog service is not running")

    monkeypatch.setattr(uow.catalog, "get_products", away)
    view, _ = handlers.catalog_view(uow, 7, "A", NOW, fresh=True)
    assert view.document["name"] == "a"  # what pricing knows: an answer, not a 503
