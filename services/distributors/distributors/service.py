"""Distributors entrypoints: load → read → decide (domain) → write (+ outbox) → dump."""
from __future__ import annotations

import secrets
from datetime import UTC, datetime

from common.db import Database
from common.entrypoints import event_handler, rpc
from common.errors import ServiceError, parse_id
from common.health import check_database
from common.logs import WorkerLogging
from common.outbox import OutboxRelay, add_events, first_delivery, new_event
from common.pagination import decode_cursor, page
from common.schemas import PageQuerySchema, load
from distributors import domain, store
from distributors.errors import (
    ApplicationNotFound,
    DistributorNotFound,
    LocationNotFound,
)
from distributors.schemas import (
    ApplicationQuerySchema,
    ApplicationSchema,
    ApplicationViewSchema,
    ApproveSchema,
    DistributorAdminSchema,
    DistributorQuerySchema,
    DistributorSchema,
    LocationCreateSchema,
    LocationPatchSchema,
    LocationSchema,
    OptionalReasonSchema,
    ReasonSchema,
    TierChangeSchema,
)

APPLICATION_VIEW = ApplicationViewSchema()
LOCATION = LocationSchema()
DISTRIBUTOR = DistributorSchema()
DISTRIBUTOR_ADMIN = DistributorAdminSchema()


def _now() -> datetime:
    return datetime.now(UTC)



class DistributorsService:
    name = "distributors"

    db = Database("distributors")
    log = WorkerLogging()
    outbox = OutboxRelay()

    # ---- shared reads ---------------------------------------------------------------------------

    def _distributor(self, cur, distributor_id, for_update: bool = False) -> domain.Distributor:
        number = parse_id(distributor_id, DistributorNotFound, "distributor")
        distributor = store.get_distributor(cur, number, for_update)
        if distributor is None:
            raise DistributorNotFound(f"distributor {distributor_id} not found")
        return distributor

    def _view(self, cur, distributor: domain.Distributor, admin: bool) -> dict:
        locations = store.locations_of(cur, [distributor.id])[distributor.id]
        data = {**distributor.__dict__, "locations": locations}
        if admin:
            data["history"] = store.history(cur, [distributor.id])[distributor.id]
            return DISTRIBUTOR_ADMIN.dump(data)
        return DISTRIBUTOR.dump(data)

    def _distributor_event(self, cur, event_type: str, distributor: domain.Distributor, actor: str,
                           reason: str | None):
        return new_event(event_type, {"distributor": self._view(cur, distributor, admin=False),
                                      "actor": actor, "reason": reason})

    @staticmethod
    def _location_event(location: domain.Location, distributor_status: str):
        return new_event("location_changed", {"location": LOCATION.dump(location),
                                              "distributor_status": distributor_status})

    @rpc
    def health(self) -> dict:
        return {"service": self.name, **check_database(self.db)}

    # ---- applications ---------------------------------------------------------------------------

    @rpc(expected_exceptions=ServiceError)
    def submit_application(self, payload: dict) -> dict:
        fields = load(ApplicationSchema, payload)
        fields["credit_code"] = domain.normalize_credit_code(fields["credit_code"])
        domain.screen_application(fields)
        cur = self.db.cursor()
        store.lock_credit_code(cur, fields["credit_code"])
        domain.require_free_credit_code(fields["credit_code"], store.credit_code_holder(cur, fields["credit_code"]))
        token = secrets.token_urlsafe(24)
        application_id = store.insert_application(cur, fields, domain.hash_status_token(token), _now())
        return {"id": application_id, "status": domain.SUBMITTED, "status_token": token}

    @rpc(expected_exceptions=ServiceError)
    def get_application_status(self, application_id, token: str | None) -> dict:
        """The applicant's view; without the right token the application does not exist (404)."""
        number = parse_id(application_id, ApplicationNotFound, "application")
        row = store.get_application(self.db.cursor(), number)
        if row is None or not domain.status_token_matches(row, token):
            raise ApplicationNotFound(f"application {application_id} not found")
        return APPLICATION_VIEW.dump(row)

    @rpc(expected_exceptions=ServiceError)
    def get_application(self, application_id) -> dict:
        number = parse_id(application_id, ApplicationNotFound, "application")
        row = store.get_application(self.db.cursor(), number)
        if row is None:
            raise ApplicationNotFound(f"application {application_id} not found")
        return APPLICATION_VIEW.dump(row)

    @rpc(expected_exceptions=ServiceError)
    def list_applications(self, query: dict) -> dict:
        params = load(ApplicationQuerySchema, query)
        after = decode_cursor(params.pop("cursor"))
        limit = params.pop("limit")
        rows = store.list_applications(self.db.cursor(), params, after, limit)
        result = page(rows, limit, key=lambda r: r.id)
        result["items"] = APPLICATION_VIEW.dump(result["items"], many=True)
        return result

    @rpc(expected_exceptions=ServiceError)
    def approve_application(self, application_id, payload: dict, actor: str) -> dict:
        """Creates the distributor and its locations; the caller issues its first API key."""
        decision = load(ApproveSchema, payload)
        number = parse_id(application_id, ApplicationNotFound, "application")
        cur = self.db.cursor()
        application = store.get_application(cur, number, for_update=True)
        if application is None:
            raise ApplicationNotFound(f"application {application_id} not found")
        domain.decide_application(application.status, domain.APPROVED)
        now = _now()
        store.lock_credit_code(cur, application.credit_code)
        distributor = store.insert_distributor(cur, application, decision["tier"], now)
        locations = [store.insert_location(cur, distributor.id, fields, now)
                     for fields in domain.approved_locations(application, decision.get("service_radius_km"))]
        store.add_history(cur, distributor.id, domain.approval_transition(number, actor, now))
        store.decide_application(cur, number, domain.APPROVED, actor, now, None, distributor.id)
        add_events(cur, [self._distributor_event(cur, "distributor_approved", distributor, actor, None)]
                   + [self._location_event(loc, distributor.status) for loc in locations])
        return {"distributor_id": distributor.id, "application_id": number}

    @rpc(expected_exceptions=ServiceError)
    def reject_application(self, application_id, payload: dict, actor: str) -> dict:
        reason = load(ReasonSchema, payload)["reason"]
        number = parse_id(application_id, ApplicationNotFound, "application")
        cur = self.db.cursor()
        application = store.get_application(cur, number, for_update=True)
        if application is None:
            raise ApplicationNotFound(f"application {application_id} not found")
        domain.decide_application(application.status, domain.REJECTED)
        store.decide_application(cur, number, domain.REJECTED, actor, _now(), reason, None)
        return APPLICATION_VIEW.dump(store.get_application(cur, number))

    # ---- distributors ---------------------------------------------------------------------------

    @rpc(expected_exceptions=ServiceError)
    def get_distributor(self, distributor_id) -> dict:
        """The admin view: history and the review flag included."""
        cur = self.db.cursor()
        return self._view(cur, self._distributor(cur, distributor_id), admin=True)

    @rpc(expected_exceptions=ServiceError)
    def get_profile(self, distributor_id) -> dict:
        """The distributor's own view (``GET /v1/me``)."""
        cur = self.db.cursor()
        return self._view(cur, self._distributor(cur, distributor_id), admin=False)

    @rpc(expected_exceptions=ServiceError)
    def list_distributors(self, query: dict) -> dict:
        params = load(DistributorQuerySchema, query)
        after = decode_cursor(params.pop("cursor"))
        limit = params.pop("limit")
        cur = self.db.cursor()
        rows = store.list_distributors(cur, params, after, limit)
        result = page(rows, limit, key=lambda d: d.id)
        ids = [d.id for d in result["items"]]
        locations, histories = store.locations_of(cur, ids), store.history(cur, ids)
        result["items"] = DISTRIBUTOR_ADMIN.dump(
            [{**d.__dict__, "locations": locations[d.id], "history": histories[d.id]}
             for d in result["items"]], many=True)
        return result

    @rpc(expected_exceptions=ServiceError)
    def change_status(self, distributor_id, action: str, payload: dict, actor: str) -> dict:
        """suspend | reinstate | terminate, validated by the state machine and recorded."""
        if action not in domain.TRANSITIONS:
            raise ValueError(f"unknown action {action!r}")
        schema = OptionalReasonSchema if action == "reinstate" else ReasonSchema
        reason = load(schema, payload or {}).get("reason")
        cur = self.db.cursor()
        current = self._distributor(cur, distributor_id, for_update=True)
        changed, entry = domain.transition(current, action, actor, reason, _now())
        store.save_distributor(cur, changed, entry.at)
        store.add_history(cur, changed.id, entry)
        add_events(cur, [self._distributor_event(cur, domain.EVENTS[action], changed, actor, reason)])
        return self._view(cur, changed, admin=True)

    @rpc(expected_exceptions=ServiceError)
    def change_tier(self, distributor_id, payload: dict, actor: str) -> dict:
        tier = load(TierChangeSchema, payload)["tier"]
        cur = self.db.cursor()
        current = self._distributor(cur, distributor_id, for_update=True)
        changed, entry = domain.change_tier(current, tier, actor, _now())
        if entry is not None:
            store.save_distributor(cur, changed, entry.at)
            store.add_history(cur, changed.id, entry)
            add_events(cur, [self._distributor_event(cur, "distributor_tier_changed", changed, actor,
                                                     None)])
        return self._view(cur, changed, admin=True)

    # ---- locations (the distributor's own) -----------------------------------------------------

    @rpc(expected_exceptions=ServiceError)
    def get_location(self, location_id) -> dict:
        """Any location by id, for services that keep a read model of locations."""
        number = parse_id(location_id, LocationNotFound, "location")
        location = store.any_location(self.db.cursor(), number)
        if location is None:
            raise LocationNotFound(f"location {location_id} not found")
        return LOCATION.dump(location)

    @rpc(expected_exceptions=ServiceError)
    def list_locations(self, distributor_id, query: dict) -> dict:
        params = load(PageQuerySchema, query)
        cur = self.db.cursor()
        distributor = self._distributor(cur, distributor_id)
        after = decode_cursor(params["cursor"])
        rows = store.list_locations(cur, distributor.id, after, params["limit"])
        result = page(rows, params["limit"], key=lambda r: r.id)
        result["items"] = LOCATION.dump(result["items"], many=True)
        return result

    @rpc(expected_exceptions=ServiceError)
    def add_location(self, distributor_id, payload: dict) -> dict:
        fields = load(LocationCreateSchema, payload)
        domain.check_coordinates(fields["lat"], fields["lon"])
        cur = self.db.cursor()
        distributor = self._distributor(cur, distributor_id, for_update=True)
        domain.require_active(distributor)
        fields["service_radius_km"] = domain.location_radius(fields.get("service_radius_km"), None)
        location = store.insert_location(cur, distributor.id, fields, _now())
        add_events(cur, [self._location_event(location, distributor.status)])
        return LOCATION.dump(location)

    @rpc(expected_exceptions=ServiceError)
    def update_location(self, distributor_id, location_id, payload: dict) -> dict:
        changes = load(LocationPatchSchema, payload)
        cur = self.db.cursor()
        distributor = self._distributor(cur, distributor_id, for_update=True)
        number = parse_id(location_id, LocationNotFound, "location")
        location = store.get_location(cur, number, distributor.id, for_update=True)
        if location is None:
            raise LocationNotFound(f"location {location_id} not found")
        domain.require_active(distributor)
        domain.check_coordinates(changes.get("lat", location.lat), changes.get("lon", location.lon))
        if changes:
            location = store.update_location(cur, number, changes, _now())
            add_events(cur, [self._location_event(location, distributor.status)])
        return LOCATION.dump(location)

    # ---- facts other services state about distributors ----------------------------------------

    @event_handler("pricing", "distributor_flagged")
    def on_distributor_flagged(self, payload: dict) -> None:
        """Pricing saw a third parity violation within 30 days: flag the distributor for review."""
        cur = self.db.cursor()
        if first_delivery(cur, "distributors.flagged", payload["event_id"]):
            if store.flag_for_review(cur, int(payload["distributor_id"]), _now()):
                self.log.info("distributor_flagged_for_review", distributor_id=payload["distributor_id"])
