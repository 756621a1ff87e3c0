"""The console's static assets, all served by the gateway itself (no CDN: the console works with no
internet): its stylesheet and script, Chart.js (vendored, see ``static/vendor/README.md``) and the
province outlines (``maps.outline_svg``)."""
from __future__ import annotations

import hashlib
import pathlib
from functools import cache

from werkzeug.wrappers import Response

from common.errors import NotFound
from gateway.console import maps

HERE = pathlib.Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
FILES = {
    "console.css": STATIC / "console.css",
    "console.js": STATIC / "console.js",
    "chart.umd.min.js": STATIC / "vendor" / "chart.umd.min.js",
}
GENERATED = {"china.svg": maps.outline_svg}
MEDIA_TYPES = {"css": "text/css; charset=utf-8", "js": "text/javascript; charset=utf-8",
               "svg": "image/svg+xml"}


@cache
def content(name: str) -> bytes:
    if name in GENERATED:
        return GENERATED[name]()
    if name in FILES:
        return FILES[name].read_bytes()
    raise NotFound(f"no console asset {name!r}")


@cache
def url(name: str) -> str:
    """The asset's address with a digest of its content, so a browser never keeps a stale copy."""
    return f"/console/assets/{name}?v={hashlib.sha256(content(name)).hexdigest()[:12]}"


def serve(name: str) -> Response:
    if name not in FILES and name not in GENERATED:
        return Response("404 Not Found", status=404, mimetype="text/plain")
    response = Response(content(name), content_type=MEDIA_TYPES[name.rsplit(".", 1)[1]])
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response
