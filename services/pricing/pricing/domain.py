"""Pure pricing rules over Decimal: every computed amount is rounded half-up to 0.01 once, at the end
of its formula. No I/O; time is passed in."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

from pricing.errors import DistributorMayNotQuote, IllegalPromotionChange, ProductNotPriceable, ProductUnknown

CENT = Decimal("0.01")
HUNDRED = Decimal(100)
MAX_AMOUNT = Decimal("9999999999.99")  # SPEC, Hardening rules: money is at most this (MAX_MONEY)
ZERO = Decimal(0)
APPROVED, PENDING, REJECTED = "approved", "pending_approval", "rejected"
ACTIVE, DRAFT, DISCONTINUED = "active", "draft", "discontinued"  # a product's status, as the catalog's
CLOCK_SKEW = timedelta(minutes=1)  # how far a client's clock may be from ours


def money(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def pct_text(value: Decimal) -> str:
    """Percentages travel as decimal strings on a 0–100 scale without needless zeros: "12.5", "40"."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


# ---- read models: what this service keeps of other services' facts ----------------------------


class ProductState(NamedTuple):  # a NamedTuple: built for every product a quote reads (hot path)
    """A product as the catalog's events left it here."""

    sku: str
    status: str
    version: int
    document: dict | None = None  # the catalog's whole document: read for catalog views only


def require_priceable(product: ProductState | None, sku: str) -> None:
    """A list price may be set for any product the catalog knows that is not discontinued."""
    if product is None:
        raise ProductUnknown(f"product {sku!r} not found")
    if product.status == DISCONTINUED:
        raise ProductNotPriceable(f"product {sku!r} is discontinued")


def viewable(product: ProductState | None) -> bool:
    """A distributor sees active products only; drafts and discontinued ones are not found."""
    return product is not None and product.status == ACTIVE


def unknown_skus(skus: Sequence[str], known: Iterable[str]) -> list[dict[str, str]]:
    """A promotion names only SKUs the catalog knows."""
    known = set(known)
    return [{"field": f"skus[{i}]", "message": f"unknown SKU {sku!r}"}
            for i, sku in enumerate(skus) if sku not in known]


class DistributorState(NamedTuple):
    """A distributor as the distributors service's events left it here, with the parity flag."""

    id: int
    tier: str
    status: str
    version: int
    flagged_for_review: bool = False


def require_may_quote(distributor: DistributorState) -> None:
    """Only an active distributor may quote (a suspended or terminated one may not)."""
    if distributor.status != ACTIVE:
        raise DistributorMayNotQuote(f"distributor {distributor.id} is {distributor.status}: it may not quote")


# ---- list prices --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PriceEntry:
    id: int
    sku: str
    list_price: Decimal
    floor_price: Decimal
    currency: str
    effective_from: datetime
    set_by: str
    set_at: datetime


def price_in_force(entries: Iterable[PriceEntry], at: datetime) -> PriceEntry | None:
    """The entry with the latest ``effective_from`` at or before ``at`` (the later-set one on a tie)."""
    live = [e for e in entries if e.effective_from <= at]
    return max(live, key=lambda e: (e.effective_from, e.id), default=None)


def price_problems(list_price: Decimal, floor_price: Decimal) -> list[dict[str, str]]:
    errors = []
    if list_price <= 0:
        errors.append({"field": "list_price", "message": "must be greater than 0"})
    if floor_price <= 0:
        errors.append({"field": "floor_price", "message": "must be greater than 0"})
    if floor_price > list_price:
        errors.append({"field": "floor_price", "message": "must not exceed list_price"})
    return errors


def price_change_problems(list_price: Decimal, floor_price: Decimal, effective_from: datetime,
                          now: datetime) -> list[dict[str, str]]:
    """``price_problems``, and a price takes effect now or later, never in the past (beyond the
    clocks' skew)."""
    errors = price_problems(list_price, floor_price)
    if effective_from < now - CLOCK_SKEW:
        errors.append({"field": "effective_from", "message": "must not be in the past"})
    return errors


def scheduled_prices(entries: Iterable[PriceEntry], now: datetime) -> list[PriceEntry]:
    """The entries that take effect after ``now``."""
    return [e for e in entries if e.effective_from > now]


# ---- promotions and the retail price ------------------------------------------------------------


@dataclass(frozen=True)
class Promotion:
    id: int
    name: str
    discount_pct: Decimal
    starts_at: datetime
    ends_at: datetime
    skus: tuple[str, ...] | None  # None: every SKU
    status: str
    # ``skus`` as a set: a promotion may name thousands of SKUs and a quote ask about 200 of them
    _sku_set: frozenset[str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_sku_set", None if self.skus is None else frozenset(self.skus))

    def covers(self, sku: str) -> bool:
        return self._sku_set is None or sku in self._sku_set

    def applies(self, sku: str, at: datetime) -> bool:
        return self.status == APPROVED and self.starts_at <= at < self.ends_at and self.covers(sku)


def best_promotion(promotions: Iterable[Promotion], sku: str, at: datetime) -> Promotion | None:
    """Overlaps are allowed; the largest discount wins (the older promotion on a tie)."""
    live = [p for p in promotions if p.applies(sku, at)]
    return max(live, key=lambda p: (p.discount_pct, -p.id), default=None)


def retail_price(list_price: Decimal, promotion: Promotion | None) -> Decimal:
    """list × (1 − discount): the same figure for every channel, online and offline."""
    discount = promotion.discount_pct if promotion else Decimal(0)
    return money(list_price * (1 - discount / HUNDRED))


class RetailPrice(NamedTuple):
    """What a consumer pays for one unit of ``sku`` at ``at``, and the promotion that sets it."""

    sku: str
    at: datetime
    list_price: Decimal
    currency: str
    retail_price: Decimal
    promotion: Promotion | None


def retail(entries: Iterable[PriceEntry], promotions: Iterable[Promotion], sku: str,
           at: datetime) -> RetailPrice | None:
    """The retail price of ``sku`` at ``at``; None while it has no list price in force."""
    price = price_in_force(entries, at)
    if price is None:
        return None
    promotion = best_promotion(promotions, sku, at)
    return RetailPrice(sku, at, price.list_price, price.currency, retail_price(price.list_price, promotion),
                       promotion)


@dataclass(frozen=True)
class PromotionRecord:
    """A promotion as recorded: what it is, who created it and who decided it (the admin's view)."""

    id: int
    name: str
    discount_pct: Decimal
    starts_at: datetime
    ends_at: datetime
    skus: tuple[str, ...] | None
    status: str
    green_channel: bool
    created_by: str
    created_at: datetime
    decided_by: str | None = None
    decided_at: datetime | None = None
    reason: str | None = None


@dataclass(frozen=True)
class GreenChannel:
    max_discount_pct: Decimal = Decimal(10)
    max_duration_hours: Decimal = Decimal(72)


def within_green_channel(discount_pct: Decimal, starts_at: datetime, ends_at: datetime,
                         limits: GreenChannel) -> bool:
    """Both limits inclusive."""
    hours = Decimal((ends_at - starts_at).total_seconds()) / Decimal(3600)
    return discount_pct <= limits.max_discount_pct and hours <= limits.max_duration_hours


def promotion_problems(discount_pct: Decimal, starts_at: datetime, ends_at: datetime) -> list[dict]:
    errors = []
    if not Decimal(0) < discount_pct < HUNDRED:
        errors.append({"field": "discount_pct", "message": "must be above 0 and below 100"})
    if ends_at <= starts_at:
        errors.append({"field": "ends_at", "message": "must be after starts_at"})
    return errors


def initial_status(role: str, discount_pct: Decimal, starts_at: datetime, ends_at: datetime,
                   limits: GreenChannel) -> str:
    """A manager's promotion is approved at once; sales' only inside the green channel."""
    if role == "manager" or within_green_channel(discount_pct, starts_at, ends_at, limits):
        return APPROVED
    return PENDING


def decide_promotion(status: str, decision: str) -> str:
    if status != PENDING:
        raise IllegalPromotionChange(f"promotion is {status}; only a pending one can be decided")
    return decision


# ---- tiers and wholesale prices -----------------------------------------------------------------


@dataclass(frozen=True)
class VolumeBreak:
    min_qty: int
    extra_discount_pct: Decimal


@dataclass(frozen=True)
class Tier:
    name: str
    discount_pct: Decimal
    volume_breaks: tuple[VolumeBreak, ...] = ()


DEFAULT_TIERS = {"platinum": Decimal(40), "gold": Decimal(35), "silver": Decimal(30)}


def volume_discount(tier: Tier, qty: int) -> Decimal:
    """The break with the highest ``min_qty`` ≤ qty, by the quantity of one quote line."""
    best = None
    for b in tier.volume_breaks:
        if b.min_qty <= qty and (best is None or b.min_qty > best.min_qty):
            best = b
    return best.extra_discount_pct if best else ZERO


def tier_problems(discount_pct: Decimal, breaks: Sequence[VolumeBreak]) -> list[dict]:
    errors = []
    if not Decimal(0) <= discount_pct < HUNDRED:
        errors.append({"field": "discount_pct", "message": "must be from 0 to below 100"})
    seen = set()
    for i, b in enumerate(breaks):
        if b.min_qty in seen:
            errors.append({"field": f"volume_breaks[{i}].min_qty", "message": "duplicate min_qty"})
        seen.add(b.min_qty)
        if discount_pct + b.extra_discount_pct >= HUNDRED:
            errors.append({"field": f"volume_breaks[{i}].extra_discount_pct",
                           "message": "tier and volume discount together must stay below 100"})
    return errors


def wholesale_unit_price(list_price: Decimal, floor_price: Decimal, tier_pct: Decimal,
                         volume_pct: Decimal) -> Decimal:
    """max(floor, list × (1 − tier % − volume %)): never below the floor, never above list."""
    return max(floor_price, money(list_price * (1 - (tier_pct + volume_pct) / HUNDRED)))


# ---- quotes -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuoteInputs:
    """Everything a quote reads, taken by one statement and so from one snapshot (or kept by the
    price book, pricing/book.py)."""

    distributor: DistributorState | None
    products: dict[str, ProductState]
    prices: dict[str, PriceEntry]  # the entry in force at the instant asked
    tier: Tier | None
    promotions: list[Promotion]
    price_version: int
    inputs_version: int | None  # moves with every change to any of the above (migration 0003)
    next_change: datetime | None  # the next scheduled price or promotion start/end for these SKUs
    # (both None unless read for the price book)


class QuoteLine(NamedTuple):  # immutable like the dataclasses here, and built 3× faster (hot path)
    sku: str
    qty: int
    list_price: Decimal
    retail_price: Decimal
    tier_discount_pct: Decimal
    volume_discount_pct: Decimal
    unit_price: Decimal
    line_total: Decimal


class Quote(NamedTuple):
    lines: tuple[QuoteLine, ...]
    total: Decimal
    currency: str
    valid_until: datetime


def quote(lines: Sequence[tuple[str, int]], prices: dict[str, PriceEntry], tier: Tier,
          promotions: Sequence[Promotion], now: datetime, validity: timedelta) -> Quote:
    """Price every line from one snapshot of prices, tier and promotions taken at ``now``."""
    out = []
    for sku, qty in lines:
        price = prices[sku]
        volume = volume_discount(tier, qty)
        unit = wholesale_unit_price(price.list_price, price.floor_price, tier.discount_pct, volume)
        out.append(QuoteLine(sku, qty, price.list_price,
                             retail_price(price.list_price, best_promotion(promotions, sku, now)),
                             tier.discount_pct, volume, unit, unit * qty))
    currency = prices[lines[0][0]].currency if lines else "CNY"
    return Quote(tuple(out), sum((line.line_total for line in out), Decimal("0.00")), currency,
                 now + validity)


def unsettled(inputs: QuoteInputs, skus: Iterable[str], documents: bool = False) -> list[str]:
    """SKUs the product read model cannot answer for alone, to be asked of the catalog: unknown
    ones (created a moment ago), drafts (maybe activated a moment ago: becoming sellable must be
    visible at once, like a creation) and, for a view (``documents``), rows kept before documents
    were. Discontinued is final and active is taken as read: an update arrives by event within
    milliseconds."""
    out = []
    for sku in dict.fromkeys(skus):
        product = inputs.products.get(sku)
        if product is None or product.status == DRAFT or (documents and product.document is None):
            out.append(sku)
    return out


def refusals(inputs: QuoteInputs, skus: Sequence[str]) -> list[dict[str, str]]:
    """Why these lines cannot be quoted, each naming its line; empty when they can: every SKU known,
    active and priced, all in one currency."""
    errors = []
    for i, sku in enumerate(skus):
        product = inputs.products.get(sku)
        if product is None:
            errors.append({"field": f"lines[{i}].sku", "message": f"unknown SKU {sku!r}"})
        elif product.status != ACTIVE:
            errors.append({"field": f"lines[{i}].sku", "message": f"{sku!r} is {product.status}"})
        elif sku not in inputs.prices:
            errors.append({"field": f"lines[{i}].sku", "message": f"{sku!r} has no list price"})
    currencies = {inputs.prices[sku].currency for sku in skus if sku in inputs.prices}
    if not errors and len(currencies) > 1:
        errors.append({"field": "lines", "message": f"lines are priced in {sorted(currencies)}"})
    return errors


def quote_from(inputs: QuoteInputs, lines: Sequence[tuple[str, int]], now: datetime,
               validity: timedelta) -> Quote:
    """``quote`` from what was read (or kept by the price book) for these lines."""
    return quote(lines, inputs.prices, inputs.tier, inputs.promotions, now, validity)


class UnitPrice(NamedTuple):
    """One unit at a distributor's tier, as catalog views show it."""

    list_price: Decimal
    currency: str
    retail_price: Decimal
    unit_price: Decimal
    tier_discount_pct: Decimal


def unit_price(inputs: QuoteInputs, sku: str, now: datetime) -> UnitPrice | None:
    """One unit of ``sku`` at the distributor's tier (a quantity of 1: the volume break for 1);
    None while the SKU has no price."""
    price, tier = inputs.prices.get(sku), inputs.tier
    if price is None:
        return None
    return UnitPrice(price.list_price, price.currency,
                     retail_price(price.list_price, best_promotion(inputs.promotions, sku, now)),
                     wholesale_unit_price(price.list_price, price.floor_price, tier.discount_pct,
                                          volume_discount(tier, 1)),
                     tier.discount_pct)


def quote_problems(quote: Quote) -> list[dict[str, str]]:
    """Money is at most ``MAX_AMOUNT``: a quote worth more is refused, naming the quantity of each
    line worth more alone, else the lines together. Line totals are never negative, so a total
    within the bound (the hot path: one comparison) means every line is."""
    if quote.total <= MAX_AMOUNT:
        return []
    errors = [{"field": f"lines[{i}].qty", "message": f"the line total {line.line_total} is above "
               f"{MAX_AMOUNT}"} for i, line in enumerate(quote.lines) if line.line_total > MAX_AMOUNT]
    return errors or [{"field": "lines", "message": f"the total {quote.total} is above {MAX_AMOUNT}"}]


# ---- parity -------------------------------------------------------------------------------------

BELOW, ABOVE = "below", "above"
FLAG_THRESHOLD = 3
FLAG_WINDOW = timedelta(days=30)


@dataclass(frozen=True)
class ParityCheck:
    result: str  # "ok" | "violation"
    direction: str | None
    expected_price: Decimal
    deviation_pct: Decimal | None  # None: the retail price is 0.00, so no percentage of it


def check_parity(observed: Decimal, expected: Decimal, tolerance_pct: Decimal = Decimal(0)) -> ParityCheck:
    """An observed price outside the tolerance of the retail price is a violation. A retail price
    rounded to 0.00 (a promotion of nearly 100 % on a cheap SKU) has no percentage to deviate by:
    any price above it is a violation."""
    if expected == 0:
        if observed == 0:
            return ParityCheck("ok", None, expected, Decimal(0))
        return ParityCheck("violation", ABOVE if observed > 0 else BELOW, expected, None)
    deviation = ((observed - expected) / expected * HUNDRED).quantize(CENT, rounding=ROUND_HALF_UP)
    if abs(observed - expected) / expected * HUNDRED <= tolerance_pct:
        return ParityCheck("ok", None, expected, deviation)
    return ParityCheck("violation", BELOW if observed < expected else ABOVE, expected, deviation)


@dataclass(frozen=True)
class Observation:
    """A recorded price observation and what it was found to be."""

    id: int
    channel: str
    seller: str  # a distributor id as text, or "brand:<channel>"
    distributor_id: int | None
    sku: str
    observed_price: Decimal
    observed_at: datetime
    source_url: str
    result: str
    direction: str | None
    expected_price: Decimal
    deviation_pct: Decimal | None
    flagged_for_review: bool  # the seller's flag now, not when it was observed


BRAND_SELLER_PREFIX = "brand:"


def is_brand_seller(seller: str) -> bool:
    """A brand's own store ("brand:tmall"), as opposed to a distributor (its id as text)."""
    return seller.startswith(BRAND_SELLER_PREFIX)


def observed_in_future(observed_at: datetime, now: datetime) -> bool:
    return observed_at > now + CLOCK_SKEW


def may_flag(check: ParityCheck, distributor: DistributorState | None) -> bool:
    """Whether this observation could flag its seller: a violation by a distributor not flagged yet
    (then ``reaches_flag`` decides, from its recent violations)."""
    return check.result == "violation" and distributor is not None and not distributor.flagged_for_review


def reaches_flag(violation_times: Iterable[datetime], observed_at: datetime) -> bool:
    """Three violations within the 30 days ending at this one's ``observed_at`` flag a distributor."""
    window_start = observed_at - FLAG_WINDOW
    return sum(1 for t in violation_times if window_start < t <= observed_at) >= FLAG_THRESHOLD
