"""``Idempotency-Key`` on POST and PUT, scoped to the caller: a repeat replays the first response
(``Idempotent-Replayed: true``); the same key with another body is 422; one still in flight is 409.
Records are kept ``IDEMPOTENCY_TTL_HOURS`` (48 h by default); a 5xx is not stored."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

import psycopg2
from werkzeug.wrappers import Response

from common.errors import Conflict, InvalidInput, Unprocessable
from gateway import store

LEASE_SECONDS = 120  # a claim older than this belongs to a request that died
REPLAYED_HEADERS = ("Location", "Content-Type")


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, RecursionError):
        canonical = body
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + canonical).hexdigest()


def run_once(tx, scope: str, key: str, fingerprint: str, ttl_hours: int,
             produce: Callable[[], Response]) -> Response:
    if not (1 <= len(key) <= 255 and key.isascii() and key.isprintable()):
        raise InvalidInput.for_field("Idempotency-Key", "must be 1-255 printable ASCII characters")
    cur = tx.cursor()
    if not store.claim_idempotency_key(cur, scope, key, fingerprint, ttl_hours, LEASE_SECONDS):
        record = store.idempotency_record(cur, scope, key)
        tx.commit()
        if record is None:  # released between our claim and our read: the caller may retry
            raise Conflict("a request with this Idempotency-Key is in flight; retry shortly")
        if record["request_hash"] != fingerprint:
            raise Unprocessable("this Idempotency-Key was used with a different request")
        if record["state"] == "in_flight":
            raise Conflict("a request with this Idempotency-Key is still in flight")
        headers = dict(record["headers"] or {})
        headers["Idempotent-Replayed"] = "true"
        return Response(record["body"], status=record["status"], headers=headers)
    tx.commit()
    try:
        response = produce()  # errors arrive as problem responses; 4xx ones are replayed too
    except BaseException:
        _settle(tx, lambda cur: store.release_idempotency_key(cur, scope, key))
        raise
    if response.status_code >= 500:
        _settle(tx, lambda cur: store.release_idempotency_key(cur, scope, key))
    else:
        kept = {h: response.headers[h] for h in REPLAYED_HEADERS if h in response.headers}
        body = response.get_data(as_text=True)
        _settle(tx, lambda cur: store.complete_idempotency_key(cur, scope, key,
                                                               response.status_code, kept, body))
    return response


SETTLE_ATTEMPTS = 20  # more than a pool holds: after a restart every pooled connection may be dead


def _settle(tx, write: Callable) -> None:
    """Record how the request ended. Its effect is done by now, so a connection that died meanwhile
    (a database restart, killed backends) must not leave the key "in flight" for the whole lease:
    again on another connection, dropping each dead one, until one works."""
    for attempt in range(SETTLE_ATTEMPTS):
        try:
            write(tx.cursor())
            tx.commit()
            return
        except (psycopg2.OperationalError, psycopg2.InterfaceError):
            tx.release(broken=True)
            if attempt == SETTLE_ATTEMPTS - 1:
                raise
