"""Catalog entrypoints: load → read → decide (domain) → write (+ outbox) → dump."""
from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from catalog import domain, store
from catalog.errors import InvalidProduct, ProductNotFound
from catalog.schemas import (
    PRODUCT,
    AssortmentSchema,
    ImportSchema,
    ProductCreateSchema,
    ProductPatchSchema,
    ProductQuerySchema,
)
from common.config import Settings, setting
from common.db import Database
from common.entrypoints import rpc
from common.errors import ServiceError
from common.health import check_database
from common.logs import WorkerLogging
from common.outbox import OutboxRelay, add_events, new_event
from common.pagination import decode_cursor, page
from common.schemas import load


def _now() -> datetime:
    return datetime.now(UTC)


class Config:
    """Reads this service's settings from the container config when it starts."""

    def __init__(self, container_config: dict):
        self.target_new_ratio = Decimal(str(setting(container_config, "TARGET_NEW_RATIO", "0.2")))


class CatalogService:
    name = "catalog"

    db = Database("catalog")
    log = WorkerLogging()
    outbox = OutboxRelay()
    config = Settings()

    @staticmethod
    def _event(event_type: str, product: domain.Product):
        return new_event(event_type, {"product": PRODUCT.dump(product)})

    @rpc
    def health(self) -> dict:
        return {"service": self.name, **check_database(self.db)}

    @rpc
    def echo(self, payload):
        """The bare RPC round trip the benchmarks use as their floor."""
        return payload

    @rpc(expected_exceptions=ServiceError)
    def create_product(self, payload: dict, actor: str) -> dict:
        fields = load(ProductCreateSchema, payload)
        cur = self.db.cursor()
        known = store.existing_skus(cur, fields.get("substitutes", []))
        errors = domain.substitute_errors(fields["sku"], fields.get("substitutes", []), known)
        if errors:
            raise InvalidProduct(errors[0]["message"], errors)
        product = domain.new_product(fields, _now())
        store.insert(cur, product, actor)
        add_events(cur, [self._event("product_created", product)])
        return PRODUCT.dump(product)

    @rpc(expected_exceptions=ServiceError)
    def get_product(self, sku: str) -> dict:
        product = store.get(self.db.cursor(), sku)
        if product is None:
            raise ProductNotFound.for_sku(sku)
        return PRODUCT.dump(product)

    @rpc(expected_exceptions=ServiceError)
    def get_products(self, skus: list[str]) -> dict:
        """Batch read for other services: ``{sku: product}`` for the SKUs that exist."""
        return {sku: PRODUCT.dump(p) for sku, p in store.get_many(self.db.cursor(), skus).items()}

    @rpc(expected_exceptions=ServiceError)
    def update_product(self, sku: str, payload: dict, actor: str) -> dict:
        changes = load(ProductPatchSchema, payload)
        cur = self.db.cursor()
        product = store.get(cur, sku, for_update=True)
        if product is None:
            raise ProductNotFound.for_sku(sku)
        if "substitutes" in changes:
            known = store.existing_skus(cur, changes["substitutes"])
            errors = domain.substitute_errors(sku, changes["substitutes"], known)
            if errors:
                raise InvalidProduct(errors[0]["message"], errors)
        updated = domain.apply_changes(product, changes, _now())
        if updated is not product:
            store.update(cur, updated, actor)
            add_events(cur, [self._event("product_updated", updated)])
        return PRODUCT.dump(updated)

    @rpc(expected_exceptions=ServiceError)
    def discontinue_product(self, sku: str, actor: str) -> dict:
        cur = self.db.cursor()
        product = store.get(cur, sku, for_update=True)
        if product is None:
            raise ProductNotFound.for_sku(sku)
        discontinued = domain.discontinue(product, _now())
        store.update(cur, discontinued, actor)
        add_events(cur, [self._event("product_discontinued", discontinued)])
        return PRODUCT.dump(discontinued)

    @rpc(expected_exceptions=ServiceError)
    def list_products(self, query: dict) -> dict:
        params = load(ProductQuerySchema, query)
        return self._page(params)

    @rpc(expected_exceptions=ServiceError)
    def list_catalog(self, query: dict) -> dict:
        """What a distributor may see: active products only."""
        params = load(ProductQuerySchema, query)
        params["status"] = domain.ACTIVE
        return self._page(params)

    @rpc(expected_exceptions=ServiceError)
    def get_catalog_product(self, sku: str) -> dict:
        product = store.get(self.db.cursor(), sku)
        if product is None or not product.sellable:
            raise ProductNotFound.for_sku(sku)
        return PRODUCT.dump(product)

    def _page(self, params: dict) -> dict:
        after = decode_cursor(params.pop("cursor"), str)
        limit = params.pop("limit")
        rows = store.list_page(self.db.cursor(), params, after, limit)
        result = page(rows, limit, key=lambda p: p.sku)
        result["items"] = PRODUCT.dump(result["items"], many=True)
        return result

    @rpc(expected_exceptions=ServiceError)
    def import_products(self, payload: dict, actor: str) -> dict:
        rows = load(ImportSchema, payload)["products"]
        cur = self.db.cursor()
        skus = {row["sku"] for row in rows}
        for row in rows:
            skus.update(row.get("substitutes", ()))
        existing = store.get_many(cur, skus, for_update=True)
        plan = domain.plan_import(rows, existing, _now())
        store.upsert_many(cur, plan.created + plan.updated, actor)
        add_events(cur, [self._event("product_created", p) for p in plan.created]
                   + [self._event("product_updated", p) for p in plan.updated])
        return {"created": len(plan.created), "updated": len(plan.updated),
                "unchanged": plan.unchanged}

    @rpc(expected_exceptions=ServiceError)
    def get_assortment(self) -> dict:
        counts = store.lifecycle_counts(self.db.cursor())
        target = Config(self.config).target_new_ratio
        report = domain.assortment(counts.get(domain.NEW, 0), counts.get(domain.CLASSIC, 0), target)
        return AssortmentSchema().dump(report)
