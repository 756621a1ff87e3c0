"""An in-memory unit of work for the distributors service's handlers: the operations of
``SqlUnitOfWork`` on Python collections and the events it announced in ``events``
(as their contracts dump them).
test_distributors_handlers.py holds its operations' names and parameters equal to the SQL one's."""
from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from common.contracts import dump
from distributors.domain import ACTIVE, SUBMITTED, SUSPENDED, Application, Distributor, Location, Transition


class InMemoryUnitOfWork:
    def __init__(self):
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.processed: set[tuple[str, str]] = set()
        self.locked: list[str] = []  # credit codes locked, in order
        self.applications: dict[int, Application] = {}
        self.distributors: dict[int, Distributor] = {}
        self.histories: dict[int, list[Transition]] = {}
        self.locations: dict[int, Location] = {}

    def standalone(self) -> None:  # each statement its own transaction: nothing to model in memory
        pass

    # ---- messages ------------------------------------------------------------------------------

    def add_event(self, event: Any) -> None:
        self.events.append(dump(event))  # (event_type, payload) through its contract, as the SQL one

    def first_delivery(self, consumer: str, event_id: str) -> bool:
        if (consumer, event_id) in self.processed:
            return False
        self.processed.add((consumer, event_id))
        return True

    # ---- credit codes --------------------------------------------------------------------------

    def lock_credit_code(self, credit_code: str) -> None:
        self.locked.append(credit_code)

    def credit_code_holder(self, credit_code: str) -> str | None:
        for a in self.applications.values():
            if a.credit_code == credit_code and a.status == SUBMITTED:
                return f"application {a.id}"
        for d in self.distributors.values():
            if d.credit_code == credit_code and d.status in (ACTIVE, SUSPENDED):
                return f"distributor {d.id}"
        return None

    # ---- applications --------------------------------------------------------------------------

    def insert_application(self, fields: dict[str, Any], token_hash: str, now: datetime) -> int:
        number = len(self.applications) + 1
        self.applications[number] = Application(
            number, SUBMITTED, fields["company_name"], fields["credit_code"], fields["contact"], fields["address"],
            fields["province"], fields["city"], tuple(fields["locations"]), fields["requested_tier"],
            tuple(fields["channels"]), now, status_token_hash=token_hash)
        return number

    def get_application(self, application_id: int, for_update: bool = False) -> Application | None:
        return self.applications.get(application_id)

    def decide_application(self, application_id: int, status: str, actor: str, now: datetime,
                           reason: str | None, distributor_id: int | None) -> None:
        self.applications[application_id] = dataclasses.replace(
            self.applications[application_id], status=status, decided_at=now, decided_by=actor, reason=reason,
            distributor_id=distributor_id)

    def list_applications(self, filters: dict, after: int | None, limit: int) -> list[Application]:
        rows = [dataclasses.replace(a, status_token_hash=None) for i, a in sorted(self.applications.items())
                if (after is None or i > after) and all(getattr(a, k) == v for k, v in filters.items() if v)]
        return rows[:limit + 1]

    # ---- distributors --------------------------------------------------------------------------

    def insert_distributor(self, application: Application, tier: str, now: datetime) -> Distributor:
        number = len(self.distributors) + 1
        self.distributors[number] = Distributor(number, application.company_name, application.credit_code, tier,
                                                ACTIVE, application.province, application.city)
        return self.distributors[number]

    def get_distributor(self, distributor_id: int, for_update: bool = False) -> Distributor | None:
        return self.distributors.get(distributor_id)

    def flag_for_review(self, distributor_id: int, now: datetime) -> bool:
        d = self.distributors.get(distributor_id)
        if d is None or d.flagged_for_review:
            return False
        self.distributors[distributor_id] = dataclasses.replace(d, flagged_for_review=True)
        return True

    def save_distributor(self, d: Distributor, now: datetime) -> None:
        self.distributors[d.id] = d

    def list_distributors(self, filters: dict, after: int | None, limit: int) -> list[Distributor]:
        rows = [d for i, d in sorted(self.distributors.items())
                if (after is None or i > after) and all(getattr(d, k) == v for k, v in filters.items() if v)]
        return rows[:limit + 1]

    def add_history(self, distributor_id: int, t: Transition) -> None:
        self.histories.setdefault(distributor_id, []).append(t)

    def history(self, distributor_ids: list[int]) -> dict[int, list[Transition]]:
        return {i: list(self.histories.get(i, [])) for i in distributor_ids}

    # ---- locations -----------------------------------------------------------------------------

    def insert_location(self, distributor_id: int, fields: dict, now: datetime) -> Location:
        number = len(self.locations) + 1
        self.locations[number] = Location(number, distributor_id, fields["name"], fields.get("address"),
                                          fields["lat"], fields["lon"], fields["service_radius_km"],
                                          fields.get("active", True), now, fields["geocode"])
        return self.locations[number]

    def get_location(self, location_id: int, distributor_id: int, for_update: bool = False) -> Location | None:
        found = self.locations.get(location_id)
        return found if found is not None and found.distributor_id == distributor_id else None

    def any_location(self, location_id: int) -> Location | None:
        return self.locations.get(location_id)

    def update_location(self, location_id: int, changes: dict, now: datetime) -> Location:
        self.locations[location_id] = dataclasses.replace(self.locations[location_id], **changes, updated_at=now)
        return self.locations[location_id]

    def locations_of(self, distributor_ids: list[int]) -> dict[int, list[Location]]:
        out: dict[int, list[Location]] = {i: [] for i in distributor_ids}
        for _, loc in sorted(self.locations.items()):
            if loc.distributor_id in out:
                out[loc.distributor_id].append(loc)
        return out

    def list_locations(self, distributor_id: int, after: int | None, limit: int) -> list[Location]:
        rows = [loc for i, loc in sorted(self.locations.items())
                if loc.distributor_id == distributor_id and (after is None or i > after)]
        return rows[:limit + 1]
