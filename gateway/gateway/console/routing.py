"""Console pages on the gateway's own nameko web server, outside the JSON API's ``@route`` table.

``@page(method, path, kind=...)`` declares a page once; ``console_routes()`` derives from every
declaration the mixin class of nameko entrypoints that ``GatewayService`` inherits. A page is served in
two steps, so that a page never holds a nameko worker while it calls the API (which needs one):

1. *admission*, in a nameko worker with the gateway's database: the session (or sign-in, sign-out),
   the CSRF token of a form; committed before anything else happens (``finish_transactions``);
2. *rendering*, in the web server's green thread: the page function calls the gateway's JSON API over
   loopback HTTP with the signed-in key and renders its template.

Console pages are not API routes: they are not in ``/openapi.json`` nor in the route × role matrix.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import structlog
from eventlet.event import Event
from nameko.web.handlers import HttpRequestHandler
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from common.config import setting
from common.db import finish_transactions
from gateway.console import sessions
from gateway.http import ApiServer, request_id_of

log = structlog.get_logger("gateway.console")

PUBLIC, ASSET, PAGE, FORM, SIGN_IN_PAGE, SIGN_IN, SIGN_OUT = (
    "public", "asset", "page", "form", "sign_in_page", "sign_in", "sign_out")
NEEDS_WORKER = (PAGE, FORM, SIGN_IN_PAGE, SIGN_IN, SIGN_OUT)
SECURITY_HEADERS = {
    # every script, style, image and font comes from the console itself (no CDN, no inline script)
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                               "script-src 'self'; object-src 'none'; base-uri 'none'; "
                               "form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


@dataclass(frozen=True)
class PageSpec:
    method: str
    path: str
    kind: str
    render: Callable  # (page: Page, **path_values) -> Response
    name: str


PAGES: list[PageSpec] = []


def page(method: str, path: str, *, kind: str = PAGE) -> Callable:
    """Declare a console page: ``render(page, **path_values)`` runs after admission (see above)."""

    def decorate(render: Callable) -> Callable:
        PAGES.append(PageSpec(method, path, kind, render, "console_" + render.__name__))
        return render

    return decorate


def admit(service, spec: PageSpec, request: Request) -> sessions.Admission:
    """Step 1, in a worker of ``service`` (its ``db``, ``config`` and ``key_cache``)."""
    hours = setting(service.config, "CONSOLE_SESSION_HOURS", sessions.DEFAULT_SESSION_HOURS)
    cur = service.db.cursor()
    if spec.kind == PAGE:
        return sessions.admit_page(cur, request, hours)
    if spec.kind == FORM:
        return sessions.admit_form(cur, request, hours)
    if spec.kind == SIGN_IN_PAGE:
        return sessions.admit_sign_in_page(cur, request, hours)
    if spec.kind == SIGN_IN:
        return sessions.sign_in(cur, request, hours, service.key_cache)
    return sessions.sign_out(cur, request, hours)


def loopback_url(config: dict) -> str:
    """Where the gateway's JSON API answers this process: ``CONSOLE_API_URL``, else its own address."""
    explicit = setting(config, "CONSOLE_API_URL", "")
    if explicit:
        return explicit
    host, _, port = str(config.get("WEB_SERVER_ADDRESS") or "127.0.0.1:8000").rpartition(":")
    if host in ("", "0.0.0.0", "::", "[::]"):
        host = "127.0.0.1"
    return f"http://{host}:{port}"


class ConsoleRoute(HttpRequestHandler):
    server = ApiServer()  # the same shared web server as the API's routes

    def __init__(self, method: str, url: str, spec: PageSpec, **kwargs):
        self.spec = spec
        super().__init__(method, url, **kwargs)

    def get_url_rule(self):
        return Rule(self.url, methods=[self.method], strict_slashes=False)

    def handle_result(self, event, worker_ctx, result, exc_info):
        exc_info = finish_transactions(worker_ctx, exc_info)  # the session is written before we go on
        event.send(result, exc_info)
        return result, exc_info

    def handle_request(self, request: Request) -> Response:
        from gateway.console.pages import Page  # the pages import this module to declare themselves

        started = time.perf_counter()
        request.shallow = False
        request.max_content_length = sessions.MAX_FORM_BYTES
        request.max_form_memory_size = sessions.MAX_FORM_BYTES
        request_id = request_id_of(request)
        try:
            admission = sessions.Admission()
            if self.spec.kind in NEEDS_WORKER:
                event = Event()
                args, kwargs = self.get_entrypoint_parameters(request)
                self.container.spawn_worker(self, args, kwargs, context_data={"request_id": request_id},
                                            handle_result=partial(self.handle_result, event))
                admission = event.wait()
            if admission.response is not None:
                response = admission.response
            else:
                current = Page(request, admission, loopback_url(self.container.config), request_id)
                response = self.spec.render(current, **request.path_values)
        except HTTPException as exc:  # a form over the size limit …
            response = exc.get_response()
        except Exception as exc:  # an error page, never a stack trace in the browser
            log.error("console_page_failed", page=self.spec.name, request_id=request_id, exc_info=exc)
            response = Response("500 Internal Server Error (request id " + request_id + ")", status=500,
                                mimetype="text/plain")
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if self.spec.kind != ASSET:
            response.headers.setdefault("Cache-Control", "no-store")
        response.headers["X-Request-Id"] = request_id
        log.info("http_request", service="gateway", method=request.method, path=request.path,
                 status=response.status_code, request_id=request_id, page=self.spec.name,
                 duration_ms=round((time.perf_counter() - started) * 1000, 2))
        return response


def console_routes() -> type:
    """The mixin of nameko entrypoints, one per declared page; ``GatewayService`` inherits it."""
    from gateway.console import pages  # noqa: F401  (declares every page)

    methods = {}
    for spec in PAGES:
        def admission(self, request, _spec=spec, **path_values):
            return admit(self, _spec, request)

        admission.__name__ = spec.name
        methods[spec.name] = ConsoleRoute.decorator(spec.method, spec.path, spec=spec)(admission)
    return type("ConsoleRoutes", (), methods)
