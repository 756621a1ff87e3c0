"""The catalog's service layer: one handler per use case, given a unit of work
(catalog/unit_of_work.py) and plain arguments — fields already loaded by the contract's schema, the
caller's SKUs and actor. A handler reads through the unit of work, decides with domain.py at the
unit of work's clock, writes, announces events and returns domain values; service.py dumps them."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from catalog import domain
from catalog.domain import Assortment, ImportPlan, Product
from catalog.errors import InvalidProduct, ProductNotFound
from catalog.events import ProductCreated, ProductDiscontinued, ProductUpdated
from catalog.schemas import PRODUCT


def _refuse(errors: list[dict[str, str]]) -> None:
    if errors:
        raise InvalidProduct(errors[0]["message"], errors)


def _found(uow, sku: str, for_update: bool = False) -> Product:
    product = uow.get(sku, for_update=for_update)
    if product is None:
        raise ProductNotFound.for_sku(sku)
    return product


# ---- writes -------------------------------------------------------------------------------------


def create_product(uow, fields: Mapping[str, Any], actor: str) -> Product:
    """A new product, draft or active, whose substitutes exist; announced as ``product_created``."""
    substitutes = fields.get("substitutes", [])
    _refuse(domain.substitute_errors(fields["sku"], substitutes, uow.existing_skus(substitutes)))
    product = domain.new_product(fields, uow.now())
    uow.insert(product, actor)
    uow.add_events([ProductCreated(PRODUCT.dump(product))])
    return product


def update_product(uow, sku: str, changes: Mapping[str, Any], actor: str) -> Product:
    """``changes`` applied under the row's lock; a change that changes nothing writes and announces
    nothing, anything else is announced as ``product_updated``."""
    product = _found(uow, sku, for_update=True)
    if "substitutes" in changes:
        _refuse(domain.substitute_errors(sku, changes["substitutes"], uow.existing_skus(changes["substitutes"])))
    updated = domain.apply_changes(product, changes, uow.now())
    if updated is not product:
        uow.update(updated, actor)
        uow.add_events([ProductUpdated(PRODUCT.dump(updated))])
    return updated


def discontinue_product(uow, sku: str, actor: str) -> Product:
    """Final: announced as ``product_discontinued``; a second time is a conflict."""
    discontinued = domain.discontinue(_found(uow, sku, for_update=True), uow.now())
    uow.update(discontinued, actor)
    uow.add_events([ProductDiscontinued(PRODUCT.dump(discontinued))])
    return discontinued


def import_products(uow, rows: list[Mapping[str, Any]], actor: str) -> ImportPlan:
    """Upsert by SKU, all or nothing (domain.plan_import), under the locks of every SKU the rows
    name; each created product announced as ``product_created``, each changed one as
    ``product_updated``."""
    skus = {row["sku"] for row in rows}
    for row in rows:
        skus.update(row.get("substitutes", ()))
    plan = domain.plan_import(rows, uow.get_many(skus, for_update=True), uow.now())
    uow.upsert_many(plan.created + plan.updated, actor)
    uow.add_events([ProductCreated(PRODUCT.dump(p)) for p in plan.created]
                   + [ProductUpdated(PRODUCT.dump(p)) for p in plan.updated])
    return plan


# ---- reads --------------------------------------------------------------------------------------


def product(uow, sku: str) -> Product:
    return _found(uow, sku)


def products(uow, skus: Iterable[str]) -> dict[str, Product]:
    """``{sku: product}`` for the SKUs that exist (one statement: no BEGIN/COMMIT)."""
    uow.standalone()
    return uow.get_many(skus)


def catalog_product(uow, sku: str) -> Product:
    """What a distributor may see: an active product; any other is not found."""
    found = uow.get(sku)
    if found is None or not found.sellable:
        raise ProductNotFound.for_sku(sku)
    return found


def product_page(uow, filters: Mapping[str, Any], after: str | None, limit: int) -> list[Product]:
    """Products by SKU after the cursor, ``limit + 1`` of them at most (to tell if more remain)."""
    return uow.list_page(dict(filters), after, limit)


def catalog_page(uow, filters: Mapping[str, Any], after: str | None, limit: int) -> list[Product]:
    """What a distributor may see: active products only, whatever status was asked for."""
    return uow.list_page({**filters, "status": domain.ACTIVE}, after, limit)


def assortment(uow, target_new_ratio: Decimal) -> Assortment:
    """The new/classic mix of active products against the target."""
    counts = uow.lifecycle_counts()
    return domain.assortment(counts.get(domain.NEW, 0), counts.get(domain.CLASSIC, 0), target_new_ratio)
