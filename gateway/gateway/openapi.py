"""OpenAPI 3 generated from the route declarations and the services' marshmallow schemas (apispec)."""
from __future__ import annotations

import re
from functools import lru_cache

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import Schema, fields, validate

from common.schemas import MAX_ID, AwareTimestamp, Id
from gateway.auth import DISTRIBUTOR
from gateway.http import ROUTES, RouteSpec
from pricing.schemas import MoneyField, PercentField, Seller

CONVERTER = re.compile(r"<(?:[a-z]+:)?([a-zA-Z_]+)>")


class ProblemFieldSchema(Schema):
    field = fields.String()
    message = fields.String()
    candidates = fields.List(fields.String(), metadata={
        "description": "an address that could be several places: each of them (e.g. 北京市朝阳区, "
                       "吉林省长春市朝阳区); give the province or city"})


class ProblemSchema(Schema):
    type = fields.String()
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    errors = fields.List(fields.Nested(ProblemFieldSchema))
    request_id = fields.String()


# the years a timestamp may name and its UTC offset (common.schemas.check_offset): 1900–8999,
# −12:00…+14:00
TIMESTAMP_PATTERN = (r"^(19\d\d|[2-8]\d\d\d)-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])"
                     r"T([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?"
                     r"(Z|\+(0\d|1[0-3]):[0-5]\d|\+14:00|-(0\d|1[01]):[0-5]\d|-12:00)$")
PERCENT_PATTERN = r"^(100(\.0{1,4})?|\d{1,2}(\.\d{1,4})?)$"
SELLER_PATTERN = r"^([1-9]\d{0,14}|brand:[a-z0-9_]{1,32})$"


def _places(field: fields.Field) -> int | None:
    return next((v.places for v in field.validators if hasattr(v, "places")), None)


def _decimal_pattern(field: fields.Field) -> str:
    """A decimal string of as many places as the field takes, below its range's maximum."""
    places = _places(field)
    ceiling = next((r.max for r in field.validators if isinstance(r, validate.Range)
                    and r.max is not None), None)
    whole = len(str(int(ceiling))) if ceiling is not None else 16
    fraction = rf"(\.\d{{1,{places}}})?" if places else ""
    return rf"^\d{{1,{whole}}}{fraction}$" if places != 0 else rf"^\d{{1,{whole}}}$"


def field_rules(self, field: fields.Field, **kwargs) -> dict:
    """What apispec leaves out of a field's schema: the decimal strings money and percentages
    travel as, ids' range, timestamps' form, sellers, and exclusive lower bounds."""
    rules: dict = {}
    if isinstance(field, MoneyField):
        rules.update(pattern=_decimal_pattern(field), example="199.00")
    elif isinstance(field, PercentField):
        pattern = PERCENT_PATTERN if _places(field) == 4 else _decimal_pattern(field)
        rules.update(pattern=pattern, example="12.5")
    elif isinstance(field, Id):
        rules.update(minimum=1, maximum=MAX_ID)
    elif isinstance(field, AwareTimestamp):
        rules.update(pattern=TIMESTAMP_PATTERN)
    elif isinstance(field, Seller):
        rules.update(type="string", pattern=SELLER_PATTERN,
                     description="a distributor id (42) or a brand store (brand:tmall)")
    numeric = isinstance(field, fields.Number) and not isinstance(field, fields.Decimal)
    for rule in field.validators if numeric else ():
        if isinstance(rule, validate.Range) and rule.min is not None and not rule.min_inclusive:
            rules["exclusiveMinimum"] = True
    return rules


def openapi_path(rule: str) -> str:
    return CONVERTER.sub(r"{\1}", rule)


SKU_PARAMETER = {"type": "string", "pattern": r"^[A-Za-z0-9._-]{1,64}$"}
ID_PARAMETER = {"type": "integer", "minimum": 1, "maximum": MAX_ID}


def path_parameter(spec: RouteSpec, name: str) -> dict:
    """A path parameter's schema: ids are integers, SKUs follow the catalog's pattern."""
    if name in spec.path_params:
        return spec.path_params[name]
    if name == "sku":
        return SKU_PARAMETER
    if name == "id" or name.endswith("_id"):
        return ID_PARAMETER
    return {"type": "string", "pattern": r"^[A-Za-z0-9._-]{1,64}$"}


def _operation(spec: RouteSpec) -> dict:
    op: dict = {"summary": spec.summary, "operationId": spec.name, "tags": [spec.tag],
                "responses": {}}
    params = [{"in": "path", "name": name, "required": True, "schema": path_parameter(spec, name)}
              for name in CONVERTER.findall(spec.path)]
    if spec.query is not None:
        params.append({"in": "query", "schema": spec.query})
    if spec.method in ("POST", "PUT"):
        params.append({"in": "header", "name": "Idempotency-Key", "required": False,
                       "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                       "description": "a repeat with the same key replays the first response"})
    params.append({"in": "header", "name": "X-Request-Id", "required": False,
                   "schema": {"type": "string"}})
    for name, description in spec.headers.items():
        params.append({"in": "header", "name": name, "required": True,
                       "schema": {"type": "string"}, "description": description})
    op["parameters"] = params
    if spec.body is not None:
        op["requestBody"] = {"required": True,
                             "content": {"application/json": {"schema": spec.body}}}
    success: dict = {"description": "success"}
    if spec.response is not None and spec.status != 204:
        success["content"] = {"application/json": {"schema": spec.response}}
    elif spec.media != "application/json":
        media_types = (spec.media,) if isinstance(spec.media, str) else spec.media
        success["content"] = {media: {"schema": {"type": "string"}} for media in media_types}
    op["responses"][str(spec.status)] = success
    for status, description in spec.also.items():
        op["responses"][str(status)] = {**success, "description": description}
    problem = {"content": {"application/problem+json": {"schema": "Problem"}}}
    codes = {"400": "invalid input", "500": "unexpected error",
             "413": "request body too large",  # any route: one that takes none refuses a stray one
             "415": "a request body that is not application/json"}
    if spec.method in ("POST", "PUT", "PATCH"):
        codes["409"] = "a conflict or an illegal state change, or this Idempotency-Key still in flight"
    if spec.method in ("POST", "PUT"):
        codes["422"] = "this Idempotency-Key was used with another request"
    if spec.query is not None:
        op["responses"]["414"] = {"description": "the URL is longer than the server reads (8 KiB)"}
    if spec.calls_services:
        codes["503"] = "a service behind the gateway is not running or not reachable"
        codes["504"] = "a service behind the gateway did not answer within RPC_TIMEOUT_SECONDS"
    if spec.roles is not None:
        op["security"] = [{"apiKey": []}]
        codes.update({"401": "no or bad API key", "403": "role not allowed"})
    if "<" in spec.path:
        codes["404"] = "not found (or not yours)"
    if spec.public_limit or (spec.roles is not None and DISTRIBUTOR in spec.roles):
        codes["429"] = "rate limit reached (distributors: per distributor; public: per address)"
    for code, description in codes.items():
        op["responses"][code] = {"description": description, **problem}
    if "429" in codes:
        op["responses"]["429"]["headers"] = {"Retry-After": {
            "description": "seconds until a request will be taken again", "schema": {"type": "integer"}}}
    return op


@lru_cache(maxsize=1)
def build_spec() -> dict:
    plugin = MarshmallowPlugin()
    spec = APISpec(
        title="Distribution and channel management API", version="1.0.0", openapi_version="3.0.3",
        plugins=[plugin],
        info={"description": "Distributors, the brand's sales team and its storefronts."},
    )
    for decimal_field in (fields.Decimal, MoneyField, PercentField):
        plugin.map_to_openapi_type(decimal_field, "string", "decimal")
    plugin.converter.add_attribute_function(field_rules)
    spec.components.security_scheme("apiKey", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Problem", schema=ProblemSchema)
    paths: dict[str, dict] = {}
    for route in ROUTES:
        paths.setdefault(openapi_path(route.path), {})[route.method.lower()] = _operation(route)
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()

