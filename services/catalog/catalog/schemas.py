"""The catalog's contracts: RPC payloads, HTTP bodies (the gateway documents them in OpenAPI); its events
are in catalog/events.py."""
from __future__ import annotations

import math

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from common.schemas import MAX_ID, PageQuerySchema, StrictBoolean, page_of, storable, text

SKU_PATTERN = r"^[A-Za-z0-9._-]{1,64}$"
MAX_IMPORT = 10_000
MAX_NAME, MAX_CATEGORY, MAX_SUBSTITUTES = 200, 100, 50
MAX_ATTRIBUTES, MAX_ATTRIBUTE_KEY, MAX_ATTRIBUTE_TEXT = 50, 64, 500
MAX_ATTRIBUTE_INTEGER = MAX_ID  # ±(2^53 − 1), the gateway's bound: what every JSON client holds


def sku_field(**kwargs) -> fields.String:
    return fields.String(validate=validate.Regexp(
        SKU_PATTERN, error="1-64 characters of A-Z a-z 0-9 - _ ."), **kwargs)


def _attribute_problem(key, value) -> str | None:
    """Why one attribute cannot be kept, or None."""
    if not isinstance(key, str) or not 1 <= len(key) <= MAX_ATTRIBUTE_KEY or not key.strip():
        return f"a key is 1-{MAX_ATTRIBUTE_KEY} characters, not only spaces"
    try:
        storable(key)
        if isinstance(value, str):
            storable(value)
    except ValidationError as err:
        return f"{key!r}: {err.messages[0]}"
    if isinstance(value, str):
        if len(value) > MAX_ATTRIBUTE_TEXT:
            return f"{key!r}: a text value is at most {MAX_ATTRIBUTE_TEXT} characters"
    elif isinstance(value, bool):
        pass
    elif isinstance(value, int):
        if not -MAX_ATTRIBUTE_INTEGER <= value <= MAX_ATTRIBUTE_INTEGER:
            return f"{key!r}: an integer is at most ±(2^53 - 1)"
    elif isinstance(value, float):
        if not math.isfinite(value):
            return f"{key!r}: a number must be finite"
    else:
        return f"{key!r}: a value is a string, a number or a boolean (no objects, lists or null)"
    return None


class Attributes(fields.Dict):
    """A product's free attributes (SPEC, Hardening rules): at most 50 keys of 1–64 characters, each
    holding a scalar — text of at most 500 characters, a finite number (integers within ±(2^53 − 1))
    or a boolean. Nothing nested: what is stored must come back out through every JSON encoder,
    and one product that could not broke every list of products. Errors name the field itself
    (``attributes``, ``products[3].attributes``); the message names the key."""

    default_error_messages = {"invalid": "Not a valid object of attributes."}
    # what OpenAPI 3.0 can say of it (not the keys' length: it has no propertyNames)
    DOCUMENTED = {
        "maxProperties": MAX_ATTRIBUTES,
        "additionalProperties": {"anyOf": [
            {"type": "string", "maxLength": MAX_ATTRIBUTE_TEXT},
            {"type": "integer", "minimum": -MAX_ATTRIBUTE_INTEGER, "maximum": MAX_ATTRIBUTE_INTEGER},
            {"type": "number"},
            {"type": "boolean"}]},
        "description": f"at most {MAX_ATTRIBUTES} attributes, each key 1-{MAX_ATTRIBUTE_KEY} "
                       f"characters, each value a string of at most {MAX_ATTRIBUTE_TEXT} characters, "
                       "a number or a boolean",
    }

    def __init__(self, **kwargs):
        super().__init__(metadata={**self.DOCUMENTED, **kwargs.pop("metadata", {})}, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, dict):
            raise self.make_error("invalid")
        if len(value) > MAX_ATTRIBUTES:
            raise ValidationError(f"at most {MAX_ATTRIBUTES} attributes (got {len(value)})")
        problems = [p for key, item in value.items() if (p := _attribute_problem(key, item))]
        if problems:
            raise ValidationError(problems[:5])
        return dict(value)


def _substitutes(**kwargs) -> fields.List:
    return fields.List(sku_field(), validate=validate.Length(max=MAX_SUBSTITUTES), **kwargs)


class ProductCreateSchema(Schema):
    sku = sku_field(required=True)
    name = text(MAX_NAME, required=True)
    category = text(MAX_CATEGORY, required=True)
    lifecycle = fields.String(required=True, validate=validate.OneOf(["new", "classic"]))
    hero = StrictBoolean()
    attributes = Attributes()
    substitutes = _substitutes()
    status = fields.String(validate=validate.OneOf(["draft", "active"]))


class ProductPatchSchema(Schema):
    """Every field optional; ``sku`` cannot change and ``discontinued`` has its own route."""

    name = text(MAX_NAME)
    category = text(MAX_CATEGORY)
    lifecycle = fields.String(validate=validate.OneOf(["new", "classic"]))
    hero = StrictBoolean()
    attributes = Attributes()
    substitutes = _substitutes()
    status = fields.String(validate=validate.OneOf(["draft", "active"]))


class ProductSchema(Schema):
    """A product as every caller and every event sees it."""

    sku = fields.String()
    name = fields.String()
    category = fields.String()
    lifecycle = fields.String()
    hero = fields.Boolean()
    attributes = fields.Dict()
    substitutes = fields.List(fields.String())
    status = fields.String()
    version = fields.Integer()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


ProductPageSchema = page_of(ProductSchema, "ProductPageSchema")


class ImportSchema(Schema):
    products = fields.List(fields.Nested(ProductCreateSchema), required=True,
                           validate=validate.Length(min=1, max=MAX_IMPORT))


class ImportResultSchema(Schema):
    created = fields.Integer()
    updated = fields.Integer()
    unchanged = fields.Integer()


class ProductQuerySchema(PageQuerySchema):
    class Meta:
        unknown = EXCLUDE

    status = fields.String(validate=validate.OneOf(["draft", "active", "discontinued"]))
    lifecycle = fields.String(validate=validate.OneOf(["new", "classic"]))
    category = text(MAX_CATEGORY)
    q = text(100)


class AssortmentSchema(Schema):
    active = fields.Integer()
    new = fields.Integer()
    classic = fields.Integer()
    new_ratio = fields.Float()
    target_new_ratio = fields.Float()


PRODUCT = ProductSchema()
