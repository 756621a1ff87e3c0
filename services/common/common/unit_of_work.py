"""What every service's SQL unit of work shares: the worker's one transaction, a cursor on first use,
and store functions bound to it. A service's ``unit_of_work.SqlUnitOfWork`` subclasses ``SqlWork``
and lists its store's operations with ``on_cursor``; its handlers see only those operations (and an
in-memory unit of work with the same ones in unit tests)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from common.contracts import dump
from common.outbox import add_events, first_delivery, new_event


def on_cursor(operation: Callable) -> Callable:
    """A store function as an operation of the unit of work, run on its cursor."""

    def run(self, *args, **kwargs):
        return operation(self.cursor, *args, **kwargs)

    run.__name__, run.__qualname__, run.__doc__ = operation.__name__, operation.__name__, operation.__doc__
    return run


class SqlWork:
    """One worker's unit of work on PostgreSQL; built per entrypoint call, its cursor on first use.

    The transaction itself belongs to the worker (common.db: begun at the first statement, committed
    or rolled back before the reply leaves), so a unit of work has no commit of its own."""

    __slots__ = ("_db", "_cursor")

    def __init__(self, db):
        self._db = db  # the worker's common.db.Transaction
        self._cursor = None

    @property
    def cursor(self):
        if self._cursor is None:
            self._cursor = self._db.cursor()
        return self._cursor

    def standalone(self) -> None:
        """Each statement from here on is its own transaction: no BEGIN/COMMIT round trips
        (``common.db.Transaction.standalone``). For work whose every read and every write is one
        statement that stands on its own; call before the first query."""
        self._db.standalone()

    def add_event(self, event: Any) -> None:
        """Announce a fact, an instance of an event its service declares (``common.contracts``):
        dumped through its contract, written to the outbox in this transaction, relayed once it
        commits."""
        add_events(self.cursor, [new_event(*dump(event))])

    def first_delivery(self, consumer: str, event_id: str) -> bool:
        """True the first time ``consumer`` is handed ``event_id`` (applied once however often)."""
        return first_delivery(self.cursor, consumer, event_id)
