"""What the catalog's handlers (catalog/handlers.py) work through: the store's operations on the
worker's one transaction, its outbox, and a clock.

The transaction itself belongs to the worker (common.db: begun at the first statement, committed
or rolled back before the reply leaves), so a unit of work has no commit of its own. Unit tests give
the handlers an in-memory one with the same operations (tests/catalog_in_memory.py)."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from catalog import store
from common.outbox import add_events, new_event


def _on_cursor(operation: Callable) -> Callable:
    """A store function as an operation of the unit of work, run on its cursor."""

    def run(self, *args, **kwargs):
        return operation(self.cursor, *args, **kwargs)

    run.__name__, run.__qualname__, run.__doc__ = operation.__name__, operation.__name__, operation.__doc__
    return run


def wall_clock() -> datetime:
    return datetime.now(UTC)


class SqlUnitOfWork:
    """One worker's unit of work on PostgreSQL; built per entrypoint call, its cursor on first use."""

    __slots__ = ("_db", "_cursor", "_clock")

    def __init__(self, db, clock: Callable[[], datetime] = wall_clock):
        self._db = db  # the worker's common.db.Transaction
        self._cursor = None
        self._clock = clock

    @property
    def cursor(self):
        if self._cursor is None:
            self._cursor = self._db.cursor()
        return self._cursor

    def now(self) -> datetime:
        """The instant the rules decide at (one per decision: a whole import is stamped with one)."""
        return self._clock()

    # ---- messages ------------------------------------------------------------------------------

    def add_events(self, announcements: Sequence[tuple[str, dict[str, Any]]]) -> None:
        """Announce facts ``(event_type, data)``: written to the outbox in this transaction in one
        statement (an import may announce thousands), relayed once it commits."""
        if announcements:
            add_events(self.cursor, [new_event(event_type, data) for event_type, data in announcements])

    # ---- the store -----------------------------------------------------------------------------

    get = _on_cursor(store.get)
    get_many = _on_cursor(store.get_many)
    existing_skus = _on_cursor(store.existing_skus)
    insert = _on_cursor(store.insert)
    update = _on_cursor(store.update)
    upsert_many = _on_cursor(store.upsert_many)
    list_page = _on_cursor(store.list_page)
    lifecycle_counts = _on_cursor(store.lifecycle_counts)
