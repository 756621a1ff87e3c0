"""The fulfillment service's contracts."""
from __future__ import annotations

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

from common.schemas import PageQuerySchema, StrictFloat, StrictInteger, page_of, text

SKU = validate.Regexp(r"^[A-Za-z0-9._-]{1,64}$", error="1-64 characters of A-Z a-z 0-9 - _ .")
PHONE = r"^(\+?86[- ]?)?(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$"
MAX_SNAPSHOT = 100_000


def _unique_skus(rows: list[dict], field: str) -> None:
    seen: dict[str, int] = {}
    for i, row in enumerate(rows):
        if row["sku"] in seen:
            raise ValidationError({field: {i: {"sku": [f"duplicate of {field}[{seen[row['sku']]}]"]}}})
        seen[row["sku"]] = i


class StockItemSchema(Schema):
    sku = fields.String(required=True, validate=SKU)
    on_hand = StrictInteger(required=True, validate=validate.Range(min=0, max=1_000_000_000))


class StockSnapshotSchema(Schema):
    items = fields.List(fields.Nested(StockItemSchema), required=True,
                        validate=validate.Length(max=MAX_SNAPSHOT))

    @validates_schema
    def check_unique(self, data, **kwargs):
        _unique_skus(data["items"], "items")


class AdjustmentSchema(Schema):
    sku = fields.String(required=True, validate=SKU)
    delta = StrictInteger(required=True, validate=validate.Range(min=-1_000_000_000, max=1_000_000_000))
    reason = text(200, required=True)


class AdjustmentsSchema(Schema):
    adjustments = fields.List(fields.Nested(AdjustmentSchema), required=True,
                              validate=validate.Length(min=1, max=10_000))

    @validates_schema
    def check_unique(self, data, **kwargs):
        _unique_skus(data["adjustments"], "adjustments")


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
    phone = fields.String(required=True, validate=validate.Regexp(PHONE, error="a Chinese phone number"))
    address = text(300, required=True)
    lat = StrictFloat(required=True, validate=validate.Range(min=-90, max=90))
    lon = StrictFloat(required=True, validate=validate.Range(min=-180, max=180))


class OrderLineSchema(Schema):
    sku = fields.String(required=True, validate=SKU)
    qty = StrictInteger(required=True, validate=validate.Range(min=1, max=999))


class OrderCreateSchema(Schema):
    external_id = fields.String(required=True, validate=validate.Regexp(
        r"^[A-Za-z0-9._:-]{1,64}$", error="1-64 characters of A-Z a-z 0-9 . _ : -"))
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


class OrderSchema(Schema):
    id = fields.Integer()
    external_id = fields.String()
    channel = fields.String()
    status = fields.String()
    ship_to = fields.Dict()
    lines = fields.List(fields.Nested(LineSchema))
    shipments = fields.List(fields.Nested(ShipmentSchema))
    backordered = fields.List(fields.Nested(BackorderedSchema))
    retail_total = fields.String()
    created_at = fields.DateTime()


class OrderAdminSchema(OrderSchema):
    explanation = fields.List(fields.Dict())


OrderPageSchema = page_of(OrderAdminSchema, "OrderPageSchema")


class OrderQuerySchema(PageQuerySchema):
    class Meta:
        unknown = EXCLUDE

    channel = fields.String(validate=validate.Length(min=1, max=32))
    status = fields.String(validate=validate.OneOf(
        ["routed", "partially_routed", "backordered", "shipped", "cancelled"]))


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
        unknown = EXCLUDE

    status = fields.String(validate=validate.OneOf(
        ["pending", "accepted", "shipped", "rejected", "rerouted", "cancelled"]))


class AssignmentRejectSchema(Schema):
    reason = text(500, required=True)


class ShipSchema(Schema):
    carrier = text(100, required=True)
    tracking_no = text(100, required=True)
