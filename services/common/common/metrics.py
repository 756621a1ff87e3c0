"""Prometheus metrics: every process serves ``/metrics`` (text format) on a port of its own.

The port is ``METRICS_PORT`` when set (``0``: any free port, said in the ``metrics_serving`` log
line), else the service's default from ``common.topology.metrics_port`` (gateway 9100, the services
after it in topology order); ``METRICS_HOST`` (default 127.0.0.1) is the address it binds.

Nothing in a service's ``service.py`` starts or feeds it: the common dependencies every service
already declares do.

- ``WorkerLogging`` and ``Database`` carry ``MetricsServer``, one per process, started with the
  container;
- the gateway's HTTP entrypoint counts requests by route template (``observe_request``);
- ``common.entrypoints.Rpc`` counts and times the RPCs a service answers, ``common.rpc`` those a
  process makes; ``common.entrypoints.EventHandler`` counts events handled and failed;
- ``Database`` reports its pool, ``OutboxRelay`` the outbox backlog, ``EventHandler`` the dead letters
  waiting: gauges read when Prometheus scrapes (``ScrapeGauge``), not kept up to date on every change.

A service adds gauges of its own from its database with ``DatabaseGauges`` (a dependency: declare the
gauge and its SQL once), or any other source with ``scraped.add`` (see docs/operations.md, "Metrics").
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import eventlet
import eventlet.wsgi
import structlog
from nameko.extensions import DependencyProvider, SharedExtension
from prometheus_client import REGISTRY, Counter, Histogram, make_wsgi_app
from prometheus_client.core import GaugeMetricFamily

from common.config import setting
from common.topology import metrics_port

log = structlog.get_logger("common.metrics")

DEFAULT_HOST = "127.0.0.1"
# seconds: from a cached read (a millisecond) to the RPC time limit (10 s)
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
READ_TIMEOUT = 5.0  # seconds one scrape-time source may take before its gauges are left out
STATEMENT_TIMEOUT_MS = 2000  # a scrape-time query that takes longer is cancelled by PostgreSQL
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED_ROUTE = "unmatched"  # every path no route declares: one label value, not one per path

# ---- counted as it happens ---------------------------------------------------------------------

HTTP_REQUESTS = Counter("dcm_http_requests", "HTTP requests the gateway answered",
                        ("route", "method", "status"))
HTTP_DURATION = Histogram("dcm_http_request_duration_seconds",
                          "Time from a request's arrival at the gateway to its answer",
                          ("route", "method"), buckets=LATENCY_BUCKETS)
RPC_HANDLED = Counter("dcm_rpc_handled", "RPC calls a service answered, by outcome (ok, refused: "
                      "an expected business error, unavailable: its database or a service it needs "
                      "was away, error: a bug, expired: dropped unrun after its caller's deadline)",
                      ("service", "method", "outcome"))
RPC_HANDLED_DURATION = Histogram("dcm_rpc_handled_duration_seconds",
                                 "Time a service took to answer an RPC call",
                                 ("service", "method", "outcome"), buckets=LATENCY_BUCKETS)
RPC_CALLS = Counter("dcm_rpc_calls", "RPC calls this process made, by the called service, method and "
                    "outcome (ok, refused, unavailable, error as dcm_rpc_handled; timeout; "
                    "not_running)",
                    ("service", "method", "outcome"))
RPC_CALL_DURATION = Histogram("dcm_rpc_call_duration_seconds",
                              "Time this process waited for an RPC call's reply",
                              ("service", "method"), buckets=LATENCY_BUCKETS)
EVENTS_HANDLED = Counter("dcm_events_handled", "Events a service's handlers applied",
                         ("service", "source", "event_type"))
EVENTS_FAILED = Counter("dcm_events_failed", "Events whose handler failed, by what became of them "
                        "(retried, dead_lettered, requeued: the broker refused the retry)",
                        ("service", "source", "event_type", "action"))
OUTBOX_RELAYED = Counter("dcm_outbox_relayed_events", "Events relayed from a service's outbox",
                         ("service",))
SCRAPE_ERRORS = Counter("dcm_metrics_read_errors", "Scrape-time reads that failed or took longer "
                        f"than {READ_TIMEOUT:g} s (their gauges are left out of that scrape)",
                        ("service", "source"))

_children: dict[tuple, object] = {}


def child(metric, *labels: str):
    """``metric.labels(*labels)``, kept: prometheus_client's lookup takes a lock and costs more than
    the count itself, on every request."""
    key = (metric, labels)
    found = _children.get(key)
    if found is None:
        found = _children[key] = metric.labels(*labels)
    return found


def bounded_method(method: str) -> str:
    """An HTTP method as a label value: anything a client invents is ``OTHER``."""
    return method if method in HTTP_METHODS else "OTHER"


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    """Count one gateway request: ``route`` is its template (``/v1/orders/<order_id>``), never the
    raw path, so the number of series stays that of the routes."""
    label = bounded_method(method)
    child(HTTP_REQUESTS, route, label, str(status)).inc()
    child(HTTP_DURATION, route, label).observe(seconds)


def observe_call(service: str, method: str, outcome: str, seconds: float) -> None:
    child(RPC_CALLS, service, method, outcome).inc()
    child(RPC_CALL_DURATION, service, method).observe(seconds)


def observe_handled(service: str, method: str, outcome: str, seconds: float | None) -> None:
    child(RPC_HANDLED, service, method, outcome).inc()
    if seconds is not None:
        child(RPC_HANDLED_DURATION, service, method, outcome).observe(seconds)


# ---- read when Prometheus scrapes --------------------------------------------------------------

@dataclass(frozen=True)
class ScrapeGauge:
    """A gauge whose value is read at scrape time. Every sample also carries ``service``.

    ``sql`` (for ``DatabaseGauges``) returns rows of the label values in ``labels`` order, then the
    value: ``SELECT status, count(*) FROM orders GROUP BY status`` for ``labels=("status",)``."""

    name: str
    documentation: str
    labels: tuple[str, ...] = ()
    sql: str = ""


Sample = tuple[ScrapeGauge, tuple[str, ...], float]
Reader = Callable[[], Iterable[Sample]]

OUTBOX_UNPUBLISHED = ScrapeGauge(
    "dcm_outbox_unpublished_events", "Events in the service's outbox not yet relayed to the broker",
    sql="SELECT count(*) FROM outbox WHERE published_at IS NULL")
OUTBOX_OLDEST_AGE = ScrapeGauge(
    "dcm_outbox_oldest_unpublished_age_seconds",
    "Age of the oldest event in the outbox not yet relayed (0 when none waits)",
    sql="SELECT coalesce(extract(epoch FROM now() - min(occurred_at)), 0) FROM outbox "
        "WHERE published_at IS NULL")
DEAD_LETTERS = ScrapeGauge("dcm_dead_letters_waiting",
                           "Events parked in the service's dead-letter queue (dead-letters.<service>)")
DB_POOL_CONNECTIONS = ScrapeGauge("dcm_db_pool_connections",
                                  "Database connections the service's pool holds, by state",
                                  ("state",))
DB_POOL_MAX = ScrapeGauge("dcm_db_pool_max_connections",
                          "The most connections the service's pool opens (MAX_WORKERS + 4)")


class ScrapedGauges:
    """The process's one collector of scrape-time gauges: sources come and go with containers."""

    def __init__(self):
        self._readers: dict[tuple[int, str], tuple[str, Reader]] = {}

    def add(self, container, source: str, reader: Reader) -> None:
        """``reader`` is called at each scrape for ``container``'s service; adding the same
        ``source`` again for the same container replaces it (many handlers, one dead-letter queue)."""
        self._readers[(id(container), source)] = (container.service_name, reader)

    def forget(self, container) -> None:
        for key in [key for key in self._readers if key[0] == id(container)]:
            del self._readers[key]

    def describe(self):
        return []  # the families depend on the sources added since: nothing to check at register

    def collect(self):
        families: dict[str, GaugeMetricFamily] = {}
        for (_, source), (service, reader) in list(self._readers.items()):
            try:
                with eventlet.Timeout(READ_TIMEOUT):
                    samples = list(reader())
            except (Exception, eventlet.Timeout) as exc:
                SCRAPE_ERRORS.labels(service, source).inc()
                log.warning("metrics_read_failed", service=service, source=source,
                            error=f"{type(exc).__name__}: {exc}")
                continue
            for gauge, labels, value in samples:
                family = families.get(gauge.name)
                if family is None:
                    family = GaugeMetricFamily(gauge.name, gauge.documentation,
                                               labels=("service", *gauge.labels))
                    families[gauge.name] = family
                family.add_metric((service, *labels), float(value))
        return list(families.values())


scraped = ScrapedGauges()
REGISTRY.register(scraped)


def read_database(pool, gauges: Iterable[ScrapeGauge]) -> list[Sample]:
    """Run each gauge's SQL on one connection borrowed from ``pool``, read-only, each statement
    cancelled past ``STATEMENT_TIMEOUT_MS``."""
    conn = pool.getconn()
    broken = False
    try:
        samples = []
        with conn.cursor() as cur:
            cur.execute("SET LOCAL statement_timeout = %s", (STATEMENT_TIMEOUT_MS,))
            for gauge in gauges:
                cur.execute(gauge.sql)
                samples += [(gauge, tuple(str(v) for v in row[:-1]), float(row[-1] or 0))
                            for row in cur.fetchall()]
        conn.rollback()
        return samples
    except Exception:
        try:
            conn.rollback()
        except Exception:  # noqa: BLE001 - the connection is gone: closed below
            broken = True
        raise
    finally:
        pool.putconn(conn, close=broken or conn.closed != 0)


def database_provider(container):
    """The container's ``common.db.Database`` (duck-typed: common.db imports this module)."""
    for provider in container.dependencies:
        if hasattr(provider, "pool") and hasattr(provider, "add_borrower"):
            return provider
    raise LookupError(f"{container.service_name} declares no Database")


def watch_database(container, source: str, gauges: tuple[ScrapeGauge, ...]) -> None:
    provider = database_provider(container)
    scraped.add(container, source, lambda: read_database(provider.pool, gauges))


class DatabaseGauges(DependencyProvider):
    """Gauges a service reads from its own database at scrape time, declared once with their SQL:

        ORDERS = ScrapeGauge("dcm_orders", "Orders by status", ("status",),
                             sql="SELECT status, count(*) FROM orders GROUP BY status")
        class FulfillmentService:
            metrics = DatabaseGauges(ORDERS)

    Keep each query cheap (an index, a small table): it runs at every scrape of every replica."""

    def __init__(self, *gauges: ScrapeGauge):
        self.gauges = gauges

    def setup(self):
        watch_database(self.container, "database_gauges", self.gauges)

    def get_dependency(self, worker_ctx):
        return None


# ---- the /metrics server -----------------------------------------------------------------------

class _Server:
    """The process's one HTTP server, shared by every container it runs (tests run several)."""

    def __init__(self):
        self.users = 0
        self.thread = None
        self.socket = None
        self.port: int | None = None

    def acquire(self, host: str, port: int) -> None:
        self.users += 1
        if self.thread is not None:
            return
        try:
            self.socket = eventlet.listen((host, port))
        except OSError as exc:  # metrics are not worth a service: it runs without them
            log.error("metrics_port_unavailable", host=host, port=port, error=str(exc))
            return
        self.port = self.socket.getsockname()[1]
        self.thread = eventlet.spawn(eventlet.wsgi.server, self.socket, make_wsgi_app(REGISTRY),
                                     log_output=False, log=open(os.devnull, "w"))  # noqa: SIM115
        log.info("metrics_serving", host=host, port=self.port, pid=os.getpid())

    def release(self) -> None:
        self.users = max(self.users - 1, 0)
        if self.users or self.thread is None:
            return
        self.thread.kill()
        self.socket.close()
        self.thread = self.socket = self.port = None


server = _Server()


def serving_port() -> int | None:
    """The port this process serves /metrics on, once started (None: not serving)."""
    return server.port


class MetricsServer(SharedExtension):
    """Starts the process's /metrics server with the first container, stops it with the last.

    A sub-extension of ``WorkerLogging`` and ``Database``, so every service has it undeclared."""

    def setup(self):
        config = self.container.config
        self.host = setting(config, "METRICS_HOST", DEFAULT_HOST)
        port = setting(config, "METRICS_PORT", "")
        try:
            self.port = int(port) if port != "" else metrics_port(self.container.service_name)
        except KeyError:  # a service the topology does not list (a test's): any free port
            self.port = 0

    def start(self):
        server.acquire(self.host, self.port)

    def stop(self):
        scraped.forget(self.container)
        server.release()

    def kill(self):
        self.stop()
