"""The events the catalog publishes: its public contract with every consumer (pricing keeps a read
model of products) and with webhooks. Each carries the product as ``GET /v1/products/{sku}`` shows it;
consumers order them by the product's own ``version``, not by arrival. Catalogue: docs/events.md."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from marshmallow import Schema

from catalog.schemas import ProductSchema
from common.contracts import View, declare

SERVICE = "catalog"


@dataclass(frozen=True)
class ProductCreated:
    product: Mapping[str, Any]  # ProductSchema's view


@dataclass(frozen=True)
class ProductUpdated:
    product: Mapping[str, Any]


@dataclass(frozen=True)
class ProductDiscontinued:
    product: Mapping[str, Any]


class ProductEventSchema(Schema):
    """``product_created`` / ``product_updated`` / ``product_discontinued``: the product after the fact."""

    product = View(ProductSchema, required=True)


PRODUCT_CREATED = declare(SERVICE, "product_created", 1, ProductEventSchema, ProductCreated,
                          "a product was added, draft or active (also by an import)")
PRODUCT_UPDATED = declare(SERVICE, "product_updated", 1, ProductEventSchema, ProductUpdated,
                          "a product changed (also by an import); a change that changes nothing is not announced")
PRODUCT_DISCONTINUED = declare(SERVICE, "product_discontinued", 1, ProductEventSchema, ProductDiscontinued,
                               "a product was discontinued, for good")
