"""The console's client of the gateway's own JSON API, over loopback HTTP with the signed-in key.

The console has no back door: every fact it shows and every change it makes goes through the same
routes, roles, validation, idempotency and logs as any other client's call. It runs outside nameko's
worker pool (see ``routing``), so a page waiting for the API never holds a worker the API needs.
"""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

TIMEOUT_SECONDS = 30.0  # above the gateway's own RPC time limit, which answers 504 first
MAX_LIST_ITEMS = 5000  # what a console page reads of one list at most


@dataclass
class ApiProblem(Exception):
    """A problem+json answer (or a transport failure, status 502)."""

    status: int
    title: str
    detail: str
    errors: list[dict] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.status} {self.title}: {self.detail}"


class GatewayApi:
    def __init__(self, base_url: str, api_key: str, request_id: str = ""):
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.request_id = request_id

    def _open(self, method: str, path: str, params: dict | None = None, body: Any = None,
              idempotency_key: str | None = None):
        query = {k: v for k, v in (params or {}).items() if v not in (None, "")}
        url = self.base_url + path + ("?" + urlencode(query) if query else "")
        data = None if body is None else json.dumps(body).encode()
        headers = {"Authorization": f"Bearer {self.api_key}", "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        if self.request_id:
            headers["X-Request-Id"] = self.request_id  # the console's request and its API calls, one id
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            return urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS)
        except urllib.error.HTTPError as exc:
            raise _problem(exc) from None
        except OSError as exc:
            raise ApiProblem(502, "Gateway unreachable", str(exc)) from None

    def call(self, method: str, path: str, params: dict | None = None, body: Any = None,
             idempotency_key: str | None = None) -> Any:
        with self._open(method, path, params, body, idempotency_key) as response:
            raw = response.read()
        return json.loads(raw) if raw else None

    def get(self, path: str, **params: Any) -> Any:
        return self.call("GET", path, params)

    def post(self, path: str, body: Any = None, idempotency_key: str | None = None) -> Any:
        return self.call("POST", path, body=body, idempotency_key=idempotency_key)

    def items(self, path: str, limit: int = MAX_LIST_ITEMS, **params: Any) -> list[dict]:
        """Every item of a list, page after page, up to ``limit``."""
        found: list[dict] = []
        cursor = None
        while len(found) < limit:
            page = self.get(path, limit=min(500, limit - len(found)), cursor=cursor, **params)
            found += page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                break
        return found

    def stream(self, path: str) -> tuple[str, str, Iterator[bytes]]:
        """A non-JSON answer (a statement's CSV), passed on as it arrives."""
        response = self._open("GET", path)

        def chunks() -> Iterator[bytes]:
            with response:
                while chunk := response.read(64 * 1024):
                    yield chunk

        return (response.headers.get("Content-Type", "application/octet-stream"),
                response.headers.get("Content-Disposition", ""), chunks())


def _problem(exc: urllib.error.HTTPError) -> ApiProblem:
    try:
        body = json.loads(exc.read() or b"{}")
    except ValueError:
        body = {}
    return ApiProblem(exc.code, body.get("title") or exc.reason or "Error", body.get("detail") or "",
                      body.get("errors") or [])
