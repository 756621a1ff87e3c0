"""The quote writer's group commit on real PostgreSQL: whatever waits together is stored by one
statement, each quote with its own id and body; quotes priced at a version that is no longer current
are not stored and say so; a failed statement reaches every quote it carried, and the next one
works on a new connection."""
from datetime import UTC, datetime

import eventlet
import psycopg2
import pytest
from eventlet.event import Event

from common.db import connect, transaction
from pricing.writer import QuoteWriter, _Waiting


class CountingWriter(QuoteWriter):
    """Counts the statements it runs."""

    def __init__(self, url):
        super().__init__(lambda: connect(url))
        self.statements = 0

    def _insert(self, quotes, version):
        self.statements += 1
        return super()._insert(quotes, version)


def stored(db) -> dict[int, dict]:
    with transaction(db) as cur:
        cur.execute("SELECT id, distributor_id, body FROM quotes ORDER BY id")
        return {r["id"]: {"distributor_id": r["distributor_id"], **r["body"]} for r in cur.fetchall()}


def waiting(distributor_id: int, n: int, version: int | None) -> _Waiting:
    return _Waiting(distributor_id, f'{{"n": {n}}}', datetime.now(UTC), version, Event())


def inputs_version(db) -> int:
    with transaction(db) as cur:
        cur.execute("SELECT version FROM inputs_version")
        return cur.fetchone()["version"]


def bump_inputs_version(db) -> int:
    with transaction(db) as cur:
        cur.execute("UPDATE inputs_version SET version = version + 1 RETURNING version")
        return cur.fetchone()["version"]


def test_quotes_waiting_together_are_stored_by_one_statement_each_with_its_own_id(pricing_db):
    writer = CountingWriter(pricing_db)
    version = inputs_version(pricing_db)
    batch = [waiting(d, n, version) for n, d in enumerate((7, 8, 7, 9, 8))]
    writer.write(batch)
    ids = [q.done.wait() for q in batch]
    assert writer.statements == 1
    assert len(set(ids)) == 5 and ids == sorted(ids)  # in the order they were handed over
    rows = stored(pricing_db)
    assert [rows[i] for i in ids] == [{"distributor_id": d, "n": n} for n, d in enumerate((7, 8, 7, 9, 8))]
    writer.close()


def test_quotes_priced_at_a_version_no_longer_current_are_not_stored_and_do_not_hold_back_others(
        pricing_db):
    writer = CountingWriter(pricing_db)
    current = bump_inputs_version(pricing_db)
    stale = [waiting(1, n, current - 1) for n in range(2)]
    fresh = [waiting(2, n, current) for n in range(2)]
    unguarded = [waiting(3, 9, None)]  # priced from a read of its own: stored whatever the version
    writer.write([stale[0], fresh[0], unguarded[0], stale[1], fresh[1]])
    assert [q.done.wait() for q in stale] == [None, None]
    fresh_ids = [q.done.wait() for q in fresh]
    unguarded_id = unguarded[0].done.wait()
    assert sorted(stored(pricing_db)) == sorted([*fresh_ids, unguarded_id])
    assert writer.statements == 3  # one per version
    writer.close()


def test_many_workers_storing_at_once_all_hear_their_own_committed_id(pricing_db):
    writer = CountingWriter(pricing_db)
    version = inputs_version(pricing_db)
    thread = eventlet.spawn(writer.run)
    try:
        pool = eventlet.GreenPool()
        ids = list(pool.imap(lambda n: writer.store(n % 3 + 1, {"n": n}, datetime.now(UTC), version), range(40)))
    finally:
        thread.kill()
        writer.close()
    rows = stored(pricing_db)
    assert len(set(ids)) == 40 and set(ids) == set(rows)
    assert [rows[i]["n"] for i in ids] == list(range(40))  # each answer is its own row
    assert writer.statements < 40  # they waited together: fewer statements than quotes


def test_a_failed_statement_fails_every_quote_it_carried_and_the_next_one_reconnects(pricing_db):
    writer = CountingWriter(pricing_db)
    writer.write([waiting(1, 0, None)])
    with transaction(pricing_db) as cur:  # the writer's connection dies (a restart, a failover)
        cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()")
    batch = [waiting(1, n, None) for n in (1, 2)]
    writer.write(batch)
    for quote in batch:
        with pytest.raises(psycopg2.OperationalError):
            quote.done.wait()
    again = [waiting(1, 3, None)]
    writer.write(again)
    assert again[0].done.wait() in stored(pricing_db)
    assert sorted(q["n"] for q in stored(pricing_db).values()) == [0, 3]
    writer.close()


def test_one_quote_at_a_time_is_stored_at_once_and_a_stale_one_is_not(pricing_db):
    writer = CountingWriter(pricing_db)
    thread = eventlet.spawn(writer.run)
    try:
        version = inputs_version(pricing_db)
        first = writer.store(5, {"n": 1}, datetime.now(UTC), version)
        assert stored(pricing_db) == {first: {"distributor_id": 5, "n": 1}}
        bump_inputs_version(pricing_db)  # something the next quote was priced from changes meanwhile
        assert writer.store(5, {"n": 2}, datetime.now(UTC), version) is None
    finally:
        thread.kill()
        writer.close()
    assert list(stored(pricing_db)) == [first] and writer.statements == 2
