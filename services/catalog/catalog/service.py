"""Catalog entrypoints: each loads its arguments by the contract's schemas, hands them to its
handler (catalog/handlers.py) with a unit of work on this worker's transaction, and dumps the
answer. The rules are in domain.py, the SQL in store.py."""
from __future__ import annotations

from decimal import Decimal

from catalog import handlers
from catalog.schemas import (
    PRODUCT,
    AssortmentSchema,
    ImportSchema,
    ProductCreateSchema,
    ProductPatchSchema,
    ProductQuerySchema,
)
from catalog.unit_of_work import SqlUnitOfWork
from common.config import Settings, setting
from common.db import Database
from common.entrypoints import rpc
from common.errors import ServiceError
from common.health import check_database
from common.logs import WorkerLogging
from common.outbox import OutboxRelay
from common.pagination import decode_cursor, page
from common.schemas import load

ASSORTMENT = AssortmentSchema()


class Config:
    """Reads this service's settings from the container config when it starts."""

    def __init__(self, container_config: dict):
        self.target_new_ratio = Decimal(str(setting(container_config, "TARGET_NEW_RATIO", "0.2")))


def _page(rows: list, limit: int) -> dict:
    result = page(rows, limit, key=lambda p: p.sku)
    result["items"] = PRODUCT.dump(result["items"], many=True)
    return result


class CatalogService:
    name = "catalog"

    db = Database("catalog")
    log = WorkerLogging()
    outbox = OutboxRelay()
    config = Settings()

    def _uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.db)

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
        return PRODUCT.dump(handlers.create_product(self._uow(), fields, actor))

    @rpc(expected_exceptions=ServiceError)
    def get_product(self, sku: str) -> dict:
        return PRODUCT.dump(handlers.product(self._uow(), sku))

    @rpc(expected_exceptions=ServiceError)
    def get_products(self, skus: list[str]) -> dict:
        """Batch read for other services: ``{sku: product}`` for the SKUs that exist."""
        return {sku: PRODUCT.dump(p) for sku, p in handlers.products(self._uow(), skus).items()}

    @rpc(expected_exceptions=ServiceError)
    def update_product(self, sku: str, payload: dict, actor: str) -> dict:
        changes = load(ProductPatchSchema, payload)
        return PRODUCT.dump(handlers.update_product(self._uow(), sku, changes, actor))

    @rpc(expected_exceptions=ServiceError)
    def discontinue_product(self, sku: str, actor: str) -> dict:
        return PRODUCT.dump(handlers.discontinue_product(self._uow(), sku, actor))

    @rpc(expected_exceptions=ServiceError)
    def list_products(self, query: dict) -> dict:
        params = load(ProductQuerySchema, query)
        after, limit = decode_cursor(params.pop("cursor"), str), params.pop("limit")
        return _page(handlers.product_page(self._uow(), params, after, limit), limit)

    @rpc(expected_exceptions=ServiceError)
    def list_catalog(self, query: dict) -> dict:
        """What a distributor may see: active products only."""
        params = load(ProductQuerySchema, query)
        after, limit = decode_cursor(params.pop("cursor"), str), params.pop("limit")
        return _page(handlers.catalog_page(self._uow(), params, after, limit), limit)

    @rpc(expected_exceptions=ServiceError)
    def get_catalog_product(self, sku: str) -> dict:
        return PRODUCT.dump(handlers.catalog_product(self._uow(), sku))

    @rpc(expected_exceptions=ServiceError)
    def import_products(self, payload: dict, actor: str) -> dict:
        rows = load(ImportSchema, payload)["products"]
        plan = handlers.import_products(self._uow(), rows, actor)
        return {"created": len(plan.created), "updated": len(plan.updated), "unchanged": plan.unchanged}

    @rpc(expected_exceptions=ServiceError)
    def get_assortment(self) -> dict:
        target = Config(self.config).target_new_ratio
        return ASSORTMENT.dump(handlers.assortment(self._uow(), target))
