"""An in-memory unit of work for pricing's handlers: the operations of ``SqlUnitOfWork`` on Python
collections, the events it announced in ``events``, and fakes of its ports (the catalog, the
distributors service, the quote writer). test_pricing_handlers.py holds its operations' names and
parameters equal to the SQL one's."""
from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from common.contracts import dump
from distributors.errors import DistributorNotFound
from pricing import domain
from pricing.book import PriceBook
from pricing.domain import (
    DistributorState,
    GreenChannel,
    Observation,
    PriceEntry,
    ProductState,
    Promotion,
    PromotionRecord,
    QuoteInputs,
    Tier,
)


class FakeCatalog:
    """The catalog's ``get_products``: the documents it knows; ``asked`` records each call."""

    def __init__(self, documents: Iterable[dict] = ()):
        self.documents = {d["sku"]: d for d in documents}
        self.asked: list[list[str]] = []

    def get_products(self, skus: list[str]) -> dict[str, dict]:
        self.asked.append(list(skus))
        return {s: self.documents[s] for s in skus if s in self.documents}


class FakeDistributors:
    """The distributors service's ``get_profile``; ``asked`` records each call."""

    def __init__(self, profiles: Iterable[dict] = ()):
        self.profiles = {p["id"]: p for p in profiles}
        self.asked: list[int] = []

    def get_profile(self, distributor_id: int) -> dict:
        self.asked.append(distributor_id)
        if distributor_id not in self.profiles:
            raise DistributorNotFound(f"distributor {distributor_id} not found")
        return self.profiles[distributor_id]


class FakeQuotes:
    """The quote writer: stores a quote unless it was priced at an ``inputs_version`` that is no
    longer the unit of work's (the guarded INSERT's rule)."""

    def __init__(self, uow: InMemoryUnitOfWork):
        self._uow = uow
        self.stored: list[tuple[int, dict, datetime]] = []

    def store(self, distributor_id: int, body: dict, created_at: datetime,
              inputs_version: int | None = None) -> int | None:
        if inputs_version is not None and inputs_version != self._uow.inputs_version:
            return None
        self.stored.append((distributor_id, body, created_at))
        return len(self.stored)


class InMemoryUnitOfWork:
    def __init__(self, catalog: FakeCatalog | None = None, distributors: FakeDistributors | None = None):
        self.catalog = catalog or FakeCatalog()
        self.distributors = distributors or FakeDistributors()
        self.book = PriceBook()
        self.quotes = FakeQuotes(self)
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.processed: set[tuple[str, str]] = set()
        self.standalone_reads = False  # whether a handler asked for standalone reads (quotes, views)
        self.inputs_version = 1  # moves with every change a quote could read (migration 0003)
        self._products: dict[str, ProductState] = {}
        self._distributors: dict[int, DistributorState] = {}
        self._prices: list[PriceEntry] = []
        self._price_version = 1
        self._tiers = {name: Tier(name, pct) for name, pct in domain.DEFAULT_TIERS.items()}
        self._green = GreenChannel()
        self._promotions: dict[int, PromotionRecord] = {}
        self._observations: list[dict] = []

    def _changed(self) -> None:
        self.inputs_version += 1

    def standalone(self) -> None:
        self.standalone_reads = True

    # ---- messages ------------------------------------------------------------------------------

    def add_event(self, event: Any) -> None:
        self.events.append(dump(event))  # (event_type, payload) through its contract, as the SQL one

    def first_delivery(self, consumer: str, event_id: str) -> bool:
        if (consumer, event_id) in self.processed:
            return False
        self.processed.add((consumer, event_id))
        return True

    # ---- read models ---------------------------------------------------------------------------

    def products(self, skus: Iterable[str]) -> dict[str, ProductState]:
        return {s: self._products[s]._replace(document=None) for s in skus if s in self._products}

    def upsert_product(self, product: dict) -> None:
        kept = self._products.get(product["sku"])
        if kept is None or kept.version < product["version"] or (
                kept.version == product["version"] and kept.document is None):
            self._products[product["sku"]] = ProductState(product["sku"], product["status"], product["version"],
                                                          product)
            self._changed()

    def distributor(self, distributor_id: int) -> DistributorState | None:
        return self._distributors.get(distributor_id)

    def upsert_distributor(self, distributor_id: int, tier: str, status: str, version: int) -> None:
        kept = self._distributors.get(distributor_id)
        if kept is None:
            self._distributors[distributor_id] = DistributorState(distributor_id, tier, status, version, False)
        elif kept.version < version:
            self._distributors[distributor_id] = kept._replace(tier=tier, status=status, version=version)
        else:
            return
        self._changed()

    def flag_distributor(self, distributor_id: int) -> None:
        self._distributors[distributor_id] = self._distributors[distributor_id]._replace(flagged_for_review=True)
        self._changed()

    # ---- list prices ---------------------------------------------------------------------------

    def insert_price(self, sku: str, fields: dict, actor: str, now: datetime) -> None:
        self._prices.append(PriceEntry(len(self._prices) + 1, sku, fields["list_price"], fields["floor_price"],
                                       fields["currency"], fields["effective_from"], actor, now))
        self._changed()

    def price_entries(self, skus: Iterable[str]) -> dict[str, list[PriceEntry]]:
        out: dict[str, list[PriceEntry]] = {s: [] for s in skus}
        for e in sorted(self._prices, key=lambda e: (e.sku, e.effective_from, e.id)):
            if e.sku in out:
                out[e.sku].append(e)
        return out

    def bump_price_version(self) -> int:
        self._price_version += 1
        return self._price_version

    def price_version(self) -> int:
        return self._price_version

    # ---- tiers and the green channel -----------------------------------------------------------

    def tiers(self) -> list[Tier]:
        return sorted(self._tiers.values(), key=lambda t: (-t.discount_pct, t.name))

    def tier(self, name: str) -> Tier | None:
        t = self._tiers.get(name)
        return t and dataclasses.replace(t, volume_breaks=tuple(sorted(t.volume_breaks, key=lambda b: b.min_qty)))

    def save_tier(self, t: Tier, actor: str, now: datetime) -> None:
        self._tiers[t.name] = t
        self._changed()

    def green_channel(self) -> GreenChannel:
        return self._green

    def save_green_channel(self, g: GreenChannel, actor: str, now: datetime) -> None:
        self._green = g

    # ---- promotions ----------------------------------------------------------------------------

    def insert_promotion(self, fields: dict, status: str, green: bool, actor: str, now: datetime) -> PromotionRecord:
        skus = fields.get("skus")
        promotion = PromotionRecord(len(self._promotions) + 1, fields["name"], fields["discount_pct"],
                                    fields["starts_at"], fields["ends_at"], tuple(skus) if skus else None, status,
                                    green, actor, now)
        self._promotions[promotion.id] = promotion
        self._changed()
        return promotion

    def promotion(self, promotion_id: int, for_update: bool = False) -> PromotionRecord | None:
        return self._promotions.get(promotion_id)

    def decide_promotion(self, promotion_id: int, status: str, actor: str, now: datetime,
                         reason: str | None) -> PromotionRecord:
        promotion = dataclasses.replace(self._promotions[promotion_id], status=status, decided_by=actor,
                                        decided_at=now, reason=reason)
        self._promotions[promotion_id] = promotion
        self._changed()
        return promotion

    def list_promotions(self, status: str | None, after: int | None, limit: int) -> list[PromotionRecord]:
        rows = [p for i, p in sorted(self._promotions.items())
                if (not status or p.status == status) and (after is None or i > after)]
        return rows[:limit + 1]

    def _live(self, skus: list[str], at: datetime) -> list[PromotionRecord]:
        return [p for p in self._promotions.values() if p.status == domain.APPROVED and p.starts_at <= at < p.ends_at
                and (p.skus is None or set(p.skus) & set(skus))]

    def live_promotions(self, skus: Iterable[str], at: datetime) -> list[Promotion]:
        return [Promotion(p.id, p.name, p.discount_pct, p.starts_at, p.ends_at, p.skus, p.status)
                for p in self._live(list(skus), at)]

    # ---- quotes --------------------------------------------------------------------------------

    def quote_inputs(self, distributor_id: int, skus: list[str], at: datetime, *, documents: bool = False,
                     book: bool = False) -> QuoteInputs:
        distributor = self._distributors.get(distributor_id)
        products = {s: p if documents else p._replace(document=None)
                    for s in skus if (p := self._products.get(s)) is not None}
        entries = self.price_entries(skus)
        prices = {s: e for s in skus if (e := domain.price_in_force(entries[s], at)) is not None}
        tier = self.tier(distributor.tier) if distributor else None
        next_change = None
        if book:
            changes = [e.effective_from for e in self._prices if e.sku in skus and e.effective_from > at]
            changes += [p.starts_at if p.starts_at > at else p.ends_at for p in self._promotions.values()
                        if p.status == domain.APPROVED and p.ends_at > at
                        and (p.skus is None or set(p.skus) & set(skus))]
            next_change = min(changes, default=None)
        return QuoteInputs(distributor, products, prices, tier, self.live_promotions(skus, at), self._price_version,
                           self.inputs_version if book else None, next_change)

    # ---- observations --------------------------------------------------------------------------

    def insert_observation(self, fields: dict, distributor_id: int | None, check, actor: str, now: datetime) -> int:
        self._observations.append({**fields, "id": len(self._observations) + 1, "distributor_id": distributor_id,
                                   "check": check})
        return len(self._observations)

    def _observation(self, o: dict) -> Observation:
        distributor = self._distributors.get(o["distributor_id"])
        check = o["check"]
        return Observation(o["id"], o["channel"], o["seller"], o["distributor_id"], o["sku"], o["observed_price"],
                           o["observed_at"], o["source_url"], check.result, check.direction, check.expected_price,
                           check.deviation_pct, bool(distributor and distributor.flagged_for_review))

    def observation(self, observation_id: int) -> Observation | None:
        return self._observation(self._observations[observation_id - 1])

    def violation_times(self, seller: str, since: datetime, until: datetime) -> list[datetime]:
        return [o["observed_at"] for o in self._observations if o["seller"] == seller
                and o["check"].result == "violation" and since < o["observed_at"] <= until]

    def list_violations(self, filters: dict, after: list | None, limit: int) -> list[Observation]:
        rows = sorted((self._observation(o) for o in self._observations if o["check"].result == "violation"),
                      key=lambda o: (o.seller, o.observed_at, o.id))
        for key in ("distributor_id", "seller", "sku"):
            if filters.get(key):
                rows = [o for o in rows if getattr(o, key) == filters[key]]
        if filters.get("since"):
            rows = [o for o in rows if o.observed_at >= filters["since"]]
        if filters.get("until"):
            rows = [o for o in rows if o.observed_at < filters["until"]]
        if after is not None:
            cursor = (after[0], datetime.fromisoformat(after[1]), after[2])
            rows = [o for o in rows if (o.seller, o.observed_at, o.id) > cursor]
        return rows[:limit + 1]


def product(sku: str, status: str = "active", version: int = 1) -> dict:
    """A product document as the catalog dumps it (its events carry it whole: catalog.events)."""
    return {"sku": sku, "name": sku.lower(), "category": "towels", "lifecycle": "classic", "hero": False,
            "attributes": {}, "substitutes": [], "status": status, "version": version,
            "created_at": "2026-11-01T00:00:00+00:00", "updated_at": "2026-11-01T00:00:00+00:00"}


def profile(distributor_id: int, tier: str = "gold", status: str = "active", version: int = 1) -> dict:
    """A distributor as its own view shows it (its events carry it whole: distributors.events)."""
    return {"id": distributor_id, "company_name": f"Distributor {distributor_id}",
            "credit_code": "91310000MA1FL0000X", "tier": tier, "status": status, "province": "Shanghai",
            "city": "Shanghai", "locations": [], "version": version}

