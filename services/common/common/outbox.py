"""Transactional outbox: events are written in the same transaction as the change they announce and
relayed to RabbitMQ by a timer; a consumer records each ``event_id`` it has applied so a redelivered
event is applied once.

Every service that dispatches events has this table (see its first migration):

    CREATE TABLE outbox (
        id bigserial PRIMARY KEY, event_id uuid NOT NULL UNIQUE, event_type text NOT NULL,
        payload jsonb NOT NULL, occurred_at timestamptz NOT NULL, published_at timestamptz);

and every consumer has ``processed_events (consumer text, event_id uuid, PRIMARY KEY (...))``.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import eventlet
import eventlet.queue
import psycopg2.extras
import psycopg2.pool
import structlog
from nameko.events import EventDispatcher

from common.db import EVENT_WRITERS, Database, database_of
from common.loops import Loop
from common.metrics import OUTBOX_OLDEST_AGE, OUTBOX_RELAYED, OUTBOX_UNPUBLISHED, watch_database

RELAY_BATCH = 500
RELAY_INTERVAL = 0.2  # seconds between outbox polls


def new_event(event_type: str, data: dict[str, Any], request_id: str | None = None,
              now: datetime | None = None) -> tuple[str, dict[str, Any]]:
    """An event for the outbox; the request id defaults to the one bound for this worker."""
    if request_id is None:
        request_id = structlog.contextvars.get_contextvars().get("request_id")
    occurred_at = (now or datetime.now(UTC)).isoformat()
    payload = {"event_id": str(uuid.uuid4()), "occurred_at": occurred_at,
               "request_id": request_id, **data}
    return event_type, payload


def add_events(cur, events: list[tuple[str, dict[str, Any]]]) -> None:
    """Write events to the outbox inside the caller's transaction."""
    if not events:
        return
    if cur.connection.autocommit:
        raise RuntimeError("events are written in the transaction of the change they announce, "
                           "not on a standalone (autocommit) connection")
    EVENT_WRITERS.add(id(cur.connection))
    psycopg2.extras.execute_values(
        cur,
        "INSERT INTO outbox (event_id, event_type, payload, occurred_at) VALUES %s",
        [(p["event_id"], t, psycopg2.extras.Json(p), p["occurred_at"]) for t, p in events],
        page_size=1000,
    )


def relay(conn, publish: Callable[[str, dict], None]) -> int:
    """Publish unpublished events in order, marking them published in the same transaction.

    Rows are locked with SKIP LOCKED so two relays (two replicas) never publish the same row
    concurrently; a crash between publish and commit republishes, which consumers tolerate.
    """
    sent = 0
    while True:
        with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
            cur.execute(
                "SELECT id, event_type, payload FROM outbox WHERE published_at IS NULL "
                "ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED",
                (RELAY_BATCH,),
            )
            rows = cur.fetchall()
            for row in rows:
                publish(row["event_type"], row["payload"])
            if rows:
                cur.execute("UPDATE outbox SET published_at = now() WHERE id = ANY(%s)",
                            ([r["id"] for r in rows],))
        conn.commit()
        sent += len(rows)
        if len(rows) < RELAY_BATCH:
            break
    if sent:
        structlog.get_logger().debug("outbox_relayed", events=sent)
    return sent


class OutboxRelay(EventDispatcher):
    """Publishes the service's outbox to ``<service>.events``: woken as soon as a worker commits
    events, and every ``RELAY_INTERVAL`` as a safety net (events left by a crash, another replica).

    On ``stop`` (the container's workers are done by then) it makes one last pass, so what the last
    workers committed leaves now rather than at the next start, and its thread ends before the
    Database provider closes the pool (``Database.add_borrower``)."""

    def setup(self):
        super().setup()
        self._loop = Loop(RELAY_INTERVAL, self._pass, pass_on_stop=True)
        database = self._database()
        database.on_events_committed.append(self.wake)
        database.add_borrower(self.stop_relaying)
        watch_database(self.container, "outbox", (OUTBOX_UNPUBLISHED, OUTBOX_OLDEST_AGE))
        self._relayed = OUTBOX_RELAYED.labels(self.container.service_name)

    def start(self):
        super().start()
        self._loop.start(self.container, "outbox_relay")

    def stop(self):
        self.stop_relaying()
        super().stop()

    def stop_relaying(self) -> None:
        """Returns once the relay's last pass is over and its thread has ended (twice is fine)."""
        self._loop.stop()

    def wake(self) -> None:
        self._loop.wake()

    def get_dependency(self, worker_ctx):
        return self.wake

    def _database(self) -> Database:
        return database_of(self.container)

    def _pass(self) -> None:
        """One relay pass; a failure is logged and the rows stay unpublished until one works."""
        pool = self._database().pool
        try:
            conn = pool.getconn()
        except psycopg2.pool.PoolError:  # every connection busy: the next pass tries again
            structlog.get_logger().warning("outbox_relay_waiting_for_connection")
            return
        except psycopg2.Error:  # the database is down: a new connection could not be opened
            self._failed()
            return
        broken = False
        try:
            self._relayed.inc(relay(conn, self._publish))
        except Exception:
            try:
                conn.rollback()
            except psycopg2.Error:
                broken = True
            self._failed()
        finally:
            pool.putconn(conn, close=broken or conn.closed != 0)

    def _failed(self) -> None:
        structlog.get_logger().exception("outbox_relay_failed")
        if not self._loop.stopping:
            eventlet.sleep(1)

    def _publish(self, event_type: str, payload: dict) -> None:
        self.publisher.publish(payload, exchange=self.exchange, routing_key=event_type,
                               extra_headers={"nameko.request_id": payload.get("request_id") or ""})


def first_delivery(cur, consumer: str, event_id: str) -> bool:
    """Record that ``consumer`` applied ``event_id``; False if it already had (a redelivery).

    Call inside the same transaction as the event's effect, so both commit or neither does.
    """
    cur.execute(
        "INSERT INTO processed_events (consumer, event_id) VALUES (%s, %s) ON CONFLICT DO NOTHING",
        (consumer, event_id),
    )
    return cur.rowcount == 1
