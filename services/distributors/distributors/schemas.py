"""The distributors service's contracts: applications, decisions, distributors, locations, events."""
from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

from common.schemas import (
    GeocodeSchema,
    PageQuerySchema,
    PhoneNumber,
    StrictBoolean,
    StrictFloat,
    page_of,
    place_hint,
    storable,
    text,
)
from distributors.domain import TIERS

CHANNELS = ("offline_store", "tmall", "jd", "douyin", "own_site", "pinduoduo", "wechat", "other")
MAX_LOCATIONS = 100


class ContactSchema(Schema):
    name = text(100, required=True)
    phone = PhoneNumber(required=True)  # stored and shown in E.164: +8613800138000
    email = fields.Email(required=True, validate=[validate.Length(max=254), storable])


def latitude(**kw):
    return StrictFloat(validate=validate.Range(min=-90, max=90), **kw)


def longitude(**kw):
    return StrictFloat(validate=validate.Range(min=-180, max=180), **kw)


def radius(**kw):
    return StrictFloat(validate=validate.Range(min=0, max=1000, min_inclusive=False), **kw)


ADDRESS_HELP = ("the postal address; without lat/lon the location is placed at the centre of the most "
                "precise division it names")


class ApplicationLocationSchema(Schema):
    name = text(100, required=True)
    address = text(300, metadata={"description": ADDRESS_HELP + " (the application's address if none)"})
    lat = latitude(metadata={"description": "with lon: where the location is; both or neither"})
    lon = longitude(metadata={"description": "with lat: where the location is; both or neither"})
    province = place_hint()
    city = place_hint()
    district = place_hint()
    service_radius_km = radius()


class ApplicationSchema(Schema):
    company_name = text(200, required=True)
    credit_code = text(64, required=True)
    contact = fields.Nested(ContactSchema, required=True)
    address = text(300, required=True)
    province = text(50, required=True)
    city = text(50, required=True)
    locations = fields.List(fields.Nested(ApplicationLocationSchema), required=True,
                            validate=validate.Length(min=1, max=MAX_LOCATIONS))
    requested_tier = fields.String(required=True, validate=validate.OneOf(TIERS))
    channels = fields.List(fields.String(validate=validate.OneOf(CHANNELS)), required=True,
                           validate=validate.Length(min=1, max=len(CHANNELS)))


class ApplicationReceiptSchema(Schema):
    id = fields.Integer()
    status = fields.String()
    status_token = fields.String()


class ApplicationViewSchema(Schema):
    """What the applicant and the sales team see."""

    id = fields.Integer()
    status = fields.String()
    company_name = fields.String()
    credit_code = fields.String()
    contact = fields.Dict()
    address = fields.String()
    province = fields.String()
    city = fields.String()
    locations = fields.List(fields.Dict())
    requested_tier = fields.String()
    channels = fields.List(fields.String())
    submitted_at = fields.DateTime()
    decided_at = fields.DateTime(allow_none=True)
    decided_by = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    distributor_id = fields.Integer(allow_none=True)


class ApproveSchema(Schema):
    tier = fields.String(required=True, validate=validate.OneOf(TIERS))
    service_radius_km = radius()


class ApprovalSchema(Schema):
    distributor_id = fields.Integer()
    api_key = fields.String()
    api_key_id = fields.Integer()


class ReasonSchema(Schema):
    reason = text(500, required=True)


class OptionalReasonSchema(Schema):
    reason = text(500)


class TierChangeSchema(Schema):
    tier = fields.String(required=True, validate=validate.OneOf(TIERS))


class LocationSchema(Schema):
    id = fields.Integer()
    distributor_id = fields.Integer()
    name = fields.String()
    address = fields.String(allow_none=True)
    lat = fields.Float()
    lon = fields.Float()
    geocode = fields.Nested(GeocodeSchema, allow_none=True, metadata={
        "description": "how the location was placed; null for one placed before placements were kept"})
    service_radius_km = fields.Float()
    active = fields.Boolean()
    updated_at = fields.DateTime()


class LocationCreateSchema(Schema):
    name = text(100, required=True)
    address = text(300, metadata={"description": ADDRESS_HELP})
    lat = latitude(metadata={"description": "with lon: where the location is; both or neither"})
    lon = longitude(metadata={"description": "with lat: where the location is; both or neither"})
    province = place_hint()
    city = place_hint()
    district = place_hint()
    service_radius_km = radius()
    active = StrictBoolean()


class LocationPatchSchema(Schema):
    name = text(100)
    address = text(300, metadata={
        "description": "a location placed from its address moves to the new address's division; one "
                       "placed by lat/lon keeps its coordinates"})
    lat = latitude()
    lon = longitude()
    province = place_hint()
    city = place_hint()
    district = place_hint()
    service_radius_km = radius()
    active = StrictBoolean()


class HistoryEntrySchema(Schema):
    kind = fields.String()
    from_ = fields.String(data_key="from", attribute="from_", allow_none=True)
    to = fields.String()
    actor = fields.String()
    at = fields.DateTime()
    reason = fields.String(allow_none=True)


class DistributorSchema(Schema):
    """The distributor's own view (``GET /v1/me``)."""

    id = fields.Integer()
    company_name = fields.String()
    credit_code = fields.String()
    tier = fields.String()
    status = fields.String()
    province = fields.String()
    city = fields.String()
    locations = fields.List(fields.Nested(LocationSchema))
    version = fields.Integer()


class DistributorAdminSchema(DistributorSchema):
    flagged_for_review = fields.Boolean()
    history = fields.List(fields.Nested(HistoryEntrySchema))


DistributorPageSchema = page_of(DistributorAdminSchema, "DistributorPageSchema")


ApplicationPageSchema = page_of(ApplicationViewSchema, "ApplicationPageSchema")


LocationPageSchema = page_of(LocationSchema, "LocationPageSchema")


class ApplicationQuerySchema(PageQuerySchema):
    class Meta:
        unknown = EXCLUDE

    status = fields.String(validate=validate.OneOf(["submitted", "approved", "rejected"]))
    province = text(50)
    city = text(50)


class DistributorQuerySchema(PageQuerySchema):
    class Meta:
        unknown = EXCLUDE

    status = fields.String(validate=validate.OneOf(["active", "suspended", "terminated"]))
    tier = fields.String(validate=validate.OneOf(TIERS))
    province = text(50)
    city = text(50)


_DISTRIBUTOR = DistributorSchema()
_DISTRIBUTOR_ADMIN = DistributorAdminSchema()


def dump_distributor(distributor, locations, history=None) -> dict:
    """A distributor (``distributors.domain.Distributor``) with its locations: the distributor's own
    view, or with ``history`` the admin's (``DistributorAdminSchema``)."""
    data = {**distributor.__dict__, "locations": locations}
    if history is None:
        return _DISTRIBUTOR.dump(data)
    data["history"] = history
    return _DISTRIBUTOR_ADMIN.dump(data)
