"""Configuration comes from the environment (through nameko's YAML ``${VAR:default}``) at start-up,
never at import time."""
from __future__ import annotations

import os

from nameko.extensions import DependencyProvider

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432"


def database_url(service: str, config: dict | None = None) -> str:
    """The service's own database: ``DATABASE_URL`` from config/env, else ``dcm_<service>``."""
    url = (config or {}).get("DATABASE_URL") or os.environ.get("DATABASE_URL")
    return url or f"{DEFAULT_PG}/dcm_{service}"


def setting(config: dict, key: str, default):
    value = config.get(key)
    if value in (None, ""):
        value = os.environ.get(key, default)
    return type(default)(value) if default is not None else value


class Settings(DependencyProvider):
    """Hands a worker the container's config (nameko's YAML, with ``${ENV:default}`` resolved)."""

    def get_dependency(self, worker_ctx):
        return self.container.config
