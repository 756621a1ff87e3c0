"""The one list of the system's services: their names in start order, the folders of their packages
and the gateway's port. Every Python place that needs the list reads it from here (migrations, dead
letters, `make check`, the gateway's readiness, the test system); the files that cannot import Python
(Procfile, deploy/docker-compose.yml, deploy/packages.txt, ruff.toml, .importlinter) are checked
against it by tests/test_topology.py, and the Makefile asks `python -m common.topology`.

    python -m common.topology             # catalog|distributors|pricing|fulfillment|gateway
    python -m common.topology --backends  # catalog|distributors|pricing|fulfillment
"""
from __future__ import annotations

import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class Service:
    """One process of the system. Its name is also its package, its module (``<name>.service``),
    its database (``dcm_<name>``) and its Procfile and compose entry."""

    name: str
    folder: str  # the folder that holds its package, relative to the repository
    events: bool = True  # owns an outbox of events (the common migrations) and a dead-letter queue
    http_port: int | None = None  # the default port it answers HTTP on; only the gateway does

    @property
    def database(self) -> str:
        return f"dcm_{self.name}"


SERVICES: tuple[Service, ...] = (  # in start order: the gateway last, once everything it calls runs
    Service("catalog", "services/catalog"),
    Service("distributors", "services/distributors"),
    Service("pricing", "services/pricing"),
    Service("fulfillment", "services/fulfillment"),
    Service("webhooks", "services/webhooks"),
    Service("gateway", "gateway", events=False, http_port=8000),
)
SHARED = Service("common", "services/common", events=False)  # infrastructure, not a process

NAMES: tuple[str, ...] = tuple(s.name for s in SERVICES)
BACKENDS: tuple[str, ...] = tuple(s.name for s in SERVICES if s.events)  # behind the gateway
PACKAGES: tuple[str, ...] = (SHARED.name, *NAMES)  # every first-party package
PACKAGE_FOLDERS: tuple[str, ...] = (SHARED.folder, *(s.folder for s in SERVICES))
METRICS_PORT_BASE = 9100  # the gateway's /metrics; the backends' follow in order (common.metrics)


def service(name: str) -> Service:
    for candidate in SERVICES:
        if candidate.name == name:
            return candidate
    raise KeyError(name)


def metrics_port(name: str) -> int:
    """The default port a process serves /metrics on: 9100 for the gateway, then one per backend in
    the order above (catalog 9101 … fulfillment 9104), so a service added to the list gets the next."""
    ordered = (*(s.name for s in SERVICES if s.http_port is not None), *BACKENDS)
    if name not in ordered:
        raise KeyError(name)
    return METRICS_PORT_BASE + ordered.index(name)


def main(argv: list[str]) -> int:
    if argv not in ([], ["--backends"]):
        print("usage: python -m common.topology [--backends]", file=sys.stderr)
        return 2
    print("|".join(BACKENDS if argv else NAMES))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
