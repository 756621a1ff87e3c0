"""What the distributors service's handlers (distributors/handlers.py) work through: the store's
operations on the worker's one transaction and its outbox.

The transaction itself belongs to the worker (common.db: begun at the first statement, committed
or rolled back before the reply leaves), so a unit of work has no commit of its own. Unit tests give
the handlers an in-memory one with the same operations (tests/distributors_in_memory.py)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from common.outbox import add_events, first_delivery, new_event
from distributors import store


def _on_cursor(operation: Callable) -> Callable:
    """A store function as an operation of the unit of work, run on its cursor."""

    def run(self, *args, **kwargs):
        return operation(self.cursor, *args, **kwargs)

    run.__name__, run.__qualname__, run.__doc__ = operation.__name__, operation.__name__, operation.__doc__
    return run


class SqlUnitOfWork:
    """One worker's unit of work on PostgreSQL; built per entrypoint call, its cursor on first use."""

    __slots__ = ("_db", "_cursor")

    def __init__(self, db):
        self._db = db  # the worker's common.db.Transaction
        self._cursor = None

    @property
    def cursor(self):
        if self._cursor is None:
            self._cursor = self._db.cursor()
        return self._cursor

    # ---- messages ------------------------------------------------------------------------------

    def add_event(self, event_type: str, data: dict[str, Any]) -> None:
        """Announce a fact: written to the outbox in this transaction, relayed once it commits."""
        add_events(self.cursor, [new_event(event_type, data)])

    def first_delivery(self, consumer: str, event_id: str) -> bool:
        """True the first time ``consumer`` is handed ``event_id`` (applied once however often)."""
        return first_delivery(self.cursor, consumer, event_id)

    # ---- the store -----------------------------------------------------------------------------

    lock_credit_code = _on_cursor(store.lock_credit_code)
    credit_code_holder = _on_cursor(store.credit_code_holder)

    insert_application = _on_cursor(store.insert_application)
    get_application = _on_cursor(store.get_application)
    decide_application = _on_cursor(store.decide_application)
    list_applications = _on_cursor(store.list_applications)

    insert_distributor = _on_cursor(store.insert_distributor)
    get_distributor = _on_cursor(store.get_distributor)
    flag_for_review = _on_cursor(store.flag_for_review)
    save_distributor = _on_cursor(store.save_distributor)
    list_distributors = _on_cursor(store.list_distributors)
    add_history = _on_cursor(store.add_history)
    history = _on_cursor(store.history)

    insert_location = _on_cursor(store.insert_location)
    get_location = _on_cursor(store.get_location)
    any_location = _on_cursor(store.any_location)
    update_location = _on_cursor(store.update_location)
    locations_of = _on_cursor(store.locations_of)
    list_locations = _on_cursor(store.list_locations)
