"""Response shapes the gateway answers with that no single service's contract describes (OpenAPI)."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from catalog.schemas import ProductSchema
from common.schemas import page_of
from pricing.schemas import UnitPriceSchema


class DistributorProductSchema(ProductSchema):
    """A product as a distributor sees it: with its own unit price (null while the SKU has none)."""

    price = fields.Nested(UnitPriceSchema, allow_none=True)


DistributorProductPageSchema = page_of(DistributorProductSchema, "DistributorProductPageSchema")


class HealthSchema(Schema):
    status = fields.String()


class ReadySchema(Schema):
    status = fields.String()
    checks = fields.Dict(keys=fields.String(), values=fields.String())


class EchoSchema(Schema):
    echo = fields.String()


class EchoQuerySchema(Schema):
    q = fields.String(validate=validate.Length(max=200))


class OpenApiDocumentSchema(Schema):
    """This document itself (OpenAPI 3.0)."""

    openapi = fields.String()
    info = fields.Dict()
    paths = fields.Dict()
    components = fields.Dict()
