"""The one table from exceptions to HTTP statuses, and the gateway's own refusals."""
from __future__ import annotations

import psycopg2
from amqp.exceptions import ConnectionError as AmqpConnectionError
from kombu.exceptions import OperationalError as KombuOperationalError
from nameko.exceptions import RemoteError, RpcTimeout, UnknownService

import catalog.errors
import distributors.errors
import fulfillment.errors
import pricing.errors
import webhooks.errors
from common import errors as base


class Unauthenticated(base.ServiceError):
    title = "Unauthorized"


class PayloadTooLarge(base.ServiceError):
    title = "Payload too large"


class TooManyRequests(base.ServiceError):
    title = "Too many requests"

    def __init__(self, detail: str = "", errors=None, headers: dict[str, str] | None = None):
        super().__init__(detail, errors)
        self.headers = headers or {}  # Retry-After


class UnsupportedMediaType(base.ServiceError):
    title = "Unsupported media type"


class ServiceUnavailable(base.ServiceError):
    title = "Service unavailable"


# most specific first; the first base class that matches decides the status
STATUS_BY_ERROR: list[tuple[type[BaseException], int]] = [
    (base.InvalidInput, 400),
    (Unauthenticated, 401),
    (base.Forbidden, 403),
    (base.NotFound, 404),
    (base.Conflict, 409),
    (PayloadTooLarge, 413),
    (UnsupportedMediaType, 415),
    (base.Unprocessable, 422),
    (TooManyRequests, 429),
    (ServiceUnavailable, 503),
    (base.ServiceTimeout, 504),
    (base.StoreUnavailable, 503),
    (base.ServiceNotRunning, 503),
    # the gateway's own database or the broker failing under a request: try again
    (psycopg2.OperationalError, 503),
    (psycopg2.InterfaceError, 503),
    (KombuOperationalError, 503),
    (AmqpConnectionError, 503),
    (ConnectionError, 503),
    (RpcTimeout, 503),
    (UnknownService, 503),
]

REMOTE_ERROR_MODULES = (base, catalog.errors, distributors.errors, pricing.errors,
                        fulfillment.errors, webhooks.errors)


def register_remote_errors() -> None:
    """Rebuild our services' exceptions from RPC replies instead of a generic ``RemoteError``."""
    base.make_deserializable(*REMOTE_ERROR_MODULES)


def status_for(exc: BaseException) -> int:
    for cls, status in STATUS_BY_ERROR:
        if isinstance(exc, cls):
            return status
    return 500


def title_for(exc: BaseException, status: int) -> str:
    if isinstance(exc, base.ServiceError):
        return exc.title
    if status == 503:
        return "Service unavailable"
    return "Internal server error"


def is_unexpected(exc: BaseException) -> bool:
    return status_for(exc) == 500 or isinstance(exc, RemoteError)
