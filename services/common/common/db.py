"""PostgreSQL access: one connection pool per service container, one transaction per worker.

The transaction begins lazily at the first query of a worker. It must be committed *before* the caller
hears the answer, or the caller's next request can read the state from before its own write: nameko
sends an RPC reply (and acks an event, and the gateway answers HTTP) before dependencies'
``worker_result`` runs, so our entrypoints (``common.entrypoints``) call ``finish_transactions`` first;
``worker_result`` is the safety net for any other entrypoint (timers). Writes and their outbox rows
land together. Under ``nameko run`` eventlet's monkey patching makes psycopg2 cooperative.
"""
from __future__ import annotations

import contextlib
import sys
import time
import weakref
from collections.abc import Callable, Iterator

import psycopg2
import psycopg2.extras
import psycopg2.pool
from nameko.extensions import DependencyProvider

from common.config import database_url, setting
from common.loops import Loop
from common.metrics import DB_POOL_CONNECTIONS, DB_POOL_MAX, MetricsServer, scraped

psycopg2.extras.register_uuid()

# connections whose open transaction wrote outbox rows (see common.outbox.add_events)
EVENT_WRITERS: set[int] = set()


def connect(url: str):
    return psycopg2.connect(url)


# which Statements each open PostgreSQL session has prepared
_PREPARED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class Statement:
    """A hot statement PostgreSQL parses and plans once per session (``PREPARE``), then only executes.

    ``sql`` takes positional ``$1 … $n`` parameters. Planning the quote's six-part read cost more
    PostgreSQL time than executing it (bench/quote.py). A prepared statement is not transactional:
    a rollback after ``PREPARE`` keeps it, and a new session prepares again."""

    def __init__(self, name: str, sql: str, arity: int):
        self.name = name
        self.sql = sql
        self.arity = arity
        self._execute = f"EXECUTE {name}({', '.join(['%s'] * arity)})" if arity else f"EXECUTE {name}"

    def execute(self, cur, *params) -> None:
        if len(params) != self.arity:
            raise TypeError(f"{self.name} takes {self.arity} parameters, got {len(params)}")
        prepared = _PREPARED.setdefault(cur.connection, set())
        if self.name not in prepared:
            cur.execute(f"PREPARE {self.name} AS {self.sql}")
            prepared.add(self.name)
        cur.execute(self._execute, params)


class Transaction:
    """What a worker sees: a cursor factory on its own connection, taken from the pool on first use."""

    def __init__(self, pool: psycopg2.pool.AbstractConnectionPool):
        self._pool = pool
        self.conn = None

    def cursor(self):
        if self.conn is None:
            self.conn = self._pool.getconn()
        return self.conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor)

    def standalone(self) -> None:
        """Run each statement of this worker as its own transaction (no BEGIN/COMMIT round trips).
        Only for work whose every read is one statement and every write one statement, and which
        announces no events (``add_events`` refuses); call before the first query."""
        if self.conn is None:
            self.conn = self._pool.getconn()
        self.conn.autocommit = True

    def repeatable_read(self) -> None:
        """Read the rest of this transaction from one snapshot; call before its first query."""
        if self.conn is None:
            self.conn = self._pool.getconn()
        with self.conn.cursor() as cur:
            cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")

    def commit(self) -> None:
        if self.conn is not None:
            self.conn.commit()

    def rollback(self) -> None:
        if self.conn is not None:
            self.conn.rollback()

    def release(self, broken: bool = False) -> None:
        if self.conn is not None:
            if not self.conn.closed and self.conn.autocommit:
                self.conn.autocommit = False  # client-side only: no round trip
            self._pool.putconn(self.conn, close=broken or self.conn.closed != 0)
            self.conn = None


class KeepingPool(psycopg2.pool.ThreadedConnectionPool):
    """Opens connections on demand and keeps them while they are used. psycopg2's own pool closes
    every connection returned above ``minconn``, which under load meant a new PostgreSQL connection
    per worker, and a large ``minconn`` opens them all at start-up whether needed or not. ``trim``
    closes those left idle since a burst (the Database provider calls it), so a quiet service does
    not keep a whole burst's worth of PostgreSQL's ``max_connections``."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._idle_since: dict[int, float] = {}  # id(idle connection) → when it was returned

    def _putconn(self, conn, key=None, close=False):
        saved, self.minconn = self.minconn, self.maxconn
        try:
            super()._putconn(conn, key, close)
        finally:
            self.minconn = saved
        if conn in self._pool:  # kept (not closed as broken)
            self._idle_since[id(conn)] = time.monotonic()
        else:
            self._idle_since.pop(id(conn), None)

    def trim(self, idle_seconds: float, now: float | None = None) -> int:
        """Close the connections idle for ``idle_seconds`` or more, keeping ``minconn``; returns how
        many were closed."""
        now = time.monotonic() if now is None else now
        closed = 0
        with self._lock:
            if self.closed:
                return 0
            for conn in list(self._pool):  # oldest returned first (the pool lends the newest)
                if len(self._pool) <= self.minconn:
                    break
                if now - self._idle_since.get(id(conn), now) >= idle_seconds:
                    self._pool.remove(conn)
                    self._idle_since.pop(id(conn), None)
                    conn.close()
                    closed += 1
        return closed


class Database(DependencyProvider):
    """The container's connection pool. Workers borrow through ``get_dependency``; a thread that
    borrows outside any worker (the outbox relay) registers with ``add_borrower``.

    nameko stops every dependency provider at once once the workers are done, and kills the
    container's managed threads only after that: a relay still looping would meet a closed pool
    (``PoolError``), and that error killed the container, so the process exited 1 on SIGTERM. So
    ``stop`` first stops the borrowers, each returning only when it holds no connection and will
    take none, and closes the pool after them."""

    metrics_server = MetricsServer()  # every process serves /metrics (common.metrics)

    def __init__(self, service: str):
        self.service = service
        self.pool = None
        self._tx: dict[int, Transaction] = {}
        self.on_events_committed: list = []  # callbacks, e.g. the outbox relay's wake-up
        self._borrowers: list[Callable[[], None]] = []

    def setup(self):
        config = self.container.config
        url = database_url(self.service, config)
        size = setting(config, "max_workers", 10) + 4
        self.pool = KeepingPool(1, size, url)
        scraped.add(self.container, "db_pool", self.pool_use)
        idle = setting(config, "DB_POOL_IDLE_SECONDS", 60.0)
        self._trimmer = Loop(max(idle / 4, 0.5), lambda: self.pool.trim(idle))

    def start(self):
        self._trimmer.start(self.container, "db_pool_trim")

    def pool_use(self):
        """Connections lent to workers and the relay, kept idle, and the most the pool opens."""
        pool = self.pool
        return [(DB_POOL_CONNECTIONS, ("in_use",), len(pool._used)),
                (DB_POOL_CONNECTIONS, ("idle",), len(pool._pool)),
                (DB_POOL_MAX, (), pool.maxconn)]

    def add_borrower(self, stop: Callable[[], None]) -> None:
        """``stop`` ends a thread that takes connections outside workers; the pool closes after it."""
        self._borrowers.append(stop)

    def stop(self):
        self._trimmer.stop()
        for stop_borrower in self._borrowers:
            stop_borrower()
        if self.pool is not None and not self.pool.closed:
            self.pool.closeall()

    def get_dependency(self, worker_ctx):
        tx = Transaction(self.pool)
        self._tx[id(worker_ctx)] = tx
        return tx

    def finish(self, worker_ctx, exc_info):
        """Commit (or roll back after an error) this worker's transaction now; returns the
        exc_info the caller should see (a failed commit becomes the worker's error)."""
        tx = self._tx.get(id(worker_ctx))
        if tx is None or tx.conn is None:
            return exc_info
        wrote_events = id(tx.conn) in EVENT_WRITERS
        EVENT_WRITERS.discard(id(tx.conn))
        try:
            if exc_info is None:
                tx.commit()
                if wrote_events:
                    for callback in self.on_events_committed:
                        callback()
            else:
                tx.rollback()
        except psycopg2.Error:
            tx.release(broken=True)
            if exc_info is None:
                exc_info = sys.exc_info()
        tx.release()
        return exc_info

    def worker_result(self, worker_ctx, result=None, exc_info=None):
        self.finish(worker_ctx, exc_info)

    def worker_teardown(self, worker_ctx):
        tx = self._tx.pop(id(worker_ctx), None)
        if tx is not None:
            tx.release()


@contextlib.contextmanager
def transaction(url: str) -> Iterator:
    """A one-off transaction outside nameko (CLI tools, tests)."""
    conn = connect(url)
    try:
        with conn:
            with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
                yield cur
    finally:
        conn.close()


def finish_transactions(worker_ctx, exc_info):
    """Finish every Database transaction of this worker before its result leaves the service."""
    for provider in worker_ctx.container.dependencies:
        if isinstance(provider, Database):
            exc_info = provider.finish(worker_ctx, exc_info)
    return exc_info


def database_of(container) -> Database:
    """The container's ``Database`` provider (for its extensions that borrow outside workers)."""
    return next(p for p in container.dependencies if isinstance(p, Database))
