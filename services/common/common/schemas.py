"""marshmallow building blocks every service's contracts share."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from common.errors import MAX_ID, invalid_from_marshmallow
from common.pagination import DEFAULT_LIMIT, MAX_LIMIT


class StrictBoolean(fields.Boolean):
    """Only JSON true/false: "yes" or 1 is a wrong type, not a truthy value."""

    default_error_messages = {"invalid": "Not a valid boolean (true or false)."}

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class PageQuerySchema(Schema):
    """``limit`` and ``cursor`` of every list; other query parameters are filters."""

    class Meta:
        unknown = EXCLUDE

    limit = fields.Integer(load_default=DEFAULT_LIMIT, strict=False,
                           validate=validate.Range(min=1, max=MAX_LIMIT))
    cursor = fields.String(load_default=None)


_INSTANCES: dict[type, Schema] = {}


def page_of(item: type[Schema], name: str) -> type[Schema]:
    """The ``{items, next_cursor}`` envelope every list answers with, for OpenAPI."""
    return Schema.from_dict({"items": fields.List(fields.Nested(item)),
                             "next_cursor": fields.String(allow_none=True)}, name=name)


def load(schema: type[Schema] | Schema, payload, prefix: str = ""):
    """Validate ``payload`` with ``schema`` (a class: one instance is kept per class, since building a
    marshmallow schema costs more than most loads); a caller's mistake becomes ``InvalidInput``."""
    if isinstance(schema, type):
        schema = _INSTANCES.get(schema) or _INSTANCES.setdefault(schema, schema())
    try:
        return schema.load(payload)
    except ValidationError as err:
        raise invalid_from_marshmallow(err, prefix) from None


class StrictFloat(fields.Float):
    """A JSON number only: "31.2" or true is a wrong type."""

    default_error_messages = {"invalid": "Not a valid number."}

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class StrictInteger(fields.Integer):
    """A JSON integer only."""

    default_error_messages = {"invalid": "Not a valid integer."}

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


def storable(value: str) -> None:
    """PostgreSQL text holds neither a NUL character nor a lone UTF-16 surrogate (JSON's
    ``"\\ud800"`` escape makes one); either would fail the write, not the request."""
    if "\x00" in value:
        raise ValidationError("must not contain a NUL character")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValidationError("must be valid Unicode (a lone surrogate is not)") from None


def text(max_length: int, **kwargs) -> fields.String:
    """A required-length, trimmed-nonempty string the database can store."""
    return fields.String(validate=[validate.Length(min=1, max=max_length),
                                   validate.Regexp(r"\S", error="must not be blank"), storable],
                         **kwargs)


# ---- hardening: what the database and the JSON encoder can hold (SPEC, Hardening rules) ----------

MAX_MONEY = Decimal("9999999999.99")
MIN_OFFSET = timedelta(hours=-12)
MAX_OFFSET = timedelta(hours=14)
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


class Id(fields.Integer):
    """An id: a JSON integer or its decimal string (``7`` or ``"7"``); dumped as an integer."""

    default_error_messages = {"invalid": "Not a valid id (a positive integer)."}

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool):
            raise self.make_error("invalid")
        if isinstance(value, str):
            if not value.isascii() or not value.isdigit() or len(value) > 16:
                raise self.make_error("invalid")
            value = int(value)
        if not isinstance(value, int) or not 1 <= value <= MAX_ID:
            raise self.make_error("invalid")
        return value


def check_offset(value: datetime) -> None:
    """A UTC offset outside −12:00…+14:00 names no real place; a year outside 1900–9000 no real
    business day (and would overflow the database's and Python's time types)."""
    offset = value.utcoffset()
    if offset is not None and not MIN_OFFSET <= offset <= MAX_OFFSET:
        raise ValidationError("UTC offset must be between -12:00 and +14:00")
    if not EARLIEST.replace(tzinfo=None) <= value.replace(tzinfo=None) < LATEST.replace(tzinfo=None):
        raise ValidationError("must be between 1900 and 9000")  # as written, whatever the offset


class AwareTimestamp(fields.AwareDateTime):
    """ISO 8601 with a UTC offset inside −12:00…+14:00; a naive time is ambiguous and refused."""

    def __init__(self, **kwargs):
        validators = kwargs.pop("validate", None) or []
        validators = list(validators) if isinstance(validators, (list, tuple)) else [validators]
        super().__init__(format="iso", validate=[check_offset, *validators], **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return super()._deserialize(value, attr, data, **kwargs)
        except OverflowError:
            raise self.make_error("invalid") from None


class PhoneNumber(fields.String):
    """A Chinese mobile or landline number as people write it (``138 0013 8000``,
    ``+86 21 6288 1234``, ``(021) 62881234``); loaded as E.164 (``+8613800138000``)."""

    default_error_messages = {
        "invalid": "a Chinese mobile (13800138000) or landline (021-6288 1234) number"}
    KINDS = ("MOBILE", "FIXED_LINE", "FIXED_LINE_OR_MOBILE")

    def _deserialize(self, value, attr, data, **kwargs):
        import phonenumbers  # loaded on first use: its metadata is large

        text_value = super()._deserialize(value, attr, data, **kwargs)
        if len(text_value) > 32:
            raise self.make_error("invalid")
        try:
            number = phonenumbers.parse(text_value, "CN")
        except phonenumbers.NumberParseException:
            raise self.make_error("invalid") from None
        kind = phonenumbers.PhoneNumberType.to_string(phonenumbers.number_type(number))
        # E.164 has no room for an extension ("021-6288 1234 ext 5"): refused, not silently dropped
        if number.country_code != 86 or not phonenumbers.is_valid_number(number) \
                or kind not in self.KINDS or number.extension:
            raise self.make_error("invalid")
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class GeocodeSchema(Schema):
    """Where an order or a location was placed (SPEC: Orders and locations from Chinese addresses)."""

    precision = fields.String(metadata={
        "description": "given (lat/lon were sent), or the level of the division whose centre is used: "
                       "district, city or province"})
    adcode = fields.String(allow_none=True, metadata={"description": "GB/T 2260 code; null for given"})
    province = fields.String(allow_none=True, metadata={"description": "the table's name; null for given"})
    city = fields.String(allow_none=True)
    district = fields.String(allow_none=True)
    lat = fields.Float()
    lon = fields.Float()


def place_hint(**kwargs) -> fields.String:
    """``province``/``city``/``district`` sent beside an address: settles a name several divisions
    share (西湖区 is in Hangzhou and Nanchang)."""
    return text(50, metadata={"description": "settles a division name several places share "
                                             "(西湖区: 杭州市 or 南昌市)"}, **kwargs)
