"""Pricing entrypoints: load → read → decide (domain) → write (+ outbox) → dump."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import distributors.errors

import catalog.errors
import common.errors
from common.config import Settings, setting
from common.db import Database
from common.entrypoints import event_handler, rpc
from common.errors import NotFound, ServiceError, make_deserializable, parse_id
from common.health import check_database
from common.logs import WorkerLogging
from common.outbox import OutboxRelay, add_events, first_delivery, new_event
from common.pagination import decode_cursor, page
from common.rpc import RpcProxy
from common.schemas import load
from pricing import domain, store
from pricing.book import Book
from pricing.errors import (
    InvalidPricing,
    PriceNotFound,
    ProductUnknown,
    PromotionNotFound,
    TierNotFound,
)
from pricing.schemas import (
    GreenChannelSchema,
    ObservationResultSchema,
    ObservationSchema,
    PriceEntrySchema,
    PriceSetSchema,
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
    dump_quote,
    load_quote_request,
)
from pricing.writer import Quotes

# what the services pricing calls raise comes back as their own exceptions, not RemoteError
make_deserializable(common.errors, catalog.errors, distributors.errors)

PRICE_ENTRY = PriceEntrySchema()
PROMOTION = PromotionSchema()
TIER = TierSchema()
OBSERVATION = ObservationResultSchema()
UNIT_PRICE = UnitPriceSchema()


def _now() -> datetime:
    return datetime.now(UTC)


def _quote_body(inputs: domain.QuoteInputs, result: domain.Quote, now: datetime) -> dict:
    return dump_quote(result, distributor_id=inputs.distributor.id, tier=inputs.tier.name,
                      price_version=inputs.price_version, created_at=now)


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

    @rpc
    def health(self) -> dict:
        return {"service": self.name, **check_database(self.db)}

    # ---- read models: a miss is resolved by asking the owner, never refused ------------------------

    def _products(self, cur, skus: list[str], fresh: bool = False) -> dict[str, domain.ProductState]:
        """Products by SKU from the read model; a miss (or every SKU, when ``fresh``) is asked of
        the catalog and written back."""
        known = {} if fresh else store.products(cur, skus)
        missing = [s for s in dict.fromkeys(skus) if s not in known]
        if missing:
            for product in self.catalog.get_products(missing).values():
                store.upsert_product(cur, product)
            known = store.products(cur, skus)
        return known

    def _distributor(self, cur, distributor_id, fresh: bool = False) -> domain.DistributorState | None:
        """The distributor from the read model; a miss (or always, when ``fresh``) is asked of the
        distributors service and written back."""
        try:
            number = int(distributor_id)
        except (TypeError, ValueError):
            return None
        row = None if fresh else store.distributor(cur, number)
        if row is None:
            try:
                profile = self.distributors.get_profile(number)
            except NotFound:
                return None
            store.upsert_distributor(cur, number, profile["tier"], profile["status"],
                                     profile.get("version", 1))
            row = store.distributor(cur, number)
        return row

    @event_handler("catalog", "product_created")
    def on_product_created(self, payload: dict) -> None:
        self._apply_product(payload)

    @event_handler("catalog", "product_updated")
    def on_product_updated(self, payload: dict) -> None:
        self._apply_product(payload)

    @event_handler("catalog", "product_discontinued")
    def on_product_discontinued(self, payload: dict) -> None:
        self._apply_product(payload)

    def _apply_product(self, payload: dict) -> None:
        cur = self.db.cursor()
        if first_delivery(cur, "pricing.products", payload["event_id"]):
            store.upsert_product(cur, payload["product"])

    def _apply_distributor(self, payload: dict) -> None:
        cur = self.db.cursor()
        if first_delivery(cur, "pricing.distributors", payload["event_id"]):
            d = payload["distributor"]
            store.upsert_distributor(cur, d["id"], d["tier"], d["status"], d.get("version", 1))

    @event_handler("distributors", "distributor_approved")
    def on_distributor_approved(self, payload: dict) -> None:
        self._apply_distributor(payload)

    @event_handler("distributors", "distributor_suspended")
    def on_distributor_suspended(self, payload: dict) -> None:
        self._apply_distributor(payload)

    @event_handler("distributors", "distributor_reinstated")
    def on_distributor_reinstated(self, payload: dict) -> None:
        self._apply_distributor(payload)

    @event_handler("distributors", "distributor_terminated")
    def on_distributor_terminated(self, payload: dict) -> None:
        self._apply_distributor(payload)

    @event_handler("distributors", "distributor_tier_changed")
    def on_distributor_tier_changed(self, payload: dict) -> None:
        self._apply_distributor(payload)

    # ---- list prices --------------------------------------------------------------------------

    @rpc(expected_exceptions=ServiceError)
    def set_price(self, sku: str, payload: dict, actor: str) -> dict:
        fields = load(PriceSetSchema, payload)
        now = _now()
        fields.setdefault("effective_from", now)
        errors = domain.price_change_problems(fields["list_price"], fields["floor_price"],
                                              fields["effective_from"], now)
        if errors:
            raise InvalidPricing(f"{errors[0]['field']}: {errors[0]['message']}", errors)
        cur = self.db.cursor()
        # a price change is rare and must see a discontinuation acknowledged a moment ago
        domain.require_priceable(self._products(cur, [sku], fresh=True).get(sku), sku)
        store.insert_price(cur, sku, fields, actor, now)
        version = store.bump_price_version(cur)
        add_events(cur, [new_event("price_changed", {
            "sku": sku, "list_price": str(fields["list_price"]), "floor_price": str(fields["floor_price"]),
            "currency": fields["currency"], "effective_from": fields["effective_from"].isoformat(),
            "price_version": version, "actor": actor})])
        return self._prices_document(cur, sku, now)

    @rpc(expected_exceptions=ServiceError)
    def get_prices(self, sku: str) -> dict:
        cur = self.db.cursor()
        if not store.price_entries(cur, [sku])[sku] and sku not in self._products(cur, [sku]):
            raise ProductUnknown(f"product {sku!r} not found")
        return self._prices_document(cur, sku, _now())

    def _prices_document(self, cur, sku: str, now: datetime) -> dict:
        entries = store.price_entries(cur, [sku])[sku]
        current = domain.price_in_force(entries, now)
        return {"sku": sku, "current": PRICE_ENTRY.dump(current) if current else None,
                "scheduled": PRICE_ENTRY.dump(domain.scheduled_prices(entries, now), many=True),
                "history": PRICE_ENTRY.dump(entries, many=True),
                "price_version": store.price_version(cur)}

    @rpc(expected_exceptions=ServiceError)
    def get_retail_price(self, sku: str, query: dict) -> dict:
        at = load(RetailQuerySchema, query).get("at") or _now()
        return self._retail(self.db.cursor(), [sku], at)[sku]

    @rpc(expected_exceptions=ServiceError)
    def get_retail_prices(self, skus: list[str], at: str | None = None) -> dict:
        """Batch: ``{sku: retail}`` for order pricing; SKUs with no price in force are left out."""
        moment = datetime.fromisoformat(at) if at else _now()
        cur = self.db.cursor()
        result = {}
        for sku, doc in self._retail(cur, skus, moment, missing_ok=True).items():
            result[sku] = doc
        return result

    def _retail(self, cur, skus: list[str], at: datetime, missing_ok: bool = False) -> dict:
        entries = store.price_entries(cur, skus)
        promotions = store.live_promotions(cur, skus, at)
        out = {}
        for sku in skus:
            retail = domain.retail(entries[sku], promotions, sku, at)
            if retail is None:
                if missing_ok:
                    continue
                raise PriceNotFound(f"no list price for {sku!r} in force at {at.isoformat()}")
            out[sku] = RetailPriceSchema().dump(retail)
        return out

    # ---- tiers and the green channel ----------------------------------------------------------

    @rpc(expected_exceptions=ServiceError)
    def list_tiers(self) -> dict:
        return {"items": TIER.dump(store.tiers(self.db.cursor()), many=True), "next_cursor": None}

    @rpc(expected_exceptions=ServiceError)
    def set_tier(self, name: str, payload: dict, actor: str) -> dict:
        fields = load(TierSetSchema, payload)
        breaks = tuple(domain.VolumeBreak(b["min_qty"], b["extra_discount_pct"])
                       for b in fields["volume_breaks"])
        errors = domain.tier_problems(fields["discount_pct"], breaks)
        if errors:
            raise InvalidPricing(f"{errors[0]['field']}: {errors[0]['message']}", errors)
        cur = self.db.cursor()
        if store.tier(cur, name) is None:
            raise TierNotFound(f"tier {name!r} not found (tiers: platinum, gold, silver)")
        tier = domain.Tier(name, fields["discount_pct"], breaks)
        store.save_tier(cur, tier, actor, _now())
        version = store.bump_price_version(cur)
        add_events(cur, [new_event("tier_changed", {"tier": TIER.dump(tier), "price_version": version,
                                                    "actor": actor})])
        return TIER.dump(store.tier(cur, name))

    @rpc(expected_exceptions=ServiceError)
    def get_green_channel(self) -> dict:
        return GreenChannelSchema().dump(store.green_channel(self.db.cursor()))

    @rpc(expected_exceptions=ServiceError)
    def set_green_channel(self, payload: dict, actor: str) -> dict:
        fields = load(GreenChannelSchema, payload)
        limits = domain.GreenChannel(fields["max_discount_pct"], fields["max_duration_hours"])
        store.save_green_channel(self.db.cursor(), limits, actor, _now())
        return GreenChannelSchema().dump(limits)

    # ---- promotions ---------------------------------------------------------------------------

    @rpc(expected_exceptions=ServiceError)
    def create_promotion(self, payload: dict, actor: str, role: str) -> dict:
        fields = load(PromotionCreateSchema, payload)
        errors = domain.promotion_problems(fields["discount_pct"], fields["starts_at"], fields["ends_at"])
        cur = self.db.cursor()
        if fields.get("skus"):
            errors += domain.unknown_skus(fields["skus"], self._products(cur, fields["skus"]))
        if errors:
            raise InvalidPricing(f"{errors[0]['field']}: {errors[0]['message']}", errors)
        limits = store.green_channel(cur)
        green = domain.within_green_channel(fields["discount_pct"], fields["starts_at"],
                                            fields["ends_at"], limits)
        status = domain.initial_status(role, fields["discount_pct"], fields["starts_at"],
                                       fields["ends_at"], limits)
        row = store.insert_promotion(cur, fields, status, green, actor, _now())
        if status == domain.APPROVED:
            self._announce_promotion(cur, row)
        return PROMOTION.dump(row)

    def _announce_promotion(self, cur, row: domain.PromotionRecord) -> None:
        version = store.bump_price_version(cur)
        add_events(cur, [new_event("promotion_approved", {"promotion": PROMOTION.dump(row),
                                                          "price_version": version})])

    @rpc(expected_exceptions=ServiceError)
    def list_promotions(self, query: dict) -> dict:
        params = load(PromotionQuerySchema, query)
        rows = store.list_promotions(self.db.cursor(), params.get("status"),
                                     decode_cursor(params["cursor"]), params["limit"])
        result = page(rows, params["limit"], key=lambda r: r.id)
        result["items"] = PROMOTION.dump(result["items"], many=True)
        return result

    @rpc(expected_exceptions=ServiceError)
    def approve_promotion(self, promotion_id, actor: str) -> dict:
        cur = self.db.cursor()
        number = parse_id(promotion_id, PromotionNotFound, "promotion")
        row = store.promotion(cur, number, for_update=True)
        if row is None:
            raise PromotionNotFound(f"promotion {promotion_id} not found")
        domain.decide_promotion(row.status, domain.APPROVED)
        row = store.decide_promotion(cur, number, domain.APPROVED, actor, _now(), None)
        self._announce_promotion(cur, row)
        return PROMOTION.dump(row)

    @rpc(expected_exceptions=ServiceError)
    def reject_promotion(self, promotion_id, payload: dict, actor: str) -> dict:
        reason = load(PromotionRejectSchema, payload)["reason"]
        cur = self.db.cursor()
        number = parse_id(promotion_id, PromotionNotFound, "promotion")
        row = store.promotion(cur, number, for_update=True)
        if row is None:
            raise PromotionNotFound(f"promotion {promotion_id} not found")
        domain.decide_promotion(row.status, domain.REJECTED)
        return PROMOTION.dump(store.decide_promotion(cur, number, domain.REJECTED, actor, _now(), reason))

    # ---- distributors' prices -----------------------------------------------------------------

    @rpc(expected_exceptions=ServiceError)
    def create_quote(self, distributor_id, payload: dict) -> dict:
        """Every line priced from one snapshot at one instant: a quote never mixes two price
        versions. From the price book when it holds everything and PostgreSQL confirms, while storing
        the quote, that none of it has changed (pricing/book.py); from a fresh read otherwise."""
        request = load_quote_request(payload)
        number = self._distributor_number(distributor_id)
        lines = [(line["sku"], line["qty"]) for line in request["lines"]]
        skus = [sku for sku, _ in lines]
        validity = timedelta(minutes=setting(self.config, "QUOTE_VALIDITY_MINUTES", 15))
        now = _now()
        inputs = self.book.inputs(number, skus, now)
        if inputs is not None and not domain.refusals(inputs, skus):
            result = domain.quote_from(inputs, lines, now, validity)
            if not domain.quote_problems(result):  # a refusal is made from a fresh read, below
                body = _quote_body(inputs, result, now)
                quote_id = self.quotes.store(number, body, now, inputs.inputs_version)
                if quote_id is not None:
                    body["id"] = quote_id
                    return body
                self.book.forget()  # something it held has changed: read everything again
        # each read is one statement (one snapshot): no BEGIN/COMMIT
        self.db.standalone()
        cur = self.db.cursor()
        inputs = self._inputs(cur, number, skus, now, book=True)
        if inputs.distributor.status != domain.ACTIVE:
            # before refusing, make sure it was not reinstated a moment ago (that travels by event)
            self._distributor(cur, number, fresh=True)
            inputs = store.quote_inputs(cur, number, skus, now, book=True)
        domain.require_may_quote(inputs.distributor)
        errors = domain.refusals(inputs, skus)
        result = None if errors else domain.quote_from(inputs, lines, now, validity)
        errors = errors or domain.quote_problems(result)
        if errors:
            raise InvalidPricing(f"{errors[0]['field']}: {errors[0]['message']}", errors)
        body = _quote_body(inputs, result, now)
        body["id"] = self.quotes.store(number, body, now)
        self.book.learn(number, inputs, now)
        return body

    @rpc(expected_exceptions=ServiceError)
    def get_unit_prices(self, distributor_id, skus: list[str]) -> dict:
        """One unit of each SKU at the caller's tier (catalog views); unpriced SKUs are left out.
        Everything is read in one statement, as for a quote."""
        number = self._distributor_number(distributor_id)
        self.db.standalone()
        cur = self.db.cursor()
        now = _now()
        inputs = self._inputs(cur, number, skus, now, settle_products=False)
        return {sku: UNIT_PRICE.dump(price) for sku in skus
                if (price := domain.unit_price(inputs, sku, now)) is not None}

    @rpc(expected_exceptions=ServiceError)
    def get_catalog_product(self, distributor_id, sku: str) -> dict:
        """One active product with the caller's unit price, read in one statement from this
        service's read models (the product as the catalog's events carry it): one call for the
        gateway instead of two. A SKU not seen yet is asked of the catalog."""
        number = self._distributor_number(distributor_id)
        self.db.standalone()
        cur = self.db.cursor()
        now = _now()
        inputs = self._inputs(cur, number, [sku], now, documents=True)
        product = inputs.products.get(sku)
        if not domain.viewable(product):
            raise ProductUnknown(f"product {sku!r} not found")
        price = domain.unit_price(inputs, sku, now)
        return {**product.document, "price": UNIT_PRICE.dump(price) if price is not None else None}

    def _inputs(self, cur, number: int, skus: list[str], now: datetime, *, settle_products: bool = True,
                documents: bool = False, book: bool = False) -> domain.QuoteInputs:
        """Everything a price needs, in one statement (one snapshot). A read-model miss — the
        distributor, or (``settle_products``) a SKU the read model cannot answer for alone — is asked
        of its owner, and everything is read again in one statement."""
        inputs = store.quote_inputs(cur, number, skus, now, documents=documents, book=book)
        unsettled = domain.unsettled(inputs, skus, documents) if settle_products else []
        if inputs.distributor is None or unsettled:
            if inputs.distributor is None and self._distributor(cur, number) is None:
                raise NotFound(f"distributor {number} not found")
            if unsettled:
                self._products(cur, unsettled, fresh=True)
            inputs = store.quote_inputs(cur, number, skus, now, documents=documents, book=book)
        return inputs

    @staticmethod
    def _distributor_number(distributor_id) -> int:
        try:
            return int(distributor_id)
        except (TypeError, ValueError):
            raise NotFound(f"distributor {distributor_id} not found") from None

    # ---- parity -------------------------------------------------------------------------------

    @rpc(expected_exceptions=ServiceError)
    def record_observation(self, payload: dict, actor: str) -> dict:
        fields = load(ObservationSchema, payload)
        if domain.observed_in_future(fields["observed_at"], _now()):
            raise InvalidPricing.for_field("observed_at", "must not be in the future")
        cur = self.db.cursor()
        distributor = None
        if not domain.is_brand_seller(fields["seller"]):
            distributor = self._distributor(cur, fields["seller"])
            if distributor is None:
                raise InvalidPricing.for_field("seller", f"no distributor {fields['seller']}")
        sku, at = fields["sku"], fields["observed_at"]
        price = domain.price_in_force(store.price_entries(cur, [sku])[sku], at)
        if price is None:
            raise InvalidPricing.for_field("sku", f"no list price for {sku!r} in force at observed_at")
        promotion = domain.best_promotion(store.live_promotions(cur, [sku], at), sku, at)
        expected = domain.retail_price(price.list_price, promotion)
        tolerance = Decimal(str(setting(self.config, "PARITY_TOLERANCE_PCT", "0")))
        check = domain.check_parity(fields["observed_price"], expected, tolerance)
        observation_id = store.insert_observation(
            cur, fields, distributor.id if distributor else None, check, actor, _now())
        if domain.may_flag(check, distributor):
            times = store.violation_times(cur, fields["seller"], at - domain.FLAG_WINDOW, at)
            if domain.reaches_flag(times, at):
                store.flag_distributor(cur, distributor.id)
                add_events(cur, [new_event("distributor_flagged", {
                    "distributor_id": distributor.id, "violations": len(times),
                    "window_days": domain.FLAG_WINDOW.days, "observed_at": at.isoformat()})])
        return OBSERVATION.dump(store.observation(cur, observation_id))

    @rpc(expected_exceptions=ServiceError)
    def list_violations(self, query: dict) -> dict:
        params = load(ViolationQuerySchema, query)
        after = decode_cursor(params.pop("cursor"))
        if after is not None and not (isinstance(after, list) and len(after) == 3):
            raise InvalidPricing.for_field("cursor", "malformed cursor")
        limit = params.pop("limit")
        rows = store.list_violations(self.db.cursor(), params, after, limit)
        result = page(rows, limit, key=lambda r: [r.seller, r.observed_at.isoformat(), r.id])
        result["items"] = OBSERVATION.dump(result["items"], many=True)
        return result
