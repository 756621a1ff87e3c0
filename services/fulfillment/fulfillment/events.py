"""The events fulfillment publishes: its public contract with webhooks (an order's events go to its
channel's storefront, an assignment's to its distributor's ERP) and any consumer. An order's events
carry the order as its channel sees it (``GET /v1/orders/{id}``), an assignment's the assignment as
its distributor lists it (``GET /v1/assignments``). Catalogue: docs/events.md."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from marshmallow import Schema, fields, post_dump

from common.contracts import View, declare
from fulfillment.schemas import AssignmentSchema, OrderSchema

SERVICE = "fulfillment"


@dataclass(frozen=True)
class OrderRouted:
    order: Mapping[str, Any]  # OrderSchema's view
    trigger: str | None = None  # what re-routed it (rejected, timeout, distributor_suspended …); absent at first


@dataclass(frozen=True)
class OrderBackordered:
    order: Mapping[str, Any]
    trigger: str | None = None


@dataclass(frozen=True)
class OrderCancelled:
    order: Mapping[str, Any]
    actor: str


@dataclass(frozen=True)
class AssignmentCreated:
    assignment: Mapping[str, Any]  # AssignmentSchema's view


@dataclass(frozen=True)
class AssignmentWithdrawn:
    assignment: Mapping[str, Any]


@dataclass(frozen=True)
class AssignmentAccepted:
    assignment: Mapping[str, Any]


@dataclass(frozen=True)
class AssignmentRejected:
    assignment: Mapping[str, Any]
    reason: str


@dataclass(frozen=True)
class ShipmentShipped:
    assignment: Mapping[str, Any]
    order: Mapping[str, Any]  # with the shipment in it


class OrderRoutingSchema(Schema):
    """``order_routed`` / ``order_backordered``: ``trigger`` only when the order was re-routed."""

    order = View(OrderSchema, required=True)
    trigger = fields.String(load_default=None)

    @post_dump
    def _first_routing_has_no_trigger(self, data, **kwargs):
        if data.get("trigger") is None:
            data.pop("trigger", None)
        return data


class OrderCancelledSchema(Schema):
    order = View(OrderSchema, required=True)
    actor = fields.String(required=True)


class AssignmentEventSchema(Schema):
    """``assignment_created`` / ``assignment_withdrawn`` / ``assignment_accepted``."""

    assignment = View(AssignmentSchema, required=True)


class AssignmentRejectedSchema(Schema):
    assignment = View(AssignmentSchema, required=True)
    reason = fields.String(required=True)


class ShipmentShippedSchema(Schema):
    assignment = View(AssignmentSchema, required=True)
    order = View(OrderSchema, required=True)


ORDER_ROUTED = declare(SERVICE, "order_routed", 1, OrderRoutingSchema, OrderRouted,
                       "an order's lines were placed with distributors (first routing, or re-routed)")
ORDER_BACKORDERED = declare(SERVICE, "order_backordered", 1, OrderRoutingSchema, OrderBackordered,
                            "some of an order's lines could not be placed: backordered, to refund")
ORDER_CANCELLED = declare(SERVICE, "order_cancelled", 1, OrderCancelledSchema, OrderCancelled,
                          "an order was cancelled (its open assignments withdrawn, reservations released)")
ASSIGNMENT_CREATED = declare(SERVICE, "assignment_created", 1, AssignmentEventSchema, AssignmentCreated,
                             "a distributor was given part of an order, to accept within the timeout")
ASSIGNMENT_WITHDRAWN = declare(SERVICE, "assignment_withdrawn", 1, AssignmentEventSchema, AssignmentWithdrawn,
                               "an assignment was taken away (re-routed away, or its order cancelled)")
ASSIGNMENT_ACCEPTED = declare(SERVICE, "assignment_accepted", 1, AssignmentEventSchema, AssignmentAccepted,
                              "the distributor accepted the assignment")
ASSIGNMENT_REJECTED = declare(SERVICE, "assignment_rejected", 1, AssignmentRejectedSchema, AssignmentRejected,
                              "the distributor rejected the assignment (reason given); its lines are re-routed")
SHIPMENT_SHIPPED = declare(SERVICE, "shipment_shipped", 1, ShipmentShippedSchema, ShipmentShipped,
                           "the distributor shipped the assignment (carrier, tracking number)")
