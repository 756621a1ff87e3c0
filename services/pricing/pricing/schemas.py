"""The pricing service's contracts. Money and percentages leave as decimal strings."""
from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from common.schemas import (
    MAX_MONEY,
    AwareTimestamp,
    Id,
    PageQuerySchema,
    StrictInteger,
    load,
    page_of,
    storable,
    text,
)
from pricing.domain import Quote, pct_text

SKU = r"^[A-Za-z0-9._-]{1,64}$"
CENT = Decimal("0.01")
HUNDRED = Decimal(100)
PCT_PLACES = 4  # percentages are numeric(7, 4) in the database: a fifth place would be rounded away
MAX_GREEN_HOURS = Decimal(24 * 366)


def at_most_places(places: int):
    """A validator: no more than ``places`` decimal places (trailing zeros are fine: "12.50")."""
    step = Decimal(1).scaleb(-places)

    def check(value: Decimal) -> None:
        try:
            exact = value == value.quantize(step)
        except InvalidOperation:  # over 26 integer digits: every field using this has a range
            return                # check, and that one names the problem
        if not exact:
            raise ValidationError(f"at most {places} decimal places")

    check.places = places  # read by the OpenAPI document (its pattern)
    return check


two_places = at_most_places(2)
MONEY_RANGE = validate.Range(min=Decimal(0), max=MAX_MONEY,
                             error=f"must be between 0 and {MAX_MONEY}")


def plain_decimal(field: fields.Field, value: Decimal) -> Decimal:
    """Refuse what only an exponent makes small or large: "0E-1000000" is zero to Python but
    overflows PostgreSQL's numeric; no money or percentage needs more than 12 places or 20 digits."""
    exponent = value.as_tuple().exponent
    if not value.is_finite() or exponent < -12 or value.adjusted() > 20:
        raise field.make_error("invalid")
    return value


class MoneyField(fields.Decimal):
    """In: a decimal string or a JSON number with at most 2 places, from 0 to ``MAX_MONEY``
    (``positive``: above 0). Out: "199.00"."""

    def __init__(self, positive: bool = False, **kwargs):
        if positive:
            kwargs.setdefault("validate", [two_places, validate.Range(
                min=Decimal(0), max=MAX_MONEY, min_inclusive=False,
                error=f"must be above 0 and at most {MAX_MONEY}")])
        kwargs.setdefault("validate", [two_places, MONEY_RANGE])
        super().__init__(places=None, as_string=True, allow_nan=False, **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else _money(Decimal(value))

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool):
            raise self.make_error("invalid")
        return plain_decimal(self, super()._deserialize(value, attr, data, **kwargs))


class PercentField(fields.Decimal):
    """In: a decimal string or number on a 0–100 scale with at most 4 places. Out: "12.5"."""

    def __init__(self, **kwargs):
        kwargs.setdefault("validate", [at_most_places(PCT_PLACES),
                                       validate.Range(min=Decimal(0), max=HUNDRED)])
        super().__init__(allow_nan=False, **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else pct_text(Decimal(value))

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool):
            raise self.make_error("invalid")
        return plain_decimal(self, super()._deserialize(value, attr, data, **kwargs))


class DeviationField(fields.Decimal):
    """Out only: how far an observed price lies from the retail price, in percent of it ("-10.05",
    "250"). Signed and unbounded above, so not a ``PercentField`` (whose 0–100 range documents a
    request's percentages); null when the retail price is 0.00."""

    def __init__(self, **kwargs):
        super().__init__(allow_none=True, **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else pct_text(Decimal(value))


def sku_field(**kwargs) -> fields.String:
    return fields.String(validate=validate.Regexp(SKU, error="not a valid SKU"), **kwargs)


BRAND_SELLER = re.compile(r"^brand:[a-z0-9_]{1,32}$")


class Seller(fields.Field):
    """Who advertised a price: a distributor id (``42`` or ``"42"``) or a brand store
    (``"brand:tmall"``). Loaded as the text the observations keep: ``"42"``, ``"brand:tmall"``."""

    default_error_messages = {"invalid": "a distributor id or brand:<channel>"}
    _ID = Id()

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        if isinstance(value, str) and value.startswith("brand:"):
            if BRAND_SELLER.match(value) is None:
                raise self.make_error("invalid")
            return value
        try:
            return str(self._ID.deserialize(value))
        except ValidationError:
            raise self.make_error("invalid") from None


# ---- list prices --------------------------------------------------------------------------------


class PriceSetSchema(Schema):
    list_price = MoneyField(required=True)
    floor_price = MoneyField(required=True)
    currency = fields.String(load_default="CNY", validate=validate.Regexp(
        r"^[A-Z]{3}$", error="an ISO 4217 code such as CNY"))
    effective_from = AwareTimestamp()


class PriceEntrySchema(Schema):
    list_price = MoneyField()
    floor_price = MoneyField()
    currency = fields.String()
    effective_from = fields.DateTime()
    set_by = fields.String()
    set_at = fields.DateTime()


class PricesSchema(Schema):
    sku = fields.String()
    current = fields.Nested(PriceEntrySchema, allow_none=True)
    scheduled = fields.List(fields.Nested(PriceEntrySchema))
    history = fields.List(fields.Nested(PriceEntrySchema))
    price_version = fields.Integer()


class RetailQuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    at = AwareTimestamp()


class PromotionRefSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    discount_pct = PercentField()


class RetailPriceSchema(Schema):
    sku = fields.String()
    at = fields.DateTime()
    list_price = MoneyField()
    retail_price = MoneyField()
    currency = fields.String()
    promotion = fields.Nested(PromotionRefSchema, allow_none=True)


# ---- promotions ---------------------------------------------------------------------------------


class PromotionCreateSchema(Schema):
    name = text(200, required=True)
    discount_pct = PercentField(required=True)
    starts_at = AwareTimestamp(required=True)
    ends_at = AwareTimestamp(required=True)
    skus = fields.List(sku_field(), validate=validate.Length(min=1, max=10_000))


class PromotionSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    discount_pct = PercentField()
    starts_at = fields.DateTime()
    ends_at = fields.DateTime()
    skus = fields.List(fields.String(), allow_none=True)
    status = fields.String()
    created_by = fields.String()
    created_at = fields.DateTime()
    decided_by = fields.String(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    reason = fields.String(allow_none=True)
    green_channel = fields.Boolean()


PromotionPageSchema = page_of(PromotionSchema, "PromotionPageSchema")


class PromotionQuerySchema(PageQuerySchema):
    class Meta:
        unknown = EXCLUDE

    status = fields.String(validate=validate.OneOf(["approved", "pending_approval", "rejected"]))


class PromotionRejectSchema(Schema):
    reason = text(500, required=True)


class GreenChannelSchema(Schema):
    max_discount_pct = PercentField(required=True)
    max_duration_hours = PercentField(required=True, validate=[two_places, validate.Range(
        min=Decimal(0), max=MAX_GREEN_HOURS, min_inclusive=False)])


# ---- tiers --------------------------------------------------------------------------------------


class VolumeBreakSchema(Schema):
    min_qty = StrictInteger(required=True, validate=validate.Range(min=1, max=1_000_000))
    extra_discount_pct = PercentField(required=True)


class TierSetSchema(Schema):
    discount_pct = PercentField(required=True)
    volume_breaks = fields.List(fields.Nested(VolumeBreakSchema), load_default=list,
                                validate=validate.Length(max=20))


class TierSchema(Schema):
    tier = fields.String(attribute="name")
    discount_pct = PercentField()
    volume_breaks = fields.List(fields.Nested(VolumeBreakSchema))


TierPageSchema = page_of(TierSchema, "TierPageSchema")


# ---- quotes -------------------------------------------------------------------------------------


class QuoteLineRequestSchema(Schema):
    sku = sku_field(required=True)
    qty = StrictInteger(required=True, validate=validate.Range(min=1, max=1_000_000))


class QuoteRequestSchema(Schema):
    lines = fields.List(fields.Nested(QuoteLineRequestSchema), required=True,
                        validate=validate.Length(min=1, max=200))


_SKU = re.compile(SKU)
_QUOTE_LINE_KEYS = {"sku", "qty"}


def load_quote_request(payload) -> dict:
    """``QuoteRequestSchema`` for the hot path: a request it would accept as it is, checked here
    without marshmallow's per-field dispatch (a tenth of the quote's Python time); anything else —
    every error — goes through the schema, so errors read the same. tests/test_pricing_schemas.py
    holds the two equal."""
    lines = payload.get("lines") if type(payload) is dict and len(payload) == 1 else None
    if type(lines) is list and 1 <= len(lines) <= 200:
        out = []
        for line in lines:
            if type(line) is not dict or line.keys() != _QUOTE_LINE_KEYS:
                break
            sku, qty = line["sku"], line["qty"]
            if type(sku) is not str or type(qty) is not int or not 1 <= qty <= 1_000_000 \
                    or _SKU.match(sku) is None:
                break
            out.append({"sku": sku, "qty": qty})
        else:
            return {"lines": out}
    return load(QuoteRequestSchema, payload)


class QuoteLineSchema(Schema):
    sku = fields.String()
    qty = fields.Integer()
    list_price = MoneyField()
    retail_price = MoneyField()
    tier_discount_pct = PercentField()
    volume_discount_pct = PercentField()
    unit_price = MoneyField()
    line_total = MoneyField()


class QuoteSchema(Schema):
    id = fields.Integer()
    distributor_id = fields.Integer()
    tier = fields.String()
    lines = fields.List(fields.Nested(QuoteLineSchema))
    total = MoneyField()
    currency = fields.String()
    price_version = fields.Integer()
    valid_until = fields.DateTime()
    created_at = fields.DateTime()


def _money(value: Decimal) -> str:
    # str() of a Decimal with exponent -2 never uses an exponent: the same text as format "f", faster
    return str(value.quantize(CENT))


def dump_quote(quote: Quote, *, distributor_id: int, tier: str, price_version: int,
               created_at: datetime) -> dict:
    """``QuoteSchema().dump`` written out: the quote is the hot path and marshmallow's per-field
    dispatch was a sixth of its Python time. tests/test_pricing_schemas.py holds the two equal."""
    return {
        "distributor_id": distributor_id,
        "tier": tier,
        "lines": [{"sku": line.sku, "qty": line.qty, "list_price": _money(line.list_price),
                   "retail_price": _money(line.retail_price),
                   "tier_discount_pct": pct_text(line.tier_discount_pct),
                   "volume_discount_pct": pct_text(line.volume_discount_pct),
                   "unit_price": _money(line.unit_price), "line_total": _money(line.line_total)}
                  for line in quote.lines],
        "total": _money(quote.total),
        "currency": quote.currency,
        "price_version": price_version,
        "valid_until": quote.valid_until.isoformat(),
        "created_at": created_at.isoformat(),
    }


class UnitPriceSchema(Schema):
    """A distributor's price for one unit of one SKU (catalog views)."""

    list_price = MoneyField()
    retail_price = MoneyField()
    unit_price = MoneyField()
    tier_discount_pct = PercentField()
    currency = fields.String()


# ---- parity -------------------------------------------------------------------------------------


class ObservationSchema(Schema):
    channel = fields.String(required=True, validate=validate.Regexp(
        r"^[a-z0-9_]{1,32}$", error="1-32 of a-z 0-9 _ (e.g. tmall)"))
    seller = Seller(required=True)
    sku = sku_field(required=True)
    observed_price = MoneyField(required=True, positive=True)
    observed_at = AwareTimestamp(required=True)
    source_url = fields.Url(required=True, validate=[validate.Length(max=2000), storable])


class ObservationResultSchema(Schema):
    id = fields.Integer()
    channel = fields.String()
    seller = fields.String()
    distributor_id = fields.Integer(allow_none=True)
    sku = fields.String()
    observed_price = MoneyField()
    observed_at = fields.DateTime()
    source_url = fields.String()
    result = fields.String()
    direction = fields.String(allow_none=True)
    expected_price = MoneyField()
    deviation_pct = DeviationField()
    flagged_for_review = fields.Boolean()


ViolationPageSchema = page_of(ObservationResultSchema, "ViolationPageSchema")


class ViolationQuerySchema(PageQuerySchema):
    class Meta:
        unknown = EXCLUDE

    distributor_id = Id()
    seller = Seller()
    sku = sku_field()
    since = AwareTimestamp()
    until = AwareTimestamp()
