"""common.contracts: an event dumps through its contract with its version, loads back into its
dataclass, ignores fields a newer producer added and refuses one a consumer needs."""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import pytest
from marshmallow import Schema, fields

from common import contracts
from common.contracts import EventContract, InvalidEvent, UndeclaredEvent, View


class ThingSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    note = fields.String(allow_none=True)
    parts = fields.List(fields.Nested(Schema.from_dict({"n": fields.Integer()})))


@dataclasses.dataclass(frozen=True)
class ThingMade:
    thing: Mapping[str, Any]
    actor: str
    reason: str | None = None


class ThingMadeSchema(Schema):
    thing = View(ThingSchema, optional=("note",), required=True)
    actor = fields.String(required=True)
    reason = fields.String(allow_none=True, load_default=None)


THING_MADE = EventContract("things", "thing_made", 2, ThingMadeSchema, ThingMade, "a thing was made")
THING = {"id": 7, "name": "seven", "parts": [{"n": 1}]}
ENVELOPE = {"event_id": "9b2f0c1e-1d2a-4b8f-8c5e-0d3a2f1b4c5d", "occurred_at": "2025-01-02T03:04:05+00:00",
            "request_id": "r-1"}


def test_dump_adds_the_version_and_keeps_the_view_as_it_is():
    assert THING_MADE.dump(ThingMade(THING, "manager:1")) == (
        "thing_made", {"thing": THING, "actor": "manager:1", "reason": None, "version": 2})


def test_what_is_dumped_loads_back():
    made = ThingMade(THING, "manager:1", "because")
    assert THING_MADE.load(THING_MADE.dump(made)[1]) == made


def test_receive_gives_the_envelope_and_the_event():
    received = THING_MADE.receive({**ENVELOPE, **THING_MADE.dump(ThingMade(THING, "a"))[1]})
    assert (received.event_id, received.request_id, received.version) == (ENVELOPE["event_id"], "r-1", 2)
    assert received.occurred_at.isoformat() == ENVELOPE["occurred_at"] and received.event.actor == "a"


def test_a_payload_from_before_versions_is_version_1():
    assert THING_MADE.receive({**ENVELOPE, "thing": THING, "actor": "a"}).version == 1


def test_fields_a_newer_producer_added_are_ignored_at_any_depth():
    payload = {"thing": {**THING, "colour": "red", "parts": [{"n": 1, "weight": 3}]}, "actor": "a",
               "priority": "high", "version": 3}
    event = THING_MADE.load(payload)
    assert event.actor == "a" and event.thing["colour"] == "red"  # the view is kept whole


@pytest.mark.parametrize(("payload", "missing"), [
    ({"thing": THING}, "actor"),
    ({"actor": "a"}, "thing"),
    ({"thing": {"id": 7, "parts": []}, "actor": "a"}, "name"),
    ({"thing": {**THING, "id": "seven"}, "actor": "a"}, "id"),
])
def test_a_missing_or_wrong_field_is_refused(payload, missing):
    with pytest.raises(InvalidEvent, match=missing):
        THING_MADE.load(payload)


def test_an_instance_that_would_not_load_is_not_dumped():
    with pytest.raises(InvalidEvent, match="name"):
        THING_MADE.dump(ThingMade({"id": 7, "parts": []}, "a"))


def test_an_event_without_envelope_is_refused_on_receive():
    with pytest.raises(InvalidEvent, match="event_id"):
        THING_MADE.receive({"thing": THING, "actor": "a"})


def test_only_declared_events_dump():
    @dataclasses.dataclass(frozen=True)
    class Undeclared:
        x: int

    with pytest.raises(UndeclaredEvent):
        contracts.dump(Undeclared(1))
    with pytest.raises(UndeclaredEvent):
        THING_MADE.dump(Undeclared(1))


def test_a_contract_whose_dataclass_and_schema_disagree_is_refused():
    @dataclasses.dataclass(frozen=True)
    class Other:
        thing: dict
        actor: str

    with pytest.raises(TypeError, match="reason"):
        EventContract("things", "other", 1, ThingMadeSchema, Other, "")

    @dataclasses.dataclass
    class Mutable:
        thing: dict
        actor: str
        reason: str | None = None

    with pytest.raises(TypeError, match="frozen"):
        EventContract("things", "mutable", 1, ThingMadeSchema, Mutable, "")
