"""The catalog's contracts: RPC payloads, HTTP bodies (the gateway documents them in OpenAPI), events."""
from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

from common.schemas import PageQuerySchema, StrictBoolean, page_of

SKU_PATTERN = r"^[A-Za-z0-9._-]{1,64}$"
MAX_IMPORT = 10_000


def sku_field(**kwargs) -> fields.String:
    return fields.String(validate=validate.Regexp(
        SKU_PATTERN, error="1-64 characters of A-Z a-z 0-9 - _ ."), **kwargs)


class ProductCreateSchema(Schema):
    sku = sku_field(required=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    category = fields.String(required=True, validate=validate.Length(min=1, max=100))
    lifecycle = fields.String(required=True, validate=validate.OneOf(["new", "classic"]))
    hero = StrictBoolean()
    attributes = fields.Dict(keys=fields.String(validate=validate.Length(max=100)))
    substitutes = fields.List(sku_field(), validate=validate.Length(max=50))
    status = fields.String(validate=validate.OneOf(["draft", "active"]))


class ProductPatchSchema(Schema):
    """Every field optional; ``sku`` cannot change and ``discontinued`` has its own route."""

    name = fields.String(validate=validate.Length(min=1, max=200))
    category = fields.String(validate=validate.Length(min=1, max=100))
    lifecycle = fields.String(validate=validate.OneOf(["new", "classic"]))
    hero = StrictBoolean()
    attributes = fields.Dict(keys=fields.String(validate=validate.Length(max=100)))
    substitutes = fields.List(sku_field(), validate=validate.Length(max=50))
    status = fields.String(validate=validate.OneOf(["draft", "active"]))


class ProductSchema(Schema):
    """A product as every caller and every event sees it."""

    sku = fields.String()
    name = fields.String()
    category = fields.String()
    lifecycle = fields.String()
    hero = fields.Boolean()
    attributes = fields.Dict()
    substitutes = fields.List(fields.String())
    status = fields.String()
    version = fields.Integer()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


ProductPageSchema = page_of(ProductSchema, "ProductPageSchema")


class ImportSchema(Schema):
    products = fields.List(fields.Nested(ProductCreateSchema), required=True,
                           validate=validate.Length(min=1, max=MAX_IMPORT))


class ImportResultSchema(Schema):
    created = fields.Integer()
    updated = fields.Integer()
    unchanged = fields.Integer()


class ProductQuerySchema(PageQuerySchema):
    class Meta:
        unknown = EXCLUDE

    status = fields.String(validate=validate.OneOf(["draft", "active", "discontinued"]))
    lifecycle = fields.String(validate=validate.OneOf(["new", "classic"]))
    category = fields.String(validate=validate.Length(min=1, max=100))
    q = fields.String(validate=validate.Length(min=1, max=100))


class AssortmentSchema(Schema):
    active = fields.Integer()
    new = fields.Integer()
    classic = fields.Integer()
    new_ratio = fields.Float()
    target_new_ratio = fields.Float()


class ProductEventSchema(Schema):
    """``product_created`` / ``product_updated`` / ``product_discontinued``."""

    event_id = fields.UUID()
    occurred_at = fields.DateTime()
    request_id = fields.String(allow_none=True)
    product = fields.Nested(ProductSchema)


PRODUCT = ProductSchema()
