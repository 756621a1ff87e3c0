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
from common.contracts import dump
from common.outbox import add_events, new_event
from common.unit_of_work import SqlWork, on_cursor


def wall_clock() -> datetime:
    return datetime.now(UTC)


class SqlUnitOfWork(SqlWork):
    """One worker's unit of work on PostgreSQL (its outbox: ``SqlWork``), with a clock."""

    __slots__ = ("_clock",)

    def __init__(self, db, clock: Callable[[], datetime] = wall_clock):
        super().__init__(db)
        self._clock = clock

    def now(self) -> datetime:
        """The instant the rules decide at (one per decision: a whole import is stamped with one)."""
        return self._clock()

    # ---- messages ------------------------------------------------------------------------------

    def add_events(self, announcements: Sequence[Any]) -> None:
        """Announce facts (instances of catalog.events), each dumped through its contract: written to
        the outbox in this transaction in one statement (an import may announce thousands), relayed
        once it commits."""
        if announcements:
            add_events(self.cursor, [new_event(*dump(event)) for event in announcements])

    # ---- the store -----------------------------------------------------------------------------

    get = on_cursor(store.get)
    get_many = on_cursor(store.get_many)
    existing_skus = on_cursor(store.existing_skus)
    insert = on_cursor(store.insert)
    update = on_cursor(store.update)
    upsert_many = on_cursor(store.upsert_many)
    list_page = on_cursor(store.list_page)
    lifecycle_counts = on_cursor(store.lifecycle_counts)
