"""The catalog's service layer on an in-memory unit of work: create (draft or active, a SKU once),
update (draft → active; discontinued is final), discontinue, the all-or-nothing import, reads, and
the events each records — without PostgreSQL or RabbitMQ. test_catalog_service.py runs the same
entrypoints on the real servers."""
import inspect
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from catalog_in_memory import InMemoryUnitOfWork

from catalog import handlers, store
from catalog.errors import IllegalStatusChange, InvalidProduct, ProductExists, ProductNotFound
from catalog.events import PRODUCT_CREATED
from catalog.unit_of_work import SqlUnitOfWork
from common.errors import Conflict

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)


def towel(sku: str = "TWL-1", **overrides) -> dict:
    return {"sku": sku, "name": "Bath towel", "category": "towels", "lifecycle": "new", **overrides}


def event_types(uow: InMemoryUnitOfWork) -> list[tuple[str, str]]:
    return [(event_type, data["product"]["sku"]) for event_type, data in uow.events]


def test_the_in_memory_unit_of_work_offers_every_operation_of_the_sql_one():
    operations = [n for n, f in vars(SqlUnitOfWork).items() if inspect.isfunction(f) and not n.startswith("_")]
    assert len(operations) >= 10
    fake = InMemoryUnitOfWork(NOW)
    for name in operations:
        original = getattr(store, name, None)  # the store function it runs on the cursor, if it is one
        expected = list(inspect.signature(original or getattr(SqlUnitOfWork, name)).parameters)[1:]
        assert list(inspect.signature(getattr(fake, name)).parameters) == expected, name


# ---- create -------------------------------------------------------------------------------------

@pytest.mark.parametrize("status", [None, "draft", "active"])
def test_a_new_product_is_draft_unless_active_and_announced_as_created(status):
    uow = InMemoryUnitOfWork(NOW)
    fields = towel() if status is None else towel(status=status)
    product = handlers.create_product(uow, fields, "manager:1")
    assert (product.status, product.version, product.created_at, product.updated_at) == (
        status or "draft", 1, NOW, NOW)
    assert uow.products == {"TWL-1": product} and uow.written_by == {"TWL-1": "manager:1"}
    assert event_types(uow) == [("product_created", "TWL-1")]
    event = uow.events[0][1]
    assert event["product"]["status"] == (status or "draft")
    assert event["version"] == PRODUCT_CREATED.version
    assert PRODUCT_CREATED.load(event).product["sku"] == "TWL-1"


def test_a_new_product_cannot_start_discontinued():
    uow = InMemoryUnitOfWork(NOW)
    with pytest.raises(InvalidProduct):
        handlers.create_product(uow, towel(status="discontinued"), "manager:1")
    assert uow.products == {} and uow.events == []


def test_a_sku_is_created_once():
    uow = InMemoryUnitOfWork(NOW)
    first = handlers.create_product(uow, towel(), "manager:1")
    with pytest.raises(ProductExists) as caught:
        handlers.create_product(uow, towel(name="Another towel"), "manager:2")
    assert caught.value.errors == [{"field": "sku", "message": "already exists"}]
    assert uow.products == {"TWL-1": first} and event_types(uow) == [("product_created", "TWL-1")]


def test_substitutes_must_exist_and_never_be_the_product_itself():
    uow = InMemoryUnitOfWork(NOW)
    handlers.create_product(uow, towel("TWL-2"), "manager:1")
    with pytest.raises(InvalidProduct) as caught:
        handlers.create_product(uow, towel(substitutes=["TWL-2", "TWL-1", "NOPE"]), "manager:1")
    assert [e["field"] for e in caught.value.errors] == ["substitutes[1]", "substitutes[2]"]
    assert set(uow.products) == {"TWL-2"}
    assert handlers.create_product(uow, towel(substitutes=["TWL-2"]), "manager:1").substitutes == ("TWL-2",)


# ---- update and discontinue ---------------------------------------------------------------------

def test_a_draft_goes_active_once_and_the_change_is_announced():
    uow = InMemoryUnitOfWork(NOW)
    handlers.create_product(uow, towel(), "manager:1")
    uow.clock = LATER
    active = handlers.update_product(uow, "TWL-1", {"status": "active", "name": "Soft towel"}, "sales:1")
    assert (active.status, active.name, active.version, active.created_at, active.updated_at) == (
        "active", "Soft towel", 2, NOW, LATER)
    assert uow.products["TWL-1"] == active and uow.written_by["TWL-1"] == "sales:1"
    assert event_types(uow) == [("product_created", "TWL-1"), ("product_updated", "TWL-1")]
    assert uow.events[1][1]["product"]["version"] == 2

    with pytest.raises(IllegalStatusChange):
        handlers.update_product(uow, "TWL-1", {"status": "draft"}, "sales:1")
    assert len(uow.events) == 2


def test_an_update_that_changes_nothing_writes_and_announces_nothing():
    uow = InMemoryUnitOfWork(NOW)
    created = handlers.create_product(uow, towel(), "manager:1")
    uow.clock = LATER
    assert handlers.update_product(uow, "TWL-1", {"name": "Bath towel", "status": "draft"}, "sales:1") is created
    assert uow.written_by["TWL-1"] == "manager:1" and len(uow.events) == 1


def test_an_update_checks_its_substitutes():
    uow = InMemoryUnitOfWork(NOW)
    handlers.create_product(uow, towel(), "manager:1")
    with pytest.raises(InvalidProduct) as caught:
        handlers.update_product(uow, "TWL-1", {"substitutes": ["TWL-1"]}, "sales:1")
    assert caught.value.errors == [{"field": "substitutes[0]", "message": "a product cannot be its own substitute"}]
    assert len(uow.events) == 1


def test_discontinued_is_final():
    uow = InMemoryUnitOfWork(NOW)
    handlers.create_product(uow, towel(status="active"), "manager:1")
    uow.clock = LATER
    gone = handlers.discontinue_product(uow, "TWL-1", "manager:2")
    assert (gone.status, gone.version, gone.updated_at) == ("discontinued", 2, LATER)
    assert uow.written_by["TWL-1"] == "manager:2"
    assert event_types(uow) == [("product_created", "TWL-1"), ("product_discontinued", "TWL-1")]
    assert uow.events[1][1]["product"]["status"] == "discontinued"

    for attempt in (lambda: handlers.update_product(uow, "TWL-1", {"status": "active"}, "sales:1"),
                    lambda: handlers.discontinue_product(uow, "TWL-1", "manager:2")):
        with pytest.raises(IllegalStatusChange) as caught:
            attempt()
        assert isinstance(caught.value, Conflict)  # the gateway's 409
    assert uow.products["TWL-1"] == gone and len(uow.events) == 2


@pytest.mark.parametrize("write", [
    lambda uow: handlers.update_product(uow, "NOPE", {"name": "x"}, "sales:1"),
    lambda uow: handlers.discontinue_product(uow, "NOPE", "manager:1"),
    lambda uow: handlers.product(uow, "NOPE"),
])
def test_an_unknown_sku_is_not_found(write):
    uow = InMemoryUnitOfWork(NOW)
    with pytest.raises(ProductNotFound):
        write(uow)
    assert uow.events == []


# ---- import -------------------------------------------------------------------------------------

def test_an_import_creates_updates_and_counts_unchanged_with_substitutes_named_in_the_same_import():
    uow = InMemoryUnitOfWork(NOW)
    handlers.create_product(uow, towel("OLD"), "manager:1")
    handlers.create_product(uow, towel("SAME"), "manager:1")
    uow.events.clear()
    uow.clock = LATER
    plan = handlers.import_products(uow, [
        towel("NEW-1", substitutes=["NEW-2", "OLD"]),  # NEW-2 comes later in this import
        towel("OLD", name="Renamed", status="active"),
        towel("SAME"),
        towel("NEW-2", status="active"),
    ], "import:1")
    assert ([p.sku for p in plan.created], [p.sku for p in plan.updated], plan.unchanged) == (
        ["NEW-1", "NEW-2"], ["OLD"], 1)
    assert uow.products["NEW-1"].substitutes == ("NEW-2", "OLD")
    assert (uow.products["OLD"].name, uow.products["OLD"].status, uow.products["OLD"].version) == (
        "Renamed", "active", 2)
    assert uow.written_by == {"NEW-1": "import:1", "NEW-2": "import:1", "OLD": "import:1", "SAME": "manager:1"}
    assert {p.updated_at for p in plan.created + plan.updated} == {LATER}  # one instant for the import
    assert event_types(uow) == [("product_created", "NEW-1"), ("product_created", "NEW-2"),
                                ("product_updated", "OLD")]


def test_an_import_is_all_or_nothing():
    uow = InMemoryUnitOfWork(NOW)
    handlers.create_product(uow, towel("GONE", status="active"), "manager:1")
    handlers.discontinue_product(uow, "GONE", "manager:1")
    before, events = dict(uow.products), list(uow.events)
    with pytest.raises(InvalidProduct) as caught:
        handlers.import_products(uow, [
            towel("FINE"),
            towel("GONE", status="active"),
            towel("LOOP", substitutes=["LOOP", "NOPE"]),
            towel("FINE"),
        ], "import:1")
    assert [e["field"] for e in caught.value.errors] == [
        "products[3].sku", "products[1].status", "products[2].substitutes[0]", "products[2].substitutes[1]"]
    assert "nothing was written" in caught.value.detail
    assert uow.products == before and uow.events == events


# ---- reads --------------------------------------------------------------------------------------

def test_reads_batches_pages_and_the_distributors_view():
    uow = InMemoryUnitOfWork(NOW)
    handlers.create_product(uow, towel("A-1", status="active"), "manager:1")
    handlers.create_product(uow, towel("A-2"), "manager:1")
    handlers.create_product(uow, towel("A-3", status="active", lifecycle="classic"), "manager:1")
    handlers.discontinue_product(uow, "A-3", "manager:1")
    handlers.create_product(uow, towel("A-4", status="active", lifecycle="classic"), "manager:1")

    assert handlers.product(uow, "A-2").status == "draft"
    assert list(handlers.products(uow, ["A-2", "NOPE", "A-1"])) == ["A-1", "A-2"]
    assert [p.sku for p in handlers.product_page(uow, {}, "A-1", 2)] == ["A-2", "A-3", "A-4"]
    assert [p.sku for p in handlers.product_page(uow, {"status": "draft"}, None, 10)] == ["A-2"]
    assert [p.sku for p in handlers.catalog_page(uow, {"status": "draft"}, None, 10)] == ["A-1", "A-4"]

    assert handlers.catalog_product(uow, "A-1").sku == "A-1"
    for hidden in ("A-2", "A-3", "NOPE"):
        with pytest.raises(ProductNotFound):
            handlers.catalog_product(uow, hidden)


def test_the_assortment_counts_active_products_only():
    uow = InMemoryUnitOfWork(NOW)
    assert handlers.assortment(uow, Decimal("0.2")).active == 0
    handlers.create_product(uow, towel("N-1", status="active"), "manager:1")
    handlers.create_product(uow, towel("N-2"), "manager:1")
    for sku in ("C-1", "C-2", "C-3"):
        handlers.create_product(uow, towel(sku, status="active", lifecycle="classic"), "manager:1")
    report = handlers.assortment(uow, Decimal("0.3"))
    assert (report.active, report.new, report.classic, report.new_ratio, report.target_new_ratio) == (
        4, 1, 3, Decimal("0.2500"), Decimal("0.3"))
