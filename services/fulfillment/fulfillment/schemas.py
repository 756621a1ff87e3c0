"""The fulfillment service's contracts."""
from __future__ import annotations

import re

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from common.errors import InvalidInput
from common.pagination import decode_cursor
from common.schemas import (
    AwareTimestamp,
    GeocodeSchema,
    Id,
    PageQuerySchema,
    PhoneNumber,
    StrictFloat,
    StrictInteger,
    page_of,
    place_hint,
    text,
)
from fulfillment.domain import MAX_ON_HAND
from pricing.schemas import PercentField

SKU = validate.Regexp(r"^[A-Za-z0-9._-]{1,64}$", error="1-64 characters of A-Z a-z 0-9 - _ .")
EXTERNAL_ID = validate.Regexp(r"^[A-Za-z0-9._:-]{1,64}$", error="1-64 characters of A-Z a-z 0-9 . _ : -")
CHANNEL_PATTERN = r"^[a-z0-9_]{1,32}$"
CHANNEL = validate.Regexp(CHANNEL_PATTERN, error="1-32 of a-z 0-9 _ (e.g. tmall)")
ORDER_STATUSES = ("routed", "partially_routed", "backordered", "shipped", "cancelled")
ASSIGNMENT_STATUSES = ("pending", "accepted", "shipped", "rejected", "rerouted", "cancelled")
MAX_SNAPSHOT = 100_000
MAX_CURSOR = 512


class Cursor(fields.String):
    """A page cursor, loaded as the key it carries (``key``: the field that key must load with).
    A cursor that is not one, or whose key has another type (another list's), is 400 naming
    ``cursor``, never a query the database refuses."""

    default_error_messages = {"malformed": "malformed cursor"}

    def __init__(self, key: fields.Field, **kwargs):
        super().__init__(load_default=None, **kwargs)
        self.key = key

    def _deserialize(self, value, attr, data, **kwargs):
        given = super()._deserialize(value, attr, data, **kwargs)
        if len(given) > MAX_CURSOR:
            raise self.make_error("malformed")
        try:
            after = decode_cursor(given)
        except InvalidInput:
            raise self.make_error("malformed") from None
        if after is None:
            return None
        try:
            return self.key.deserialize(after)
        except ValidationError:
            raise self.make_error("malformed") from None


def _unique_skus(rows: list[dict], field: str) -> None:
    seen: dict[str, int] = {}
    for i, row in enumerate(rows):
        if row["sku"] in seen:
            raise ValidationError({field: {i: {"sku": [f"duplicate of {field}[{seen[row['sku']]}]"]}}})
        seen[row["sku"]] = i


class StockItemSchema(Schema):
    sku = fields.String(required=True, validate=SKU)
    on_hand = StrictInteger(required=True, validate=validate.Range(min=0, max=MAX_ON_HAND))


class StockSnapshotSchema(Schema):
    items = fields.List(fields.Nested(StockItemSchema), required=True,
                        validate=validate.Length(max=MAX_SNAPSHOT))

    @validates_schema
    def check_unique(self, data, **kwargs):
        _unique_skus(data["items"], "items")


class AdjustmentSchema(Schema):
    sku = fields.String(required=True, validate=SKU)
    delta = StrictInteger(required=True, validate=validate.Range(min=-MAX_ON_HAND, max=MAX_ON_HAND))
    reason = text(200, required=True)


class AdjustmentsSchema(Schema):
    adjustments = fields.List(fields.Nested(AdjustmentSchema), required=True,
                              validate=validate.Length(min=1, max=10_000))

    @validates_schema
    def check_unique(self, data, **kwargs):
        _unique_skus(data["adjustments"], "adjustments")


class StockQuerySchema(PageQuerySchema):
    """The gateway documents this route with the shared ``PageQuerySchema``; same names, and the
    cursor carries the last SKU seen."""

    class Meta:
        unknown = RAISE

    cursor = Cursor(fields.String(validate=SKU))


class StockRowSchema(Schema):
    sku = fields.String()
    on_hand = fields.Integer()
    reserved = fields.Integer()
    available = fields.Integer()
    last_synced_at = fields.DateTime()


StockPageSchema = page_of(StockRowSchema, "StockPageSchema")


class RejectedLineSchema(Schema):
    sku = fields.String()
    on_hand = fields.Integer()
    reserved = fields.Integer()
    reason = fields.String()


class SnapshotResultSchema(Schema):
    applied = fields.Integer()
    rejected = fields.List(fields.Nested(RejectedLineSchema))


class AdjustmentsResultSchema(Schema):
    applied = fields.Integer()
    items = fields.List(fields.Nested(StockRowSchema))


class ShipToSchema(Schema):
    name = text(100, required=True)
    phone = PhoneNumber(required=True, metadata={
        "description": "a Chinese mobile or landline number as people write it; stored and returned "
                       "in E.164 (+8613800138000)"})
    address = text(300, required=True, metadata={
        "description": "the postal address; without lat/lon the order is routed from the centre of the "
                       "most precise division it names (浙江省杭州市西湖区文三路90号 → 西湖区)"})
    lat = StrictFloat(validate=validate.Range(min=-90, max=90), metadata={
        "description": "with lon: where to route from (wins over the address); both or neither"})
    lon = StrictFloat(validate=validate.Range(min=-180, max=180), metadata={
        "description": "with lat: where to route from (wins over the address); both or neither"})
    province = place_hint()
    city = place_hint()
    district = place_hint()


class OrderLineSchema(Schema):
    sku = fields.String(required=True, validate=SKU)
    qty = StrictInteger(required=True, validate=validate.Range(min=1, max=999))


class OrderCreateSchema(Schema):
    external_id = fields.String(required=True, validate=EXTERNAL_ID)
    ship_to = fields.Nested(ShipToSchema, required=True)
    lines = fields.List(fields.Nested(OrderLineSchema), required=True,
                        validate=validate.Length(min=1, max=50))


class LineSchema(Schema):
    sku = fields.String()
    qty = fields.Integer()


class ShipmentSchema(Schema):
    assignment_id = fields.Integer()
    distributor_id = fields.Integer()
    location_id = fields.Integer()
    distance_km = fields.Float()
    lines = fields.List(fields.Nested(LineSchema))
    status = fields.String()
    carrier = fields.String(allow_none=True)
    tracking_no = fields.String(allow_none=True)


class BackorderedSchema(Schema):
    sku = fields.String()
    qty = fields.Integer()
    substitutes = fields.List(fields.String())
    refund_amount = fields.String()


class CandidateSchema(Schema):
    location_id = fields.Integer()
    distributor_id = fields.Integer()
    distance_km = fields.Float()
    available = fields.Integer(metadata={"description": "available units of the ordered SKUs"})
    chosen = fields.Boolean()
    reason = fields.String(metadata={
        "description": "chosen, or why not: out_of_radius, insufficient_stock, no_stock, stale_stock, "
                       "distributor_inactive, location_inactive, excluded_after_reject, shipment_limit, "
                       "farther"})


class RoutingRoundSchema(Schema):
    trigger = fields.String(metadata={
        "description": "order_created, rejected, timeout, distributor_suspended, ..."})
    at = fields.String(metadata={"description": "when the round ran (ISO 8601)"})
    candidates = fields.List(fields.Nested(CandidateSchema), metadata={
        "description": "every chosen candidate and, nearest first, at most 20 others that had an "
                       "ordered SKU available"})
    omitted = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={
        "description": "the candidates not listed, counted by reason (e.g. {\"no_stock\": 12})"})
    stale_stock_used = fields.Boolean()
    geocode_precision = fields.String(metadata={
        "description": "how precisely the destination was placed: given, district, city or province"})
    note = fields.String()


class OrderSchema(Schema):
    id = fields.Integer()
    external_id = fields.String()
    channel = fields.String()
    status = fields.String()
    ship_to = fields.Dict()
    geocode = fields.Nested(GeocodeSchema, metadata={"description": "where the order is routed from"})
    lines = fields.List(fields.Nested(LineSchema))
    shipments = fields.List(fields.Nested(ShipmentSchema))
    backordered = fields.List(fields.Nested(BackorderedSchema))
    retail_total = fields.String()
    created_at = fields.DateTime()


class OrderAdminSchema(OrderSchema):
    explanation = fields.List(fields.Nested(RoutingRoundSchema))


# a list view carries no routing explanation: only GET /v1/admin/orders/{id} does
OrderPageSchema = page_of(OrderSchema, "OrderPageSchema")


class OrderQuerySchema(PageQuerySchema):
    """Filters of the sales team's order search; every one given must hold (AND)."""

    class Meta:
        unknown = RAISE

    cursor = Cursor(Id())
    channel = fields.String(validate=CHANNEL, metadata={"description": "the storefront's channel code"})
    status = fields.String(validate=validate.OneOf(ORDER_STATUSES))
    external_id = fields.String(validate=EXTERNAL_ID, metadata={
        "description": "the channel's own order id (exact match)"})
    distributor_id = Id(metadata={
        "description": "orders with an assignment of this distributor (whatever its status: rejected "
                       "and re-routed ones count)"})
    created_from = AwareTimestamp(metadata={
        "description": "orders created at or after this instant (inclusive); ISO 8601 with a UTC offset"})
    created_to = AwareTimestamp(metadata={
        "description": "orders created before this instant (exclusive); ISO 8601 with a UTC offset"})

    @validates_schema
    def check_period(self, data, **kwargs):
        if "created_from" in data and "created_to" in data and data["created_to"] < data["created_from"]:
            raise ValidationError({"created_to": ["must not be before created_from"]})


class AssignmentSchema(Schema):
    id = fields.Integer()
    order_id = fields.Integer()
    distributor_id = fields.Integer()
    location_id = fields.Integer()
    distance_km = fields.Float()
    lines = fields.List(fields.Nested(LineSchema))
    status = fields.String()
    ship_to = fields.Dict()
    reason = fields.String(allow_none=True)
    carrier = fields.String(allow_none=True)
    tracking_no = fields.String(allow_none=True)
    created_at = fields.DateTime()


AssignmentPageSchema = page_of(AssignmentSchema, "AssignmentPageSchema")


class AssignmentQuerySchema(PageQuerySchema):
    class Meta:
        unknown = RAISE

    cursor = Cursor(Id())
    status = fields.String(validate=validate.OneOf(ASSIGNMENT_STATUSES))


class AssignmentRejectSchema(Schema):
    reason = text(500, required=True)


class ShipSchema(Schema):
    carrier = text(100, required=True)
    tracking_no = text(100, required=True)


# ---- settlement (分账) ----------------------------------------------------------------------------

PERIOD_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])$"


def _period(value: str) -> None:
    """``YYYY-MM`` and nothing more (a regex's ``$`` would also let a trailing newline through)."""
    if not re.fullmatch(PERIOD_PATTERN[1:-1], value):
        raise ValidationError("a month as YYYY-MM")


PERIOD = [validate.Regexp(PERIOD_PATTERN, error="a month as YYYY-MM"), _period]
# a statement's CSV export: its columns, in order (SPEC: Settlement statements)
STATEMENT_CSV_FIELDS = ("order_id", "external_id", "channel", "sku", "qty", "unit_price", "gross",
                        "commission_pct", "commission", "net", "shipped_at")


class ChannelPathSchema(Schema):
    channel = fields.String(required=True, validate=CHANNEL)


class ChannelRateSetSchema(Schema):
    commission_pct = PercentField(required=True, metadata={
        "description": "the brand's commission on this channel's orders, 0-100 (at most 4 places), "
                       "applied to each line when it ships"})


class ChannelSchema(Schema):
    channel = fields.String()
    commission_pct = fields.String(metadata={"description": "0 when no rate was set"})
    updated_at = fields.DateTime(allow_none=True)
    updated_by = fields.String(allow_none=True)


class ChannelListSchema(Schema):
    items = fields.List(fields.Nested(ChannelSchema))
    next_cursor = fields.String(allow_none=True)


class SettlementLineSchema(Schema):
    order_id = fields.Integer()
    external_id = fields.String()
    channel = fields.String()
    sku = fields.String()
    qty = fields.Integer()
    unit_price = fields.String(metadata={"description": "the order's retail unit price"})
    gross = fields.String(metadata={"description": "unit_price × qty"})
    commission_pct = fields.String(metadata={"description": "the channel's rate when the line shipped"})
    commission = fields.String(metadata={"description": "gross × commission_pct / 100, half-up to 0.01"})
    net = fields.String(metadata={"description": "gross − commission: what the brand owes"})
    shipped_at = fields.String(metadata={"description": "ISO 8601"})
    assignment_id = fields.Integer()


class StatementSchema(Schema):
    distributor_id = fields.Integer()
    period = fields.String(metadata={"description": "a calendar month in Asia/Shanghai, YYYY-MM"})
    status = fields.String(metadata={"description": "open, or closed (then it never changes)"})
    lines = fields.Integer(metadata={"description": "how many lines it has"})
    gross = fields.String()
    commission = fields.String()
    net = fields.String()
    currency = fields.String()
    closed_at = fields.String(allow_none=True)
    closed_by = fields.String(allow_none=True)


class StatementDetailSchema(StatementSchema):
    items = fields.List(fields.Nested(SettlementLineSchema), metadata={
        "description": "a page of its lines, in the order they were recorded"})
    next_cursor = fields.String(allow_none=True)


StatementPageSchema = page_of(StatementSchema, "StatementPageSchema")


class StatementQuerySchema(PageQuerySchema):
    class Meta:
        unknown = RAISE

    cursor = Cursor(fields.Tuple((fields.String(validate=PERIOD), Id())))
    distributor_id = Id()
    period = fields.String(validate=PERIOD, metadata={"description": "YYYY-MM"})


class OwnStatementQuerySchema(PageQuerySchema):
    class Meta:
        unknown = RAISE

    cursor = Cursor(fields.Tuple((fields.String(validate=PERIOD), Id())))


class StatementLinesQuerySchema(PageQuerySchema):
    class Meta:
        unknown = RAISE

    cursor = Cursor(Id())


class StatementCsvQuerySchema(Schema):
    class Meta:
        unknown = RAISE

    bom = fields.Boolean(load_default=False, metadata={
        "description": "true: begin with a UTF-8 byte-order mark, which Excel needs to read the Chinese "
                       "text as UTF-8 (LibreOffice, WPS, Numbers and programs need none)"})


class SummaryQuerySchema(Schema):
    class Meta:
        unknown = RAISE

    period = fields.String(required=True, validate=PERIOD, metadata={"description": "YYYY-MM"})


class ChannelTotalsSchema(Schema):
    channel = fields.String()
    gross = fields.String()
    commission = fields.String()
    net = fields.String()


class DistributorNetSchema(Schema):
    distributor_id = fields.Integer()
    net = fields.String()


class SettlementSummarySchema(Schema):
    period = fields.String()
    currency = fields.String()
    channels = fields.List(fields.Nested(ChannelTotalsSchema))
    distributors = fields.List(fields.Nested(DistributorNetSchema))
