"""Quotes are stored by group commit: one statement and one commit for every quote that is waiting.

A quote is answered only after its row is committed, and every quote is a write, so each used to
cost a statement, a commit and a WAL flush of its own on one of the pool's connections. Here the
container's workers hand their quotes to one writer with one connection of its own: while a
statement is in flight the quotes that arrive wait, and the next statement takes all of them. Under
one request at a time nothing waits (a batch of one, as before); under load the commit and the round
trip are shared (bench/quote.py, README *Benchmarks*).

Quotes priced from the price book carry the ``inputs_version`` they were priced at and are stored
only if it is still current (``store.insert_quotes``); quotes waiting at different versions go in
separate statements, so one stale quote never holds back the others. A failed statement fails the
quotes it carried, each worker raising the error as if it had run the statement itself, and a broken
connection is replaced before the next one.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import NamedTuple

import orjson
import psycopg2
import psycopg2.extras
from eventlet.event import Event
from eventlet.queue import Empty, LightQueue
from greenlet import GreenletExit
from nameko.extensions import DependencyProvider

from common.config import database_url
from common.db import connect
from pricing import store


class _Waiting(NamedTuple):
    distributor_id: int
    body: str  # JSON text
    created_at: datetime
    inputs_version: int | None
    done: Event


_STOP = object()  # handed to the writer's queue by ``stop``


class QuoteWriter:
    """Stores quotes for the workers of one container; ``run`` is its one writing green thread."""

    def __init__(self, connect_db: Callable):
        self._connect = connect_db
        self._conn = None
        self._waiting: LightQueue = LightQueue()
        self._stopped = False

    def store(self, distributor_id: int, body: dict, created_at: datetime,
              inputs_version: int | None = None) -> int | None:
        """The new quote's id once its row is committed; None when ``inputs_version`` is given and
        something the quote was priced from has changed since (nothing is stored then)."""
        if self._stopped:
            raise RuntimeError("the quote writer has stopped")
        done = Event()
        self._waiting.put(_Waiting(distributor_id, orjson.dumps(body).decode(), created_at,
                                   inputs_version, done))
        return done.wait()

    def run(self) -> None:
        """Write batches until ``stop``; what was handed over before it is still written."""
        stopping = False
        while not stopping:
            batch = []
            quote = self._waiting.get()
            while True:
                if quote is _STOP:
                    stopping = True
                else:
                    batch.append(quote)
                try:
                    quote = self._waiting.get_nowait()
                except Empty:
                    break
            if batch:
                self.write(batch)

    def stop(self) -> None:
        """Ask ``run`` to return once it has written every quote handed over so far."""
        self._stopped = True
        self._waiting.put(_STOP)

    def write(self, batch: list[_Waiting]) -> None:
        """One statement per ``inputs_version`` among ``batch``; every waiting worker hears back."""
        by_version: dict[int | None, list[_Waiting]] = {}
        for quote in batch:
            by_version.setdefault(quote.inputs_version, []).append(quote)
        for version, quotes in by_version.items():
            try:
                ids = self._insert(quotes, version)
            except Exception as exc:  # noqa: BLE001 — handed to the workers, who raise it
                for quote in quotes:
                    quote.done.send_exception(exc)
                continue
            for i, quote in enumerate(quotes):
                quote.done.send(ids[i] if ids else None)

    def _insert(self, quotes: list[_Waiting], version: int | None) -> list[int]:
        if self._conn is None:
            self._conn = self._connect()
            self._conn.autocommit = True  # one statement: committed when it returns
        try:
            with self._conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
                return store.insert_quotes(cur, [(q.distributor_id, q.body, q.created_at) for q in quotes],
                                           version)
        except (psycopg2.OperationalError, psycopg2.InterfaceError):
            self.close()  # the next statement opens a new connection
            raise

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class Quotes(DependencyProvider):
    """The container's ``QuoteWriter``, writing from a thread the container manages."""

    def setup(self) -> None:
        url = database_url("pricing", self.container.config)
        self.writer = QuoteWriter(lambda: connect(url))
        self.thread = None

    def start(self) -> None:
        self.thread = self.container.spawn_managed_thread(self.writer.run, identifier="quote_writer")

    def stop(self) -> None:
        """The container's workers have finished: the writer ends its last batch and returns, and
        only then is its connection closed (never in the middle of a statement)."""
        if self.thread is not None:
            self.writer.stop()
            try:
                self.thread.wait()
            except GreenletExit:
                pass
            self.thread = None
        self.writer.close()

    def kill(self) -> None:
        if self.thread is not None:
            self.thread.kill()
            self.thread = None
        self.writer.close()

    def get_dependency(self, worker_ctx) -> QuoteWriter:
        return self.writer
