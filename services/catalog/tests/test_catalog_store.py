"""The catalog's SQL against a real PostgreSQL."""
from datetime import UTC, datetime

import pytest

from catalog import domain, store
from catalog.errors import ProductExists
from common.db import transaction

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def make(sku, **kw):
    fields = {"sku": sku, "name": kw.pop("name", sku.lower()), "category": kw.pop("category", "towels"),
              "lifecycle": kw.pop("lifecycle", "classic"), **kw}
    return domain.new_product(fields, NOW)


def test_a_product_round_trips_with_attributes_and_substitutes(catalog_db):
    p = make("A-1", attributes={"colour": "white", "gsm": 600}, substitutes=["A-2"], hero=True)
    with transaction(catalog_db) as cur:
        store.insert(cur, p, "sales:1")
    with transaction(catalog_db) as cur:
        assert store.get(cur, "A-1") == p


def test_a_duplicate_sku_is_a_conflict_and_the_transaction_survives(catalog_db):
    with transaction(catalog_db) as cur:
        store.insert(cur, make("A-1"), "t")
        with pytest.raises(ProductExists):
            store.insert(cur, make("A-1"), "t")
        store.insert(cur, make("A-2"), "t")
    with transaction(catalog_db) as cur:
        assert set(store.get_many(cur, ["A-1", "A-2"])) == {"A-1", "A-2"}


def test_filters_and_keyset_pages(catalog_db):
    with transaction(catalog_db) as cur:
        store.upsert_many(cur, [
            make("SHEET-1", name="Percale sheet", category="bedding", status="active"),
            make("SHEET-2", name="Sateen sheet", category="bedding", lifecycle="new"),
            make("TOWEL-1", name="Bath towel", status="active"),
            make("50%_OFF", name="literal percent"),
        ], "t")
    with transaction(catalog_db) as cur:
        assert [p.sku for p in store.list_page(cur, {"category": "bedding"}, None, 10)] == [
            "SHEET-1", "SHEET-2"]
        assert [p.sku for p in store.list_page(cur, {"q": "SHEET"}, None, 10)] == ["SHEET-1", "SHEET-2"]
        assert [p.sku for p in store.list_page(cur, {"q": "towel"}, None, 10)] == ["TOWEL-1"]
        assert [p.sku for p in store.list_page(cur, {"q": "%"}, None, 10)] == ["50%_OFF"]
        assert [p.sku for p in store.list_page(cur, {"status": "active", "lifecycle": "classic"},
                                               None, 10)] == ["SHEET-1", "TOWEL-1"]
        first = store.list_page(cur, {}, None, 2)
        assert [p.sku for p in first] == ["50%_OFF", "SHEET-1", "SHEET-2"]  # limit + 1
        assert [p.sku for p in store.list_page(cur, {}, "SHEET-1", 2)] == ["SHEET-2", "TOWEL-1"]


def test_upsert_updates_existing_rows(catalog_db):
    with transaction(catalog_db) as cur:
        store.upsert_many(cur, [make("A"), make("B")], "t")
    renamed = domain.apply_changes(make("A"), {"name": "renamed", "status": "active"}, NOW)
    with transaction(catalog_db) as cur:
        store.upsert_many(cur, [renamed, make("C", lifecycle="new", status="active")], "t")
    with transaction(catalog_db) as cur:
        assert store.get(cur, "A").name == "renamed"
        assert store.lifecycle_counts(cur) == {"classic": 1, "new": 1}
