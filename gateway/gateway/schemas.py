"""Response shapes that join more than one service's contract, for the OpenAPI document."""
from __future__ import annotations

from marshmallow import fields
from pricing.schemas import UnitPriceSchema

from catalog.schemas import ProductSchema
from common.schemas import page_of


class DistributorProductSchema(ProductSchema):
    """A product as a distributor sees it: with its own unit price (null while the SKU has none)."""

    price = fields.Nested(UnitPriceSchema, allow_none=True)


DistributorProductPageSchema = page_of(DistributorProductSchema, "DistributorProductPageSchema")
