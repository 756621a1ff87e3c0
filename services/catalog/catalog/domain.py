"""Pure catalog rules: no I/O, time passed in.

It raises the catalog's own exceptions (``catalog.errors``, plain Python) so a rule and its refusal
read together.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from catalog.errors import IllegalStatusChange, InvalidProduct

DRAFT, ACTIVE, DISCONTINUED = "draft", "active", "discontinued"
NEW, CLASSIC = "new", "classic"
TARGET_NEW_RATIO = Decimal("0.2")


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    category: str
    lifecycle: str
    hero: bool = False
    attributes: Mapping[str, Any] = field(default_factory=dict)
    substitutes: tuple[str, ...] = ()
    status: str = DRAFT
    version: int = 1
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def sellable(self) -> bool:
        """Only active products are sold, quoted or routed."""
        return self.status == ACTIVE


def substitute_errors(sku: str, substitutes: Iterable[str], known_skus: set[str],
                      field_name: str = "substitutes") -> list[dict[str, str]]:
    """Substitutes must name existing SKUs and never the product itself."""
    errors = []
    for i, sub in enumerate(substitutes):
        if sub == sku:
            errors.append({"field": f"{field_name}[{i}]",
                           "message": "a product cannot be its own substitute"})
        elif sub not in known_skus:
            errors.append({"field": f"{field_name}[{i}]", "message": f"unknown SKU {sub!r}"})
    return errors


def new_product(fields_: Mapping[str, Any], now: datetime) -> Product:
    status = fields_.get("status", DRAFT)
    if status not in (DRAFT, ACTIVE):
        raise InvalidProduct.for_field("status", "a new product is draft or active")
    return Product(
        sku=fields_["sku"], name=fields_["name"], category=fields_["category"],
        lifecycle=fields_["lifecycle"], hero=fields_.get("hero", False),
        attributes=dict(fields_.get("attributes", {})),
        substitutes=tuple(fields_.get("substitutes", ())), status=status,
        version=1, created_at=now, updated_at=now,
    )


def next_status(current: str, requested: str) -> str:
    """The status a PATCH may set: draft → active; the same status is a no-op; anything else is 409."""
    if requested == current:
        return current
    if current == DISCONTINUED:
        raise IllegalStatusChange("a discontinued product is final; its status cannot change",
                                  [{"field": "status", "message": "product is discontinued"}])
    if (current, requested) == (DRAFT, ACTIVE):
        return ACTIVE
    raise IllegalStatusChange(
        f"status cannot go from {current} to {requested}",
        [{"field": "status", "message": f"illegal change {current} -> {requested}"}])


def apply_changes(product: Product, changes: Mapping[str, Any], now: datetime) -> Product:
    """A product with ``changes`` applied; unchanged input returns the product as it was."""
    updates = dict(changes)
    if "status" in updates:
        updates["status"] = next_status(product.status, updates["status"])
    if "substitutes" in updates:
        updates["substitutes"] = tuple(updates["substitutes"])
    if "attributes" in updates:
        updates["attributes"] = dict(updates["attributes"])
    if all(getattr(product, k) == v for k, v in updates.items()):
        return product
    return dataclasses.replace(product, **updates, version=product.version + 1, updated_at=now)


def discontinue(product: Product, now: datetime) -> Product:
    if product.status == DISCONTINUED:
        raise IllegalStatusChange(f"product {product.sku!r} is already discontinued")
    return dataclasses.replace(product, status=DISCONTINUED, version=product.version + 1,
                               updated_at=now)


@dataclass(frozen=True)
class ImportPlan:
    created: tuple[Product, ...]
    updated: tuple[Product, ...]
    unchanged: int


def plan_import(rows: list[Mapping[str, Any]], existing: Mapping[str, Product],
                now: datetime) -> ImportPlan:
    """Upsert by sku, all or nothing: every bad row is named as ``products[i].<field>``.

    Substitutes may name existing SKUs or SKUs in the same import. A row for an existing product
    leaves its status alone unless it gives one, and then only legal changes pass.
    """
    errors: list[dict[str, str]] = []
    seen: dict[str, int] = {}
    for i, row in enumerate(rows):
        if row["sku"] in seen:
            errors.append({"field": f"products[{i}].sku",
                           "message": f"duplicate of products[{seen[row['sku']]}]"})
        else:
            seen[row["sku"]] = i
    known = set(existing) | set(seen)
    created, updated, unchanged = [], [], 0
    for i, row in enumerate(rows):
        errors.extend(substitute_errors(row["sku"], row.get("substitutes", ()), known,
                                        f"products[{i}].substitutes"))
        current = existing.get(row["sku"])
        try:
            if current is None:
                created.append(new_product(row, now))
            else:
                changes = {k: v for k, v in row.items() if k != "sku"}
                after = apply_changes(current, changes, now)
                if after is current:
                    unchanged += 1
                else:
                    updated.append(after)
        except (IllegalStatusChange, InvalidProduct) as exc:
            for err in exc.errors or [{"field": "status", "message": exc.detail}]:
                errors.append({"field": f"products[{i}].{err['field']}", "message": err["message"]})
    if errors:
        raise InvalidProduct(f"{len(errors)} problem(s) in the import; nothing was written", errors)
    return ImportPlan(tuple(created), tuple(updated), unchanged)


@dataclass(frozen=True)
class Assortment:
    active: int
    new: int
    classic: int
    new_ratio: Decimal
    target_new_ratio: Decimal


def assortment(new: int, classic: int, target_new_ratio: Decimal = TARGET_NEW_RATIO) -> Assortment:
    """The real new/classic mix of active products against the target (ratios 0–1, 4 places)."""
    active = new + classic
    ratio = (Decimal(new) / Decimal(active)) if active else Decimal(0)
    return Assortment(active, new, classic,
                      ratio.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP), target_new_ratio)
