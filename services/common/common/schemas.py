"""marshmallow building blocks every service's contracts share."""
from __future__ import annotations

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from common.errors import invalid_from_marshmallow
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


def text(max_length: int, **kwargs) -> fields.String:
    """A required-length, trimmed-nonempty string."""
    return fields.String(validate=[validate.Length(min=1, max=max_length),
                                   validate.Regexp(r"\S", error="must not be blank")], **kwargs)
