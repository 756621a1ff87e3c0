"""The distributors service in a real nameko container on real RabbitMQ and PostgreSQL."""
import pytest
from nameko.standalone.rpc import ServiceRpcProxy

import common.errors
import distributors.errors
from common.db import Database, transaction
from common.entrypoints import event_handler
from common.outbox import first_delivery
from common.testing import wait_until
from distributors.errors import (
    ApplicationNotFound,
    CreditCodeTaken,
    DistributorNotActive,
    IllegalTransition,
    InvalidApplication,
    LocationNotFound,
)
from distributors.service import DistributorsService

common.errors.make_deserializable(common.errors, distributors.errors)

EVENTS = ("distributor_approved", "distributor_suspended", "distributor_reinstated",
          "distributor_terminated", "distributor_tier_changed", "location_changed")


def application(code="91350100M000100Y43", **overrides):
    body = {
        "company_name": "Suzhou Cotton Trading Co.", "credit_code": code,
        "contact": {"name": "Li Wei", "phone": "13812345678", "email": "li.wei@example.cn"},
        "address": "88 Renmin Rd", "province": "Jiangsu", "city": "Suzhou",
        "locations": [{"name": "Suzhou DC", "lat": 31.30, "lon": 120.58},
                      {"name": "Wuxi shop", "lat": 31.49, "lon": 120.31, "service_radius_km": 20}],
        "requested_tier": "gold", "channels": ["offline_store", "tmall"],
    }
    body.update(overrides)
    return body


class EventRecorder:
    name = "distributor_event_recorder"
    db = Database("distributors")

    def _record(self, event_type, payload):
        cur = self.db.cursor()
        if first_delivery(cur, self.name, payload["event_id"]):
            cur.execute("INSERT INTO recorded_events (event_type, payload) VALUES (%s, %s::jsonb)",
                        (event_type, __import__("json").dumps(payload)))


for _event in EVENTS:
    def _handler(self, payload, _event=_event):
        self._record(_event, payload)
    _handler.__name__ = f"on_{_event}"
    setattr(EventRecorder, _handler.__name__, event_handler("distributors", _event)(_handler))


@pytest.fixture
def config(amqp_uri, distributors_db):
    with transaction(distributors_db) as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS recorded_events (id serial, event_type text, payload jsonb)")
        cur.execute("TRUNCATE recorded_events")
    return {"AMQP_URI": amqp_uri, "DATABASE_URL": distributors_db, "serializer": "json",
            "max_workers": 4}


@pytest.fixture
def service(config, container_factory):
    container_factory(DistributorsService, config).start()
    # the recorder applies one event at a time, each queue in its order: once a marker sent after
    # the events under test is recorded, every earlier event on the marker's queue has been applied
    container_factory(EventRecorder, {**config, "max_workers": 1}).start()
    with ServiceRpcProxy("distributors", config, context_data={"request_id": "req-7"}) as proxy:
        yield proxy


def events(config, request_id: str) -> list[tuple[str, dict]]:
    """The events recorded so far that calls made with ``request_id`` caused."""
    with transaction(config["DATABASE_URL"]) as cur:
        cur.execute("SELECT event_type, payload FROM recorded_events WHERE payload->>'request_id' = %s "
                    "ORDER BY id", (request_id,))
        return [(r["event_type"], r["payload"]) for r in cur.fetchall()]


def lifecycle(service, code: str) -> int:
    """Apply, approve (two locations), suspend, reinstate, change tier, terminate: each event type."""
    receipt = service.submit_application(application(code))
    assert receipt["status"] == "submitted" and len(receipt["status_token"]) > 20
    approved = service.approve_application(receipt["id"], {"tier": "platinum",
                                                           "service_radius_km": 80}, "manager:1")
    did = approved["distributor_id"]
    service.change_status(did, "suspend", {"reason": "unpaid invoices"}, "manager:1")
    service.change_status(did, "reinstate", {}, "manager:1")
    service.change_tier(did, {"tier": "silver"}, "manager:1")
    service.change_status(did, "terminate", {"reason": "contract ended"}, "manager:2")
    return did


def test_the_whole_lifecycle_dispatches_each_event_once_with_its_fields(service, config):
    def kinds(request_id: str) -> list[str]:
        return sorted(kind for kind, _ in events(config, request_id))

    did = lifecycle(service, "91350100M000100Y43")
    wait_until(lambda: len(kinds("req-7")) >= 7, 10.0, lambda: f"7 events; recorded {kinds('req-7')}")
    # nothing more arrives later: a second distributor's lifecycle (another request id) puts at least
    # one event behind the first's on each of the recorder's six queues. Whatever the first calls
    # caused was committed (outbox) or published before their replies, so it is queued ahead of the
    # markers (the relay publishes in outbox order, confirmed); the recorder applies each queue in
    # order, so once every marker queue has delivered, nothing of the first lifecycle is left
    with ServiceRpcProxy("distributors", config, context_data={"request_id": "req-marker"}) as marker:
        lifecycle(marker, "91110000802100433B")
    wait_until(lambda: set(kinds("req-marker")) == set(EVENTS), 10.0,
               lambda: f"a marker on each of {EVENTS}; recorded {kinds('req-marker')}")
    assert kinds("req-7") == sorted(["distributor_approved", "location_changed", "location_changed",
                                     "distributor_suspended", "distributor_reinstated",
                                     "distributor_tier_changed", "distributor_terminated"])
    with transaction(config["DATABASE_URL"]) as cur:  # and none that lost its request id
        cur.execute("SELECT count(*) AS n FROM recorded_events "
                    "WHERE coalesce(payload->>'request_id', '') NOT IN ('req-7', 'req-marker')")
        assert cur.fetchone()["n"] == 0
    got = events(config, "req-7")
    by_kind = {kind: payload for kind, payload in got}
    for _kind, payload in got:
        assert payload["event_id"] and payload["occurred_at"] and payload["request_id"] == "req-7"
    approved_event = by_kind["distributor_approved"]["distributor"]
    assert approved_event["id"] == did and approved_event["tier"] == "platinum"
    assert [loc["service_radius_km"] for loc in approved_event["locations"]] == [80.0, 20.0]
    assert by_kind["distributor_suspended"]["reason"] == "unpaid invoices"
    assert by_kind["distributor_terminated"]["actor"] == "manager:2"
    assert by_kind["distributor_terminated"]["distributor"]["status"] == "terminated"
    location = by_kind["location_changed"]
    assert set(location["location"]) >= {"id", "distributor_id", "name", "lat", "lon",
                                         "service_radius_km", "active"}
    assert location["distributor_status"] == "active"

    history = service.get_distributor(did)["history"]
    assert [(h["kind"], h["from"], h["to"], h["actor"]) for h in history] == [
        ("status", None, "active", "manager:1"),
        ("status", "active", "suspended", "manager:1"),
        ("status", "suspended", "active", "manager:1"),
        ("tier", "platinum", "silver", "manager:1"),
        ("status", "active", "terminated", "manager:2"),
    ]
    with pytest.raises(IllegalTransition):
        service.change_status(did, "reinstate", {}, "manager:1")


def test_a_live_credit_code_cannot_apply_twice(service):
    first = service.submit_application(application())
    with pytest.raises(CreditCodeTaken):
        service.submit_application(application(company_name="Copycat"))
    service.reject_application(first["id"], {"reason": "incomplete licence"}, "manager:1")
    second = service.submit_application(application())  # a rejected application holds nothing
    did = service.approve_application(second["id"], {"tier": "gold"}, "manager:1")["distributor_id"]
    with pytest.raises(CreditCodeTaken):
        service.submit_application(application())
    service.change_status(did, "suspend", {"reason": "audit"}, "manager:1")
    with pytest.raises(CreditCodeTaken):
        service.submit_application(application())
    service.change_status(did, "terminate", {"reason": "audit failed"}, "manager:1")
    assert service.submit_application(application())["status"] == "submitted"


def test_the_status_token_guards_the_application(service):
    receipt = service.submit_application(application())
    assert service.get_application_status(receipt["id"], receipt["status_token"])["status"] == "submitted"
    for token in (None, "", "wrong"):
        with pytest.raises(ApplicationNotFound):
            service.get_application_status(receipt["id"], token)
    service.reject_application(receipt["id"], {"reason": "no licence"}, "manager:1")
    view = service.get_application_status(receipt["id"], receipt["status_token"])
    assert (view["status"], view["reason"]) == ("rejected", "no licence")
    with pytest.raises(IllegalTransition):
        service.approve_application(receipt["id"], {"tier": "gold"}, "manager:1")


def test_screening_errors_name_fields(service):
    with pytest.raises(InvalidApplication) as caught:
        service.submit_application(application(code="91350100M000100Y44"))
    assert caught.value.errors[0]["field"] == "credit_code"


def test_locations_belong_to_their_distributor_and_need_an_active_one(service):
    a = service.approve_application(service.submit_application(application())["id"],
                                    {"tier": "gold"}, "m")["distributor_id"]
    b = service.approve_application(service.submit_application(
        application(code="91110000802100433B"))["id"], {"tier": "gold"}, "m")["distributor_id"]
    added = service.add_location(a, {"name": "Hangzhou", "lat": 30.27, "lon": 120.15})
    assert added["service_radius_km"] == 50.0 and added["active"] is True
    with pytest.raises(LocationNotFound):
        service.update_location(b, added["id"], {"name": "stolen"})
    assert service.update_location(a, added["id"], {"active": False})["active"] is False
    service.change_status(a, "suspend", {"reason": "audit"}, "m")
    with pytest.raises(DistributorNotActive):
        service.add_location(a, {"name": "x", "lat": 30.0, "lon": 120.0})
    with pytest.raises(DistributorNotActive):
        service.update_location(a, added["id"], {"active": True})
    assert len(service.list_locations(a, {})["items"]) == 3


@pytest.mark.parametrize("written,e164", [("+86 138-0013-8000", "+8613800138000"),
                                          ("(021) 62881234", "+862162881234")])
def test_the_contact_phone_is_stored_and_shown_in_e164(service, written, e164):
    body = application()
    body["contact"] = {**body["contact"], "phone": written}
    receipt = service.submit_application(body)
    assert service.get_application(receipt["id"])["contact"]["phone"] == e164
    assert service.get_application_status(receipt["id"], receipt["status_token"])["contact"][
        "phone"] == e164


def test_a_refused_phone_stores_nothing(service):
    body = application()
    body["contact"] = {**body["contact"], "phone": "+1 650 253 0000"}
    with pytest.raises(common.errors.InvalidInput) as caught:
        service.submit_application(body)
    assert [e["field"] for e in caught.value.errors] == ["contact.phone"]
    assert service.list_applications({})["items"] == []
