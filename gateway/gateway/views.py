"""Copies of distributors' catalog views (``GET /v1/catalog/products/{sku}``) kept in the gateway, so
the hottest read costs no RPC: pricing computes the view (the gateway decides no price) and says
until when it holds (``valid_until``: a scheduled price or promotion); the gateway keeps it

- by the version in its database (``catalog_view_version``), which every route that changes a
  product, a price, a tier, a promotion or a distributor moves before answering — so no replica
  serves a copy older than a change the API has acknowledged;
- only once its version has held for ``settle`` seconds (``CATALOG_VIEW_SETTLE_SECONDS``, default
  1): a product, tier or status change reaches pricing's read models by event a moment after the
  API acknowledged it, and an answer read in that moment must not be kept; the gateway asks
  pricing for it ``fresh`` (pricing reads the product and distributor from their owners first), so
  the view shows every change the API has acknowledged, whichever service it went through;
- until ``valid_until``; and at most ``ttl`` seconds (``CATALOG_VIEW_TTL_SECONDS``, default 2).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from nameko.extensions import DependencyProvider

from common.config import setting
from common.db import Statement

VERSION = Statement("gateway_catalog_view_version", "SELECT version FROM catalog_view_version WHERE id = 1", 0)
MAX_ENTRIES = 50_000
# the routes (by name) whose changes a distributor's catalog view can show: they move the version
CHANGING_ROUTES = frozenset({
    "create_product", "import_products", "update_product", "discontinue_product",  # the product
    "set_price", "set_tier", "create_promotion", "approve_promotion", "reject_promotion",  # its price
    "change_tier", "suspend_distributor", "reinstate_distributor", "terminate_distributor",  # the caller
})


def read_version(cur) -> int:
    VERSION.execute(cur)
    row = cur.fetchone()
    return row["version"] if row else 0


def bump_version(cur) -> None:
    cur.execute("UPDATE catalog_view_version SET version = version + 1 WHERE id = 1")


class ViewCache:
    """Answers by key, each valid for one version and until an instant (epoch seconds)."""

    def __init__(self, ttl: float = 2.0, max_entries: int = MAX_ENTRIES, settle: float = 1.0):
        self.ttl = ttl
        self.settle = settle
        self.max_entries = max_entries
        self._entries: dict[Any, tuple[int, float, Any]] = {}
        self._version: int | None = None
        self._since = 0.0  # when this process first saw ``_version``

    def get(self, key, version: int, now: float):
        if version != self._version:
            self._version, self._since = version, now
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] != version or now >= entry[1]:
            del self._entries[key]
            return None
        return entry[2]

    def settling(self, version: int, now: float) -> bool:
        """Whether a change (this version, moved less than ``settle`` seconds before this process
        saw it) may still be on its way to pricing's read models by event: an answer read now must
        be read fresh (from the product's and distributor's owners) and not kept."""
        return version != self._version or now - self._since < self.settle

    def put(self, key, version: int, answer, valid_until: str | None, now: float) -> None:
        if self.settling(version, now):
            return  # read while the change may still be on its way to pricing: not kept
        until = now + self.ttl
        if valid_until:
            until = min(until, datetime.fromisoformat(valid_until).timestamp())
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[key] = (version, until, answer)

    def clear(self) -> None:
        self._entries.clear()
        self._version = None


class CatalogViews(DependencyProvider):
    """The container's ``ViewCache`` (its ``ttl`` from ``CATALOG_VIEW_TTL_SECONDS``), shared by its
    workers (eventlet: no worker is interrupted between a look-up and its use)."""

    def setup(self):
        config = self.container.config
        self.cache = ViewCache(ttl=float(setting(config, "CATALOG_VIEW_TTL_SECONDS", 2.0)),
                               settle=float(setting(config, "CATALOG_VIEW_SETTLE_SECONDS", 1.0)))

    def get_dependency(self, worker_ctx):
        return self.cache
