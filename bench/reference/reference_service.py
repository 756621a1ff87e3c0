"""A stock nameko 2.14 system, the yardstick of `make bench` (issue #14): an HTTP gateway whose one
route makes one RPC to a products service that answers a dict from memory.

Written as nameko's documentation and nameko-examples write services, with every setting left at
nameko's default (serializer json, max_workers 10, RpcProxy, the werkzeug server of `@http`): no
database, no authentication, no validation, no logging set-up, no metrics. The product is the size
of what our distributor read answers (a product with attributes, substitutes and a unit price).

    cd bench/reference && nameko run --config config.yaml reference_service:ProductsService
    cd bench/reference && nameko run --config config.yaml reference_service:GatewayService
"""
from __future__ import annotations

import json

from nameko.rpc import RpcProxy, rpc
from nameko.web.handlers import http
from werkzeug.wrappers import Response

PRODUCTS = {
    sku: {
        "sku": sku, "name": "Bench towel", "category": "towels", "lifecycle": "classic", "hero": False,
        "attributes": {"colour": "white", "gsm": 600}, "substitutes": [], "status": "active",
        "version": 1, "created_at": "2026-12-01T08:00:00.000000+00:00",
        "updated_at": "2026-12-01T08:00:00.000000+00:00",
        "price": {"list_price": "199.00", "retail_price": "199.00", "unit_price": "129.35",
                  "tier_discount_pct": "35", "currency": "CNY"},
    }
    for sku in (f"SKU-{i}" for i in range(1, 201))
}


class ProductsService:
    name = "products"

    @rpc
    def get_product(self, sku: str) -> dict | None:
        return PRODUCTS.get(sku)


class GatewayService:
    name = "gateway"

    products = RpcProxy("products")

    @http("GET", "/products/<string:sku>")
    def get_product(self, request, sku: str) -> Response:
        product = self.products.get_product(sku)
        if product is None:
            return Response(json.dumps({"error": "not found"}), status=404, mimetype="application/json")
        return Response(json.dumps(product), mimetype="application/json")
