"""PostgreSQL access: one connection pool per service container, one transaction per worker.

The transaction begins lazily at the first query of a worker and is committed in ``worker_result``
(or rolled back when the worker raised), so an entrypoint's writes and its outbox rows land together.
Under ``nameko run`` eventlet's monkey patching makes psycopg2 cooperative.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

import psycopg2
import psycopg2.extras
import psycopg2.pool
from nameko.extensions import DependencyProvider

from common.config import database_url, setting

psycopg2.extras.register_uuid()


def connect(url: str):
    return psycopg2.connect(url)


class Transaction:
    """What a worker sees: a cursor factory on its own connection, taken from the pool on first use."""

    def __init__(self, pool: psycopg2.pool.AbstractConnectionPool):
        self._pool = pool
        self.conn = None

    def cursor(self):
        if self.conn is None:
            self.conn = self._pool.getconn()
        return self.conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor)

    def commit(self) -> None:
        if self.conn is not None:
            self.conn.commit()

    def rollback(self) -> None:
        if self.conn is not None:
            self.conn.rollback()

    def release(self, broken: bool = False) -> None:
        if self.conn is not None:
            self._pool.putconn(self.conn, close=broken or self.conn.closed != 0)
            self.conn = None


class Database(DependencyProvider):
    def __init__(self, service: str):
        self.service = service
        self.pool = None
        self._tx: dict[int, Transaction] = {}

    def setup(self):
        config = self.container.config
        url = database_url(self.service, config)
        size = setting(config, "max_workers", 10) + 4
        # minconn = maxconn: psycopg2's pool closes every connection returned above minconn, which
        # under load means a new PostgreSQL connection per worker
        self.pool = psycopg2.pool.ThreadedConnectionPool(size, size, url)

    def stop(self):
        if self.pool is not None:
            self.pool.closeall()

    def get_dependency(self, worker_ctx):
        tx = Transaction(self.pool)
        self._tx[id(worker_ctx)] = tx
        return tx

    def worker_result(self, worker_ctx, result=None, exc_info=None):
        tx = self._tx.get(id(worker_ctx))
        if tx is None:
            return
        try:
            if exc_info is None:
                tx.commit()
            else:
                tx.rollback()
        except psycopg2.Error:
            tx.release(broken=True)

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
