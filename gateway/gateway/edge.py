"""What every request must be before any service sees it (SPEC, Hardening rules).

Checked once, at the edge: the body is JSON sent as JSON, no deeper than 32 levels, with integers a
JSON client can hold, finite numbers and no NUL character; the query string names only the
parameters its route declares; no NUL anywhere in the path or the query. A refusal names the field.
"""
from __future__ import annotations

import base64
import binascii
import json
import math
from typing import Any

from marshmallow import Schema
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Request

from common.errors import InvalidInput
from common.schemas import MAX_ID
from gateway.errors import PayloadTooLarge, UnsupportedMediaType

MAX_DEPTH = 32
MAX_CURSOR = 2048  # characters
MAX_INTEGER = MAX_ID  # ±2^53 - 1: what every JSON client holds exactly
JSON_MEDIA_TYPES = ("application/json",)


class _Refused(Exception):
    def __init__(self, field: str, message: str):
        super().__init__(field, message)
        self.field, self.message = field, message


def _no_constants(name: str) -> Any:
    raise _Refused("body", f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused("body", f"the number {text[:40]} is out of range")
    return value


def _path(parent: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else key


def _encodable(text: str) -> bool:
    """JSON may escape a lone surrogate ("\\ud800"); no UTF-8 text, nor PostgreSQL, can hold one."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_value(value: Any, path: str = "", depth: int = 0) -> None:
    """Depth, integer range and NUL characters of a parsed JSON value; raises ``_Refused``."""
    if isinstance(value, str):
        if "\x00" in value:
            raise _Refused(path or "body", "must not contain a NUL character")
        if not _encodable(value):
            raise _Refused(path or "body", "must not contain a lone surrogate (\\ud800-\\udfff)")
    elif isinstance(value, bool) or value is None or isinstance(value, float):
        return
    elif isinstance(value, int):
        if not -MAX_INTEGER <= value <= MAX_INTEGER:
            raise _Refused(path or "body", "integer out of range (at most ±2^53 - 1)")
    elif depth >= MAX_DEPTH:
        raise _Refused(path or "body", f"nested deeper than {MAX_DEPTH} levels")
    elif isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key or not _encodable(key):
                raise _Refused(path or "body", "a key must not contain a NUL or a lone surrogate")
            check_value(item, _path(path, key), depth + 1)
    else:
        for index, item in enumerate(value):
            check_value(item, _path(path, index), depth + 1)


def check_media_type(request: Request) -> None:
    if request.mimetype not in JSON_MEDIA_TYPES:
        given = request.mimetype or "none"
        raise UnsupportedMediaType(f"a request body must be application/json (got {given})")


def read_body(request: Request, max_body: int) -> bytes:
    """The raw body, at most ``max_body`` bytes (413 beyond, declared or not)."""
    if request.content_length is not None and request.content_length > max_body:
        raise PayloadTooLarge(f"request body is larger than {max_body} bytes")
    request.max_content_length = max_body
    try:
        return request.get_data(cache=True)
    except RequestEntityTooLarge:
        raise PayloadTooLarge(f"request body is larger than {max_body} bytes") from None


def read_json_body(request: Request, max_body: int) -> tuple[bytes, Any]:
    raw = read_body(request, max_body)
    if not raw.strip():
        raise InvalidInput.for_field("body", "a JSON object is required")
    check_media_type(request)
    try:
        body = json.loads(raw, parse_constant=_no_constants, parse_float=_finite)
        check_value(body)
    except _Refused as refused:
        raise InvalidInput.for_field(refused.field, refused.message) from None
    except RecursionError:
        raise InvalidInput.for_field("body", f"nested deeper than {MAX_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput.for_field("body", f"malformed JSON: {exc}") from None
    if not isinstance(body, dict):
        raise InvalidInput.for_field("body", "a JSON object is required")
    return raw, body


def refuse_stray_body(request: Request, max_body: int) -> bytes:
    """A route that takes no body: an empty one is fine; anything else is 415 if it is not JSON and
    400 if it is (a client that sends one expects it to mean something)."""
    raw = read_body(request, max_body)
    if raw.strip():
        check_media_type(request)
        raise InvalidInput.for_field("body", "this route takes no request body")
    return raw


# ---- query strings and paths --------------------------------------------------------------------


def query_names(schema: type[Schema] | None) -> frozenset[str]:
    if schema is None:
        return frozenset()
    return frozenset(f.data_key or name for name, f in schema._declared_fields.items()
                     if not f.dump_only)


def check_query(request: Request, allowed: frozenset[str]) -> dict[str, str]:
    """The query string as a dict; an undeclared parameter, a repeated one or a NUL is 400."""
    query: dict[str, str] = {}
    for name, value in request.args.items(multi=True):
        if "\x00" in name or "\x00" in value:
            raise InvalidInput.for_field(name.replace("\x00", "") or "query",
                                         "must not contain a NUL character")
        if name not in allowed:
            known = ", ".join(sorted(allowed)) or "none"
            raise InvalidInput.for_field(name, f"unknown query parameter (this route takes: {known})")
        if name in query:
            raise InvalidInput.for_field(name, "given more than once")
        query[name] = value
    return query


def check_path_values(values: dict[str, Any]) -> None:
    for name, value in values.items():
        if isinstance(value, str) and "\x00" in value:
            raise InvalidInput.for_field(name, "must not contain a NUL character")


# ---- cursors: each is valid only for the list that issued it -------------------------------------


def wrap_cursor(list_name: str, cursor: str) -> str:
    raw = json.dumps([list_name, cursor], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def unwrap_cursor(list_name: str, cursor: str) -> str:
    """The service's own cursor inside ours. Not signed: a client may forge one, so each service
    checks the key it carries (``common.pagination.decode_cursor``); this only binds it to a list."""
    try:
        if len(cursor) > MAX_CURSOR:
            raise ValueError("too long")
        padded = cursor + "=" * (-len(cursor) % 4)
        wrapped = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError, RecursionError):
        raise InvalidInput.for_field("cursor", "malformed cursor") from None
    if not (isinstance(wrapped, list) and len(wrapped) == 2 and isinstance(wrapped[1], str)):
        raise InvalidInput.for_field("cursor", "malformed cursor")
    if wrapped[0] != list_name:
        raise InvalidInput.for_field("cursor", "this cursor belongs to another list")
    return wrapped[1]
