"""The catalog service in a real nameko container on real RabbitMQ and PostgreSQL: RPC contracts,
the outbox relay, and events that arrive once."""
import uuid

import pytest
from nameko.standalone.events import event_dispatcher
from nameko.standalone.rpc import ServiceRpcProxy

import catalog.errors
import common.errors
from catalog.errors import IllegalStatusChange, InvalidProduct, ProductExists, ProductNotFound
from catalog.service import CatalogService
from common.db import Database, transaction
from common.entrypoints import event_handler
from common.errors import InvalidInput
from common.outbox import first_delivery
from common.testing import wait_until

common.errors.make_deserializable(common.errors, catalog.errors)

TOWEL = {"sku": "TWL-1", "name": "Bath towel", "category": "towels", "lifecycle": "new"}


class EventRecorder:
    """A consumer built the way every real consumer is: idempotent on event_id, in one transaction."""

    name = "event_recorder"
    db = Database("catalog")

    def _record(self, event_type, payload):
        cur = self.db.cursor()
        if first_delivery(cur, self.name, payload["event_id"]):
            cur.execute("INSERT INTO recorded_events (event_type, sku, request_id) VALUES (%s, %s, %s)",
                        (event_type, payload["product"]["sku"], payload.get("request_id")))

    @event_handler("catalog", "product_created")
    def on_created(self, payload):
        self._record("product_created", payload)

    @event_handler("catalog", "product_updated")
    def on_updated(self, payload):
        self._record("product_updated", payload)

    @event_handler("catalog", "product_discontinued")
    def on_discontinued(self, payload):
        self._record("product_discontinued", payload)


@pytest.fixture
def config(amqp_uri, catalog_db):
    with transaction(catalog_db) as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS recorded_events "
                    "(id serial, event_type text, sku text, request_id text)")
        cur.execute("TRUNCATE recorded_events")
    return {"AMQP_URI": amqp_uri, "DATABASE_URL": catalog_db, "serializer": "json", "max_workers": 4}


@pytest.fixture
def catalog(config, container_factory):  # containers stop before the vhost goes
    container_factory(CatalogService, config).start()
    # the recorder applies one event at a time, each queue in its order: once a marker sent after
    # the events under test is recorded, every earlier event on the marker's queue has been applied
    container_factory(EventRecorder, {**config, "max_workers": 1}).start()
    with ServiceRpcProxy("catalog", config, context_data={"request_id": "req-42"}) as proxy:
        yield proxy


def recorded(config) -> list[tuple]:
    with transaction(config["DATABASE_URL"]) as cur:
        cur.execute("SELECT event_type, sku, request_id FROM recorded_events ORDER BY id")
        return [tuple(r.values()) for r in cur.fetchall()]


def recorded_for(config, sku: str, expected: int) -> list[tuple]:
    """The events recorded for ``sku`` once there are ``expected`` of them (10 s at most)."""
    def enough() -> list[tuple] | None:
        rows = [r for r in recorded(config) if r[1] == sku]
        return rows if len(rows) >= expected else None

    return wait_until(enough, 10.0, lambda: f"{expected} events for {sku}; recorded: {recorded(config)}")


def test_create_read_update_discontinue_dispatches_each_event_once(catalog, config):
    created = catalog.create_product(TOWEL, "sales:1")
    assert created["status"] == "draft" and created["version"] == 1
    catalog.update_product("TWL-1", {"status": "active", "hero": True}, "sales:1")
    assert catalog.get_product("TWL-1")["hero"] is True
    catalog.discontinue_product("TWL-1", "manager:1")
    # each event type has a queue of its own, so arrival order is not publication order; consumers
    # order product facts by their ``version``
    expected = [
        ("product_created", "TWL-1", "req-42"),
        ("product_discontinued", "TWL-1", "req-42"),
        ("product_updated", "TWL-1", "req-42"),
    ]
    assert sorted(recorded_for(config, "TWL-1", 3)) == expected
    # nothing more arrives later: a marker product goes through the same three steps, one event
    # behind the others on each queue; the relay publishes in outbox order, and anything the calls
    # above published was committed before their replies, so it is queued ahead of the markers
    catalog.create_product({**TOWEL, "sku": "MARK"}, "sales:1")
    catalog.update_product("MARK", {"status": "active"}, "sales:1")
    catalog.discontinue_product("MARK", "manager:1")
    recorded_for(config, "MARK", 3)
    assert sorted(r for r in recorded(config) if r[1] != "MARK") == expected


def test_a_redelivered_event_is_applied_once(catalog, config):
    catalog.create_product(TOWEL, "sales:1")
    recorded_for(config, "TWL-1", 1)
    with transaction(config["DATABASE_URL"]) as cur:
        cur.execute("SELECT payload FROM outbox WHERE event_type = 'product_created'")
        payload = cur.fetchone()["payload"]
    dispatch = event_dispatcher(config)
    dispatch("catalog", "product_created", payload)
    dispatch("catalog", "product_created", payload)
    # a marker with an event id of its own, queued behind the two copies (each publish is
    # confirmed before the next): once it is recorded, both copies have been handled
    marker = {**payload, "event_id": str(uuid.uuid4()), "product": {**payload["product"], "sku": "MARK"}}
    dispatch("catalog", "product_created", marker)
    recorded_for(config, "MARK", 1)
    assert recorded(config) == [("product_created", "TWL-1", "req-42"),
                                ("product_created", "MARK", "req-42")]


def test_errors_cross_rpc_as_the_catalogs_own_exceptions(catalog):
    catalog.create_product(TOWEL, "sales:1")
    with pytest.raises(ProductExists):
        catalog.create_product(TOWEL, "sales:1")
    with pytest.raises(ProductNotFound):
        catalog.get_product("NOPE")
    with pytest.raises(InvalidProduct) as caught:
        catalog.create_product({**TOWEL, "sku": "TWL-2", "substitutes": ["TWL-2", "NOPE"]}, "s")
    assert [e["field"] for e in caught.value.errors] == ["substitutes[0]", "substitutes[1]"]
    with pytest.raises(InvalidInput):
        catalog.list_products({"limit": "501"})
    catalog.discontinue_product("TWL-1", "m")
    with pytest.raises(IllegalStatusChange):
        catalog.update_product("TWL-1", {"status": "active"}, "s")


def test_a_failed_import_writes_nothing_and_dispatches_nothing(catalog, config):
    rows = [{**TOWEL, "sku": f"P-{i}"} for i in range(5)] + [{**TOWEL, "sku": "P-9",
                                                              "substitutes": ["MISSING"]}]
    with pytest.raises(InvalidProduct) as caught:
        catalog.import_products({"products": rows}, "sales:1")
    assert caught.value.errors[0]["field"] == "products[5].substitutes[0]"
    assert catalog.list_products({})["items"] == []
    with transaction(config["DATABASE_URL"]) as cur:
        cur.execute("SELECT count(*) AS n FROM outbox")
        assert cur.fetchone()["n"] == 0


def test_the_distributor_view_shows_active_products_only(catalog):
    catalog.create_product({**TOWEL, "sku": "LIVE", "status": "active"}, "s")
    catalog.create_product({**TOWEL, "sku": "DRAFT"}, "s")
    assert [p["sku"] for p in catalog.list_catalog({})["items"]] == ["LIVE"]
    assert catalog.get_catalog_product("LIVE")["sku"] == "LIVE"
    with pytest.raises(ProductNotFound):
        catalog.get_catalog_product("DRAFT")


@pytest.mark.parametrize("attributes", [{"gsm": 2**70}, {"size": {"w": {"h": 1}}}, {"note": "\x00"}])
def test_attributes_no_encoder_can_hold_are_refused_and_nothing_is_stored(catalog, config, attributes):
    with pytest.raises(InvalidInput) as caught:
        catalog.create_product({**TOWEL, "attributes": attributes}, "sales:1")
    assert [e["field"] for e in caught.value.errors] == ["attributes"]
    with pytest.raises(InvalidInput) as caught:
        catalog.import_products({"products": [{**TOWEL, "sku": "OK"},
                                               {**TOWEL, "attributes": attributes}]}, "sales:1")
    assert [e["field"] for e in caught.value.errors] == ["products[1].attributes"]
    widest = {**TOWEL, "sku": "WIDE", "attributes": {f"k{i}": "x" * 500 for i in range(50)}}
    catalog.create_product(widest, "sales:1")
    assert [p["sku"] for p in catalog.list_products({})["items"]] == ["WIDE"]
    with transaction(config["DATABASE_URL"]) as cur:
        cur.execute("SELECT count(*) AS n FROM outbox")
        assert cur.fetchone()["n"] == 1
