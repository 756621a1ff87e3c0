"""The events the distributors service publishes: its public contract with every consumer (pricing
keeps a read model of distributors' tiers and statuses, fulfillment of their statuses and locations)
and with webhooks. Catalogue: docs/events.md."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from marshmallow import Schema, fields

from common.contracts import View, declare
from distributors.schemas import DistributorSchema, LocationSchema

SERVICE = "distributors"


@dataclass(frozen=True)
class _DistributorFact:
    distributor: Mapping[str, Any]  # DistributorSchema's view (the distributor's own, with its locations)
    actor: str
    reason: str | None = None


@dataclass(frozen=True)
class DistributorApproved(_DistributorFact):
    pass


@dataclass(frozen=True)
class DistributorSuspended(_DistributorFact):
    pass


@dataclass(frozen=True)
class DistributorReinstated(_DistributorFact):
    pass


@dataclass(frozen=True)
class DistributorTerminated(_DistributorFact):
    pass


@dataclass(frozen=True)
class DistributorTierChanged(_DistributorFact):
    pass


@dataclass(frozen=True)
class LocationChanged:
    location: Mapping[str, Any]  # LocationSchema's view
    distributor_status: str


class DistributorEventSchema(Schema):
    """``distributor_approved`` / ``_suspended`` / ``_reinstated`` / ``_terminated`` /
    ``_tier_changed``: the distributor after the change, its locations, and who did it why.
    Consumers order them by the distributor's ``version``."""

    distributor = View(DistributorSchema, required=True)
    actor = fields.String(required=True)
    reason = fields.String(allow_none=True, load_default=None)


class LocationChangedEventSchema(Schema):
    location = View(LocationSchema, required=True)
    distributor_status = fields.String(required=True)


DISTRIBUTOR_APPROVED = declare(SERVICE, "distributor_approved", 1, DistributorEventSchema, DistributorApproved,
                               "an application was approved: the distributor exists, active")
DISTRIBUTOR_SUSPENDED = declare(SERVICE, "distributor_suspended", 1, DistributorEventSchema,
                                DistributorSuspended, "a manager suspended the distributor (reason given)")
DISTRIBUTOR_REINSTATED = declare(SERVICE, "distributor_reinstated", 1, DistributorEventSchema,
                                 DistributorReinstated, "a suspended distributor is active again")
DISTRIBUTOR_TERMINATED = declare(SERVICE, "distributor_terminated", 1, DistributorEventSchema,
                                 DistributorTerminated, "the distributor was terminated, for good (reason given)")
DISTRIBUTOR_TIER_CHANGED = declare(SERVICE, "distributor_tier_changed", 1, DistributorEventSchema,
                                   DistributorTierChanged, "the distributor's tier changed")
LOCATION_CHANGED = declare(SERVICE, "location_changed", 1, LocationChangedEventSchema, LocationChanged,
                           "a location was added (also each one of an approval) or changed")

DISTRIBUTOR_EVENTS = {c.event_type: c.event for c in (DISTRIBUTOR_APPROVED, DISTRIBUTOR_SUSPENDED,
                                                      DISTRIBUTOR_REINSTATED, DISTRIBUTOR_TERMINATED,
                                                      DISTRIBUTOR_TIER_CHANGED)}
