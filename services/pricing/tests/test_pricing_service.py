"""The pricing service with the real catalog and distributors services on real RabbitMQ and
PostgreSQL: its read models follow their events, apply each once and in version order, and a miss is
resolved by asking the owner."""
from datetime import UTC, datetime, timedelta

import pytest
from nameko.exceptions import IncorrectSignature
from nameko.standalone.events import event_dispatcher
from nameko.standalone.rpc import ClusterRpcProxy
from pricing_in_memory import product

import catalog.errors
import common.errors
import distributors.errors
import pricing.errors
from catalog.service import CatalogService
from common.db import transaction
from common.testing import wait_until
from distributors.service import DistributorsService
from pricing.errors import DistributorMayNotQuote, InvalidPricing, ProductNotPriceable
from pricing.service import PricingService

common.errors.make_deserializable(common.errors, catalog.errors, distributors.errors, pricing.errors)

APPLICATION = {
    "company_name": "Nanjing Linen Co.", "credit_code": "91110108551385082Q",
    "contact": {"name": "Chen Jie", "phone": "13900002222", "email": "chen@nj-linen.cn"},
    "address": "2 Zhongshan Rd", "province": "Jiangsu", "city": "Nanjing",
    "locations": [{"name": "Nanjing DC", "lat": 32.06, "lon": 118.80}],
    "requested_tier": "gold", "channels": ["jd"],
}


@pytest.fixture
def rpc(amqp_uri, catalog_db, distributors_db, pricing_db, container_factory):
    base = {"AMQP_URI": amqp_uri, "serializer": "json", "max_workers": 4}
    for cls, db in ((CatalogService, catalog_db), (DistributorsService, distributors_db),
                    (PricingService, pricing_db)):
        container_factory(cls, {**base, "DATABASE_URL": db}).start()
    with ClusterRpcProxy(base, context_data={"request_id": "req-p"}) as cluster:
        cluster.config = base
        cluster.pricing_db = pricing_db
        yield cluster


def gold_distributor(rpc) -> int:
    app = rpc.distributors.submit_application(APPLICATION)
    return rpc.distributors.approve_application(app["id"], {"tier": "gold"}, "m")["distributor_id"]


def read_model(db, sql, args, until, timeout=5.0):
    """The row ``sql`` reads once ``until(row)`` holds; fails showing the last row after ``timeout``."""
    last = {}

    def reached() -> bool:
        with transaction(db) as cur:
            cur.execute(sql, args)
            last["row"] = cur.fetchone()
        return bool(until(last["row"]))

    wait_until(reached, timeout, lambda: f"{sql} {args}: the read model still has {last['row']}")
    return last["row"]


def test_a_call_with_arguments_the_method_cannot_take_is_refused_before_it_runs(rpc):
    """common.entrypoints.Rpc checks arguments against the signature it read once (nameko's check)."""
    for args, kwargs in (((1,), {}), ((1, "A", True, 4), {}), ((1, "A"), {"nope": 1})):
        with pytest.raises(IncorrectSignature):  # nameko raises it again on the caller's side
            rpc.pricing.get_catalog_view(*args, **kwargs)


def test_a_product_is_priceable_at_once_and_its_discontinuation_is_respected(rpc):
    rpc.catalog.create_product({"sku": "A", "name": "a", "category": "c", "lifecycle": "new",
                                "status": "active"}, "sales:1")
    doc = rpc.pricing.set_price("A", {"list_price": "100.00", "floor_price": "50.00"}, "manager:1")
    assert doc["current"]["list_price"] == "100.00"
    rpc.catalog.discontinue_product("A", "manager:1")
    with pytest.raises(ProductNotPriceable):
        rpc.pricing.set_price("A", {"list_price": "90.00", "floor_price": "50.00"}, "manager:1")
    row = read_model(rpc.pricing_db, "SELECT status, version FROM products WHERE sku = %s", ("A",),
                     lambda r: r and r["status"] == "discontinued")
    assert (row["status"], row["version"]) == ("discontinued", 2)


def test_product_events_apply_once_and_never_go_back_in_version(rpc):
    dispatch = event_dispatcher(rpc.config)
    newer = {"event_id": "00000000-0000-0000-0000-000000000002", "occurred_at": "2026-11-22T00:00:01Z",
             "product": product("B", "discontinued", version=3), "version": 1}
    older = {"event_id": "00000000-0000-0000-0000-000000000001", "occurred_at": "2026-11-22T00:00:00Z",
             "product": product("B", "active", version=2), "version": 1}
    dispatch("catalog", "product_discontinued", newer)
    dispatch("catalog", "product_discontinued", newer)
    row = read_model(rpc.pricing_db, "SELECT status, version FROM products WHERE sku = %s", ("B",),
                     lambda r: r is not None)
    dispatch("catalog", "product_updated", older)
    # the older event has been handled once its event id is recorded: in the same transaction as
    # whatever it did to the row
    read_model(rpc.pricing_db, "SELECT count(*) AS n FROM processed_events WHERE event_id = %s",
               (older["event_id"],), lambda r: r["n"] == 1)
    with transaction(rpc.pricing_db) as cur:
        cur.execute("SELECT status, version FROM products WHERE sku = 'B'")
        row = cur.fetchone()
        cur.execute("SELECT count(*) AS n FROM processed_events WHERE event_id = %s", (newer["event_id"],))
        assert cur.fetchone()["n"] == 1
    assert (row["status"], row["version"]) == ("discontinued", 3)


def test_a_distributor_sees_a_product_and_its_price_from_pricing_in_one_call(rpc):
    for sku, status in (("V", "active"), ("W", "active"), ("DRAFT", "draft")):
        rpc.catalog.create_product({"sku": sku, "name": sku.lower(), "category": "bath",
                                    "lifecycle": "classic", "status": status,
                                    "attributes": {"size": "70x140"}}, "s")
    rpc.pricing.set_price("V", {"list_price": "199.00", "floor_price": "99.00"}, "m")
    did = gold_distributor(rpc)

    view = rpc.pricing.get_catalog_product(did, "V")
    assert {k: v for k, v in view.items() if k != "price"} == rpc.catalog.get_catalog_product("V")
    assert view["price"] == {"list_price": "199.00", "retail_price": "199.00", "unit_price": "129.35",
                             "tier_discount_pct": "35", "currency": "CNY"}
    assert rpc.pricing.get_catalog_product(did, "W")["price"] is None  # not priced yet
    for missing in ("DRAFT", "NO-SUCH-SKU"):
        with pytest.raises(pricing.errors.ProductUnknown):
            rpc.pricing.get_catalog_product(did, missing)

    # the read model follows the catalog's events
    rpc.catalog.update_product("V", {"name": "Bath towel"}, "s")
    read_model(rpc.pricing_db, "SELECT document->>'name' AS name FROM products WHERE sku = %s", ("V",),
               lambda r: r and r["name"] == "Bath towel")
    assert rpc.pricing.get_catalog_product(did, "V")["name"] == "Bath towel"
    rpc.catalog.discontinue_product("V", "m")
    read_model(rpc.pricing_db, "SELECT status FROM products WHERE sku = %s", ("V",),
               lambda r: r and r["status"] == "discontinued")
    with pytest.raises(pricing.errors.ProductUnknown):
        rpc.pricing.get_catalog_product(did, "V")

    # a row learned before documents were kept is completed from the catalog
    with transaction(rpc.pricing_db) as cur:
        cur.execute("UPDATE products SET document = NULL WHERE sku = 'W'")
    assert rpc.pricing.get_catalog_product(did, "W") == {**rpc.catalog.get_catalog_product("W"),
                                                         "price": None}
    with transaction(rpc.pricing_db) as cur:
        cur.execute("SELECT document->>'sku' AS sku FROM products WHERE sku = 'W'")
        assert cur.fetchone()["sku"] == "W"


def test_a_product_activated_a_moment_ago_is_sellable_at_once(rpc):
    rpc.catalog.create_product({"sku": "ACT", "name": "act", "category": "bath", "lifecycle": "new"}, "s")
    rpc.pricing.set_price("ACT", {"list_price": "100.00", "floor_price": "50.00"}, "m")
    did = gold_distributor(rpc)
    with pytest.raises(pricing.errors.ProductUnknown):
        rpc.pricing.get_catalog_product(did, "ACT")  # a draft is not sold
    rpc.catalog.update_product("ACT", {"status": "active"}, "s")
    row = read_model(rpc.pricing_db, "SELECT status, version FROM products WHERE sku = %s", ("ACT",),
                     lambda r: r and r["status"] == "active")

    def hold_back():  # as if the activation's event had not arrived yet
        with transaction(rpc.pricing_db) as cur:
            cur.execute("UPDATE products SET status = 'draft', version = %s WHERE sku = 'ACT'",
                        (row["version"] - 1,))

    hold_back()
    assert rpc.pricing.get_catalog_product(did, "ACT")["status"] == "active"
    hold_back()
    quote = rpc.pricing.create_quote(did, {"lines": [{"sku": "ACT", "qty": 1}]})
    assert quote["lines"][0]["unit_price"] == "65.00"


def test_quotes_follow_the_distributors_lifecycle(rpc):
    rpc.catalog.create_product({"sku": "Q", "name": "q", "category": "c", "lifecycle": "classic",
                                "status": "active"}, "s")
    rpc.pricing.set_price("Q", {"list_price": "199.00", "floor_price": "99.00"}, "m")
    did = gold_distributor(rpc)
    quote = rpc.pricing.create_quote(did, {"lines": [{"sku": "Q", "qty": 2}]})
    assert (quote["tier"], quote["lines"][0]["unit_price"], quote["total"]) == ("gold", "129.35", "258.70")
    again = rpc.pricing.create_quote(did, {"lines": [{"sku": "Q", "qty": 2}]})
    assert again["price_version"] == quote["price_version"] and again["lines"] == quote["lines"]

    rpc.distributors.change_tier(did, {"tier": "platinum"}, "m")
    read_model(rpc.pricing_db, "SELECT tier FROM distributors WHERE id = %s", (did,),
               lambda r: r and r["tier"] == "platinum")
    assert rpc.pricing.create_quote(did, {"lines": [{"sku": "Q", "qty": 1}]})["lines"][0][
        "unit_price"] == "119.40"

    rpc.distributors.change_status(did, "suspend", {"reason": "audit"}, "m")
    read_model(rpc.pricing_db, "SELECT status FROM distributors WHERE id = %s", (did,),
               lambda r: r and r["status"] == "suspended")
    with pytest.raises(DistributorMayNotQuote):
        rpc.pricing.create_quote(did, {"lines": [{"sku": "Q", "qty": 1}]})

    # a reinstatement counts at once, even before its event reaches pricing
    rpc.distributors.change_status(did, "reinstate", {}, "m")
    row = read_model(rpc.pricing_db, "SELECT status, version FROM distributors WHERE id = %s", (did,),
                     lambda r: r and r["status"] == "active")
    with transaction(rpc.pricing_db) as cur:
        cur.execute("UPDATE distributors SET status = 'suspended', version = %s WHERE id = %s",
                    (row["version"] - 1, did))
    assert rpc.pricing.create_quote(did, {"lines": [{"sku": "Q", "qty": 1}]})["lines"][0][
        "unit_price"] == "119.40"


def test_quotes_reflect_every_change_acknowledged_before_them_while_the_price_book_serves_them(rpc):
    """After a first quote the service prices the same SKUs from its in-process price book; each
    change below must still show in the very next quote, and every answer is the stored row."""
    for sku in ("K1", "K2"):
        rpc.catalog.create_product({"sku": sku, "name": sku, "category": "c", "lifecycle": "classic",
                                    "status": "active"}, "s")
        rpc.pricing.set_price(sku, {"list_price": "200.00", "floor_price": "100.00"}, "m")
    did = gold_distributor(rpc)
    lines = {"lines": [{"sku": "K1", "qty": 1}, {"sku": "K2", "qty": 3}]}

    def quote() -> dict:
        answer = rpc.pricing.create_quote(did, lines)
        with transaction(rpc.pricing_db) as cur:
            cur.execute("SELECT body FROM quotes WHERE id = %s", (answer["id"],))
            assert {**cur.fetchone()["body"], "id": answer["id"]} == answer  # stored before answered
        return answer

    def unit_prices(answer: dict) -> list[str]:
        return [line["unit_price"] for line in answer["lines"]]

    first, second = quote(), quote()
    assert unit_prices(first) == unit_prices(second) == ["130.00", "130.00"]
    assert second["id"] != first["id"] and second["price_version"] == first["price_version"]

    # a list price set through the service
    rpc.pricing.set_price("K1", {"list_price": "300.00", "floor_price": "100.00"}, "m")
    assert unit_prices(quote()) == ["195.00", "130.00"]
    quote()

    # a change this service instance never hears of: another replica's, or one made by hand in SQL
    with transaction(rpc.pricing_db) as cur:
        cur.execute("UPDATE tiers SET discount_pct = 20 WHERE name = 'gold'")
    answer = quote()
    assert unit_prices(answer) == ["240.00", "160.00"]
    assert answer["lines"][0]["tier_discount_pct"] == "20"

    # a promotion, approved at once (a manager's)
    now = datetime.now(UTC)
    rpc.pricing.create_promotion({"name": "Week", "discount_pct": "10", "starts_at": now.isoformat(),
                                  "ends_at": (now + timedelta(days=1)).isoformat(), "skus": ["K2"]},
                                 "manager:1", "manager")
    assert [line["retail_price"] for line in quote()["lines"]] == ["300.00", "180.00"]

    # a scheduled list price takes effect at its instant, with no write then
    effective = datetime.now(UTC) + timedelta(seconds=1.5)
    rpc.pricing.set_price("K2", {"list_price": "400.00", "floor_price": "100.00",
                                 "effective_from": effective.isoformat()}, "m")
    assert [line["list_price"] for line in quote()["lines"]] == ["300.00", "200.00"]
    quote()

    def priced_at_its_instant() -> bool:
        """Quote until the new price shows; every answer has the price of the instant it was made."""
        answer = quote()
        new = datetime.fromisoformat(answer["created_at"]) >= effective
        assert [line["list_price"] for line in answer["lines"]] == \
            ["300.00", "400.00" if new else "200.00"], answer["created_at"]
        return new

    wait_until(priced_at_its_instant, (effective - datetime.now(UTC)).total_seconds() + 5,
               "a quote made after the scheduled instant")

    # a discontinuation, arriving by the catalog's event
    rpc.catalog.discontinue_product("K2", "m")
    read_model(rpc.pricing_db, "SELECT status FROM products WHERE sku = %s", ("K2",),
               lambda r: r and r["status"] == "discontinued")
    with pytest.raises(InvalidPricing) as refused:
        rpc.pricing.create_quote(did, lines)
    assert refused.value.errors == [{"field": "lines[1].sku", "message": "'K2' is discontinued"}]


def test_three_violations_flag_the_distributor_in_the_distributors_service(rpc):
    rpc.catalog.create_product({"sku": "F", "name": "f", "category": "c", "lifecycle": "classic",
                                "status": "active"}, "s")
    rpc.pricing.set_price("F", {"list_price": "100.00", "floor_price": "50.00"}, "m")
    did = gold_distributor(rpc)
    base = datetime.now(UTC)
    # the seller as an integer, its decimal string, or that string with leading zeros: one seller
    for i, seller in enumerate([did, str(did), f"00{did}"]):
        result = rpc.pricing.record_observation({
            "channel": "douyin", "seller": seller, "sku": "F", "observed_price": "80.00",
            "observed_at": (base + timedelta(seconds=i)).isoformat(),
            "source_url": "https://www.douyin.com/x"}, "sales:1")
        assert (result["result"], result["seller"], result["distributor_id"]) == (
            "violation", str(did), did)
    assert result["flagged_for_review"] is True
    for query in ({"seller": str(did)}, {"seller": f"0{did}"}, {"distributor_id": str(did)}):
        assert len(rpc.pricing.list_violations(query)["items"]) == 3
    wait_until(lambda: rpc.distributors.get_distributor(did)["flagged_for_review"], 5,
               "distributor_flagged did not reach the distributors service")
    with pytest.raises(InvalidPricing):
        rpc.pricing.record_observation({
            "channel": "douyin", "seller": "424242", "sku": "F", "observed_price": "80.00",
            "observed_at": base.isoformat(), "source_url": "https://www.douyin.com/x"}, "sales:1")


@pytest.mark.parametrize("table,moves", [
    ("list_prices", True), ("tiers", True), ("promotions", True), ("price_version", True),
    ("products", True), ("distributors", True),
    ("quotes", False), ("observations", False), ("green_channel", False), ("outbox", False)])
def test_what_a_price_is_computed_from_moves_the_inputs_version_and_nothing_else_does(pricing_db, table,
                                                                                      moves):
    """The price book's guard (book.py) is only as good as this: any write to a table a quote reads
    moves the counter in its own transaction; a quote's own row does not (or the book never holds)."""
    def version() -> int:
        with transaction(pricing_db) as cur:
            cur.execute("SELECT version FROM inputs_version")
            return cur.fetchone()["version"]

    with transaction(pricing_db) as cur:
        cur.execute("SELECT column_name FROM information_schema.columns WHERE table_name = %s "
                    "ORDER BY ordinal_position LIMIT 1", (table,))
        column = cur.fetchone()["column_name"]
    for statement in (f"UPDATE {table} SET {column} = {column} WHERE false",
                      f"DELETE FROM {table} WHERE false"):
        before = version()
        with transaction(pricing_db) as cur:
            cur.execute(statement)
        assert (version() > before) is moves, statement
