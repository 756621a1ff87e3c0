"""structlog JSON logging with a request id carried through every service."""
from __future__ import annotations

import logging
import sys
import time

import structlog
from nameko.extensions import DependencyProvider
from nameko.timer import Timer

from common.metrics import MetricsServer

_configured = False


def configure_logging(level: str = "INFO") -> None:
    global _configured
    if _configured:
        return
    _configured = True
    numeric = logging.getLevelName(level.upper()) if isinstance(level, str) else level
    numeric = numeric if isinstance(numeric, int) else logging.INFO
    logging.basicConfig(format="%(message)s", stream=sys.stdout, level=numeric)
    for noisy in ("kombu", "amqp", "yoyo"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # nameko logs a caller's mistake (an expected exception) as a warning with a traceback; our own
    # worker_refused line says it once, without one
    logging.getLogger("nameko").setLevel(logging.ERROR)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        cache_logger_on_first_use=True,
    )


class WorkerLogging(DependencyProvider):
    """Binds the request id and entrypoint for each worker and logs one line per unit of work."""

    metrics_server = MetricsServer()  # every process serves /metrics (common.metrics)

    def __init__(self, summary: bool = True):
        self.summary = summary  # the gateway logs its own line per HTTP request instead
        self._started: dict[int, float] = {}

    def setup(self):
        configure_logging(self.container.config.get("LOG_LEVEL", "INFO"))

    def get_dependency(self, worker_ctx):
        return structlog.get_logger()

    def worker_setup(self, worker_ctx):
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(
            service=self.container.service_name,
            entrypoint=worker_ctx.entrypoint.method_name,
            request_id=worker_ctx.data.get("request_id"),
        )
        self._started[id(worker_ctx)] = time.perf_counter()

    def worker_result(self, worker_ctx, result=None, exc_info=None):
        started = self._started.pop(id(worker_ctx), time.perf_counter())
        if exc_info is None and (not self.summary or isinstance(worker_ctx.entrypoint, Timer)):
            return  # periodic housekeeping (outbox relay) logs only what it did
        duration_ms = round((time.perf_counter() - started) * 1000, 2)
        log = structlog.get_logger()
        if exc_info is None:
            log.info("worker_done", duration_ms=duration_ms)
        elif isinstance(exc_info[1], worker_ctx.entrypoint.expected_exceptions):
            if not self.summary:
                return  # the gateway's one line per request says it
            log.info("worker_refused", duration_ms=duration_ms, error=type(exc_info[1]).__name__,
                     detail=str(exc_info[1]))
        else:
            log.error("worker_failed", duration_ms=duration_ms, exc_info=exc_info)

    def worker_teardown(self, worker_ctx):
        structlog.contextvars.clear_contextvars()
