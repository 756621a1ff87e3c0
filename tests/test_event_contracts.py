"""The events between our services are one contract (common.contracts, each service's ``events``
module), and every consumer can load what every producer actually publishes.

The samples are real: each producer's handler tests (services/*/tests, on their in-memory units of
work) are run once here while every dump through a contract is recorded, so a payload a handler
builds is checked, not one written for this test. Then:

- every ``@event_handler`` of every service in common.topology names an event its source declares,
  and (but for the services listed in ``NOT_YET_THROUGH_CONTRACTS``) loads it through that contract;
- every declared event is published by some handler test, and every sample loads through its contract,
  also with fields a newer producer might add;
- a unit of work refuses an event no contract declares, so nothing else reaches an outbox;
- docs/events.md lists every event with its version.
"""
from __future__ import annotations

import importlib
import inspect
import pathlib
import sys
from collections import defaultdict

import pytest

from common import contracts
from common.contracts import EventContract, UndeclaredEvent
from common.entrypoints import EventHandler
from common.outbox import new_event
from common.topology import BACKENDS, service

ROOT = pathlib.Path(__file__).resolve().parents[1]
# a producer's handler tests, run to record what its handlers publish
HANDLER_TESTS = {"catalog": "test_catalog_handlers", "distributors": "test_distributors_handlers",
                 "pricing": "test_pricing_handlers", "fulfillment": "test_handlers"}
# consumers that still read raw payloads (the webhooks service forwards them as they are)
NOT_YET_THROUGH_CONTRACTS: set[str] = set()


def _events_module(name: str):
    try:
        return importlib.import_module(f"{name}.events")
    except ModuleNotFoundError:
        return None


PRODUCERS = [name for name in BACKENDS if _events_module(name) is not None]


def consumers() -> list[tuple[str, str, str, str]]:
    """(consumer service, method, source service, event type) of every event handler."""
    found = []
    for name in BACKENDS:
        module = importlib.import_module(f"{name}.service")
        for cls in vars(module).values():
            if not (inspect.isclass(cls) and cls.__module__ == module.__name__ and getattr(cls, "name", None) == name):
                continue
            for method_name, method in inspect.getmembers(cls, inspect.isfunction):
                for entrypoint in getattr(method, "nameko_entrypoints", ()):
                    if isinstance(entrypoint, EventHandler):
                        found.append((name, method_name, entrypoint.source_service, entrypoint.event_type))
    return sorted(found)


CONSUMERS = consumers()


def _fixture_args(module, function) -> dict | None:
    """Arguments for a test that takes only fixtures its module defines (fulfillment's ``uow``,
    ``two``); None for a parametrized one."""
    args = {}
    for parameter in inspect.signature(function).parameters:
        fixture = getattr(module, parameter, None)
        wrapped = getattr(fixture, "__wrapped__", None)
        if wrapped is None:
            return None
        inner = _fixture_args(module, wrapped)
        if inner is None:
            return None
        args[parameter] = wrapped(**inner)
    return args


@pytest.fixture(scope="module")
def samples() -> dict[tuple[str, str], list[dict]]:
    """Every payload the producers' handler tests dumped, by (service, event type)."""
    recorded: dict[tuple[str, str], list[dict]] = defaultdict(list)
    original = EventContract.dump

    def recording(self, instance):
        event_type, payload = original(self, instance)
        recorded[self.service, event_type].append(payload)
        return event_type, payload

    EventContract.dump = recording
    try:
        for name, test_module in HANDLER_TESTS.items():
            folder = str(ROOT / service(name).folder / "tests")
            if folder not in sys.path:
                sys.path.insert(0, folder)
            module = importlib.import_module(test_module)
            for test_name, function in inspect.getmembers(module, inspect.isfunction):
                if test_name.startswith("test_") and function.__module__ == module.__name__:
                    args = _fixture_args(module, function)
                    if args is not None:
                        function(**args)
    finally:
        EventContract.dump = original
    return dict(recorded)


def test_the_producers_declare_their_events():
    assert PRODUCERS == ["catalog", "distributors", "pricing", "fulfillment"]
    assert {c.service for c in contracts.declared()} == set(PRODUCERS)
    assert len(contracts.declared()) == 3 + 6 + 4 + 8


def test_there_are_consumers_to_check():
    assert {c[0] for c in CONSUMERS} >= {"pricing", "distributors", "fulfillment"}


@pytest.mark.parametrize(("consumer", "method", "source", "event_type"), CONSUMERS,
                         ids=[f"{c}.{m}<-{s}.{t}" for c, m, s, t in CONSUMERS])
def test_every_consumed_event_is_declared_by_its_source(consumer, method, source, event_type):
    contract = contracts.contract(source, event_type)  # UndeclaredEvent if not
    if consumer in NOT_YET_THROUGH_CONTRACTS:
        return
    cls = next(c for c in vars(importlib.import_module(f"{consumer}.service")).values()
               if inspect.isclass(c) and getattr(c, "name", None) == consumer)
    code = inspect.getsource(getattr(cls, method))
    constant = next(n for n, v in vars(_events_module(source)).items() if v is contract)
    assert constant in code and (".receive(" in code or "_on_" in code), (
        f"{consumer}.{method} does not load {source}.{event_type} through {source}.events.{constant}")


def test_every_event_the_webhooks_service_consumes_may_become_a_webhook():
    """webhooks.domain.BECOMES decides whether an event is even loaded: one missing would be dropped."""
    from webhooks import domain as webhooks_domain
    consumed = {(s, t) for c, _, s, t in CONSUMERS if c == "webhooks"}
    assert consumed and consumed == set(webhooks_domain.BECOMES)


@pytest.mark.parametrize(("consumer", "method", "source", "event_type"), CONSUMERS,
                         ids=[f"{c}.{m}<-{s}.{t}" for c, m, s, t in CONSUMERS])
def test_every_consumer_loads_what_its_producer_publishes(samples, consumer, method, source, event_type):
    published = samples.get((source, event_type))
    assert published, f"no handler test of {source} publishes {event_type}"
    contract = contracts.contract(source, event_type)
    for payload in published:
        _, delivered = new_event(event_type, payload, request_id="req-1")  # as the outbox relays it
        received = contract.receive(delivered)
        assert received.version == contract.version and received.event_id == delivered["event_id"]
        assert isinstance(received.event, contract.event)


@pytest.mark.parametrize("contract", contracts.declared(), ids=lambda c: f"{c.service}.{c.event_type}")
def test_every_declared_event_is_published_and_loads_also_with_fields_added_later(samples, contract):
    published = samples.get((contract.service, contract.event_type))
    assert published, f"no handler test of {contract.service} publishes {contract.event_type}"
    for payload in published:
        assert payload["version"] == contract.version
        assert contract.dump(contract.load(payload)) == (contract.event_type, payload)  # nothing lost
        newer = {**payload, "added_later": [1], "version": contract.version + 1,
                 **{key: {**value, "added_later": 1} for key, value in payload.items() if isinstance(value, dict)}}
        assert isinstance(contract.load(newer), contract.event)


def test_only_declared_events_reach_an_outbox():
    """Every unit of work dumps what it is given through common.contracts: an event no contract
    declares is refused before anything is written."""
    from catalog.unit_of_work import SqlUnitOfWork as CatalogWork
    from distributors.unit_of_work import SqlUnitOfWork as DistributorsWork
    from fulfillment.unit_of_work import SqlUnitOfWork as FulfillmentWork
    from pricing.unit_of_work import SqlUnitOfWork as PricingWork

    class Transaction:
        def cursor(self):
            return object()

    undeclared = ("order_routed", {"order": {}})  # what handlers wrote before contracts
    with pytest.raises(UndeclaredEvent):
        CatalogWork(Transaction()).add_events([undeclared])
    with pytest.raises(UndeclaredEvent):
        DistributorsWork(Transaction()).add_event(undeclared)
    with pytest.raises(UndeclaredEvent):
        PricingWork(Transaction()).add_event(undeclared)
    with pytest.raises(UndeclaredEvent):
        FulfillmentWork(Transaction(), catalog=None, pricing=None, distributors=None).add_events([undeclared])


def test_the_catalogue_lists_every_event_with_its_version():
    text = (ROOT / "docs" / "events.md").read_text()
    for contract in contracts.declared():
        assert f"`{contract.event_type}` | {contract.service} | {contract.version} |" in text, contract
