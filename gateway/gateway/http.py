"""The gateway's HTTP entrypoint: request ids, one log line per request, problem+json for every error.

``route(...)`` declares a route once: its method, path, roles, body and response schemas. The same
declaration drives the nameko entrypoint, authorisation, OpenAPI and the route × role test.
"""
from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import orjson
import structlog
from eventlet.event import Event
from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import WebServer, WsgiApp
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from common.db import finish_transactions
from common.errors import ServiceError
from common.metrics import UNMATCHED_ROUTE, observe_request
from gateway.edge import query_names
from gateway.errors import status_for
from gateway.problems import problem, problem_from_exception

DEFAULT_MAX_BODY = 1024 * 1024  # 1 MiB; bulk routes declare more
REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

log = structlog.get_logger("gateway.http")


@dataclass
class RouteSpec:
    method: str
    path: str
    roles: tuple[str, ...] | None  # None: public
    summary: str
    tag: str
    body: Any = None  # marshmallow schema class of the request body
    response: Any = None  # marshmallow schema class of the success body
    status: int = 200
    query: Any = None
    max_body: int = DEFAULT_MAX_BODY
    body_optional: bool = False  # an empty body is allowed (e.g. reinstate's optional reason)
    public_limit: bool = False  # anonymous callers are rate-limited per address (gateway.ratelimit)
    also: dict[int, str] = field(default_factory=dict)  # other success statuses, same body (OpenAPI)
    calls_services: bool = True  # may answer 503 when a service does not (OpenAPI)
    name: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    media: str | tuple[str, ...] = "application/json"  # of the success body (OpenAPI)
    path_params: dict[str, dict] = field(default_factory=dict)  # OpenAPI schema of a path parameter
    query_names: frozenset[str] = frozenset()  # derived from ``query``: anything else is refused

    def __post_init__(self) -> None:
        self.query_names = query_names(self.query)


ROUTES: list[RouteSpec] = []
LITERAL_PATH_METHODS: dict[str, set[str]] = {}  # routes without path parameters, by path


def request_id_of(request: Request) -> str:
    given = request.headers.get("X-Request-Id", "")
    return given if REQUEST_ID_PATTERN.match(given) else uuid.uuid4().hex


def _finish(response: Response, request: Request, request_id: str, started: float,
            route: str) -> Response:
    """``route`` is the matched template (``/v1/orders/<order_id>``): the metrics' label."""
    response.headers["X-Request-Id"] = request_id
    seconds = time.perf_counter() - started
    observe_request(route, request.method, response.status_code, seconds)
    log.info("http_request", service="gateway", method=request.method, path=request.path,
             status=response.status_code, request_id=request_id, duration_ms=round(seconds * 1000, 2))
    return response


class ApiWsgiApp(WsgiApp):
    """Unknown paths and wrong methods answer problem+json too."""

    def __call__(self, environ, start_response):
        request = Request(environ, shallow=True)
        adapter = self.url_map.bind_to_environ(environ)
        try:
            provider, values = adapter.match()
        except HTTPException as exc:
            started = time.perf_counter()
            request_id = request_id_of(request)
            response = problem(exc.code or 404, exc.name, exc.description or exc.name,
                               request_id=request_id)
            if exc.code == 405 and hasattr(exc, "valid_methods") and exc.valid_methods:
                # a literal path (/v1/admin/products/import) is not also a value of a template
                # beside it (/v1/admin/products/<sku>): its own methods only
                methods = LITERAL_PATH_METHODS.get(request.path) or exc.valid_methods
                response.headers["Allow"] = ", ".join(sorted(methods))
            return _finish(response, request, request_id, started,
                           UNMATCHED_ROUTE)(environ, start_response)
        request.path_values = values
        return provider.handle_request(request)(environ, start_response)


class ApiServer(WebServer):
    def get_wsgi_app(self):
        return ApiWsgiApp(self)


class ApiRoute(HttpRequestHandler):
    server = ApiServer()

    def __init__(self, method: str, url: str, spec: RouteSpec | None = None, **kwargs):
        self.spec = spec
        super().__init__(method, url, **kwargs)

    def get_url_rule(self):
        return Rule(self.url, methods=[self.method])

    def handle_result(self, event, worker_ctx, result, exc_info):
        exc_info = finish_transactions(worker_ctx, exc_info)  # committed before the client hears
        return super().handle_result(event, worker_ctx, result, exc_info)

    def handle_request(self, request: Request) -> Response:
        started = time.perf_counter()
        request.shallow = False
        request_id = request_id_of(request)
        try:
            args, kwargs = self.get_entrypoint_parameters(request)
            event = Event()
            self.container.spawn_worker(
                self, args, kwargs, context_data={"request_id": request_id},
                handle_result=partial(self.handle_result, event))
            result = event.wait()
            response = self.response_from_result(result)
        except Exception as exc:  # every error leaves as problem+json
            if status_for(exc) == 500:
                log.error("http_unexpected_error", request_id=request_id, exc_info=exc)
            response = problem_from_exception(exc, request_id)
        return _finish(response, request, request_id, started, self.url)


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    if status == 204:
        return Response(status=204, headers=headers)
    # orjson: compact like json.dumps with these separators, a quarter of the time (docs/benchmarks.md,
    # Dependencies); numeric keys become strings, as json.dumps makes them
    return Response(orjson.dumps(payload, option=orjson.OPT_NON_STR_KEYS), status=status,
                    mimetype="application/json", headers=headers)


def route(method: str, path: str, *, roles: tuple[str, ...] | None, summary: str, tag: str,
          **options: Any) -> Callable:
    """Declare a gateway route; the decorated method gets ``(self, call, **path_values)``."""

    def decorate(fn: Callable) -> Callable:
        spec = RouteSpec(method, path, roles, summary, tag, name=fn.__name__, **options)
        ROUTES.append(spec)
        if "<" not in path:
            LITERAL_PATH_METHODS.setdefault(path, set()).update((method, "HEAD") if method == "GET"
                                                                else (method,))

        def handler(self, request, **path_values):
            return self.serve(spec, fn, request, path_values)

        handler.__name__ = fn.__name__
        handler.__doc__ = fn.__doc__
        # a caller's mistake (401, 400 …) is expected: nameko must not log it with a stack trace
        return ApiRoute.decorator(method, path, spec=spec, expected_exceptions=ServiceError)(handler)

    return decorate
