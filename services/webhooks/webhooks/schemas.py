"""The webhooks service's contracts: endpoints, deliveries and their pages."""
from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from common.schemas import PageQuerySchema, page_of, storable, text

STATUSES = ("enabled", "disabled")
DELIVERY_STATUSES = ("pending", "succeeded", "failed")
EVENT_TYPES = ("assignment.created", "assignment.withdrawn", "distributor.status_changed", "price.changed",
               "order.routed", "order.backordered", "shipment.shipped", "order.cancelled")


def url(**kwargs) -> fields.String:
    return fields.String(validate=[validate.Length(min=1, max=2000), storable,
                                   validate.Regexp(r"^https?://[^/?#@\s]+", error="must be an http or https URL")],
                         metadata={
        "description": "where deliveries are POSTed (http or https); loopback, private, link-local and "
                       "multicast destinations are refused"}, **kwargs)


def event_list(**kwargs) -> fields.List:
    return fields.List(fields.String(validate=validate.OneOf(EVENT_TYPES)),
                       validate=validate.Length(min=1, max=len(EVENT_TYPES)), metadata={
                           "description": "distributors: assignment.created, assignment.withdrawn, "
                                          "distributor.status_changed, price.changed; channels: "
                                          "order.routed, order.backordered, shipment.shipped, order.cancelled"},
                       **kwargs)


class EndpointCreateSchema(Schema):
    class Meta:
        unknown = RAISE

    url = url(required=True)
    events = event_list(required=True)
    description = text(200)


class EndpointPatchSchema(Schema):
    class Meta:
        unknown = RAISE

    url = url()
    events = event_list()
    description = text(200)
    status = fields.String(validate=validate.OneOf(STATUSES), metadata={
        "description": "disabled: nothing is sent (deliveries wait); enabled again: they go"})


class EndpointSchema(Schema):
    id = fields.Integer()
    url = fields.String()
    events = fields.List(fields.String())
    description = fields.String(allow_none=True)
    status = fields.String()
    created_at = fields.String()
    updated_at = fields.String()


class EndpointCreatedSchema(EndpointSchema):
    secret = fields.String(metadata={"description": "whsec_ + base64 of 32 bytes: shown only now"})


EndpointPageSchema = page_of(EndpointSchema, "EndpointPageSchema")


class DeliverySchema(Schema):
    id = fields.Integer()
    event_id = fields.String(metadata={"description": "the system event it delivers"})
    webhook_id = fields.String(metadata={"description": "the webhook-id header: the same on every attempt"})
    event_type = fields.String()
    attempt = fields.Integer(metadata={"description": "tries made so far (1 for the first)"})
    status = fields.String(metadata={"description": "pending, succeeded or failed"})
    response_status = fields.Integer(allow_none=True)
    last_error = fields.String(allow_none=True)
    next_attempt_at = fields.String(allow_none=True)
    created_at = fields.String()


DeliveryPageSchema = page_of(DeliverySchema, "DeliveryPageSchema")


class DeliveryQuerySchema(PageQuerySchema):
    class Meta:
        unknown = RAISE

    status = fields.String(validate=validate.OneOf(DELIVERY_STATUSES))


class TestSentSchema(Schema):
    delivery_id = fields.Integer()
    event_id = fields.String()
    status = fields.String()
