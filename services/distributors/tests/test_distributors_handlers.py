"""The distributors service layer on an in-memory unit of work: applications (submit, approve,
reject), the distributor's lifecycle with its history and events, tiers, the review flag and
locations, without PostgreSQL or RabbitMQ. test_distributors_service.py runs the same entrypoints on
the real servers."""
import inspect
from datetime import UTC, datetime, timedelta

import pytest
from distributors_in_memory import InMemoryUnitOfWork

from distributors import handlers, store
from distributors.errors import (
    ApplicationNotFound,
    CreditCodeTaken,
    DistributorNotActive,
    DistributorNotFound,
    IllegalTransition,
    InvalidApplication,
    LocationNotFound,
)
from distributors.unit_of_work import SqlUnitOfWork

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)
CODE = "91350100M000100Y43"


def test_the_in_memory_unit_of_work_offers_every_operation_of_the_sql_one():
    operations = [n for n, _ in inspect.getmembers(SqlUnitOfWork, inspect.isfunction) if not n.startswith("_")]
    assert len(operations) > 20
    fake = InMemoryUnitOfWork()
    for name in operations:
        original = getattr(store, name, None)  # the store function it runs on the cursor, if it is one
        expected = list(inspect.signature(original or getattr(SqlUnitOfWork, name)).parameters)[1:]
        assert list(inspect.signature(getattr(fake, name)).parameters) == expected, name


def application(code: str = CODE, **overrides) -> dict:
    fields = {
        "company_name": "Suzhou Cotton Trading Co.", "credit_code": code,
        "contact": {"name": "Li Wei", "phone": "+8613812345678", "email": "li.wei@example.cn"},
        "address": "88 Renmin Rd", "province": "Jiangsu", "city": "Suzhou",
        "locations": [{"name": "Suzhou DC", "lat": 31.30, "lon": 120.58},
                      {"name": "Wuxi shop", "lat": 31.49, "lon": 120.31, "service_radius_km": 20.0}],
        "requested_tier": "gold", "channels": ["offline_store", "tmall"],
    }
    fields.update(overrides)
    return fields


def approved(uow: InMemoryUnitOfWork, radius: float | None = None) -> int:
    receipt = handlers.submit_application(uow, application(), NOW)
    return handlers.approve_application(uow, receipt.id, "gold", radius, "manager:1", NOW).distributor_id


def event_types(uow) -> list[str]:
    return [t for t, _ in uow.events]


# ---- applications -------------------------------------------------------------------------------

def test_a_submitted_application_is_screened_held_and_shown_to_its_token_only():
    uow = InMemoryUnitOfWork()
    receipt = handlers.submit_application(uow, application(code=f"  {CODE.lower()} "), NOW)
    assert (receipt.id, receipt.status) == (1, "submitted") and len(receipt.status_token) >= 32
    assert uow.locked == [CODE]  # normalised before it is locked and compared
    view = handlers.application_status(uow, receipt.id, receipt.status_token)
    assert (view.credit_code, view.submitted_at, view.status) == (CODE, NOW, "submitted")
    assert view.status_token_hash != receipt.status_token  # only its hash is kept
    for wrong in ("guess", None):
        with pytest.raises(ApplicationNotFound):
            handlers.application_status(uow, receipt.id, wrong)
    assert uow.events == []


def test_a_credit_code_has_one_live_holder():
    uow = InMemoryUnitOfWork()
    first = handlers.submit_application(uow, application(), NOW)
    with pytest.raises(CreditCodeTaken, match="application 1"):
        handlers.submit_application(uow, application(), NOW)
    handlers.approve_application(uow, first.id, "gold", None, "manager:1", NOW)
    with pytest.raises(CreditCodeTaken, match="distributor 1"):
        handlers.submit_application(uow, application(), NOW)


def test_a_bad_code_or_a_location_outside_china_is_refused_before_anything_is_held():
    uow = InMemoryUnitOfWork()
    with pytest.raises(InvalidApplication) as caught:
        handlers.submit_application(uow, application(code="91350100M000100Y44", locations=[
            {"name": "Tokyo", "lat": 35.68, "lon": 139.69}]), NOW)
    assert [e["field"] for e in caught.value.errors] == ["credit_code", "locations[0].lon"]
    assert (uow.locked, uow.applications) == ([], {})


def test_approval_creates_the_distributor_with_its_locations_history_and_events():
    uow = InMemoryUnitOfWork()
    receipt = handlers.submit_application(uow, application(), NOW)
    approval = handlers.approve_application(uow, str(receipt.id), "platinum", 80.0, "manager:1", NOW)
    assert approval == handlers.Approval(1, 1)

    decided = handlers.application(uow, receipt.id)
    assert (decided.status, decided.decided_by, decided.distributor_id) == ("approved", "manager:1", 1)
    profile = handlers.profile(uow, 1, admin=True)
    assert (profile.distributor.tier, profile.distributor.status, profile.distributor.version) == (
        "platinum", "active", 1)
    assert [(loc.name, loc.service_radius_km) for loc in profile.locations] == [
        ("Suzhou DC", 80.0), ("Wuxi shop", 20.0)]  # the approval's radius unless its own
    assert [(h.kind, h.from_, h.to, h.reason) for h in profile.history] == [
        ("status", None, "active", "application 1 approved")]

    assert event_types(uow) == ["distributor_approved", "location_changed", "location_changed"]
    approved_event = uow.events[0][1]
    assert approved_event["distributor"]["tier"] == "platinum" and approved_event["actor"] == "manager:1"
    assert [loc["name"] for loc in approved_event["distributor"]["locations"]] == ["Suzhou DC", "Wuxi shop"]
    assert "history" not in approved_event["distributor"]  # the distributor's own view
    assert uow.events[1][1]["location"]["service_radius_km"] == 80.0
    assert uow.events[1][1]["distributor_status"] == "active"

    with pytest.raises(IllegalTransition):
        handlers.approve_application(uow, receipt.id, "gold", None, "manager:1", NOW)


def test_a_rejected_application_keeps_its_reason_and_frees_its_credit_code():
    uow = InMemoryUnitOfWork()
    receipt = handlers.submit_application(uow, application(), NOW)
    rejected = handlers.reject_application(uow, receipt.id, "incomplete licence", "sales:1", NOW)
    assert (rejected.status, rejected.reason, rejected.distributor_id) == ("rejected", "incomplete licence", None)
    assert uow.distributors == {} and uow.events == []
    with pytest.raises(IllegalTransition):
        handlers.reject_application(uow, receipt.id, "again", "sales:1", NOW)
    assert handlers.submit_application(uow, application(), NOW).id == 2


@pytest.mark.parametrize("application_id", ["99", "x", "0", None])
def test_an_unknown_application_is_not_found(application_id):
    with pytest.raises(ApplicationNotFound):
        handlers.approve_application(InMemoryUnitOfWork(), application_id, "gold", None, "m", NOW)


# ---- the distributor's lifecycle ----------------------------------------------------------------

def test_suspend_reinstate_terminate_are_recorded_and_announced():
    uow = InMemoryUnitOfWork()
    number = approved(uow)
    uow.events.clear()

    suspended = handlers.change_status(uow, number, "suspend", "late payments", "manager:1", NOW)
    assert (suspended.distributor.status, suspended.distributor.version) == ("suspended", 2)
    reinstated = handlers.change_status(uow, number, "reinstate", None, "manager:1", LATER)
    assert reinstated.distributor.status == "active"
    terminated = handlers.change_status(uow, number, "terminate", "contract ended", "manager:2", LATER)
    assert (terminated.distributor.status, terminated.distributor.version) == ("terminated", 4)

    assert [(h.from_, h.to, h.actor, h.reason) for h in terminated.history] == [
        (None, "active", "manager:1", "application 1 approved"),
        ("active", "suspended", "manager:1", "late payments"),
        ("suspended", "active", "manager:1", None),
        ("active", "terminated", "manager:2", "contract ended")]
    assert event_types(uow) == ["distributor_suspended", "distributor_reinstated", "distributor_terminated"]
    last = uow.events[-1][1]
    assert (last["distributor"]["status"], last["distributor"]["version"], last["reason"]) == (
        "terminated", 4, "contract ended")
    assert len(last["distributor"]["locations"]) == 2

    with pytest.raises(IllegalTransition):
        handlers.change_status(uow, number, "reinstate", None, "manager:1", LATER)
    assert uow.credit_code_holder(CODE) is None  # a terminated distributor holds its code no longer


def test_suspending_needs_a_reason_and_changes_nothing_without_one():
    uow = InMemoryUnitOfWork()
    number = approved(uow)
    with pytest.raises(InvalidApplication):
        handlers.change_status(uow, number, "suspend", None, "manager:1", NOW)
    assert handlers.profile(uow, number, admin=False).distributor.status == "active"
    assert event_types(uow) == ["distributor_approved", "location_changed", "location_changed"]


def test_a_tier_change_is_recorded_and_announced_and_the_same_tier_is_a_no_op():
    uow = InMemoryUnitOfWork()
    number = approved(uow)
    uow.events.clear()
    assert handlers.change_tier(uow, number, "gold", "manager:1", NOW).distributor.version == 1
    assert uow.events == []
    changed = handlers.change_tier(uow, number, "platinum", "manager:1", NOW)
    assert (changed.distributor.tier, changed.distributor.version) == ("platinum", 2)
    assert (changed.history[-1].kind, changed.history[-1].from_, changed.history[-1].to) == (
        "tier", "gold", "platinum")
    assert event_types(uow) == ["distributor_tier_changed"]


def test_a_distributor_is_flagged_for_review_once():
    uow = InMemoryUnitOfWork()
    number = approved(uow)
    assert handlers.flag_for_review(uow, "e-1", number, NOW) is True
    assert handlers.flag_for_review(uow, "e-1", number, NOW) is False  # redelivered
    assert handlers.flag_for_review(uow, "e-2", number, NOW) is False  # flagged already
    assert handlers.profile(uow, number, admin=True).distributor.flagged_for_review is True


def test_a_page_of_distributors_carries_each_ones_locations_and_history():
    uow = InMemoryUnitOfWork()
    approved(uow)
    found = handlers.distributors(uow, {"status": "active"}, None, 10)
    assert [(p.distributor.id, len(p.locations), len(p.history)) for p in found] == [(1, 2, 1)]
    assert handlers.distributors(uow, {"status": "suspended"}, None, 10) == []


@pytest.mark.parametrize("distributor_id", ["99", "abc", -1])
def test_an_unknown_distributor_is_not_found(distributor_id):
    with pytest.raises(DistributorNotFound):
        handlers.profile(InMemoryUnitOfWork(), distributor_id, admin=False)


# ---- locations ----------------------------------------------------------------------------------

def test_an_active_distributor_adds_and_moves_its_locations_and_each_change_is_announced():
    uow = InMemoryUnitOfWork()
    number = approved(uow)
    uow.events.clear()
    added = handlers.add_location(uow, number, {"name": "Nanjing DC", "lat": 32.06, "lon": 118.80}, NOW)
    assert (added.service_radius_km, added.active, added.distributor_id) == (50.0, True, number)
    moved = handlers.update_location(uow, number, str(added.id), {"lat": 32.10}, LATER)
    assert (moved.lat, moved.lon, moved.updated_at) == (32.10, 118.80, LATER)
    assert handlers.update_location(uow, number, added.id, {}, LATER) == moved  # nothing to change
    assert event_types(uow) == ["location_changed", "location_changed"]
    assert handlers.location(uow, added.id) == moved
    assert [loc.id for loc in handlers.locations(uow, number, None, 10)] == [1, 2, 3]


def test_a_location_outside_china_is_refused_whether_added_or_moved_there():
    uow = InMemoryUnitOfWork()
    number = approved(uow)
    with pytest.raises(InvalidApplication):
        handlers.add_location(uow, number, {"name": "Tokyo", "lat": 35.68, "lon": 139.69}, NOW)
    with pytest.raises(InvalidApplication) as caught:
        handlers.update_location(uow, number, 1, {"lon": 139.69}, NOW)
    assert [e["field"] for e in caught.value.errors] == ["lon"]


def test_a_suspended_distributor_may_read_its_locations_but_not_change_them():
    uow = InMemoryUnitOfWork()
    number = approved(uow)
    handlers.change_status(uow, number, "suspend", "audit", "manager:1", NOW)
    with pytest.raises(DistributorNotActive):
        handlers.add_location(uow, number, {"name": "Nanjing DC", "lat": 32.06, "lon": 118.80}, NOW)
    with pytest.raises(DistributorNotActive):
        handlers.update_location(uow, number, 1, {"name": "renamed"}, NOW)
    assert len(handlers.locations(uow, number, None, 10)) == 2


def test_another_distributors_location_is_not_found_and_an_unknown_distributor_before_a_bad_cursor():
    uow = InMemoryUnitOfWork()
    number = approved(uow)
    other = handlers.approve_application(
        uow, handlers.submit_application(uow, application(code="91110108551385082Q"), NOW).id, "gold", None,
        "manager:1", NOW).distributor_id
    with pytest.raises(LocationNotFound):
        handlers.update_location(uow, other, 1, {"name": "mine now"}, NOW)
    with pytest.raises(LocationNotFound):
        handlers.location(uow, "99")
    with pytest.raises(DistributorNotFound):
        handlers.locations(uow, 99, "not-a-cursor", 10)
    assert handlers.location(uow, 1).distributor_id == number
