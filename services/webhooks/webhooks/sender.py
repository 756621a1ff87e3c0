"""Sending deliveries: a loop of the service's own (not a worker), woken when a worker commits new
deliveries and every ``POLL_SECONDS`` for retries that came due (and what was due while the service was
down). Each attempt runs in a green thread of its own, so a slow or dead receiver holds up only its
own endpoint, which has at most ``PER_ENDPOINT`` attempts in flight; a claimed delivery is leased, so
a sender that dies mid-attempt leaves it to be tried again when the lease runs out.

Every attempt resolves the destination again and refuses loopback, private, link-local and multicast
addresses unless ``WEBHOOK_ALLOW_PRIVATE_NETWORKS=true``; it follows no redirect; a 2xx within
``domain.TIMEOUT_SECONDS`` is a success. Pauses between attempts are ``domain.RETRY_PAUSES`` ×
``WEBHOOK_RETRY_SCALE``."""
from __future__ import annotations

import socket
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import certifi
import eventlet
import eventlet.semaphore
import psycopg2
import psycopg2.extras
import structlog
import urllib3
from nameko.extensions import DependencyProvider

from common.config import setting
from common.db import Database, database_of
from common.loops import Loop
from webhooks import domain, store

POLL_SECONDS = 0.25
BATCH = 50
PER_ENDPOINT = 2
LEASE = timedelta(seconds=domain.TIMEOUT_SECONDS * 3)  # an attempt is cut off at TIMEOUT_SECONDS
DB_SLOTS = 3  # the sender's connections at once: the rest of the pool stays the workers'

log = structlog.get_logger("webhooks.sender")


def resolve(host: str) -> list[str]:
    """The host's addresses (empty when it does not resolve)."""
    try:
        return sorted({info[4][0] for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)})
    except (OSError, UnicodeError, ValueError):  # no such host, or no name a resolver takes
        return []


def post_to(address: str, url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST to ``url`` over a connection to ``address`` — the address just checked, so a name that
    resolves elsewhere a moment later (DNS rebinding) cannot redirect the request — with the URL's
    host in ``Host`` and, over TLS, in SNI and the certificate check. Follows no redirect; the
    answer's body is never read (its status is all that counts)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    https = parts.scheme == "https"
    port = parts.port or (443 if https else 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    shown = f"[{host}]" if ":" in host else host
    if parts.port:
        shown += f":{parts.port}"
    options = {"timeout": urllib3.Timeout(total=domain.TIMEOUT_SECONDS), "retries": False, "maxsize": 1}
    if https:
        pool = urllib3.HTTPSConnectionPool(address, port, server_hostname=host, assert_hostname=host,
                                           cert_reqs="CERT_REQUIRED", ca_certs=certifi.where(), **options)
    else:
        pool = urllib3.HTTPConnectionPool(address, port, **options)
    try:
        response = pool.urlopen("POST", target, body=body, headers={**headers, "Host": shown},
                                redirect=False, preload_content=False, retries=False)
        response.release_conn()
        return response.status
    finally:
        pool.close()


def flag(value) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


class Sender(DependencyProvider):
    """The service's delivery loop (see the module's docstring); workers get ``wake``."""

    def setup(self):
        config = self.container.config
        self.retry_scale = float(setting(config, "WEBHOOK_RETRY_SCALE", 1.0))
        self.allow_private = flag(setting(config, "WEBHOOK_ALLOW_PRIVATE_NETWORKS", "false"))
        self._loop = Loop(POLL_SECONDS, self._dispatch)
        self._pool = eventlet.GreenPool(BATCH * 2)
        self._db_slots = eventlet.semaphore.Semaphore(DB_SLOTS)
        self._busy: dict[int, int] = {}
        self._database().add_borrower(self.stop_sending)

    def start(self):
        self._loop.start(self.container, "webhook_sender")

    def stop(self):
        self.stop_sending()

    def stop_sending(self) -> None:
        """Returns once no attempt is in flight and the loop has ended (twice is fine)."""
        self._loop.stop()
        self._pool.waitall()

    def wake(self) -> None:
        self._loop.wake()

    def get_dependency(self, worker_ctx):
        return self.wake

    def _database(self) -> Database:
        return database_of(self.container)

    def _dispatch(self) -> None:
        try:
            due = self._in_transaction(lambda cur: store.claim_due(
                cur, datetime.now(UTC), LEASE, BATCH, self._busy, PER_ENDPOINT))
        except Exception:
            log.exception("webhook_claim_failed")
            eventlet.sleep(1)
            return
        for delivery in due or ():
            self._busy[delivery.endpoint_id] = self._busy.get(delivery.endpoint_id, 0) + 1
            self._pool.spawn_n(self._attempt, delivery)

    def _in_transaction(self, work):
        with self._db_slots:  # a burst of outcomes waits here, not on an empty pool (PoolError)
            return self._run_transaction(work)

    def _run_transaction(self, work):
        pool = self._database().pool
        conn = pool.getconn()
        broken = False
        try:
            with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
                result = work(cur)
            conn.commit()
            return result
        except Exception:
            try:
                conn.rollback()
            except psycopg2.Error:
                broken = True
            raise
        finally:
            pool.putconn(conn, close=broken or conn.closed != 0)

    def _attempt(self, delivery: store.Due) -> None:
        started, clock = datetime.now(UTC), time.perf_counter()
        timer = eventlet.Timeout(domain.TIMEOUT_SECONDS)  # the whole attempt: resolving, connecting, answer
        try:
            status, error = self._post(delivery, started)
        except eventlet.Timeout as exc:
            if exc is not timer:
                raise
            status, error = None, f"no answer within {domain.TIMEOUT_SECONDS:g} s"
        except Exception as exc:  # never lose the outcome of an attempt to a bug in sending
            status, error = None, f"{type(exc).__name__}: {exc}"[:500]
        finally:
            timer.cancel()
        duration_ms = int((time.perf_counter() - clock) * 1000)
        try:
            self._in_transaction(lambda cur: self._record(cur, delivery, started, duration_ms, status, error))
        except Exception:  # the lease runs out and the attempt is made again
            log.exception("webhook_record_failed", delivery_id=delivery.id)
        finally:
            left = self._busy.get(delivery.endpoint_id, 1) - 1
            if left > 0:
                self._busy[delivery.endpoint_id] = left
            else:
                self._busy.pop(delivery.endpoint_id, None)
            self._loop.wake()  # this endpoint may take its next delivery

    def _post(self, delivery: store.Due, now: datetime) -> tuple[int | None, str | None]:
        host = urlsplit(delivery.url).hostname or ""
        addresses = resolve(host)
        if not addresses:
            return None, f"{host} does not resolve"
        if not self.allow_private:
            for address in addresses:
                why = domain.refused_address(address)
                if why:
                    return None, f"refused: {why}"
        body = delivery.body.encode()
        try:
            status = post_to(addresses[0], delivery.url, body,
                             domain.headers(delivery.secret, delivery.webhook_id, now, body))
        except urllib3.exceptions.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}"[:500]
        return status, None if 200 <= status < 300 else f"HTTP {status}"

    def _record(self, cur, delivery: store.Due, started: datetime, duration_ms: int,
                status: int | None, error: str | None) -> None:
        now = datetime.now(UTC)
        attempt = delivery.attempt + 1
        outcome = domain.after_attempt(attempt, status, now, self.retry_scale)
        # the endpoint first, then its delivery: the order a deletion takes them in (no deadlock)
        endpoint = store.endpoint_by_id(cur, delivery.endpoint_id, for_update=True)
        if not store.record_attempt(cur, delivery, started, duration_ms, status, error, outcome.status,
                                    outcome.next_attempt_at, now):
            log.warning("webhook_attempt_superseded", delivery_id=delivery.id, attempt=attempt)
            return
        if endpoint is not None:
            new_status, streak = domain.endpoint_after(endpoint.status, endpoint.failed_streak, outcome)
            if (new_status, streak) != (endpoint.status, endpoint.failed_streak):
                store.set_endpoint_health(cur, endpoint.id, new_status, streak, now)
                if new_status == domain.DISABLED:
                    log.warning("webhook_disabled", endpoint_id=endpoint.id, failed_deliveries=streak)
        log.info("webhook_attempt", delivery_id=delivery.id, endpoint_id=delivery.endpoint_id, attempt=attempt,
                 response_status=status, outcome=outcome.status, duration_ms=duration_ms)
