"""What the distributors service's handlers (distributors/handlers.py) work through: the store's
operations on the worker's one transaction and its outbox.

The transaction itself belongs to the worker (common.db: begun at the first statement, committed
or rolled back before the reply leaves), so a unit of work has no commit of its own. Unit tests give
the handlers an in-memory one with the same operations (tests/distributors_in_memory.py)."""
from __future__ import annotations

from common.unit_of_work import SqlWork, on_cursor
from distributors import store


class SqlUnitOfWork(SqlWork):
    """One worker's unit of work on PostgreSQL (its outbox and processed events: ``SqlWork``)."""

    __slots__ = ()

    # ---- messages ------------------------------------------------------------------------------

    # ---- the store -----------------------------------------------------------------------------

    lock_credit_code = on_cursor(store.lock_credit_code)
    credit_code_holder = on_cursor(store.credit_code_holder)

    insert_application = on_cursor(store.insert_application)
    get_application = on_cursor(store.get_application)
    decide_application = on_cursor(store.decide_application)
    list_applications = on_cursor(store.list_applications)

    insert_distributor = on_cursor(store.insert_distributor)
    get_distributor = on_cursor(store.get_distributor)
    flag_for_review = on_cursor(store.flag_for_review)
    save_distributor = on_cursor(store.save_distributor)
    list_distributors = on_cursor(store.list_distributors)
    add_history = on_cursor(store.add_history)
    history = on_cursor(store.history)

    insert_location = on_cursor(store.insert_location)
    get_location = on_cursor(store.get_location)
    any_location = on_cursor(store.any_location)
    update_location = on_cursor(store.update_location)
    locations_of = on_cursor(store.locations_of)
    list_locations = on_cursor(store.list_locations)
