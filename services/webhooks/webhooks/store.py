"""The webhooks service's SQL: endpoints, deliveries and attempts. Rows become frozen values here."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import NamedTuple

ENDPOINT_COLUMNS = "id, party, url, events, description, status, secret, failed_streak, created_at, updated_at"
DELIVERY_COLUMNS = ("id, endpoint_id, event_id, webhook_id, event_type, status, attempt, next_attempt_at, "
                    "response_status, last_error, created_at")


class Endpoint(NamedTuple):
    id: int
    party: str
    url: str
    events: tuple[str, ...]
    description: str | None
    status: str
    secret: str
    failed_streak: int
    created_at: datetime
    updated_at: datetime


class Delivery(NamedTuple):
    id: int
    endpoint_id: int
    event_id: str
    webhook_id: str
    event_type: str
    status: str
    attempt: int
    next_attempt_at: datetime | None
    response_status: int | None
    last_error: str | None
    created_at: datetime


class Due(NamedTuple):
    """A delivery claimed for an attempt, with what sending it needs; ``attempt`` and
    ``leased_until`` are also the claim's token: only the claim still holding them records."""

    id: int
    endpoint_id: int
    webhook_id: str
    body: str
    attempt: int  # tries made before this one
    url: str
    secret: str
    leased_until: datetime


def _endpoint(r) -> Endpoint:
    return Endpoint(r["id"], r["party"], r["url"], tuple(r["events"]), r["description"], r["status"], r["secret"],
                    r["failed_streak"], r["created_at"], r["updated_at"])


def _delivery(r) -> Delivery:
    return Delivery(r["id"], r["endpoint_id"], str(r["event_id"]), r["webhook_id"], r["event_type"], r["status"],
                    r["attempt"], r["next_attempt_at"], r["response_status"], r["last_error"], r["created_at"])


# ---- endpoints ----------------------------------------------------------------------------------


def lock_party(cur, party: str) -> None:
    """Serialise one party's endpoint changes (the count of its endpoints is checked under it)."""
    cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", ("webhooks:" + party,))


def count_endpoints(cur, party: str) -> int:
    cur.execute("SELECT count(*) AS n FROM endpoints WHERE party = %s", (party,))
    return cur.fetchone()["n"]


def insert_endpoint(cur, party: str, url: str, events: Sequence[str], description: str | None, secret: str,
                    now: datetime) -> Endpoint:
    cur.execute(f"INSERT INTO endpoints (party, url, events, description, secret, created_at, updated_at) "
                f"VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING {ENDPOINT_COLUMNS}",
                (party, url, list(events), description, secret, now, now))
    return _endpoint(cur.fetchone())


def endpoint(cur, party: str, endpoint_id: int, for_update: bool = False) -> Endpoint | None:
    cur.execute(f"SELECT {ENDPOINT_COLUMNS} FROM endpoints WHERE id = %s AND party = %s"
                + (" FOR UPDATE" if for_update else ""), (endpoint_id, party))
    row = cur.fetchone()
    return _endpoint(row) if row else None


def endpoints(cur, party: str, after: int | None, limit: int) -> list[Endpoint]:
    cur.execute(f"SELECT {ENDPOINT_COLUMNS} FROM endpoints WHERE party = %s AND id > %s ORDER BY id LIMIT %s",
                (party, after or 0, limit + 1))
    return [_endpoint(r) for r in cur.fetchall()]


def update_endpoint(cur, endpoint_id: int, changes: dict, now: datetime) -> Endpoint:
    values = {k: (list(v) if k == "events" else v) for k, v in changes.items()}
    sets = ", ".join(f"{column} = %s" for column in values)
    cur.execute(f"UPDATE endpoints SET {sets}, updated_at = %s WHERE id = %s RETURNING {ENDPOINT_COLUMNS}",
                (*values.values(), now, endpoint_id))
    return _endpoint(cur.fetchone())


def delete_endpoint(cur, endpoint_id: int) -> None:
    cur.execute("DELETE FROM endpoints WHERE id = %s", (endpoint_id,))


def anyone_subscribed(cur, event_type: str) -> bool:
    """Whether any enabled endpoint subscribed to ``event_type``."""
    cur.execute("SELECT EXISTS (SELECT 1 FROM endpoints WHERE status = 'enabled' AND %s = ANY(events)) AS any",
                (event_type,))
    return cur.fetchone()["any"]


def subscribers(cur, event_type: str, parties: Sequence[str] | None) -> list[Endpoint]:
    """Enabled endpoints subscribed to ``event_type`` (of these parties; None: of any party)."""
    sql = f"SELECT {ENDPOINT_COLUMNS} FROM endpoints WHERE status = 'enabled' AND %s = ANY(events)"
    args: list = [event_type]
    if parties is not None:
        sql += " AND party = ANY(%s)"
        args.append(list(parties))
    cur.execute(sql + " ORDER BY id", args)
    return [_endpoint(r) for r in cur.fetchall()]


# ---- deliveries ---------------------------------------------------------------------------------


def insert_delivery(cur, endpoint_id: int, event_id: str, webhook_id: str, event_type: str, body: str,
                    now: datetime) -> int | None:
    """A new delivery, due now; None when this endpoint already has this event (a redelivery)."""
    cur.execute("INSERT INTO deliveries (endpoint_id, event_id, webhook_id, event_type, body, next_attempt_at, "
                "created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (endpoint_id, event_id) DO NOTHING RETURNING id",
                (endpoint_id, event_id, webhook_id, event_type, body, now, now, now))
    row = cur.fetchone()
    return row["id"] if row else None


def deliveries(cur, endpoint_id: int, status: str | None, before: int | None, limit: int) -> list[Delivery]:
    """Newest first; ``before`` is the last id of the page before."""
    sql = f"SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE endpoint_id = %s"
    args: list = [endpoint_id]
    if status is not None:
        sql += " AND status = %s"
        args.append(status)
    if before is not None:
        sql += " AND id < %s"
        args.append(before)
    cur.execute(sql + " ORDER BY id DESC LIMIT %s", (*args, limit + 1))
    return [_delivery(r) for r in cur.fetchall()]


def claim_due(cur, now: datetime, lease: timedelta, limit: int, busy: dict[int, int], per_endpoint: int) -> list[Due]:
    """Pending deliveries due by ``now`` to enabled endpoints, leased until now + lease (another
    sender skips them; a crashed sender's lease runs out). ``busy`` counts this sender's attempts in
    flight per endpoint: each endpoint gets at most ``per_endpoint`` in flight, its oldest first, so
    one endpoint's backlog (a slow receiver's) never hides the others' deliveries from the claim."""
    full = [endpoint for endpoint, n in busy.items() if n >= per_endpoint]
    cur.execute(
        "SELECT id FROM (SELECT d.id, d.next_attempt_at, row_number() OVER (PARTITION BY d.endpoint_id "
        "ORDER BY d.next_attempt_at, d.id) AS place FROM deliveries d JOIN endpoints e ON e.id = d.endpoint_id "
        "WHERE d.status = 'pending' AND d.next_attempt_at <= %s AND e.status = 'enabled' "
        "AND (d.leased_until IS NULL OR d.leased_until < %s) AND NOT (d.endpoint_id = ANY(%s::bigint[]))) due "
        "WHERE place <= %s ORDER BY next_attempt_at, id LIMIT %s",
        (now, now, full, per_endpoint, limit * 2))
    candidates = [r["id"] for r in cur.fetchall()]
    if not candidates:
        return []
    cur.execute(
        "SELECT d.id, d.endpoint_id, d.webhook_id, d.body, d.attempt, e.url, e.secret "
        "FROM deliveries d JOIN endpoints e ON e.id = d.endpoint_id "
        "WHERE d.id = ANY(%s) AND d.status = 'pending' AND (d.leased_until IS NULL OR d.leased_until < %s) "
        "ORDER BY d.next_attempt_at, d.id FOR UPDATE OF d SKIP LOCKED", (candidates, now))
    until = now + lease
    taken: list[Due] = []
    counts = dict(busy)
    for r in cur.fetchall():
        if counts.get(r["endpoint_id"], 0) >= per_endpoint or len(taken) >= limit:
            continue
        counts[r["endpoint_id"]] = counts.get(r["endpoint_id"], 0) + 1
        taken.append(Due(r["id"], r["endpoint_id"], r["webhook_id"], r["body"], r["attempt"], r["url"], r["secret"],
                         until))
    if taken:
        cur.execute("UPDATE deliveries SET leased_until = %s WHERE id = ANY(%s)", (until, [d.id for d in taken]))
    return taken


def record_attempt(cur, due: Due, started_at: datetime, duration_ms: int, response_status: int | None,
                   error: str | None, status: str, next_attempt_at: datetime | None, now: datetime) -> bool:
    """The attempt's outcome, if the claim still holds (its attempt count and lease unchanged): a
    claim whose lease ran out and was taken again records nothing. True when recorded."""
    attempt = due.attempt + 1
    cur.execute("UPDATE deliveries SET status = %s, attempt = %s, next_attempt_at = %s, leased_until = NULL, "
                "response_status = %s, last_error = %s, updated_at = %s "
                "WHERE id = %s AND attempt = %s AND leased_until = %s AND status = 'pending'",
                (status, attempt, next_attempt_at, response_status, error, now, due.id, due.attempt,
                 due.leased_until))
    if cur.rowcount != 1:
        return False
    cur.execute("INSERT INTO attempts (delivery_id, attempt, started_at, duration_ms, response_status, error) "
                "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (due.id, attempt, started_at, duration_ms, response_status, error))
    return True


def endpoint_by_id(cur, endpoint_id: int, for_update: bool = False) -> Endpoint | None:
    cur.execute(f"SELECT {ENDPOINT_COLUMNS} FROM endpoints WHERE id = %s" + (" FOR UPDATE" if for_update else ""),
                (endpoint_id,))
    row = cur.fetchone()
    return _endpoint(row) if row else None


def set_endpoint_health(cur, endpoint_id: int, status: str, failed_streak: int, now: datetime) -> None:
    cur.execute("UPDATE endpoints SET status = %s, failed_streak = %s, updated_at = %s WHERE id = %s",
                (status, failed_streak, now, endpoint_id))


def attempts(cur, delivery_id: int) -> list[tuple[int, datetime, int | None]]:
    cur.execute("SELECT attempt, started_at, response_status FROM attempts WHERE delivery_id = %s ORDER BY attempt",
                (delivery_id,))
    return [(r["attempt"], r["started_at"], r["response_status"]) for r in cur.fetchall()]


def deliveries_by_status(cur) -> dict[str, int]:
    cur.execute("SELECT status, count(*) AS n FROM deliveries GROUP BY status")
    return {r["status"]: r["n"] for r in cur.fetchall()}


def purge_settled(cur, before: datetime, limit: int = 10_000) -> int:
    """Deliveries that ended (succeeded or failed) before ``before``, with their attempts; at most
    ``limit`` at a time (a long backlog goes in several passes). Returns how many went."""
    cur.execute("DELETE FROM deliveries WHERE id IN (SELECT id FROM deliveries WHERE status <> 'pending' "
                "AND updated_at < %s ORDER BY id LIMIT %s)", (before, limit))
    return cur.rowcount
