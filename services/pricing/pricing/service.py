"""Pricing entrypoints: each loads its arguments by the contract's schemas, hands them to its
handler (pricing/handlers.py) with a unit of work on this worker's transaction, and dumps the answer.
The rules are in domain.py, the SQL in store.py."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import catalog.errors
import common.errors
import distributors.errors
from catalog import events as catalog_events
from common.config import Settings, setting
from common.db import Database
from common.entrypoints import event_handler, rpc
from common.errors import ServiceError, make_deserializable
from common.health import check_database
from common.logs import WorkerLogging
from common.outbox import OutboxRelay
from common.pagination import decode_cursor, page
from common.rpc import RpcProxy
from common.schemas import load
from distributors import events as distributors_events
from pricing import domain, handlers
from pricing.book import Book
from pricing.schemas import (
    GreenChannelSchema,
    ObservationResultSchema,
    ObservationSchema,
    PriceSetSchema,
    PricesSchema,
    PromotionCreateSchema,
    PromotionQuerySchema,
    PromotionRejectSchema,
    PromotionSchema,
    RetailPriceSchema,
    RetailQuerySchema,
    TierSchema,
    TierSetSchema,
    UnitPriceSchema,
    ViolationQuerySchema,
    load_quote_request,
)
from pricing.unit_of_work import SqlUnitOfWork
from pricing.writer import Quotes

# what the services pricing calls raise comes back as their own exceptions, not RemoteError
make_deserializable(common.errors, catalog.errors, distributors.errors)

PRICES = PricesSchema()
PROMOTION = PromotionSchema()
TIER = TierSchema()
GREEN_CHANNEL = GreenChannelSchema()
RETAIL_PRICE = RetailPriceSchema()
OBSERVATION = ObservationResultSchema()
UNIT_PRICE = UnitPriceSchema()


def _now() -> datetime:
    return datetime.now(UTC)


class PricingService:
    name = "pricing"

    db = Database("pricing")
    log = WorkerLogging()
    config = Settings()
    outbox = OutboxRelay()
    book = Book()
    quotes = Quotes()
    catalog = RpcProxy("catalog")
    distributors = RpcProxy("distributors")

    def _uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.db, catalog=self.catalog, distributors=self.distributors, book=self.book,
                             quotes=self.quotes)

    @rpc
    def health(self) -> dict:
        return {"service": self.name, **check_database(self.db)}

    # ---- read models: a miss is resolved by asking the owner, never refused ------------------------

    @event_handler("catalog", "product_created")
    def on_product_created(self, payload: dict) -> None:
        received = catalog_events.PRODUCT_CREATED.receive(payload)
        handlers.apply_product(self._uow(), received.event_id, received.event.product)

    @event_handler("catalog", "product_updated")
    def on_product_updated(self, payload: dict) -> None:
        received = catalog_events.PRODUCT_UPDATED.receive(payload)
        handlers.apply_product(self._uow(), received.event_id, received.event.product)

    @event_handler("catalog", "product_discontinued")
    def on_product_discontinued(self, payload: dict) -> None:
        received = catalog_events.PRODUCT_DISCONTINUED.receive(payload)
        handlers.apply_product(self._uow(), received.event_id, received.event.product)

    @event_handler("distributors", "distributor_approved")
    def on_distributor_approved(self, payload: dict) -> None:
        received = distributors_events.DISTRIBUTOR_APPROVED.receive(payload)
        handlers.apply_distributor(self._uow(), received.event_id, received.event.distributor)

    @event_handler("distributors", "distributor_suspended")
    def on_distributor_suspended(self, payload: dict) -> None:
        received = distributors_events.DISTRIBUTOR_SUSPENDED.receive(payload)
        handlers.apply_distributor(self._uow(), received.event_id, received.event.distributor)

    @event_handler("distributors", "distributor_reinstated")
    def on_distributor_reinstated(self, payload: dict) -> None:
        received = distributors_events.DISTRIBUTOR_REINSTATED.receive(payload)
        handlers.apply_distributor(self._uow(), received.event_id, received.event.distributor)

    @event_handler("distributors", "distributor_terminated")
    def on_distributor_terminated(self, payload: dict) -> None:
        received = distributors_events.DISTRIBUTOR_TERMINATED.receive(payload)
        handlers.apply_distributor(self._uow(), received.event_id, received.event.distributor)

    @event_handler("distributors", "distributor_tier_changed")
    def on_distributor_tier_changed(self, payload: dict) -> None:
        received = distributors_events.DISTRIBUTOR_TIER_CHANGED.receive(payload)
        handlers.apply_distributor(self._uow(), received.event_id, received.event.distributor)

    # ---- list prices --------------------------------------------------------------------------

    @rpc(expected_exceptions=ServiceError)
    def set_price(self, sku: str, payload: dict, actor: str) -> dict:
        fields = load(PriceSetSchema, payload)
        return PRICES.dump(handlers.set_price(self._uow(), sku, fields, actor, _now()))

    @rpc(expected_exceptions=ServiceError)
    def get_prices(self, sku: str) -> dict:
        return PRICES.dump(handlers.prices(self._uow(), sku, _now()))

    @rpc(expected_exceptions=ServiceError)
    def get_retail_price(self, sku: str, query: dict) -> dict:
        at = load(RetailQuerySchema, query).get("at") or _now()
        return RETAIL_PRICE.dump(handlers.retail_prices(self._uow(), [sku], at)[sku])

    @rpc(expected_exceptions=ServiceError)
    def get_retail_prices(self, skus: list[str], at: str | None = None) -> dict:
        """Batch: ``{sku: retail}`` for order pricing; SKUs with no price in force are left out."""
        moment = datetime.fromisoformat(at) if at else _now()
        return {sku: RETAIL_PRICE.dump(retail)
                for sku, retail in handlers.retail_prices(self._uow(), skus, moment, missing_ok=True).items()}

    # ---- tiers and the green channel ----------------------------------------------------------

    @rpc(expected_exceptions=ServiceError)
    def list_tiers(self) -> dict:
        return {"items": TIER.dump(handlers.tiers(self._uow()), many=True), "next_cursor": None}

    @rpc(expected_exceptions=ServiceError)
    def set_tier(self, name: str, payload: dict, actor: str) -> dict:
        fields = load(TierSetSchema, payload)
        return TIER.dump(handlers.set_tier(self._uow(), name, fields, actor, _now()))

    @rpc(expected_exceptions=ServiceError)
    def get_green_channel(self) -> dict:
        return GREEN_CHANNEL.dump(handlers.green_channel(self._uow()))

    @rpc(expected_exceptions=ServiceError)
    def set_green_channel(self, payload: dict, actor: str) -> dict:
        fields = load(GreenChannelSchema, payload)
        limits = domain.GreenChannel(fields["max_discount_pct"], fields["max_duration_hours"])
        return GREEN_CHANNEL.dump(handlers.set_green_channel(self._uow(), limits, actor, _now()))

    # ---- promotions ---------------------------------------------------------------------------

    @rpc(expected_exceptions=ServiceError)
    def create_promotion(self, payload: dict, actor: str, role: str) -> dict:
        fields = load(PromotionCreateSchema, payload)
        return PROMOTION.dump(handlers.create_promotion(self._uow(), fields, actor, role, _now()))

    @rpc(expected_exceptions=ServiceError)
    def list_promotions(self, query: dict) -> dict:
        params = load(PromotionQuerySchema, query)
        rows = handlers.promotions(self._uow(), params.get("status"), decode_cursor(params["cursor"], int),
                                   params["limit"])
        result = page(rows, params["limit"], key=lambda p: p.id)
        result["items"] = PROMOTION.dump(result["items"], many=True)
        return result

    @rpc(expected_exceptions=ServiceError)
    def approve_promotion(self, promotion_id, actor: str) -> dict:
        return PROMOTION.dump(handlers.approve_promotion(self._uow(), promotion_id, actor, _now()))

    @rpc(expected_exceptions=ServiceError)
    def reject_promotion(self, promotion_id, payload: dict, actor: str) -> dict:
        reason = load(PromotionRejectSchema, payload)["reason"]
        return PROMOTION.dump(handlers.reject_promotion(self._uow(), promotion_id, reason, actor, _now()))

    # ---- distributors' prices -----------------------------------------------------------------

    @rpc(expected_exceptions=ServiceError)
    def create_quote(self, distributor_id, payload: dict) -> dict:
        """Every line priced from one snapshot at one instant (handlers.create_quote)."""
        request = load_quote_request(payload)
        lines = [(line["sku"], line["qty"]) for line in request["lines"]]
        validity = timedelta(minutes=setting(self.config, "QUOTE_VALIDITY_MINUTES", 15))
        return handlers.create_quote(self._uow(), distributor_id, lines, _now(), validity)

    @rpc(expected_exceptions=ServiceError)
    def get_unit_prices(self, distributor_id, skus: list[str]) -> dict:
        """One unit of each SKU at the caller's tier (catalog views); unpriced SKUs are left out."""
        return {sku: UNIT_PRICE.dump(price)
                for sku, price in handlers.unit_prices(self._uow(), distributor_id, skus, _now()).items()}

    @rpc(expected_exceptions=ServiceError)
    def get_catalog_product(self, distributor_id, sku: str) -> dict:
        """One active product with the caller's unit price, read in one statement from this
        service's read models (the product as the catalog's events carry it): one call for the
        gateway instead of two. A SKU not seen yet is asked of the catalog."""
        product = handlers.catalog_product(self._uow(), distributor_id, sku, _now())
        return {**product.document, "price": UNIT_PRICE.dump(product.price) if product.price is not None else None}

    @rpc(expected_exceptions=ServiceError)
    def get_catalog_view(self, distributor_id, sku: str, fresh: bool = False) -> dict:
        """``get_catalog_product`` with ``valid_until``: the instant a scheduled price or promotion
        changes it (None: nothing scheduled), for a caller that keeps a copy (the gateway).
        ``fresh``: the product and distributor are read from their owners first (the caller knows
        of a change acknowledged a moment ago)."""
        product, until = handlers.catalog_view(self._uow(), distributor_id, sku, _now(), bool(fresh))
        view = {**product.document, "price": UNIT_PRICE.dump(product.price) if product.price is not None else None}
        return {"product": view, "valid_until": until.isoformat() if until else None}

    # ---- parity -------------------------------------------------------------------------------

    @rpc(expected_exceptions=ServiceError)
    def record_observation(self, payload: dict, actor: str) -> dict:
        fields = load(ObservationSchema, payload)
        tolerance = Decimal(str(setting(self.config, "PARITY_TOLERANCE_PCT", "0")))
        return OBSERVATION.dump(handlers.record_observation(self._uow(), fields, actor, _now(), tolerance))

    @rpc(expected_exceptions=ServiceError)
    def list_violations(self, query: dict) -> dict:
        params = load(ViolationQuerySchema, query)
        after = decode_cursor(params.pop("cursor"), (str, datetime, int))
        limit = params.pop("limit")
        rows = handlers.violations(self._uow(), params, after, limit)
        result = page(rows, limit, key=lambda o: [o.seller, o.observed_at.isoformat(), o.id])
        result["items"] = OBSERVATION.dump(result["items"], many=True)
        return result
