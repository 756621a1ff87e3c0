"""``application/problem+json`` responses (RFC 9457)."""
from __future__ import annotations

import json
from typing import Any

from werkzeug.wrappers import Response

from common.errors import ServiceError
from gateway.errors import status_for, title_for

PROBLEM_TYPE = "https://dcm.example/problems/"
DRIVERS = ("psycopg2", "kombu", "amqp")
SLUGS = {400: "invalid-input", 401: "unauthorized", 403: "forbidden", 404: "not-found",
         405: "method-not-allowed", 409: "conflict", 413: "payload-too-large", 415: "unsupported-media-type",
         422: "unprocessable", 429: "too-many-requests", 500: "internal-error",
         503: "service-unavailable", 504: "gateway-timeout"}


def problem(status: int, title: str, detail: str, errors: list[dict[str, Any]] | None = None,
            request_id: str | None = None, **extra: Any) -> Response:
    body: dict[str, Any] = {"type": PROBLEM_TYPE + SLUGS.get(status, "error"), "title": title,
                            "status": status, "detail": detail}
    if errors is not None or status == 400:
        body["errors"] = errors or []
    if request_id:
        body["request_id"] = request_id
    body.update(extra)
    return Response(json.dumps(body), status=status, mimetype="application/problem+json")


def problem_from_exception(exc: BaseException, request_id: str | None) -> Response:
    status = status_for(exc)
    title = title_for(exc, status)
    if status == 500:
        return problem(500, title, "an unexpected error occurred; quote the request id",
                       request_id=request_id)
    if isinstance(exc, ServiceError):
        detail = exc.detail or title
    elif type(exc).__module__.split(".")[0] in DRIVERS or isinstance(exc, OSError):
        # a driver's or the broker's error text may name hosts and users: not for clients
        detail = "a database or the message broker did not answer; try again"
    else:
        detail = str(exc) or title
    errors = getattr(exc, "errors", None) if status == 400 else None
    if status == 400 and not errors:
        errors = []
    response = problem(status, title, detail, errors, request_id=request_id)
    for name, value in getattr(exc, "headers", {}).items():
        response.headers[name] = value
    return response
