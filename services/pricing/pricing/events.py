"""The events pricing publishes: its public contract with every consumer (the distributors service
flags a distributor on ``distributor_flagged``) and with webhooks. A change a quote could see moves the
``price_version`` it carries. Catalogue: docs/events.md."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from marshmallow import Schema, fields

from common.contracts import View, declare
from pricing.schemas import PromotionSchema, TierSchema

SERVICE = "pricing"


@dataclass(frozen=True)
class PriceChanged:
    sku: str
    list_price: Decimal
    floor_price: Decimal
    currency: str
    effective_from: datetime  # now, or later for a scheduled price
    price_version: int
    actor: str


@dataclass(frozen=True)
class TierChanged:
    tier: Mapping[str, Any]  # TierSchema's view
    price_version: int
    actor: str


@dataclass(frozen=True)
class PromotionApproved:
    promotion: Mapping[str, Any]  # PromotionSchema's view
    price_version: int


@dataclass(frozen=True)
class DistributorFlagged:
    distributor_id: int
    violations: int  # within the window, this one included
    window_days: int
    observed_at: datetime  # of the violation that reached the threshold


class PriceChangedSchema(Schema):
    sku = fields.String(required=True)
    list_price = fields.Decimal(as_string=True, required=True)
    floor_price = fields.Decimal(as_string=True, required=True)
    currency = fields.String(required=True)
    effective_from = fields.AwareDateTime(required=True)
    price_version = fields.Integer(strict=True, required=True)
    actor = fields.String(required=True)


class TierChangedSchema(Schema):
    tier = View(TierSchema, required=True)
    price_version = fields.Integer(strict=True, required=True)
    actor = fields.String(required=True)


class PromotionApprovedSchema(Schema):
    promotion = View(PromotionSchema, required=True)
    price_version = fields.Integer(strict=True, required=True)


class DistributorFlaggedSchema(Schema):
    distributor_id = fields.Integer(strict=True, required=True)
    violations = fields.Integer(strict=True, required=True)
    window_days = fields.Integer(strict=True, required=True)
    observed_at = fields.AwareDateTime(required=True)


PRICE_CHANGED = declare(SERVICE, "price_changed", 1, PriceChangedSchema, PriceChanged,
                        "a SKU's list and floor price were set, in force now or from effective_from")
TIER_CHANGED = declare(SERVICE, "tier_changed", 1, TierChangedSchema, TierChanged,
                       "a tier's discount or volume breaks changed")
PROMOTION_APPROVED = declare(SERVICE, "promotion_approved", 1, PromotionApprovedSchema, PromotionApproved,
                             "a promotion was approved (by a manager, or at once inside the green channel)")
DISTRIBUTOR_FLAGGED = declare(SERVICE, "distributor_flagged", 1, DistributorFlaggedSchema, DistributorFlagged,
                              "a distributor's third parity violation within the window: flag it for review")
