"""Pricing's service layer: one handler per use case, given a unit of work (pricing/unit_of_work.py)
and plain arguments — fields already loaded by the contract's schema, the caller's raw ids, the
instant ``now``. A handler reads through the unit of work, decides with domain.py, writes, announces
events and returns domain values; service.py dumps them. The one exception is the quote, returned
as the document it is stored as (the hot path dumps once).

Read models (products, distributors) follow their owners' events; a miss is resolved by asking the
owner through the unit of work's ports, never refused."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

from common.errors import NotFound, ServiceNotRunning, ServiceTimeout, StoreUnavailable, parse_id
from pricing import domain
from pricing.domain import (
    DistributorState,
    GreenChannel,
    Observation,
    PriceEntry,
    ProductState,
    PromotionRecord,
    QuoteInputs,
    RetailPrice,
    Tier,
    UnitPrice,
)
from pricing.errors import InvalidPricing, PriceNotFound, ProductUnknown, PromotionNotFound, TierNotFound
from pricing.events import DistributorFlagged, PriceChanged, PromotionApproved, TierChanged
from pricing.schemas import PromotionSchema, TierSchema, dump_quote

PROMOTION = PromotionSchema()
TIER = TierSchema()


def _refuse(errors: list[dict[str, str]]) -> None:
    if errors:
        raise InvalidPricing(f"{errors[0]['field']}: {errors[0]['message']}", errors)


# ---- read models: a miss is resolved by asking the owner ----------------------------------------


def products(uow, skus: Sequence[str], fresh: bool = False) -> dict[str, ProductState]:
    """Products by SKU from the read model; a miss (or every SKU, when ``fresh``) is asked of the
    catalog and written back."""
    known = {} if fresh else uow.products(skus)
    missing = [s for s in dict.fromkeys(skus) if s not in known]
    if missing:
        for product in uow.catalog.get_products(missing).values():
            uow.upsert_product(product)
        known = uow.products(skus)
    return known


def distributor(uow, distributor_id, fresh: bool = False) -> DistributorState | None:
    """The distributor from the read model; a miss (or always, when ``fresh``) is asked of the
    distributors service and written back."""
    try:
        number = int(distributor_id)
    except (TypeError, ValueError):
        return None
    state = None if fresh else uow.distributor(number)
    if state is None:
        try:
            profile = uow.distributors.get_profile(number)
        except NotFound:
            return None
        uow.upsert_distributor(number, profile["tier"], profile["status"], profile.get("version", 1))
        state = uow.distributor(number)
    return state


def apply_product(uow, event_id: str, product: Mapping[str, Any]) -> None:
    """``product_created`` / ``_updated`` / ``_discontinued`` (the product as the catalog's contract
    carries it): once, and never back in version."""
    if uow.first_delivery("pricing.products", event_id):
        uow.upsert_product(dict(product))


def apply_distributor(uow, event_id: str, distributor: Mapping[str, Any]) -> None:
    """``distributor_approved`` / ``_suspended`` / ``_reinstated`` / ``_terminated`` /
    ``_tier_changed`` (the distributor as its contract carries it): once, and never back in version."""
    if uow.first_delivery("pricing.distributors", event_id):
        d = distributor
        uow.upsert_distributor(d["id"], d["tier"], d["status"], d["version"])


# ---- list prices --------------------------------------------------------------------------------


class SkuPrices(NamedTuple):
    """A SKU's list prices: the one in force, those scheduled, every one ever set."""

    sku: str
    current: PriceEntry | None
    scheduled: list[PriceEntry]
    history: list[PriceEntry]
    price_version: int


def set_price(uow, sku: str, fields: dict, actor: str, now: datetime) -> SkuPrices:
    """A new list price (``fields`` as PriceSetSchema loads them), now or scheduled; announced as
    ``price_changed`` with the new price version."""
    fields.setdefault("effective_from", now)
    _refuse(domain.price_change_problems(fields["list_price"], fields["floor_price"],
                                         fields["effective_from"], now))
    # a price change is rare and must see a discontinuation acknowledged a moment ago
    domain.require_priceable(products(uow, [sku], fresh=True).get(sku), sku)
    uow.insert_price(sku, fields, actor, now)
    version = uow.bump_price_version()
    uow.add_event(PriceChanged(sku, fields["list_price"], fields["floor_price"], fields["currency"],
                               fields["effective_from"], version, actor))
    return sku_prices(uow, sku, now)


def prices(uow, sku: str, now: datetime) -> SkuPrices:
    """A SKU's prices; a SKU with none is still found if the catalog knows it."""
    if not uow.price_entries([sku])[sku] and sku not in products(uow, [sku]):
        raise ProductUnknown(f"product {sku!r} not found")
    return sku_prices(uow, sku, now)


def sku_prices(uow, sku: str, now: datetime) -> SkuPrices:
    entries = uow.price_entries([sku])[sku]
    return SkuPrices(sku, domain.price_in_force(entries, now), domain.scheduled_prices(entries, now), entries,
                     uow.price_version())


def retail_prices(uow, skus: Sequence[str], at: datetime, missing_ok: bool = False) -> dict[str, RetailPrice]:
    """Each SKU's retail price at ``at``; one with no list price in force then is left out with
    ``missing_ok``, else refused."""
    entries = uow.price_entries(skus)
    promotions = uow.live_promotions(skus, at)
    out = {}
    for sku in skus:
        retail = domain.retail(entries[sku], promotions, sku, at)
        if retail is None:
            if missing_ok:
                continue
            raise PriceNotFound(f"no list price for {sku!r} in force at {at.isoformat()}")
        out[sku] = retail
    return out


# ---- tiers and the green channel ----------------------------------------------------------------


def set_tier(uow, name: str, fields: dict, actor: str, now: datetime) -> Tier:
    """A tier's discount and volume breaks (``fields`` as TierSetSchema loads them); announced as
    ``tier_changed``."""
    breaks = tuple(domain.VolumeBreak(b["min_qty"], b["extra_discount_pct"]) for b in fields["volume_breaks"])
    _refuse(domain.tier_problems(fields["discount_pct"], breaks))
    if uow.tier(name) is None:
        raise TierNotFound(f"tier {name!r} not found (tiers: platinum, gold, silver)")
    tier = Tier(name, fields["discount_pct"], breaks)
    uow.save_tier(tier, actor, now)
    version = uow.bump_price_version()
    uow.add_event(TierChanged(TIER.dump(tier), version, actor))
    return uow.tier(name)


def set_green_channel(uow, limits: GreenChannel, actor: str, now: datetime) -> GreenChannel:
    uow.save_green_channel(limits, actor, now)
    return limits


# ---- promotions ---------------------------------------------------------------------------------


def create_promotion(uow, fields: dict, actor: str, role: str, now: datetime) -> PromotionRecord:
    """A promotion (``fields`` as PromotionCreateSchema loads them): approved at once when a manager
    creates it or it lies inside the green channel (then announced), else pending approval."""
    errors = domain.promotion_problems(fields["discount_pct"], fields["starts_at"], fields["ends_at"])
    if fields.get("skus"):
        errors += domain.unknown_skus(fields["skus"], products(uow, fields["skus"]))
    _refuse(errors)
    limits = uow.green_channel()
    green = domain.within_green_channel(fields["discount_pct"], fields["starts_at"], fields["ends_at"], limits)
    status = domain.initial_status(role, fields["discount_pct"], fields["starts_at"], fields["ends_at"], limits)
    promotion = uow.insert_promotion(fields, status, green, actor, now)
    if status == domain.APPROVED:
        _announce_promotion(uow, promotion)
    return promotion


def _announce_promotion(uow, promotion: PromotionRecord) -> None:
    version = uow.bump_price_version()
    uow.add_event(PromotionApproved(PROMOTION.dump(promotion), version))


def _pending(uow, promotion_id) -> tuple[int, PromotionRecord]:
    number = parse_id(promotion_id, PromotionNotFound, "promotion")
    promotion = uow.promotion(number, for_update=True)
    if promotion is None:
        raise PromotionNotFound(f"promotion {promotion_id} not found")
    return number, promotion


def approve_promotion(uow, promotion_id, actor: str, now: datetime) -> PromotionRecord:
    """A pending promotion approved, and announced."""
    number, promotion = _pending(uow, promotion_id)
    domain.decide_promotion(promotion.status, domain.APPROVED)
    promotion = uow.decide_promotion(number, domain.APPROVED, actor, now, None)
    _announce_promotion(uow, promotion)
    return promotion


def reject_promotion(uow, promotion_id, reason: str, actor: str, now: datetime) -> PromotionRecord:
    number, promotion = _pending(uow, promotion_id)
    domain.decide_promotion(promotion.status, domain.REJECTED)
    return uow.decide_promotion(number, domain.REJECTED, actor, now, reason)


# ---- distributors' prices -----------------------------------------------------------------------


def distributor_number(distributor_id) -> int:
    try:
        return int(distributor_id)
    except (TypeError, ValueError):
        raise NotFound(f"distributor {distributor_id} not found") from None


def quote_inputs(uow, number: int, skus: Sequence[str], now: datetime, *, settle_products: bool = True,
                 documents: bool = False, book: bool = False) -> QuoteInputs:
    """Everything a price needs, in one statement (one snapshot). A read-model miss — the
    distributor, or (``settle_products``) a SKU the read model cannot answer for alone — is asked
    of its owner, and everything is read again in one statement."""
    inputs = uow.quote_inputs(number, skus, now, documents=documents, book=book)
    unsettled = domain.unsettled(inputs, skus, documents) if settle_products else []
    if inputs.distributor is None or unsettled:
        if inputs.distributor is None and distributor(uow, number) is None:
            raise NotFound(f"distributor {number} not found")
        if unsettled:
            products(uow, unsettled, fresh=True)
        inputs = uow.quote_inputs(number, skus, now, documents=documents, book=book)
    return inputs


def _quote_body(inputs: QuoteInputs, result: domain.Quote, now: datetime) -> dict:
    return dump_quote(result, distributor_id=inputs.distributor.id, tier=inputs.tier.name,
                      price_version=inputs.price_version, created_at=now)


def create_quote(uow, distributor_id, lines: list[tuple[str, int]], now: datetime, validity: timedelta) -> dict:
    """Every line priced from one snapshot at one instant: a quote never mixes two price versions.
    From the price book when it holds everything and PostgreSQL confirms, while storing the quote,
    that none of it has changed (pricing/book.py); from a fresh read otherwise. Returns the quote
    as stored, with its id."""
    number = distributor_number(distributor_id)
    skus = [sku for sku, _ in lines]
    inputs = uow.book.inputs(number, skus, now)
    if inputs is not None and not domain.refusals(inputs, skus):
        result = domain.quote_from(inputs, lines, now, validity)
        if not domain.quote_problems(result):  # a refusal is made from a fresh read, below
            body = _quote_body(inputs, result, now)
            quote_id = uow.quotes.store(number, body, now, inputs.inputs_version)
            if quote_id is not None:
                body["id"] = quote_id
                return body
            uow.book.forget()  # something it held has changed: read everything again
    # each read is one statement (one snapshot): no BEGIN/COMMIT
    uow.standalone()
    inputs = quote_inputs(uow, number, skus, now, book=True)
    if inputs.distributor.status != domain.ACTIVE:
        # before refusing, make sure it was not reinstated a moment ago (that travels by event)
        distributor(uow, number, fresh=True)
        inputs = uow.quote_inputs(number, skus, now, book=True)
    domain.require_may_quote(inputs.distributor)
    errors = domain.refusals(inputs, skus)
    result = None if errors else domain.quote_from(inputs, lines, now, validity)
    _refuse(errors or domain.quote_problems(result))
    body = _quote_body(inputs, result, now)
    body["id"] = uow.quotes.store(number, body, now)
    uow.book.learn(number, inputs, now)
    return body


def unit_prices(uow, distributor_id, skus: Sequence[str], now: datetime) -> dict[str, UnitPrice]:
    """One unit of each SKU at the caller's tier (catalog views); unpriced SKUs are left out.
    Everything is read in one statement, as for a quote."""
    number = distributor_number(distributor_id)
    uow.standalone()
    inputs = quote_inputs(uow, number, skus, now, settle_products=False)
    return {sku: price for sku in skus if (price := domain.unit_price(inputs, sku, now)) is not None}


class PricedProduct(NamedTuple):
    document: dict  # the product as the catalog's events carry it
    price: UnitPrice | None  # None while the SKU has no price


def catalog_product(uow, distributor_id, sku: str, now: datetime) -> PricedProduct:
    """One active product with the caller's unit price, read in one statement from this service's
    read models. A SKU not seen yet is asked of the catalog."""
    return catalog_view(uow, distributor_id, sku, now)[0]


def catalog_view(uow, distributor_id, sku: str, now: datetime,
                 fresh: bool = False) -> tuple[PricedProduct, datetime | None]:
    """``catalog_product`` and until when it holds unless something is changed: the next scheduled
    list price or promotion start or end for the SKU (None: nothing scheduled). What the gateway
    keeps its copy of the view by. ``fresh``: a change was acknowledged a moment ago and may still
    be on its way here by event — the product and the distributor are asked of their owners first
    (versioned upserts: never back in version), so the view shows it; an owner that is away leaves
    the answer to the read models, as outside that moment (the gateway keeps no copy of it)."""
    number = distributor_number(distributor_id)
    uow.standalone()
    if fresh:
        try:
            if distributor(uow, number, fresh=True) is None:
                raise NotFound(f"distributor {number} not found")
            products(uow, [sku], fresh=True)
        except (ServiceTimeout, ServiceNotRunning, StoreUnavailable):
            pass
    inputs = quote_inputs(uow, number, [sku], now, documents=True, book=True)
    product = inputs.products.get(sku)
    if not domain.viewable(product):
        raise ProductUnknown(f"product {sku!r} not found")
    return PricedProduct(product.document, domain.unit_price(inputs, sku, now)), inputs.next_change


# ---- parity -------------------------------------------------------------------------------------


def record_observation(uow, fields: dict, actor: str, now: datetime, tolerance_pct: Decimal) -> Observation:
    """An advertised price (``fields`` as ObservationSchema loads them) checked against the retail
    price in force when it was seen. A distributor's third violation within 30 days flags it for
    review, announced as ``distributor_flagged``."""
    if domain.observed_in_future(fields["observed_at"], now):
        raise InvalidPricing.for_field("observed_at", "must not be in the future")
    seller = None
    if not domain.is_brand_seller(fields["seller"]):
        seller = distributor(uow, fields["seller"])
        if seller is None:
            raise InvalidPricing.for_field("seller", f"no distributor {fields['seller']}")
    sku, at = fields["sku"], fields["observed_at"]
    price = domain.price_in_force(uow.price_entries([sku])[sku], at)
    if price is None:
        raise InvalidPricing.for_field("sku", f"no list price for {sku!r} in force at observed_at")
    promotion = domain.best_promotion(uow.live_promotions([sku], at), sku, at)
    check = domain.check_parity(fields["observed_price"], domain.retail_price(price.list_price, promotion),
                                tolerance_pct)
    observation_id = uow.insert_observation(fields, seller.id if seller else None, check, actor, now)
    if domain.may_flag(check, seller):
        times = uow.violation_times(fields["seller"], at - domain.FLAG_WINDOW, at)
        if domain.reaches_flag(times, at):
            uow.flag_distributor(seller.id)
            uow.add_event(DistributorFlagged(seller.id, len(times), domain.FLAG_WINDOW.days, at))
    return uow.observation(observation_id)


def violations(uow, filters: dict, after, limit: int) -> list[Observation]:
    """Violations by seller and time, from after the cursor's (seller, observed_at, id)."""
    if after is not None and not (isinstance(after, list) and len(after) == 3):
        raise InvalidPricing.for_field("cursor", "malformed cursor")
    return uow.list_violations(filters, after, limit)


# ---- reads that decide nothing ------------------------------------------------------------------


def tiers(uow) -> list[Tier]:
    return uow.tiers()


def green_channel(uow) -> GreenChannel:
    return uow.green_channel()


def promotions(uow, status: str | None, after: int | None, limit: int) -> list[PromotionRecord]:
    return uow.list_promotions(status, after, limit)
