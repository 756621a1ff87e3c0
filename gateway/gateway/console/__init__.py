"""The web console for the sales team at ``/console/`` (docs/console.md): server-rendered pages in
简体中文 and English over the gateway's own JSON API, behind a session opened with a sales or manager
key. ``ConsoleRoutes`` holds its nameko entrypoints; ``GatewayService`` inherits it."""
from gateway.console.routing import console_routes

ConsoleRoutes = console_routes()

__all__ = ["ConsoleRoutes"]
