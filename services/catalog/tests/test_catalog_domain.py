"""Catalog rules on plain values: no database, no broker, no mocks."""
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from catalog import domain
from catalog.errors import IllegalStatusChange, InvalidProduct

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)


def product(**overrides) -> domain.Product:
    fields = {"sku": "TWL-1", "name": "Bath towel", "category": "towels", "lifecycle": "classic"}
    fields.update(overrides)
    return domain.new_product(fields, NOW)


def test_new_product_defaults_to_draft_with_no_substitutes():
    p = product()
    assert (p.status, p.hero, dict(p.attributes), p.substitutes, p.version) == (
        "draft", False, {}, (), 1)
    assert not p.sellable


def test_a_new_product_may_start_active_but_not_discontinued():
    assert product(status="active").sellable
    with pytest.raises(InvalidProduct):
        product(status="discontinued")


@pytest.mark.parametrize("current,requested,expected", [
    ("draft", "active", "active"),
    ("draft", "draft", "draft"),
    ("active", "active", "active"),
])
def test_legal_status_changes(current, requested, expected):
    assert domain.next_status(current, requested) == expected


@pytest.mark.parametrize("current,requested", [
    ("active", "draft"),
    ("discontinued", "active"),
    ("discontinued", "draft"),
])
def test_illegal_status_changes_are_conflicts(current, requested):
    with pytest.raises(IllegalStatusChange):
        domain.next_status(current, requested)


def test_changes_bump_version_and_time_but_a_no_op_does_not():
    p = product()
    same = domain.apply_changes(p, {"name": "Bath towel"}, LATER)
    assert same is p
    renamed = domain.apply_changes(p, {"name": "Large bath towel", "status": "active"}, LATER)
    assert (renamed.name, renamed.status, renamed.version, renamed.updated_at) == (
        "Large bath towel", "active", 2, LATER)


def test_discontinue_from_draft_or_active_and_it_is_final():
    for start in ("draft", "active"):
        gone = domain.discontinue(product(status=start) if start == "active" else product(), LATER)
        assert gone.status == "discontinued"
        with pytest.raises(IllegalStatusChange):
            domain.discontinue(gone, LATER)
        with pytest.raises(IllegalStatusChange):
            domain.apply_changes(gone, {"status": "active"}, LATER)


def test_substitutes_must_exist_and_never_be_the_product_itself():
    errors = domain.substitute_errors("A", ["B", "A", "Z"], known_skus={"A", "B"})
    assert errors == [
        {"field": "substitutes[1]", "message": "a product cannot be its own substitute"},
        {"field": "substitutes[2]", "message": "unknown SKU 'Z'"},
    ]


def test_import_creates_updates_and_counts_unchanged():
    existing = {"OLD": domain.new_product(
        {"sku": "OLD", "name": "Old", "category": "c", "lifecycle": "classic"}, NOW),
        "SAME": domain.new_product(
        {"sku": "SAME", "name": "Same", "category": "c", "lifecycle": "classic"}, NOW)}
    rows = [
        {"sku": "NEW", "name": "New", "category": "c", "lifecycle": "new", "substitutes": ["OLD", "LATE"]},
        {"sku": "OLD", "name": "Old renamed", "category": "c", "lifecycle": "classic"},
        {"sku": "SAME", "name": "Same", "category": "c", "lifecycle": "classic"},
        {"sku": "LATE", "name": "Named later in the same import", "category": "c", "lifecycle": "new"},
    ]
    plan = domain.plan_import(rows, existing, LATER)
    assert [p.sku for p in plan.created] == ["NEW", "LATE"]
    assert [(p.sku, p.name, p.version) for p in plan.updated] == [("OLD", "Old renamed", 2)]
    assert plan.unchanged == 1


def test_import_names_every_bad_row_and_plans_nothing():
    gone = domain.discontinue(domain.new_product(
        {"sku": "GONE", "name": "g", "category": "c", "lifecycle": "new"}, NOW), NOW)
    rows = [
        {"sku": "A", "name": "a", "category": "c", "lifecycle": "new"},
        {"sku": "B", "name": "b", "category": "c", "lifecycle": "new", "substitutes": ["B"]},
        {"sku": "A", "name": "dup", "category": "c", "lifecycle": "new"},
        {"sku": "GONE", "name": "g", "category": "c", "lifecycle": "new", "status": "active"},
        {"sku": "C", "name": "c", "category": "c", "lifecycle": "new", "substitutes": ["NOPE"]},
    ]
    with pytest.raises(InvalidProduct) as caught:
        domain.plan_import(rows, {"GONE": gone}, LATER)
    fields = [e["field"] for e in caught.value.errors]
    assert fields == ["products[2].sku", "products[1].substitutes[0]", "products[3].status",
                      "products[4].substitutes[0]"]


@pytest.mark.parametrize("new,classic,ratio", [
    (0, 0, Decimal("0")),
    (1, 4, Decimal("0.2")),
    (1, 2, Decimal("0.3333")),
    (2, 1, Decimal("0.6667")),
    (5, 0, Decimal("1")),
])
def test_assortment_mix_against_the_20_percent_target(new, classic, ratio):
    report = domain.assortment(new, classic)
    assert report.active == new + classic
    assert report.new_ratio == ratio
    assert report.target_new_ratio == Decimal("0.2")
