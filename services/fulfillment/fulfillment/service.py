"""Fulfillment entrypoints: each adapts a nameko call (RPC, event, timer) to a handler of
``fulfillment.handlers`` — it loads the payload (the contract), hands the handler a unit of work
over the worker's transaction and RPC proxies, and returns its answer."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from nameko.timer import timer

from common.config import Settings, setting
from common.contracts import EventContract
from common.db import Database
from common.entrypoints import event_handler, rpc
from common.errors import ServiceError
from common.health import check_database
from common.logs import WorkerLogging
from common.metrics import DatabaseGauges
from common.outbox import OutboxRelay
from common.rpc import RpcProxy
from common.schemas import load
from distributors import events as distributors_events
from fulfillment import domain, handlers, metrics
from fulfillment.schemas import (
    AdjustmentsSchema,
    AssignmentQuerySchema,
    AssignmentRejectSchema,
    ChannelPathSchema,
    ChannelRateSetSchema,
    OrderCreateSchema,
    OrderQuerySchema,
    OwnStatementQuerySchema,
    ShipSchema,
    StatementLinesQuerySchema,
    StatementQuerySchema,
    StockQuerySchema,
    StockSnapshotSchema,
    SummaryQuerySchema,
)
from fulfillment.unit_of_work import SqlUnitOfWork, distributor_facts, location_facts


def _now() -> datetime:
    return datetime.now(UTC)


class FulfillmentService:
    name = "fulfillment"

    db = Database("fulfillment")
    log = WorkerLogging()
    config = Settings()
    outbox = OutboxRelay()
    gauges = DatabaseGauges(*metrics.GAUGES)  # orders by status, reservations: read at each scrape
    catalog = RpcProxy("catalog")
    distributors = RpcProxy("distributors")
    pricing = RpcProxy("pricing")

    def _uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.db, catalog=self.catalog, pricing=self.pricing, distributors=self.distributors)

    def _freshness(self) -> timedelta:
        """How old stock may be and still count as fresh (``STOCK_FRESHNESS_HOURS``)."""
        return timedelta(hours=setting(self.config, "STOCK_FRESHNESS_HOURS", domain.FRESHNESS / timedelta(hours=1)))

    def _accept_timeout(self) -> timedelta:
        """How long an assignment may wait to be accepted (``ACCEPT_TIMEOUT_MINUTES``)."""
        return timedelta(minutes=setting(self.config, "ACCEPT_TIMEOUT_MINUTES",
                                         domain.ACCEPT_TIMEOUT / timedelta(minutes=1)))

    @rpc
    def health(self) -> dict:
        return {"service": self.name, **check_database(self.db)}

    # ---- read models ----------------------------------------------------------------------------

    @event_handler("distributors", "location_changed")
    def on_location_changed(self, payload: dict) -> None:
        received = distributors_events.LOCATION_CHANGED.receive(payload)
        handlers.apply_location_change(self._uow(), received.event_id, location_facts(received.event.location),
                                       _now(), self._freshness())

    def _on_distributor(self, contract: EventContract, payload: dict, trigger: str | None = None) -> None:
        """Any of the distributor's events, loaded through the distributors service's contract."""
        received = contract.receive(payload)
        handlers.apply_distributor_change(self._uow(), received.event_id,
                                          distributor_facts(received.event.distributor), trigger, _now(),
                                          self._freshness())

    @event_handler("distributors", "distributor_approved")
    def on_distributor_approved(self, payload: dict) -> None:
        self._on_distributor(distributors_events.DISTRIBUTOR_APPROVED, payload)

    @event_handler("distributors", "distributor_reinstated")
    def on_distributor_reinstated(self, payload: dict) -> None:
        self._on_distributor(distributors_events.DISTRIBUTOR_REINSTATED, payload)

    @event_handler("distributors", "distributor_suspended")
    def on_distributor_suspended(self, payload: dict) -> None:
        """Its stock leaves routing and its open assignments are re-routed in the same step."""
        self._on_distributor(distributors_events.DISTRIBUTOR_SUSPENDED, payload, "distributor_suspended")

    @event_handler("distributors", "distributor_terminated")
    def on_distributor_terminated(self, payload: dict) -> None:
        self._on_distributor(distributors_events.DISTRIBUTOR_TERMINATED, payload, "distributor_terminated")

    # ---- stock ----------------------------------------------------------------------------------

    @rpc(expected_exceptions=ServiceError)
    def get_stock(self, distributor_id, location_id, query: dict) -> dict:
        params = load(StockQuerySchema, query)
        return handlers.get_stock(self._uow(), distributor_id, location_id, params["cursor"], params["limit"])

    @rpc(expected_exceptions=ServiceError)
    def put_stock(self, distributor_id, location_id, payload: dict) -> dict:
        items = load(StockSnapshotSchema, payload)["items"]
        return handlers.put_stock(self._uow(), distributor_id, location_id,
                                  [(i["sku"], i["on_hand"]) for i in items], _now())

    @rpc(expected_exceptions=ServiceError)
    def adjust_stock(self, distributor_id, location_id, payload: dict,
                     request_key: str | None = None) -> dict:
        adjustments = load(AdjustmentsSchema, payload)["adjustments"]
        return handlers.adjust_stock(self._uow(), distributor_id, location_id,
                                     [(a["sku"], a["delta"]) for a in adjustments], payload, _now(), request_key)

    # ---- orders ---------------------------------------------------------------------------------

    @rpc(expected_exceptions=ServiceError)
    def create_order(self, channel: str, payload: dict) -> dict:
        fields = load(OrderCreateSchema, payload)
        return handlers.create_order(self._uow(), channel, fields["external_id"], fields["ship_to"],
                                     [(line["sku"], line["qty"]) for line in fields["lines"]], _now(),
                                     self._freshness())

    @rpc(expected_exceptions=ServiceError)
    def get_order(self, channel: str | None, order_id) -> dict:
        return handlers.get_order(self._uow(), channel, order_id)

    @rpc(expected_exceptions=ServiceError)
    def list_orders(self, query: dict) -> dict:
        params = load(OrderQuerySchema, query)
        after = params.pop("cursor")
        limit = params.pop("limit")
        return handlers.list_orders(self._uow(), params, after, limit)

    @rpc(expected_exceptions=ServiceError)
    def cancel_order(self, channel: str | None, order_id, actor: str) -> dict:
        return handlers.cancel_order(self._uow(), channel, order_id, actor, _now())

    # ---- assignments ----------------------------------------------------------------------------

    @rpc(expected_exceptions=ServiceError)
    def list_assignments(self, distributor_id, query: dict) -> dict:
        params = load(AssignmentQuerySchema, query)
        return handlers.list_assignments(self._uow(), distributor_id, params.get("status"), params["cursor"],
                                         params["limit"])

    @rpc(expected_exceptions=ServiceError)
    def accept_assignment(self, distributor_id, assignment_id) -> dict:
        return handlers.accept_assignment(self._uow(), distributor_id, assignment_id, _now())

    @rpc(expected_exceptions=ServiceError)
    def ship_assignment(self, distributor_id, assignment_id, payload: dict) -> dict:
        fields = load(ShipSchema, payload)
        return handlers.ship_assignment(self._uow(), distributor_id, assignment_id, fields["carrier"],
                                        fields["tracking_no"], _now())

    @rpc(expected_exceptions=ServiceError)
    def reject_assignment(self, distributor_id, assignment_id, payload: dict) -> dict:
        reason = load(AssignmentRejectSchema, payload)["reason"]
        return handlers.reject_assignment(self._uow(), distributor_id, assignment_id, reason, _now(),
                                          self._freshness())

    # ---- settlement (分账) ------------------------------------------------------------------------

    @rpc(expected_exceptions=ServiceError)
    def set_channel_rate(self, channel: str, payload: dict, actor: str) -> dict:
        channel = load(ChannelPathSchema, {"channel": channel})["channel"]
        fields = load(ChannelRateSetSchema, payload)
        return handlers.set_channel_rate(self._uow(), channel, fields["commission_pct"], actor, _now())

    @rpc(expected_exceptions=ServiceError)
    def list_channels(self, known: list) -> dict:
        return handlers.list_channels(self._uow(), [c for c in known if isinstance(c, str)])

    @rpc(expected_exceptions=ServiceError)
    def list_statements(self, distributor_id, query: dict) -> dict:
        """A distributor's own statements (``distributor_id``), or the sales team's search (None)."""
        if distributor_id is None:
            params = load(StatementQuerySchema, query)
        else:
            params = {**load(OwnStatementQuerySchema, query), "distributor_id": distributor_id}
        return handlers.list_statements(self._uow(), params.get("distributor_id"), params.get("period"),
                                        params["cursor"], params["limit"])

    @rpc(expected_exceptions=ServiceError)
    def get_statement(self, distributor_id, period, query: dict) -> dict:
        params = load(StatementLinesQuerySchema, query)
        return handlers.get_statement(self._uow(), distributor_id, period, params["cursor"], params["limit"])

    @rpc(expected_exceptions=ServiceError)
    def statement_lines(self, distributor_id, period, after, limit: int) -> dict:
        """Lines for the CSV export, ``limit`` (≤ 5000) at a time after the key ``after``."""
        after = after if isinstance(after, int) and not isinstance(after, bool) else None
        return handlers.statement_lines(self._uow(), distributor_id, period, after, max(1, min(int(limit), 5000)))

    @rpc(expected_exceptions=ServiceError)
    def close_statement(self, distributor_id, period, actor: str) -> dict:
        return handlers.close_statement(self._uow(), distributor_id, period, actor, _now())

    @rpc(expected_exceptions=ServiceError)
    def settlement_summary(self, query: dict) -> dict:
        return handlers.settlement_summary(self._uow(), load(SummaryQuerySchema, query)["period"])

    @timer(interval=30)
    def reroute_overdue(self) -> None:
        """A pending assignment not accepted within the timeout is re-routed without its distributor."""
        handlers.reroute_overdue(self._uow(), _now(), self._accept_timeout(), self._freshness())
