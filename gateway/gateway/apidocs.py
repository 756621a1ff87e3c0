"""``GET /docs``: the OpenAPI document rendered by Swagger UI, every asset served from the
``swagger-ui-bundle`` package (no CDN: the page works with no internet)."""
from __future__ import annotations

from functools import lru_cache

from swagger_ui_bundle import swagger_ui_path
from werkzeug.wrappers import Response

from common.errors import NotFound

ASSETS = ("swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js",
          "favicon-32x32.png", "favicon-16x16.png", "init.js")
MEDIA_TYPES = {"css": "text/css", "js": "text/javascript", "png": "image/png"}

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Distribution and channel management API</title>
  <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
  <link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png" sizes="32x32">
</head>
<body>
  <noscript>This page renders <a href="/openapi.json">/openapi.json</a> with JavaScript.</noscript>
  <div id="swagger-ui"></div>
  <script src="/docs/assets/swagger-ui-bundle.js"></script>
  <script src="/docs/assets/swagger-ui-standalone-preset.js"></script>
  <script src="/docs/assets/init.js"></script>
</body>
</html>
"""

INIT = """window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "StandaloneLayout",
    validatorUrl: null
  });
};
"""


def page() -> Response:
    return Response(PAGE, mimetype="text/html")


@lru_cache(maxsize=len(ASSETS))
def _asset_bytes(name: str) -> bytes:
    if name == "init.js":
        return INIT.encode()
    return (swagger_ui_path / name).read_bytes()


def asset(name: str) -> Response:
    if name not in ASSETS:
        raise NotFound(f"no asset {name!r}")
    response = Response(_asset_bytes(name), mimetype=MEDIA_TYPES[name.rsplit(".", 1)[1]])
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response
