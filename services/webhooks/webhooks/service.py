"""Webhooks entrypoints: RPC for the gateway's /v1/webhooks routes (a party's own endpoints), event
handlers that turn the other services' events into deliveries, and the sender (webhooks.sender)."""
from __future__ import annotations

import dataclasses
import secrets
from datetime import UTC, datetime, timedelta

import structlog
from nameko.timer import timer

from common.config import Settings, setting
from common.contracts import EventContract
from common.db import Database
from common.entrypoints import event_handler, rpc
from common.errors import NotFound, ServiceError
from common.health import check_database
from common.logs import WorkerLogging
from common.metrics import DatabaseGauges
from common.outbox import OutboxRelay
from common.rpc import RpcProxy
from common.schemas import PageQuerySchema, load
from distributors import events as distributors_events
from fulfillment import events as fulfillment_events
from pricing import events as pricing_events
from webhooks import domain, handlers, metrics, store
from webhooks.domain import Party
from webhooks.schemas import DeliveryQuerySchema, EndpointCreateSchema, EndpointPatchSchema
from webhooks.sender import Sender, flag, resolve
from webhooks.unit_of_work import SqlUnitOfWork

log = structlog.get_logger("webhooks")


def _now() -> datetime:
    return datetime.now(UTC)


def _secret() -> str:
    return domain.new_secret(secrets.token_bytes(32))


class WebhooksService:
    name = "webhooks"

    db = Database("webhooks")
    log = WorkerLogging()
    config = Settings()
    outbox = OutboxRelay()  # it announces nothing yet; every backend has the same plumbing
    gauges = DatabaseGauges(*metrics.GAUGES)  # deliveries by status, read at each scrape
    sender = Sender()
    distributors = RpcProxy("distributors")
    pricing = RpcProxy("pricing")

    def _uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.db, distributor_active=self._distributor_active,
                             catalog_product=self._catalog_product, resolve=resolve)

    def _distributor_active(self, distributor_id: int) -> bool:
        try:
            return self.distributors.get_profile(distributor_id)["status"] == "active"
        except NotFound:
            return False

    def _catalog_product(self, distributor_id: int, sku: str) -> dict | None:
        try:
            return self.pricing.get_catalog_product(distributor_id, sku)
        except NotFound:
            return None

    @staticmethod
    def _party(party: dict) -> Party:
        return Party.of(party.get("distributor_id"), party.get("channel"))

    @timer(interval=3600)
    def purge_settled_deliveries(self) -> None:
        """Deliveries that ended more than ``WEBHOOK_RETENTION_DAYS`` (30) ago go, with their attempts:
        the table holds what an owner may still ask about, not every event for ever."""
        days = float(setting(self.config, "WEBHOOK_RETENTION_DAYS", 30.0))
        purged = store.purge_settled(self.db.cursor(), _now() - timedelta(days=days))
        if purged:
            log.info("webhook_deliveries_purged", count=purged, retention_days=days)

    @rpc
    def health(self) -> dict:
        return {"service": self.name, **check_database(self.db)}

    # ---- a party's endpoints -----------------------------------------------------------------------

    @rpc(expected_exceptions=ServiceError)
    def create_endpoint(self, party: dict, payload: dict) -> dict:
        fields = load(EndpointCreateSchema, payload)
        return handlers.create_endpoint(self._uow(), self._party(party), fields, _secret(), _now(),
                                        self.sender_allows_private())

    @rpc(expected_exceptions=ServiceError)
    def list_endpoints(self, party: dict, query: dict) -> dict:
        params = load(PageQuerySchema, query)
        return handlers.list_endpoints(self._uow(), self._party(party), params["cursor"], params["limit"])

    @rpc(expected_exceptions=ServiceError)
    def get_endpoint(self, party: dict, endpoint_id) -> dict:
        return handlers.get_endpoint(self._uow(), self._party(party), endpoint_id)

    @rpc(expected_exceptions=ServiceError)
    def update_endpoint(self, party: dict, endpoint_id, payload: dict) -> dict:
        changes = load(EndpointPatchSchema, payload)
        result = handlers.update_endpoint(self._uow(), self._party(party), endpoint_id, changes, _now(),
                                          self.sender_allows_private())
        self.sender()  # an endpoint enabled again: its waiting deliveries go
        return result

    @rpc(expected_exceptions=ServiceError)
    def delete_endpoint(self, party: dict, endpoint_id) -> None:
        handlers.delete_endpoint(self._uow(), self._party(party), endpoint_id)

    @rpc(expected_exceptions=ServiceError)
    def rotate_secret(self, party: dict, endpoint_id) -> dict:
        return handlers.rotate_secret(self._uow(), self._party(party), endpoint_id, _secret(), _now())

    @rpc(expected_exceptions=ServiceError)
    def send_test(self, party: dict, endpoint_id) -> dict:
        result = handlers.send_test(self._uow(), self._party(party), endpoint_id, _now())
        self.sender()
        return result

    @rpc(expected_exceptions=ServiceError)
    def list_deliveries(self, party: dict, endpoint_id, query: dict) -> dict:
        params = load(DeliveryQuerySchema, query)
        return handlers.list_deliveries(self._uow(), self._party(party), endpoint_id, params.get("status"),
                                        params["cursor"], params["limit"])

    def sender_allows_private(self) -> bool:
        """``WEBHOOK_ALLOW_PRIVATE_NETWORKS``: loopback and private destinations too (tests, on-premise)."""
        return flag(setting(self.config, "WEBHOOK_ALLOW_PRIVATE_NETWORKS", "false"))

    # ---- events that become deliveries -----------------------------------------------------------

    def _on_event(self, contract: EventContract, payload: dict) -> None:
        """The event loaded through its producer's contract (common.contracts), then its deliveries;
        an event no enabled endpoint subscribed to is not even loaded (one read: most events)."""
        source, event_type = contract.service, contract.event_type
        if not handlers.concerns_anyone(self._uow(), source, event_type):
            return
        received = contract.receive(payload)
        event = {f.name: getattr(received.event, f.name) for f in dataclasses.fields(received.event)}
        event.update(event_id=received.event_id, occurred_at=received.occurred_at.isoformat())
        if handlers.on_event(self._uow(), source, event_type, event, _now()):
            self.sender()

    @event_handler("fulfillment", "assignment_created")
    def on_assignment_created(self, payload: dict) -> None:
        self._on_event(fulfillment_events.ASSIGNMENT_CREATED, payload)

    @event_handler("fulfillment", "assignment_withdrawn")
    def on_assignment_withdrawn(self, payload: dict) -> None:
        self._on_event(fulfillment_events.ASSIGNMENT_WITHDRAWN, payload)

    @event_handler("fulfillment", "order_routed")
    def on_order_routed(self, payload: dict) -> None:
        self._on_event(fulfillment_events.ORDER_ROUTED, payload)

    @event_handler("fulfillment", "order_backordered")
    def on_order_backordered(self, payload: dict) -> None:
        self._on_event(fulfillment_events.ORDER_BACKORDERED, payload)

    @event_handler("fulfillment", "order_cancelled")
    def on_order_cancelled(self, payload: dict) -> None:
        self._on_event(fulfillment_events.ORDER_CANCELLED, payload)

    @event_handler("fulfillment", "shipment_shipped")
    def on_shipment_shipped(self, payload: dict) -> None:
        self._on_event(fulfillment_events.SHIPMENT_SHIPPED, payload)

    @event_handler("distributors", "distributor_suspended")
    def on_distributor_suspended(self, payload: dict) -> None:
        self._on_event(distributors_events.DISTRIBUTOR_SUSPENDED, payload)

    @event_handler("distributors", "distributor_reinstated")
    def on_distributor_reinstated(self, payload: dict) -> None:
        self._on_event(distributors_events.DISTRIBUTOR_REINSTATED, payload)

    @event_handler("distributors", "distributor_terminated")
    def on_distributor_terminated(self, payload: dict) -> None:
        self._on_event(distributors_events.DISTRIBUTOR_TERMINATED, payload)

    @event_handler("pricing", "price_changed")
    def on_price_changed(self, payload: dict) -> None:
        self._on_event(pricing_events.PRICE_CHANGED, payload)
