"""Distributors entrypoints: each loads its arguments by the contract's schemas, hands them to its
handler (distributors/handlers.py) with a unit of work on this worker's transaction, and dumps the
answer. The rules are in domain.py, the SQL in store.py."""
from __future__ import annotations

from datetime import UTC, datetime

from common.db import Database
from common.entrypoints import event_handler, rpc
from common.errors import ServiceError
from common.health import check_database
from common.logs import WorkerLogging
from common.outbox import OutboxRelay
from common.pagination import decode_cursor, page
from common.schemas import PageQuerySchema, load
from distributors import domain, handlers
from distributors.schemas import (
    ApplicationQuerySchema,
    ApplicationReceiptSchema,
    ApplicationSchema,
    ApplicationViewSchema,
    ApproveSchema,
    DistributorQuerySchema,
    LocationCreateSchema,
    LocationPatchSchema,
    LocationSchema,
    OptionalReasonSchema,
    ReasonSchema,
    TierChangeSchema,
    dump_distributor,
)
from distributors.unit_of_work import SqlUnitOfWork
from pricing.events import DISTRIBUTOR_FLAGGED

APPLICATION_RECEIPT = ApplicationReceiptSchema()
APPLICATION_VIEW = ApplicationViewSchema()
LOCATION = LocationSchema()


def _now() -> datetime:
    return datetime.now(UTC)


def _dump(profile: handlers.Profile) -> dict:
    return dump_distributor(profile.distributor, profile.locations, profile.history)


class DistributorsService:
    name = "distributors"

    db = Database("distributors")
    log = WorkerLogging()
    outbox = OutboxRelay()

    def _uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.db)

    @rpc
    def health(self) -> dict:
        return {"service": self.name, **check_database(self.db)}

    # ---- applications ---------------------------------------------------------------------------

    @rpc(expected_exceptions=ServiceError)
    def submit_application(self, payload: dict) -> dict:
        fields = load(ApplicationSchema, payload)
        return APPLICATION_RECEIPT.dump(handlers.submit_application(self._uow(), fields, _now()))

    @rpc(expected_exceptions=ServiceError)
    def get_application_status(self, application_id, token: str | None) -> dict:
        """The applicant's view; without the right token the application does not exist (404)."""
        return APPLICATION_VIEW.dump(handlers.application_status(self._uow(), application_id, token))

    @rpc(expected_exceptions=ServiceError)
    def get_application(self, application_id) -> dict:
        return APPLICATION_VIEW.dump(handlers.application(self._uow(), application_id))

    @rpc(expected_exceptions=ServiceError)
    def list_applications(self, query: dict) -> dict:
        params = load(ApplicationQuerySchema, query)
        after = decode_cursor(params.pop("cursor"), int)
        limit = params.pop("limit")
        result = page(handlers.applications(self._uow(), params, after, limit), limit, key=lambda a: a.id)
        result["items"] = APPLICATION_VIEW.dump(result["items"], many=True)
        return result

    @rpc(expected_exceptions=ServiceError)
    def approve_application(self, application_id, payload: dict, actor: str) -> dict:
        """Creates the distributor and its locations; the caller issues its first API key."""
        decision = load(ApproveSchema, payload)
        approval = handlers.approve_application(self._uow(), application_id, decision["tier"],
                                                decision.get("service_radius_km"), actor, _now())
        return approval._asdict()

    @rpc(expected_exceptions=ServiceError)
    def reject_application(self, application_id, payload: dict, actor: str) -> dict:
        reason = load(ReasonSchema, payload)["reason"]
        return APPLICATION_VIEW.dump(handlers.reject_application(self._uow(), application_id, reason, actor,
                                                                 _now()))

    # ---- distributors ---------------------------------------------------------------------------

    @rpc(expected_exceptions=ServiceError)
    def get_distributor(self, distributor_id) -> dict:
        """The admin view: history and the review flag included."""
        return _dump(handlers.profile(self._uow(), distributor_id, admin=True))

    @rpc(expected_exceptions=ServiceError)
    def get_profile(self, distributor_id) -> dict:
        """The distributor's own view (``GET /v1/me``)."""
        return _dump(handlers.profile(self._uow(), distributor_id, admin=False))

    @rpc(expected_exceptions=ServiceError)
    def list_distributors(self, query: dict) -> dict:
        params = load(DistributorQuerySchema, query)
        after = decode_cursor(params.pop("cursor"), int)
        limit = params.pop("limit")
        result = page(handlers.distributors(self._uow(), params, after, limit), limit,
                      key=lambda p: p.distributor.id)
        result["items"] = [_dump(p) for p in result["items"]]
        return result

    @rpc(expected_exceptions=ServiceError)
    def change_status(self, distributor_id, action: str, payload: dict, actor: str) -> dict:
        """suspend | reinstate | terminate, validated by the state machine and recorded."""
        if action not in domain.TRANSITIONS:
            raise ValueError(f"unknown action {action!r}")
        schema = OptionalReasonSchema if action == "reinstate" else ReasonSchema
        reason = load(schema, payload or {}).get("reason")
        return _dump(handlers.change_status(self._uow(), distributor_id, action, reason, actor, _now()))

    @rpc(expected_exceptions=ServiceError)
    def change_tier(self, distributor_id, payload: dict, actor: str) -> dict:
        tier = load(TierChangeSchema, payload)["tier"]
        return _dump(handlers.change_tier(self._uow(), distributor_id, tier, actor, _now()))

    # ---- locations (the distributor's own) -----------------------------------------------------

    @rpc(expected_exceptions=ServiceError)
    def get_location(self, location_id) -> dict:
        """Any location by id, for services that keep a read model of locations."""
        return LOCATION.dump(handlers.location(self._uow(), location_id))

    @rpc(expected_exceptions=ServiceError)
    def list_locations(self, distributor_id, query: dict) -> dict:
        params = load(PageQuerySchema, query)
        rows = handlers.locations(self._uow(), distributor_id, params["cursor"], params["limit"])
        result = page(rows, params["limit"], key=lambda location: location.id)
        result["items"] = LOCATION.dump(result["items"], many=True)
        return result

    @rpc(expected_exceptions=ServiceError)
    def add_location(self, distributor_id, payload: dict) -> dict:
        fields = load(LocationCreateSchema, payload)
        return LOCATION.dump(handlers.add_location(self._uow(), distributor_id, fields, _now()))

    @rpc(expected_exceptions=ServiceError)
    def update_location(self, distributor_id, location_id, payload: dict) -> dict:
        changes = load(LocationPatchSchema, payload)
        return LOCATION.dump(handlers.update_location(self._uow(), distributor_id, location_id, changes, _now()))

    # ---- facts other services state about distributors ----------------------------------------

    @event_handler("pricing", "distributor_flagged")
    def on_distributor_flagged(self, payload: dict) -> None:
        """Pricing saw a third parity violation within 30 days: flag the distributor for review."""
        received = DISTRIBUTOR_FLAGGED.receive(payload)
        distributor_id = received.event.distributor_id
        if handlers.flag_for_review(self._uow(), received.event_id, distributor_id, _now()):
            self.log.info("distributor_flagged_for_review", distributor_id=distributor_id)
