"""The gateway's SQL: API keys and idempotency records."""
from __future__ import annotations

from typing import Any

import psycopg2.extras

# ---- API keys -----------------------------------------------------------------------------------


def insert_key(cur, key_hash: str, prefix: str, role: str, distributor_id: int | None,
               channel: str | None, created_by: str) -> int:
    """``api_keys.distributor_id`` is text (a migration would be needed to change it): the id is
    kept in its canonical decimal form, so ``"007"`` and ``7`` name the same distributor."""
    cur.execute(
        "INSERT INTO api_keys (key_hash, prefix, role, distributor_id, channel, created_by) "
        "VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
        (key_hash, prefix, role, None if distributor_id is None else str(distributor_id), channel,
         created_by))
    return cur.fetchone()["id"]


def key_by_hash(cur, key_hash: str) -> dict | None:
    cur.execute("SELECT id, role, distributor_id, channel FROM api_keys "
                "WHERE key_hash = %s AND revoked_at IS NULL", (key_hash,))
    return cur.fetchone()


def revoke_key(cur, key_id: int) -> str | None:
    """Revoke a live key; returns its hash (to evict from caches) or None if there was none."""
    cur.execute("UPDATE api_keys SET revoked_at = now() WHERE id = %s AND revoked_at IS NULL "
                "RETURNING key_hash", (key_id,))
    row = cur.fetchone()
    return row["key_hash"] if row else None


def key_channels(cur) -> list[str]:
    """The channels that have a live API key (for the settlement's channel list)."""
    cur.execute("SELECT DISTINCT channel FROM api_keys WHERE channel IS NOT NULL AND revoked_at IS NULL "
                "ORDER BY channel")
    return [r["channel"] for r in cur.fetchall()]


# ---- idempotency --------------------------------------------------------------------------------


def claim_idempotency_key(cur, scope: str, key: str, request_hash: str, ttl_hours: int,
                          lease_seconds: int) -> bool:
    """Claim ``(scope, key)`` for this request; an expired record or an abandoned claim (its
    request died mid-flight) is taken over. False when another live record holds the key."""
    cur.execute(
        "INSERT INTO idempotency_keys (scope, key, request_hash, state) VALUES (%s, %s, %s, 'in_flight') "
        "ON CONFLICT (scope, key) DO UPDATE SET request_hash = EXCLUDED.request_hash, "
        "state = 'in_flight', status = NULL, headers = NULL, body = NULL, created_at = now(), "
        "completed_at = NULL "
        "WHERE idempotency_keys.created_at < now() - make_interval(hours => %s) "
        "OR (idempotency_keys.state = 'in_flight' "
        "    AND idempotency_keys.created_at < now() - make_interval(secs => %s)) "
        "RETURNING key",
        (scope, key, request_hash, ttl_hours, lease_seconds))
    return cur.fetchone() is not None


def idempotency_record(cur, scope: str, key: str) -> dict | None:
    cur.execute("SELECT request_hash, state, status, headers, body FROM idempotency_keys "
                "WHERE scope = %s AND key = %s", (scope, key))
    return cur.fetchone()


def complete_idempotency_key(cur, scope: str, key: str, status: int, headers: dict[str, Any],
                             body: str) -> None:
    cur.execute("UPDATE idempotency_keys SET state = 'done', status = %s, headers = %s, body = %s, "
                "completed_at = now() WHERE scope = %s AND key = %s",
                (status, psycopg2.extras.Json(headers), body, scope, key))


def release_idempotency_key(cur, scope: str, key: str) -> None:
    cur.execute("DELETE FROM idempotency_keys WHERE scope = %s AND key = %s AND state = 'in_flight'",
                (scope, key))


def purge_idempotency_keys(cur, ttl_hours: int) -> int:
    cur.execute("DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(hours => %s)",
                (ttl_hours,))
    return cur.rowcount
