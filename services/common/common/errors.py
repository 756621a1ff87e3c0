"""Base exceptions that cross RPC.

A service raises subclasses of these from its own ``errors`` module; the gateway maps each base class
to one HTTP status in a single table. Arguments stay JSON-safe because nameko serialises
``exc.args`` and rebuilds the exception with ``cls(*args)`` on the caller's side.
"""
from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """An error the caller caused; ``detail`` is for humans, ``errors`` lists ``{field, message}``."""

    title = "Error"

    def __init__(self, detail: str = "", errors: list[dict[str, Any]] | None = None):
        super().__init__(detail, errors or [])
        self.detail = detail
        self.errors = errors or []

    def __str__(self) -> str:
        return self.detail


class InvalidInput(ServiceError):
    title = "Invalid input"

    @classmethod
    def for_field(cls, field: str, message: str) -> InvalidInput:
        return cls(f"{field}: {message}", [{"field": field, "message": message}])


class NotFound(ServiceError):
    title = "Not found"


class Conflict(ServiceError):
    title = "Conflict"


class Forbidden(ServiceError):
    title = "Forbidden"


class Unprocessable(ServiceError):
    title = "Unprocessable"


MAX_ID = 2**53 - 1  # JSON integers beyond ±2^53 lose precision in most clients


def parse_id(value: Any, not_found: type[ServiceError], what: str) -> int:
    """Ids arrive as path strings; one that is not a positive integer in ASCII digits (``int()``
    also reads "+7", " 7", "7_0" and "٧" as 7) or is beyond any id we hand out names nothing (404)."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 16:
        number = int(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        number = 0
    if not 1 <= number <= MAX_ID:
        raise not_found(f"{what} {value!r} not found")
    return number


class StoreError(Exception):
    """A database failure that is not the caller's fault (translated from the driver)."""


def field_errors(messages: Any, prefix: str = "") -> list[dict[str, str]]:
    """Flatten marshmallow's nested error dict into ``[{field, message}]`` with paths like
    ``products[3].sku``."""
    out: list[dict[str, str]] = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            if isinstance(key, int):
                path = f"{prefix}[{key}]"
            elif key == "_schema":
                path = prefix
            else:
                path = f"{prefix}.{key}" if prefix else str(key)
            out.extend(field_errors(value, path))
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        for message in messages:
            out.append({"field": prefix, "message": message})
    elif isinstance(messages, list):
        for message in messages:
            out.extend(field_errors(message, prefix))
    else:
        out.append({"field": prefix, "message": str(messages)})
    return out


def invalid_from_marshmallow(err: Any, prefix: str = "") -> InvalidInput:
    errors = field_errors(err.messages, prefix)
    first = errors[0] if errors else {"field": prefix, "message": "invalid"}
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return InvalidInput(f"{first['field']}: {first['message']}{more}", errors)


def make_deserializable(*modules) -> None:
    """Let a caller rebuild these modules' ``ServiceError`` subclasses from RPC replies (nameko
    otherwise raises a generic ``RemoteError``)."""
    from nameko.exceptions import deserialize_to_instance

    for module in modules:
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, ServiceError):
                deserialize_to_instance(value)


class ServiceTimeout(ServiceError):
    """A service did not answer within the time limit (the gateway answers 504)."""

    title = "Gateway timeout"


class StoreUnavailable(ServiceError):
    """A service's database or the broker did not answer (the gateway answers 503; try again)."""

    title = "Service unavailable"


class ServiceNotRunning(ServiceError):
    """No process of a service consumes its requests (the gateway answers 503)."""

    title = "Service unavailable"
