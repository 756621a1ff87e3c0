"""Typed, versioned event contracts: the events a service publishes are part of its public interface
(other services consume them, webhooks deliver them to distributors' ERPs and storefronts).

Each service declares what it publishes in ``<service>/events.py``: per event a frozen dataclass (what
a handler builds) and a marshmallow schema (the JSON it becomes), paired with the event's type name
and ``version`` by ``declare``. A unit of work announces dataclass instances and ``dump`` turns each
into ``(event_type, payload)`` through its contract, so an undeclared event cannot reach an outbox; a
consumer turns a delivered payload back into the dataclass with the producer's contract
(``EventContract.receive``).

Compatibility rules (docs/events.md):

- a payload is the event's fields plus ``"version"``; the outbox adds ``event_id``, ``occurred_at``
  and ``request_id`` (``common.outbox.new_event``);
- changes are additive: a consumer ignores fields it does not know (at any depth, so a newer
  producer may add some), but a required field that is missing refuses the event (``InvalidEvent``,
  which the consumer's retries then park in its dead letters);
- a breaking change is a new event type beside the old one; ``version`` counts additive changes.
  A payload without ``version`` (published before contracts existed) is version 1.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Generic, TypeVar

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

T = TypeVar("T")

ENVELOPE = ("event_id", "occurred_at", "request_id", "version")  # not an event's own field names
UNKNOWN_FIELD = "Unknown field."  # marshmallow's message for a field the schema does not declare


class ContractError(Exception):
    """An event that does not meet its contract: a bug of the producer or of the consumer."""


class UndeclaredEvent(ContractError):
    """An event no contract declares."""


class InvalidEvent(ContractError):
    """A payload its contract does not load (or an instance that would dump into one)."""


def _known(errors: Any) -> Any:
    """marshmallow's errors without "Unknown field." (a field added by a newer producer), or None."""
    if isinstance(errors, dict):
        kept = {key: k for key, value in errors.items() if (k := _known(value)) is not None}
        return kept or None
    if isinstance(errors, list):
        kept = [e for e in errors if e != UNKNOWN_FIELD]
        return kept or None
    return None if errors == UNKNOWN_FIELD else errors


class View(fields.Field):
    """A resource as its API shows it (the dict the service's response schema dumps), carried in an
    event as that JSON and kept a dict: consumers and webhooks see what an RPC or HTTP client sees.

    Validated with ``schema`` on dump and on load; every field the schema declares must be present
    (the producer dumps them all) but those named in ``optional``; fields it does not declare are
    tolerated at every depth (forward compatibility)."""

    default_error_messages = {"invalid": "Not a valid object."}

    def __init__(self, schema: type[Schema], *, optional: Iterable[str] = (), **kwargs):
        super().__init__(metadata={"schema": schema.__name__, **kwargs.pop("metadata", {})}, **kwargs)
        self.view_schema = schema(unknown=EXCLUDE)
        optional = set(optional)
        self.required_keys = tuple(f.data_key or name for name, f in self.view_schema.fields.items()
                                   if not f.load_only and (f.data_key or name) not in optional)

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else dict(value)

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, Mapping):
            raise self.make_error("invalid")
        errors = _known(self.view_schema.validate(value)) or {}
        for key in self.required_keys:
            if key not in value:
                errors.setdefault(key, ["Missing data for required field."])
        if errors:
            raise ValidationError(errors)
        return dict(value)


class _EnvelopeSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    event_id = fields.UUID(required=True)
    occurred_at = fields.AwareDateTime(required=True)
    request_id = fields.String(allow_none=True, load_default=None)
    version = fields.Integer(strict=True, load_default=1, validate=validate.Range(min=1))


_ENVELOPE = _EnvelopeSchema()


@dataclasses.dataclass(frozen=True)
class Received(Generic[T]):
    """A delivered event: what the outbox wrapped it in, and the event as its contract loads it."""

    event_id: str
    occurred_at: datetime
    request_id: str | None
    version: int  # the producer's version of the contract (may be newer than the consumer's)
    event: T


class EventContract(Generic[T]):
    """One event type a service publishes: its name, version, schema and dataclass."""

    __slots__ = ("service", "event_type", "version", "schema", "event", "description", "_schema")

    def __init__(self, service: str, event_type: str, version: int, schema: type[Schema], event: type[T],
                 description: str):
        if not dataclasses.is_dataclass(event) or not event.__dataclass_params__.frozen:
            raise TypeError(f"{event_type}: {event.__name__} is not a frozen dataclass")
        names = {f.name for f in dataclasses.fields(event)}
        declared = set(schema._declared_fields)
        if names != declared:
            raise TypeError(f"{event_type}: {event.__name__} has fields {sorted(names)} but "
                            f"{schema.__name__} {sorted(declared)}")
        if names & set(ENVELOPE):
            raise TypeError(f"{event_type}: {sorted(names & set(ENVELOPE))} belong to the envelope")
        self.service, self.event_type, self.version = service, event_type, version
        self.schema, self.event, self.description = schema, event, description
        self._schema = schema(unknown=EXCLUDE)

    def __repr__(self) -> str:
        return f"<EventContract {self.service}.{self.event_type} v{self.version}>"

    def dump(self, instance: T) -> tuple[str, dict[str, Any]]:
        """``(event_type, payload)`` for the outbox; refuses an instance whose payload would not load."""
        if type(instance) is not self.event:
            raise UndeclaredEvent(f"{self.event_type} carries {self.event.__name__}, "
                                  f"not {type(instance).__name__}")
        data = self._schema.dump(instance)
        errors = _known(self._schema.validate(data))
        if errors:
            raise InvalidEvent(f"{self.service}.{self.event_type} v{self.version} would not load: {errors}")
        return self.event_type, {**data, "version": self.version}

    def load(self, payload: Mapping[str, Any]) -> T:
        """The event in a delivered payload; unknown fields are ignored, a missing required one refused."""
        try:
            data = self._schema.load(payload)
        except ValidationError as err:
            raise InvalidEvent(f"{self.service}.{self.event_type}: {err.messages}") from None
        return self.event(**data)

    def receive(self, payload: Mapping[str, Any]) -> Received[T]:
        """The envelope (``event_id`` to apply it once) and the event, as a consumer needs them."""
        try:
            envelope = _ENVELOPE.load(payload)
        except ValidationError as err:
            raise InvalidEvent(f"{self.service}.{self.event_type}: {err.messages}") from None
        return Received(str(envelope["event_id"]), envelope["occurred_at"], envelope["request_id"],
                        envelope["version"], self.load(payload))


_BY_CLASS: dict[type, EventContract] = {}
_BY_NAME: dict[tuple[str, str], EventContract] = {}


def declare(service: str, event_type: str, version: int, schema: type[Schema], event: type[T],
            description: str) -> EventContract[T]:
    """Register the contract of an event ``service`` publishes (once per event type and dataclass)."""
    contract = EventContract(service, event_type, version, schema, event, description)
    if (service, event_type) in _BY_NAME or event in _BY_CLASS:
        raise ContractError(f"{service}.{event_type} ({event.__name__}) is declared twice")
    _BY_CLASS[event] = contract
    _BY_NAME[service, event_type] = contract
    return contract


def contract_for(instance: Any) -> EventContract:
    try:
        return _BY_CLASS[type(instance)]
    except KeyError:
        raise UndeclaredEvent(f"no event contract declares {type(instance).__name__}") from None


def dump(instance: Any) -> tuple[str, dict[str, Any]]:
    """``(event_type, payload)`` of a declared event's instance, through its contract."""
    return contract_for(instance).dump(instance)


def contract(service: str, event_type: str) -> EventContract:
    try:
        return _BY_NAME[service, event_type]
    except KeyError:
        raise UndeclaredEvent(f"{service} declares no event {event_type!r}") from None


def declared(service: str | None = None) -> list[EventContract]:
    """The contracts registered so far (a service's once its ``events`` module is imported)."""
    return [c for c in _BY_NAME.values() if service is None or c.service == service]
