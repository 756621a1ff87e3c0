"""Gateway routes: authenticate, parse, one RPC, dump. No business rules live here."""
from __future__ import annotations

import csv
import io
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import eventlet
import structlog
from nameko.exceptions import UnknownService
from nameko.timer import timer
from werkzeug.wrappers import Request, Response

from catalog import schemas as catalog_schemas
from common.config import Settings, setting
from common.db import Database
from common.errors import InvalidInput, NotFound
from common.logs import WorkerLogging
from common.rpc import RpcProxy
from common.schemas import PageQuerySchema, load
from common.topology import BACKENDS
from distributors import schemas as distributor_schemas
from fulfillment import schemas as fulfillment_schemas
from gateway import apidocs, auth, console, edge, store, views
from gateway import schemas as gateway_schemas
from gateway.auth import CHANNEL, DISTRIBUTOR, MANAGER, SALES, Principal
from gateway.errors import register_remote_errors, status_for
from gateway.http import json_response, route
from gateway.idempotency import request_fingerprint, run_once
from gateway.openapi import build_spec
from gateway.problems import problem, problem_from_exception
from gateway.ratelimit import RateLimits
from gateway.schemas import DistributorProductPageSchema, DistributorProductSchema
from pricing import schemas as pricing_schemas
from webhooks import schemas as webhook_schemas

register_remote_errors()

ADMIN = (MANAGER, SALES)
CSV = "text/csv"
CSV_PAGE = 5000  # lines per RPC while exporting a statement
PERIOD_PARAM = {"type": "string", "pattern": fulfillment_schemas.PERIOD_PATTERN}
MANAGER_ONLY = (MANAGER,)
PARTIES = (DISTRIBUTOR, CHANNEL)  # those with webhooks
ANY_ROLE = auth.ROLES
SERVICES = BACKENDS  # what /ready asks after
READY_TIMEOUT = 2.0

log = structlog.get_logger("gateway")


@dataclass
class Call:
    """What a route handler gets: who is calling, the parsed body and the query string."""

    principal: Principal
    body: Any
    query: dict[str, str]
    request_id: str
    headers: Any = None

    @property
    def actor(self) -> str:
        return self.principal.actor


class GatewayService(console.ConsoleRoutes):
    name = "gateway"

    db = Database("gateway")
    log = WorkerLogging(summary=False)
    config = Settings()
    catalog = RpcProxy("catalog")
    distributors = RpcProxy("distributors")
    pricing = RpcProxy("pricing")
    fulfillment = RpcProxy("fulfillment")
    webhooks = RpcProxy("webhooks")

    key_cache = auth.KeyCache()
    catalog_views = views.CatalogViews()
    rate_limits = RateLimits()

    # ---- the one path every route takes ----------------------------------------------------------

    def serve(self, spec, handler: Callable, request: Request, path_values: dict) -> Response:
        request_id = structlog.contextvars.get_contextvars().get("request_id") or ""
        principal = auth.authenticate(self.db.cursor, self.key_cache,
                                      request.headers.get("Authorization"), spec.roles)
        self.rate_limits.check(principal, spec.public_limit, request.remote_addr)
        edge.check_path_values(path_values)
        query = edge.check_query(request, spec.query_names)
        if query.get("cursor"):
            query["cursor"] = edge.unwrap_cursor(spec.name, query["cursor"])
        raw, body = b"", None
        if spec.body is not None and not (spec.body_optional and not request.content_length):
            raw, body = edge.read_json_body(request, spec.max_body)
        elif not (spec.body_optional and spec.body is not None):
            raw = edge.refuse_stray_body(request, spec.max_body)
        call = Call(principal, body, query, request_id, request.headers)

        def produce() -> Response:
            try:
                result = handler(self, call, **path_values)
            except Exception as exc:
                status = status_for(exc)
                if status == 500:
                    log.error("route_failed", route=spec.name, exc_info=exc)
                if status >= 500:  # it may have been applied (a 504): no copy may outlive it
                    self._views_changed(spec)
                return problem_from_exception(exc, request_id)
            self._views_changed(spec)
            if isinstance(result, Response):
                return result
            if isinstance(result, dict) and result.get("next_cursor"):
                result["next_cursor"] = edge.wrap_cursor(spec.name, result["next_cursor"])
            return json_response(spec.status, result)

        key = request.headers.get("Idempotency-Key")
        if key is None or request.method not in ("POST", "PUT"):
            return produce()
        ttl = setting(self.config, "IDEMPOTENCY_TTL_HOURS", 48)
        fingerprint = request_fingerprint(request.method, request.path, raw)
        return run_once(self.db, principal.scope, key, fingerprint, ttl, produce)

    def _views_changed(self, spec) -> None:
        """A route that changes what distributors' catalog views show moves their version (in this
        worker's transaction, committed before the answer leaves): every replica's copies are old."""
        if spec.name not in views.CHANGING_ROUTES:
            return
        self.catalog_views.clear()
        try:
            views.bump_version(self.db.cursor())
        except Exception:  # the answer stands; the copies of other replicas expire within their ttl
            log.exception("catalog_view_version_not_moved", route=spec.name)

    # ---- public ----------------------------------------------------------------------------------

    @route("GET", "/health", roles=None, summary="Liveness: the gateway process answers", tag="ops",
           response=gateway_schemas.HealthSchema, calls_services=False)
    def health(self, call):
        return {"status": "ok"}

    @route("GET", "/ready", roles=None, summary="Readiness: the gateway's database and every service",
           tag="ops", response=gateway_schemas.ReadySchema)
    def ready(self, call):
        checks: dict[str, str] = {}
        try:
            cur = self.db.cursor()
            cur.execute("SELECT 1")
            checks["gateway_database"] = "ok"
        except Exception as exc:  # any failure means not ready
            checks["gateway_database"] = f"unavailable: {type(exc).__name__}"
        pool = eventlet.GreenPool()  # in parallel: a silent service costs READY_TIMEOUT once, not each
        for name, state in zip(SERVICES, pool.imap(self._service_health, SERVICES), strict=True):
            checks[name] = state
        failing = sorted(name for name, state in checks.items() if state != "ok")
        if failing:
            return problem(503, "Service unavailable", "not ready: " + ", ".join(failing),
                           request_id=call.request_id, checks=checks)
        return {"status": "ready", "checks": checks}

    def _service_health(self, name: str) -> str:
        try:
            with eventlet.Timeout(READY_TIMEOUT):
                getattr(self, name).health.call_async().result()
            return "ok"
        except eventlet.Timeout:
            return "no answer"
        except UnknownService:
            return "not running"
        except Exception as exc:  # a service that answers with an error is not ready either
            return f"unavailable: {type(exc).__name__}"

    @route("GET", "/openapi.json", roles=None, summary="This API's OpenAPI 3 description", tag="ops",
           response=gateway_schemas.OpenApiDocumentSchema, calls_services=False)
    def openapi(self, call):
        return build_spec()

    @route("GET", "/docs", roles=None, summary="This API's documentation as an HTML page", tag="ops",
           calls_services=False, media="text/html")
    def docs(self, call):
        return apidocs.page()

    @route("GET", "/docs/assets/<name>", roles=None, tag="ops", calls_services=False,
           summary="The documentation page's scripts, styles and icons (served locally)",
           media=tuple(apidocs.MEDIA_TYPES.values()),
           path_params={"name": {"type": "string", "enum": list(apidocs.ASSETS)}})
    def docs_asset(self, call, name):
        return apidocs.asset(name)

    @route("GET", "/v1/diagnostics/echo", roles=ANY_ROLE, tag="ops",
           summary="A bare gateway→RPC round trip (the benchmarks' floor)",
           query=gateway_schemas.EchoQuerySchema, response=gateway_schemas.EchoSchema)
    def echo(self, call):
        query = load(gateway_schemas.EchoQuerySchema, call.query)
        return self.catalog.echo({"echo": query.get("q", "")})

    # ---- catalog: sales team ---------------------------------------------------------------------

    @route("POST", "/v1/admin/products", roles=ADMIN, status=201, tag="catalog",
           summary="Create a product", body=catalog_schemas.ProductCreateSchema,
           response=catalog_schemas.ProductSchema)
    def create_product(self, call):
        product = self.catalog.create_product(call.body, call.actor)
        return json_response(201, product, {"Location": f"/v1/admin/products/{product['sku']}"})

    @route("GET", "/v1/admin/products", roles=ADMIN, tag="catalog",
           summary="List products (filters: status, lifecycle, category, q)",
           query=catalog_schemas.ProductQuerySchema, response=catalog_schemas.ProductPageSchema)
    def list_products(self, call):
        return self.catalog.list_products(call.query)

    @route("POST", "/v1/admin/products/import", roles=ADMIN, tag="catalog",
           summary="Upsert up to 10,000 products by sku, all or nothing",
           body=catalog_schemas.ImportSchema, response=catalog_schemas.ImportResultSchema,
           max_body=32 * 1024 * 1024)
    def import_products(self, call):
        return self.catalog.import_products(call.body, call.actor)

    @route("GET", "/v1/admin/products/<sku>", roles=ADMIN, tag="catalog", summary="Read a product",
           response=catalog_schemas.ProductSchema)
    def get_product(self, call, sku):
        return self.catalog.get_product(sku)

    @route("PATCH", "/v1/admin/products/<sku>", roles=ADMIN, tag="catalog",
           summary="Change a product (draft → active allowed)",
           body=catalog_schemas.ProductPatchSchema, response=catalog_schemas.ProductSchema)
    def update_product(self, call, sku):
        return self.catalog.update_product(sku, call.body, call.actor)

    @route("POST", "/v1/admin/products/<sku>/discontinue", roles=ADMIN, tag="catalog",
           summary="Discontinue a product (final)", response=catalog_schemas.ProductSchema)
    def discontinue_product(self, call, sku):
        return self.catalog.discontinue_product(sku, call.actor)

    @route("GET", "/v1/admin/catalog/assortment", roles=ADMIN, tag="catalog",
           summary="New vs classic among active products, against the target",
           response=catalog_schemas.AssortmentSchema)
    def assortment(self, call):
        return self.catalog.get_assortment()

    # ---- catalog: distributors -------------------------------------------------------------------

    @route("GET", "/v1/catalog/products", roles=(DISTRIBUTOR,), tag="distributor",
           summary="Active products with your unit prices", query=catalog_schemas.ProductQuerySchema,
           response=DistributorProductPageSchema)
    def catalog_products(self, call):
        products = self.catalog.list_catalog(call.query)
        prices = self.pricing.get_unit_prices(call.principal.distributor_id,
                                              [p["sku"] for p in products["items"]])
        for product in products["items"]:
            product["price"] = prices.get(product["sku"])
        return products

    @route("GET", "/v1/catalog/products/<sku>", roles=(DISTRIBUTOR,), tag="distributor",
           summary="One active product with your unit price", response=DistributorProductSchema)
    def catalog_product(self, call, sku):
        # pricing computes the view (it keeps the catalog's products beside the prices: one call);
        # the gateway keeps a copy by the views' version until pricing says it changes (views.py)
        if self.db.conn is None:
            self.db.standalone()  # one statement, no BEGIN/COMMIT
        version = views.read_version(self.db.cursor())
        key, now = (call.principal.distributor_id, sku), time.time()
        kept = self.catalog_views.get(key, version, now)
        if kept is not None:
            return kept
        if self.catalog_views.settling(version, now):  # a change may be on its way to pricing
            answer = self.pricing.get_catalog_view(call.principal.distributor_id, sku, fresh=True)
        else:
            answer = self.pricing.get_catalog_view(call.principal.distributor_id, sku)
        self.catalog_views.put(key, version, answer["product"], answer["valid_until"], now)
        return answer["product"]

    # ---- pricing ---------------------------------------------------------------------------------

    @route("PUT", "/v1/admin/prices/<sku>", roles=MANAGER_ONLY, tag="pricing",
           summary="Set a SKU's list and floor price, now or from effective_from",
           body=pricing_schemas.PriceSetSchema, response=pricing_schemas.PricesSchema)
    def set_price(self, call, sku):
        return self.pricing.set_price(sku, call.body, call.actor)

    @route("GET", "/v1/admin/prices/<sku>", roles=ADMIN, tag="pricing",
           summary="Current, scheduled and every past price of a SKU",
           response=pricing_schemas.PricesSchema)
    def get_prices(self, call, sku):
        return self.pricing.get_prices(sku)

    @route("GET", "/v1/admin/retail-prices/<sku>", roles=ADMIN, tag="pricing",
           summary="The retail price at an instant (?at=ISO 8601), the same in every channel",
           query=pricing_schemas.RetailQuerySchema, response=pricing_schemas.RetailPriceSchema)
    def retail_price(self, call, sku):
        return self.pricing.get_retail_price(sku, call.query)

    @route("GET", "/v1/admin/tiers", roles=ADMIN, tag="pricing", summary="Distributor tiers",
           query=PageQuerySchema, response=pricing_schemas.TierPageSchema)
    def list_tiers(self, call):
        load(PageQuerySchema, call.query)  # one page holds every tier; bad paging is still 400
        return self.pricing.list_tiers()

    @route("PUT", "/v1/admin/tiers/<tier>", roles=MANAGER_ONLY, tag="pricing",
           summary="Set a tier's discount and volume breaks", body=pricing_schemas.TierSetSchema,
           response=pricing_schemas.TierSchema)
    def set_tier(self, call, tier):
        return self.pricing.set_tier(tier, call.body, call.actor)

    @route("POST", "/v1/admin/promotions", roles=ADMIN, status=201, tag="pricing",
           summary="Create a promotion (approved at once inside the green channel or by a manager)",
           body=pricing_schemas.PromotionCreateSchema, response=pricing_schemas.PromotionSchema)
    def create_promotion(self, call):
        return self.pricing.create_promotion(call.body, call.actor, call.principal.role)

    @route("GET", "/v1/admin/promotions", roles=ADMIN, tag="pricing",
           summary="List promotions (filter: status)", query=pricing_schemas.PromotionQuerySchema,
           response=pricing_schemas.PromotionPageSchema)
    def list_promotions(self, call):
        return self.pricing.list_promotions(call.query)

    @route("POST", "/v1/admin/promotions/<promotion_id>/approve", roles=MANAGER_ONLY, tag="pricing",
           summary="Approve a pending promotion", response=pricing_schemas.PromotionSchema)
    def approve_promotion(self, call, promotion_id):
        return self.pricing.approve_promotion(promotion_id, call.actor)

    @route("POST", "/v1/admin/promotions/<promotion_id>/reject", roles=MANAGER_ONLY, tag="pricing",
           summary="Reject a pending promotion", body=pricing_schemas.PromotionRejectSchema,
           response=pricing_schemas.PromotionSchema)
    def reject_promotion(self, call, promotion_id):
        return self.pricing.reject_promotion(promotion_id, call.body, call.actor)

    @route("GET", "/v1/admin/green-channel", roles=ADMIN, tag="pricing",
           summary="The limits inside which sales' promotions are approved at once",
           response=pricing_schemas.GreenChannelSchema)
    def get_green_channel(self, call):
        return self.pricing.get_green_channel()

    @route("PUT", "/v1/admin/green-channel", roles=MANAGER_ONLY, tag="pricing",
           summary="Change the green channel", body=pricing_schemas.GreenChannelSchema,
           response=pricing_schemas.GreenChannelSchema)
    def set_green_channel(self, call):
        return self.pricing.set_green_channel(call.body, call.actor)

    @route("POST", "/v1/admin/price-observations", roles=ADMIN, status=201, tag="pricing",
           summary="Record an observed price; answers ok or a parity violation",
           body=pricing_schemas.ObservationSchema, response=pricing_schemas.ObservationResultSchema)
    def record_observation(self, call):
        return self.pricing.record_observation(call.body, call.actor)

    @route("GET", "/v1/admin/parity/violations", roles=ADMIN, tag="pricing",
           summary="Parity violations by distributor and time",
           query=pricing_schemas.ViolationQuerySchema, response=pricing_schemas.ViolationPageSchema)
    def list_violations(self, call):
        return self.pricing.list_violations(call.query)

    @route("POST", "/v1/quotes", roles=(DISTRIBUTOR,), status=201, tag="distributor",
           summary="A quote at your tier (up to 200 lines)", body=pricing_schemas.QuoteRequestSchema,
           response=pricing_schemas.QuoteSchema)
    def create_quote(self, call):
        return self.pricing.create_quote(call.principal.distributor_id, call.body)

    # ---- fulfilment: distributors' stock and assignments -------------------------------------------

    @route("GET", "/v1/locations/<location_id>/stock", roles=(DISTRIBUTOR,), tag="fulfilment",
           summary="Stock of one of your locations", query=PageQuerySchema,
           response=fulfillment_schemas.StockPageSchema)
    def get_stock(self, call, location_id):
        return self.fulfillment.get_stock(call.principal.distributor_id, location_id, call.query)

    @route("PUT", "/v1/locations/<location_id>/stock", roles=(DISTRIBUTOR,), tag="fulfilment",
           summary="Upload a full stock snapshot (unlisted SKUs become 0)",
           body=fulfillment_schemas.StockSnapshotSchema, response=fulfillment_schemas.SnapshotResultSchema,
           max_body=16 * 1024 * 1024)
    def put_stock(self, call, location_id):
        return self.fulfillment.put_stock(call.principal.distributor_id, location_id, call.body)

    @route("POST", "/v1/locations/<location_id>/stock/adjustments", roles=(DISTRIBUTOR,),
           tag="fulfilment", summary="Apply stock deltas, all or nothing",
           body=fulfillment_schemas.AdjustmentsSchema, response=fulfillment_schemas.AdjustmentsResultSchema)
    def adjust_stock(self, call, location_id):
        # deltas are not idempotent by nature: the service keeps the caller's key with its answer,
        # so a retry after a 504/503 (the first attempt may still have been applied) is applied once
        key = call.headers.get("Idempotency-Key")
        request_key = f"{call.principal.scope}:{key}" if key else None
        return self.fulfillment.adjust_stock(call.principal.distributor_id, location_id, call.body,
                                             request_key)

    @route("GET", "/v1/assignments", roles=(DISTRIBUTOR,), tag="fulfilment",
           summary="Your assignments (filter: status)", query=fulfillment_schemas.AssignmentQuerySchema,
           response=fulfillment_schemas.AssignmentPageSchema)
    def list_assignments(self, call):
        return self.fulfillment.list_assignments(call.principal.distributor_id, call.query)

    @route("POST", "/v1/assignments/<assignment_id>/accept", roles=(DISTRIBUTOR,), tag="fulfilment",
           summary="Accept an assignment", response=fulfillment_schemas.AssignmentSchema)
    def accept_assignment(self, call, assignment_id):
        return self.fulfillment.accept_assignment(call.principal.distributor_id, assignment_id)

    @route("POST", "/v1/assignments/<assignment_id>/reject", roles=(DISTRIBUTOR,), tag="fulfilment",
           summary="Reject an assignment (it is re-routed without you)",
           body=fulfillment_schemas.AssignmentRejectSchema, response=fulfillment_schemas.AssignmentSchema)
    def reject_assignment(self, call, assignment_id):
        return self.fulfillment.reject_assignment(call.principal.distributor_id, assignment_id, call.body)

    @route("POST", "/v1/assignments/<assignment_id>/ship", roles=(DISTRIBUTOR,), tag="fulfilment",
           summary="Ship an accepted assignment", body=fulfillment_schemas.ShipSchema,
           response=fulfillment_schemas.AssignmentSchema)
    def ship_assignment(self, call, assignment_id):
        return self.fulfillment.ship_assignment(call.principal.distributor_id, assignment_id, call.body)

    # ---- fulfilment: storefronts -----------------------------------------------------------------

    @route("POST", "/v1/orders", roles=(CHANNEL,), status=201, tag="orders",
           summary="Submit an order; it is routed to the nearest distributors at once",
           body=fulfillment_schemas.OrderCreateSchema, response=fulfillment_schemas.OrderSchema,
           also={200: "this channel already sent this external_id: that order's current state, "
                      "with Idempotent-Replayed: true"})
    def create_order(self, call):
        result = self.fulfillment.create_order(call.principal.channel, call.body)
        if result["replayed"]:
            return json_response(200, result["order"], {"Idempotent-Replayed": "true"})
        return json_response(201, result["order"], {"Location": f"/v1/orders/{result['order']['id']}"})

    @route("GET", "/v1/orders/<order_id>", roles=(CHANNEL,), tag="orders", summary="One of your orders",
           response=fulfillment_schemas.OrderSchema)
    def get_order(self, call, order_id):
        return self.fulfillment.get_order(call.principal.channel, order_id)

    @route("POST", "/v1/orders/<order_id>/cancel", roles=(CHANNEL,), tag="orders",
           summary="Cancel one of your orders (releases its reservations)",
           response=fulfillment_schemas.OrderSchema)
    def cancel_order(self, call, order_id):
        return self.fulfillment.cancel_order(call.principal.channel, order_id, call.actor)

    # ---- fulfilment: sales team ------------------------------------------------------------------

    @route("GET", "/v1/admin/orders", roles=ADMIN, tag="orders",
           summary="Orders (filters: channel, status, external_id, distributor_id, created_from, "
                   "created_to); no routing explanation in the list",
           query=fulfillment_schemas.OrderQuerySchema, response=fulfillment_schemas.OrderPageSchema)
    def list_orders(self, call):
        return self.fulfillment.list_orders(call.query)

    @route("GET", "/v1/admin/orders/<order_id>", roles=ADMIN, tag="orders",
           summary="An order with its routing explanation", response=fulfillment_schemas.OrderAdminSchema)
    def admin_get_order(self, call, order_id):
        return self.fulfillment.get_order(None, order_id)

    @route("POST", "/v1/admin/orders/<order_id>/cancel", roles=ADMIN, tag="orders",
           summary="Cancel an order", response=fulfillment_schemas.OrderAdminSchema)
    def admin_cancel_order(self, call, order_id):
        return self.fulfillment.cancel_order(None, order_id, call.actor)

    # ---- webhooks (Standard Webhooks) -------------------------------------------------------------

    @staticmethod
    def _party(call) -> dict:
        """Whose webhooks: the key's distributor or channel (every key of it sees the same ones)."""
        return {"distributor_id": call.principal.distributor_id, "channel": call.principal.channel}

    @route("POST", "/v1/webhooks", roles=PARTIES, status=201, tag="webhooks",
           summary="Register an endpoint for your events (its secret is shown only now)",
           body=webhook_schemas.EndpointCreateSchema, response=webhook_schemas.EndpointCreatedSchema)
    def create_webhook(self, call):
        created = self.webhooks.create_endpoint(self._party(call), call.body)
        return json_response(201, created, {"Location": f"/v1/webhooks/{created['id']}"})

    @route("GET", "/v1/webhooks", roles=PARTIES, tag="webhooks", summary="Your webhook endpoints",
           query=PageQuerySchema, response=webhook_schemas.EndpointPageSchema)
    def list_webhooks(self, call):
        return self.webhooks.list_endpoints(self._party(call), call.query)

    @route("GET", "/v1/webhooks/<webhook_id>", roles=PARTIES, tag="webhooks", summary="One of your endpoints",
           response=webhook_schemas.EndpointSchema)
    def get_webhook(self, call, webhook_id):
        return self.webhooks.get_endpoint(self._party(call), webhook_id)

    @route("PATCH", "/v1/webhooks/<webhook_id>", roles=PARTIES, tag="webhooks",
           summary="Change an endpoint's url, events or status (enable one that was disabled)",
           body=webhook_schemas.EndpointPatchSchema, response=webhook_schemas.EndpointSchema)
    def update_webhook(self, call, webhook_id):
        return self.webhooks.update_endpoint(self._party(call), webhook_id, call.body)

    @route("DELETE", "/v1/webhooks/<webhook_id>", roles=PARTIES, status=204, tag="webhooks",
           summary="Delete an endpoint (with its deliveries)")
    def delete_webhook(self, call, webhook_id):
        self.webhooks.delete_endpoint(self._party(call), webhook_id)
        return json_response(204, None)

    @route("POST", "/v1/webhooks/<webhook_id>/rotate-secret", roles=PARTIES, tag="webhooks",
           summary="A new signing secret (shown only now); the old one signs nothing more",
           response=webhook_schemas.EndpointCreatedSchema)
    def rotate_webhook_secret(self, call, webhook_id):
        return self.webhooks.rotate_secret(self._party(call), webhook_id)

    @route("POST", "/v1/webhooks/<webhook_id>/test", roles=PARTIES, status=202, tag="webhooks",
           summary="Send a webhook.test event to this endpoint", response=webhook_schemas.TestSentSchema)
    def test_webhook(self, call, webhook_id):
        return json_response(202, self.webhooks.send_test(self._party(call), webhook_id))

    @route("GET", "/v1/webhooks/<webhook_id>/deliveries", roles=PARTIES, tag="webhooks",
           summary="Deliveries to this endpoint, newest first (filter: status)",
           query=webhook_schemas.DeliveryQuerySchema, response=webhook_schemas.DeliveryPageSchema)
    def list_webhook_deliveries(self, call, webhook_id):
        return self.webhooks.list_deliveries(self._party(call), webhook_id, call.query)

    # ---- settlement (分账) ------------------------------------------------------------------------

    @route("GET", "/v1/statements", roles=(DISTRIBUTOR,), tag="settlement",
           summary="Your monthly statements (what the brand owes you), newest first",
           query=fulfillment_schemas.OwnStatementQuerySchema, response=fulfillment_schemas.StatementPageSchema)
    def list_own_statements(self, call):
        return self.fulfillment.list_statements(call.principal.distributor_id, call.query)

    @route("GET", "/v1/statements/<period>.csv", roles=(DISTRIBUTOR,), tag="settlement",
           summary="One of your statements as CSV (UTF-8, a header row, one row per line)",
           media=CSV, query=fulfillment_schemas.StatementCsvQuerySchema, path_params={"period": PERIOD_PARAM})
    def own_statement_csv(self, call, period):
        return self._statement_csv(call.principal.distributor_id, period, call.query)

    @route("GET", "/v1/statements/<period>", roles=(DISTRIBUTOR,), tag="settlement",
           summary="One of your statements with a page of its lines",
           query=fulfillment_schemas.StatementLinesQuerySchema,
           response=fulfillment_schemas.StatementDetailSchema, path_params={"period": PERIOD_PARAM})
    def own_statement(self, call, period):
        return self.fulfillment.get_statement(call.principal.distributor_id, period, call.query)

    @route("GET", "/v1/admin/statements", roles=ADMIN, tag="settlement",
           summary="Statements (filters: distributor_id, period), newest period first",
           query=fulfillment_schemas.StatementQuerySchema, response=fulfillment_schemas.StatementPageSchema)
    def list_statements(self, call):
        return self.fulfillment.list_statements(None, call.query)

    @route("GET", "/v1/admin/statements/<distributor_id>/<period>.csv", roles=ADMIN, tag="settlement",
           summary="A distributor's statement as CSV", media=CSV,
           query=fulfillment_schemas.StatementCsvQuerySchema, path_params={"period": PERIOD_PARAM})
    def statement_csv(self, call, distributor_id, period):
        return self._statement_csv(distributor_id, period, call.query)

    @route("GET", "/v1/admin/statements/<distributor_id>/<period>", roles=ADMIN, tag="settlement",
           summary="A distributor's statement with a page of its lines",
           query=fulfillment_schemas.StatementLinesQuerySchema,
           response=fulfillment_schemas.StatementDetailSchema, path_params={"period": PERIOD_PARAM})
    def get_statement(self, call, distributor_id, period):
        return self.fulfillment.get_statement(distributor_id, period, call.query)

    @route("POST", "/v1/admin/statements/<distributor_id>/<period>/close", roles=MANAGER_ONLY,
           tag="settlement", summary="Close a statement once its month has ended (it never changes again)",
           response=fulfillment_schemas.StatementSchema, path_params={"period": PERIOD_PARAM})
    def close_statement(self, call, distributor_id, period):
        return self.fulfillment.close_statement(distributor_id, period, call.actor)

    @route("GET", "/v1/admin/channels", roles=ADMIN, tag="settlement",
           summary="Every channel with an API key or a commission rate, with its rate",
           response=fulfillment_schemas.ChannelListSchema)
    def list_channels(self, call):
        return self.fulfillment.list_channels(store.key_channels(self.db.cursor()))

    @route("PUT", "/v1/admin/channels/<channel>", roles=MANAGER_ONLY, tag="settlement",
           summary="Set a channel's commission rate (applies to lines shipped from now on)",
           body=fulfillment_schemas.ChannelRateSetSchema, response=fulfillment_schemas.ChannelSchema,
           path_params={"channel": {"type": "string", "pattern": fulfillment_schemas.CHANNEL_PATTERN}})
    def set_channel_rate(self, call, channel):
        return self.fulfillment.set_channel_rate(channel, call.body, call.actor)

    @route("GET", "/v1/admin/settlement/summary", roles=ADMIN, tag="settlement",
           summary="A month's totals per channel and each distributor's net",
           query=fulfillment_schemas.SummaryQuerySchema, response=fulfillment_schemas.SettlementSummarySchema)
    def settlement_summary(self, call):
        return self.fulfillment.settlement_summary(call.query)

    def _statement_csv(self, distributor_id, period, query: dict) -> Response:
        """The whole statement, fetched page by page into a spooled file (in memory up to 1 MiB, on
        disk beyond), then streamed: a 100k-line statement never sits in memory. A statement that
        does not exist is a 404 before anything is sent."""
        bom = load(fulfillment_schemas.StatementCsvQuerySchema, query)["bom"]
        spool = tempfile.SpooledTemporaryFile(max_size=1024 * 1024)
        text = io.TextIOWrapper(spool, encoding="utf-8-sig" if bom else "utf-8", newline="")
        writer = csv.DictWriter(text, fieldnames=fulfillment_schemas.STATEMENT_CSV_FIELDS,
                                extrasaction="ignore", lineterminator="\r\n")
        writer.writeheader()
        after = None
        while True:
            page = self.fulfillment.statement_lines(distributor_id, period, after, CSV_PAGE)
            writer.writerows(page["items"])
            after = page["after"]
            if after is None:
                break
        text.flush()
        text.detach()
        spool.seek(0)
        return Response(iter(lambda: spool.read(64 * 1024), b""), status=200,
                        content_type="text/csv; charset=utf-8", headers={
                            "Content-Disposition": f'attachment; filename="statement-{distributor_id}-{period}.csv"'})

    # ---- distributor onboarding: applicants -------------------------------------------------------

    @route("POST", "/v1/applications", roles=None, status=201, tag="onboarding", public_limit=True,
           summary="Apply to become a distributor", body=distributor_schemas.ApplicationSchema,
           response=distributor_schemas.ApplicationReceiptSchema)
    def submit_application(self, call):
        receipt = self.distributors.submit_application(call.body)
        return json_response(201, receipt, {"Location": f"/v1/applications/{receipt['id']}"})

    @route("GET", "/v1/applications/<application_id>", roles=None, tag="onboarding", public_limit=True,
           summary="An application's progress (header X-Application-Token)",
           response=distributor_schemas.ApplicationViewSchema,
           headers={"X-Application-Token": "the status token returned when applying"})
    def application_status(self, call, application_id):
        return self.distributors.get_application_status(application_id, call.headers.get(
            "X-Application-Token"))

    # ---- distributor onboarding: sales team ------------------------------------------------------

    @route("GET", "/v1/admin/applications", roles=ADMIN, tag="onboarding",
           summary="List applications (filters: status, province, city)",
           query=distributor_schemas.ApplicationQuerySchema,
           response=distributor_schemas.ApplicationPageSchema)
    def list_applications(self, call):
        return self.distributors.list_applications(call.query)

    @route("GET", "/v1/admin/applications/<application_id>", roles=ADMIN, tag="onboarding",
           summary="Read an application", response=distributor_schemas.ApplicationViewSchema)
    def get_application(self, call, application_id):
        return self.distributors.get_application(application_id)

    @route("POST", "/v1/admin/applications/<application_id>/approve", roles=MANAGER_ONLY,
           tag="onboarding", summary="Approve: creates the distributor and its first API key",
           body=distributor_schemas.ApproveSchema, response=distributor_schemas.ApprovalSchema)
    def approve_application(self, call, application_id):
        approved = self.distributors.approve_application(application_id, call.body, call.actor)
        distributor_id = str(approved["distributor_id"])
        key = auth.issue_key(self.db.cursor(), DISTRIBUTOR, call.actor, distributor_id=distributor_id)
        return {"distributor_id": approved["distributor_id"], "api_key": key["api_key"],
                "api_key_id": key["id"]}

    @route("POST", "/v1/admin/applications/<application_id>/reject", roles=MANAGER_ONLY,
           tag="onboarding", summary="Reject with a reason", body=distributor_schemas.ReasonSchema,
           response=distributor_schemas.ApplicationViewSchema)
    def reject_application(self, call, application_id):
        return self.distributors.reject_application(application_id, call.body, call.actor)

    @route("GET", "/v1/admin/distributors", roles=ADMIN, tag="onboarding",
           summary="List distributors (filters: status, tier, province, city)",
           query=distributor_schemas.DistributorQuerySchema,
           response=distributor_schemas.DistributorPageSchema)
    def list_distributors(self, call):
        return self.distributors.list_distributors(call.query)

    @route("GET", "/v1/admin/distributors/<distributor_id>", roles=ADMIN, tag="onboarding",
           summary="A distributor with its history", response=distributor_schemas.DistributorAdminSchema)
    def get_distributor(self, call, distributor_id):
        return self.distributors.get_distributor(distributor_id)

    @route("PATCH", "/v1/admin/distributors/<distributor_id>", roles=MANAGER_ONLY, tag="onboarding",
           summary="Change a distributor's tier", body=distributor_schemas.TierChangeSchema,
           response=distributor_schemas.DistributorAdminSchema)
    def change_tier(self, call, distributor_id):
        return self.distributors.change_tier(distributor_id, call.body, call.actor)

    @route("POST", "/v1/admin/distributors/<distributor_id>/suspend", roles=MANAGER_ONLY,
           tag="onboarding", summary="Suspend (reason required)", body=distributor_schemas.ReasonSchema,
           response=distributor_schemas.DistributorAdminSchema)
    def suspend_distributor(self, call, distributor_id):
        return self.distributors.change_status(distributor_id, "suspend", call.body, call.actor)

    @route("POST", "/v1/admin/distributors/<distributor_id>/reinstate", roles=MANAGER_ONLY,
           tag="onboarding", summary="Reinstate a suspended distributor",
           body=distributor_schemas.OptionalReasonSchema, body_optional=True,
           response=distributor_schemas.DistributorAdminSchema)
    def reinstate_distributor(self, call, distributor_id):
        return self.distributors.change_status(distributor_id, "reinstate", call.body or {},
                                               call.actor)

    @route("POST", "/v1/admin/distributors/<distributor_id>/terminate", roles=MANAGER_ONLY,
           tag="onboarding", summary="Terminate (final; reason required)",
           body=distributor_schemas.ReasonSchema, response=distributor_schemas.DistributorAdminSchema)
    def terminate_distributor(self, call, distributor_id):
        return self.distributors.change_status(distributor_id, "terminate", call.body, call.actor)

    # ---- distributors themselves -----------------------------------------------------------------

    @route("GET", "/v1/me", roles=(DISTRIBUTOR,), tag="distributor", summary="Your own profile",
           response=distributor_schemas.DistributorSchema)
    def me(self, call):
        return self.distributors.get_profile(call.principal.distributor_id)

    @route("GET", "/v1/locations", roles=(DISTRIBUTOR,), tag="distributor", summary="Your locations",
           query=PageQuerySchema, response=distributor_schemas.LocationPageSchema)
    def list_locations(self, call):
        return self.distributors.list_locations(call.principal.distributor_id, call.query)

    @route("POST", "/v1/locations", roles=(DISTRIBUTOR,), status=201, tag="distributor",
           summary="Add a location", body=distributor_schemas.LocationCreateSchema,
           response=distributor_schemas.LocationSchema)
    def add_location(self, call):
        location = self.distributors.add_location(call.principal.distributor_id, call.body)
        return json_response(201, location, {"Location": f"/v1/locations/{location['id']}"})

    @route("PATCH", "/v1/locations/<location_id>", roles=(DISTRIBUTOR,), tag="distributor",
           summary="Change a location", body=distributor_schemas.LocationPatchSchema,
           response=distributor_schemas.LocationSchema)
    def update_location(self, call, location_id):
        return self.distributors.update_location(call.principal.distributor_id, location_id,
                                                 call.body)

    # ---- API keys --------------------------------------------------------------------------------

    @route("POST", "/v1/admin/api-keys", roles=MANAGER_ONLY, status=201, tag="admin",
           summary="Issue an API key (shown once)", body=auth.ApiKeyCreateSchema,
           response=auth.ApiKeyIssuedSchema)
    def create_api_key(self, call):
        fields = load(auth.ApiKeyCreateSchema, call.body)
        if fields["role"] == DISTRIBUTOR:
            try:
                self.distributors.get_profile(fields["distributor_id"])
            except NotFound:
                raise InvalidInput.for_field("distributor_id", "no such distributor") from None
        return auth.issue_key(self.db.cursor(), fields["role"], call.actor,
                              fields.get("distributor_id"), fields.get("channel"))

    @route("DELETE", "/v1/admin/api-keys/<int:key_id>", roles=MANAGER_ONLY, status=204, tag="admin",
           summary="Revoke an API key")
    def revoke_api_key(self, call, key_id):
        key_hash = store.revoke_key(self.db.cursor(), key_id)
        if key_hash is None:
            raise NotFound(f"API key {key_id} not found")
        self.key_cache.evict(key_hash)
        return json_response(204, None)

    # ---- housekeeping ----------------------------------------------------------------------------

    @timer(interval=3600)
    def purge_idempotency_records(self):
        ttl = setting(self.config, "IDEMPOTENCY_TTL_HOURS", 48)
        purged = store.purge_idempotency_keys(self.db.cursor(), ttl)
        if purged:
            log.info("idempotency_records_purged", count=purged)
