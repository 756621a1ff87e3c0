"""The distributors service layer: one handler per use case, given a unit of work
(distributors/unit_of_work.py) and plain arguments — fields already loaded by the contract's schema,
the caller's raw ids, the instant ``now``. A handler reads through the unit of work, decides with
domain.py, writes, announces events and returns domain values; service.py dumps them."""
from __future__ import annotations

import secrets
from datetime import datetime
from typing import NamedTuple

from common.errors import parse_id
from common.pagination import decode_cursor
from distributors import domain
from distributors.domain import Application, Distributor, Location, Transition
from distributors.errors import ApplicationNotFound, DistributorNotFound, LocationNotFound
from distributors.events import DISTRIBUTOR_EVENTS, LocationChanged
from distributors.schemas import LocationSchema, dump_distributor

LOCATION = LocationSchema()


class Profile(NamedTuple):
    """A distributor with its locations, and for the admin's view its history."""

    distributor: Distributor
    locations: list[Location]
    history: list[Transition] | None = None


def _distributor(uow, distributor_id, for_update: bool = False) -> Distributor:
    number = parse_id(distributor_id, DistributorNotFound, "distributor")
    distributor = uow.get_distributor(number, for_update)
    if distributor is None:
        raise DistributorNotFound(f"distributor {distributor_id} not found")
    return distributor


def _profile(uow, distributor: Distributor, admin: bool) -> Profile:
    locations = uow.locations_of([distributor.id])[distributor.id]
    return Profile(distributor, locations, uow.history([distributor.id])[distributor.id] if admin else None)


def _announce_distributor(uow, event_type: str, distributor: Distributor, locations: list[Location], actor: str,
                          reason: str | None) -> None:
    uow.add_event(DISTRIBUTOR_EVENTS[event_type](dump_distributor(distributor, locations), actor, reason))


def _announce_location(uow, location: Location, distributor_status: str) -> None:
    uow.add_event(LocationChanged(LOCATION.dump(location), distributor_status))


# ---- applications -------------------------------------------------------------------------------


class Receipt(NamedTuple):
    """What the applicant is handed: the application's id and the token that shows its status."""

    id: int
    status: str
    status_token: str


def submit_application(uow, fields: dict, now: datetime) -> Receipt:
    """Screened (credit code, coordinates), then held against every live holder of its credit code."""
    fields["credit_code"] = domain.normalize_credit_code(fields["credit_code"])
    domain.screen_application(fields)
    uow.lock_credit_code(fields["credit_code"])
    domain.require_free_credit_code(fields["credit_code"], uow.credit_code_holder(fields["credit_code"]))
    token = secrets.token_urlsafe(24)
    application_id = uow.insert_application(fields, domain.hash_status_token(token), now)
    return Receipt(application_id, domain.SUBMITTED, token)


def _application(uow, application_id, for_update: bool = False) -> tuple[int, Application]:
    number = parse_id(application_id, ApplicationNotFound, "application")
    application = uow.get_application(number, for_update=for_update)
    if application is None:
        raise ApplicationNotFound(f"application {application_id} not found")
    return number, application


def application_status(uow, application_id, token: str | None) -> Application:
    """The applicant's view; without the right token the application does not exist."""
    number = parse_id(application_id, ApplicationNotFound, "application")
    application = uow.get_application(number)
    if application is None or not domain.status_token_matches(application, token):
        raise ApplicationNotFound(f"application {application_id} not found")
    return application


def application(uow, application_id) -> Application:
    return _application(uow, application_id)[1]


def applications(uow, filters: dict, after: int | None, limit: int) -> list[Application]:
    return uow.list_applications(filters, after, limit)


class Approval(NamedTuple):
    distributor_id: int
    application_id: int


def approve_application(uow, application_id, tier: str, default_radius_km: float | None, actor: str,
                        now: datetime) -> Approval:
    """The distributor is created active with the application's locations, its history begun, and
    announced (``distributor_approved``, then a ``location_changed`` per location)."""
    number, submitted = _application(uow, application_id, for_update=True)
    domain.decide_application(submitted.status, domain.APPROVED)
    uow.lock_credit_code(submitted.credit_code)
    distributor = uow.insert_distributor(submitted, tier, now)
    locations = [uow.insert_location(distributor.id, fields, now)
                 for fields in domain.approved_locations(submitted, default_radius_km)]
    uow.add_history(distributor.id, domain.approval_transition(number, actor, now))
    uow.decide_application(number, domain.APPROVED, actor, now, None, distributor.id)
    _announce_distributor(uow, "distributor_approved", distributor, locations, actor, None)
    for location in locations:
        _announce_location(uow, location, distributor.status)
    return Approval(distributor.id, number)


def reject_application(uow, application_id, reason: str, actor: str, now: datetime) -> Application:
    number, submitted = _application(uow, application_id, for_update=True)
    domain.decide_application(submitted.status, domain.REJECTED)
    uow.decide_application(number, domain.REJECTED, actor, now, reason, None)
    return uow.get_application(number)


# ---- distributors -------------------------------------------------------------------------------


def profile(uow, distributor_id, admin: bool) -> Profile:
    """The distributor's own view, or (``admin``) with its history."""
    return _profile(uow, _distributor(uow, distributor_id), admin)


def distributors(uow, filters: dict, after: int | None, limit: int) -> list[Profile]:
    """A page of admin views (``limit + 1`` of them when another page follows)."""
    found = uow.list_distributors(filters, after, limit)
    ids = [d.id for d in found[:limit]]
    locations, histories = uow.locations_of(ids), uow.history(ids)
    return [Profile(d, locations.get(d.id, []), histories.get(d.id, [])) for d in found]


def change_status(uow, distributor_id, action: str, reason: str | None, actor: str, now: datetime) -> Profile:
    """suspend | reinstate | terminate, validated by the state machine, recorded in the history and
    announced; the admin's view after it."""
    current = _distributor(uow, distributor_id, for_update=True)
    changed, entry = domain.transition(current, action, actor, reason, now)
    uow.save_distributor(changed, entry.at)
    uow.add_history(changed.id, entry)
    after = _profile(uow, changed, admin=True)
    _announce_distributor(uow, domain.EVENTS[action], changed, after.locations, actor, reason)
    return after


def change_tier(uow, distributor_id, tier: str, actor: str, now: datetime) -> Profile:
    """A new tier, recorded and announced; the same tier again changes nothing."""
    current = _distributor(uow, distributor_id, for_update=True)
    changed, entry = domain.change_tier(current, tier, actor, now)
    if entry is not None:
        uow.save_distributor(changed, entry.at)
        uow.add_history(changed.id, entry)
    after = _profile(uow, changed, admin=True)
    if entry is not None:
        _announce_distributor(uow, "distributor_tier_changed", changed, after.locations, actor, None)
    return after


def flag_for_review(uow, event_id: str, distributor_id: int, now: datetime) -> bool:
    """Pricing saw a third parity violation within 30 days (``distributor_flagged``): True when this
    flags the distributor (once, however often the event arrives)."""
    if uow.first_delivery("distributors.flagged", event_id):
        return uow.flag_for_review(distributor_id, now)
    return False


# ---- locations ----------------------------------------------------------------------------------


def location(uow, location_id) -> Location:
    """Any location by id, for services that keep a read model of locations."""
    number = parse_id(location_id, LocationNotFound, "location")
    found = uow.any_location(number)
    if found is None:
        raise LocationNotFound(f"location {location_id} not found")
    return found


def locations(uow, distributor_id, cursor: str | None, limit: int) -> list[Location]:
    """A page of the distributor's locations after the opaque ``cursor`` (``limit + 1`` of them when
    another page follows); an unknown distributor is not found before a malformed cursor is refused."""
    distributor = _distributor(uow, distributor_id)
    return uow.list_locations(distributor.id, decode_cursor(cursor, int), limit)


def add_location(uow, distributor_id, fields: dict, now: datetime) -> Location:
    """A new location of an active distributor, announced (``location_changed``)."""
    fields = domain.place_location(fields)
    distributor = _distributor(uow, distributor_id, for_update=True)
    domain.require_active(distributor)
    fields["service_radius_km"] = domain.location_radius(fields.get("service_radius_km"), None)
    added = uow.insert_location(distributor.id, fields, now)
    _announce_location(uow, added, distributor.status)
    return added


def update_location(uow, distributor_id, location_id, changes: dict, now: datetime) -> Location:
    """An active distributor's change to one of its locations, announced when anything changed."""
    distributor = _distributor(uow, distributor_id, for_update=True)
    number = parse_id(location_id, LocationNotFound, "location")
    current = uow.get_location(number, distributor.id, for_update=True)
    if current is None:
        raise LocationNotFound(f"location {location_id} not found")
    domain.require_active(distributor)
    changes = domain.moved_location(current, changes)
    if not changes:
        return current
    changed = uow.update_location(number, changes, now)
    _announce_location(uow, changed, distributor.status)
    return changed
