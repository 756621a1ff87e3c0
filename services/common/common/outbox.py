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

import psycopg2.extras
import structlog

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
    psycopg2.extras.execute_values(
        cur,
        "INSERT INTO outbox (event_id, event_type, payload, occurred_at) VALUES %s",
        [(p["event_id"], t, psycopg2.extras.Json(p), p["occurred_at"]) for t, p in events],
        page_size=1000,
    )


def relay(tx, dispatch: Callable[[str, dict], None]) -> int:
    """Publish unpublished events in order, marking them published in the same transaction.

    Rows are locked with SKIP LOCKED so two relays (two replicas) never publish the same row
    concurrently; a crash between publish and commit republishes, which consumers tolerate.
    """
    sent = 0
    while True:
        cur = tx.cursor()
        cur.execute(
            "SELECT id, event_type, payload FROM outbox WHERE published_at IS NULL "
            "ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED",
            (RELAY_BATCH,),
        )
        rows = cur.fetchall()
        if not rows:
            break
        for row in rows:
            dispatch(row["event_type"], row["payload"])
        cur.execute("UPDATE outbox SET published_at = now() WHERE id = ANY(%s)",
                    ([r["id"] for r in rows],))
        tx.commit()
        sent += len(rows)
        if len(rows) < RELAY_BATCH:
            break
    if sent:
        structlog.get_logger().info("outbox_relayed", events=sent)
    return sent


def first_delivery(cur, consumer: str, event_id: str) -> bool:
    """Record that ``consumer`` applied ``event_id``; False if it already had (a redelivery).

    Call inside the same transaction as the event's effect, so both commit or neither does.
    """
    cur.execute(
        "INSERT INTO processed_events (consumer, event_id) VALUES (%s, %s) ON CONFLICT DO NOTHING",
        (consumer, event_id),
    )
    return cur.rowcount == 1
