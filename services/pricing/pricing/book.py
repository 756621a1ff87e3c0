"""The price book: what quotes read, kept in process and trusted only as far as PostgreSQL confirms.

A quote needs its distributor (status, tier), each SKU's product status and list price in force, and
the promotions live for those SKUs. Reading them costs a statement per quote; the book keeps them
instead, in pieces (one per distributor, one per SKU), all read at one value of ``inputs_version``,
the counter every change to those tables moves in its own transaction (migration 0003). A quote
priced from the book is stored by an INSERT that happens only if the counter still has that value in
the INSERT's snapshot (``store.insert_quotes``) — so nothing the quote read has changed
since, and the quote reflects every change acknowledged before it was stored, on any replica.
Otherwise the book is dropped and the quote is priced again from a fresh read.

Time changes prices without a write (a scheduled list price, a promotion starting or ending), so each
SKU piece is trusted only from the instant it describes until the next such change among the SKUs it
was read with. Only what a quote can be priced from is kept (active distributors with their tier,
active and priced products): anything else — a refusal, a read-model miss — takes the reading path.

Pure: no I/O, time passed in. One book per service container (``Book``), since its versions belong
to that container's database."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from nameko.extensions import DependencyProvider

from pricing.domain import DistributorState, PriceEntry, ProductState, Promotion, QuoteInputs, Tier


@dataclass(frozen=True)
class _Sku:
    product: ProductState
    price: PriceEntry
    promotions: tuple[Promotion, ...]  # the promotions live at ``since`` that cover this SKU
    since: datetime  # the instant read; trusted from here ...
    until: datetime | None  # ... to the next scheduled change (None: none scheduled)


@dataclass(frozen=True)
class _Distributor:
    distributor: DistributorState
    tier: Tier


class PriceBook:
    """Pieces of quote inputs, all read at ``version``; bounded in size (oldest pieces go first)."""

    def __init__(self, max_skus: int = 100_000, max_distributors: int = 20_000):
        self.max_skus = max_skus
        self.max_distributors = max_distributors
        self.version: int | None = None
        self.price_version: int | None = None
        self._skus: dict[str, _Sku] = {}
        self._distributors: dict[int, _Distributor] = {}

    def inputs(self, distributor_id: int, skus: list[str], at: datetime) -> QuoteInputs | None:
        """Everything a quote by ``distributor_id`` for ``skus`` at ``at`` needs, or None when any of
        it is missing or its time has passed (read it, then ``learn``)."""
        if self.version is None:
            return None
        distributor = self._distributors.get(distributor_id)
        if distributor is None:
            return None
        products, prices, promotions = {}, {}, {}
        for sku in skus:
            piece = self._skus.get(sku)
            if piece is None or at < piece.since or (piece.until is not None and at >= piece.until):
                return None
            products[sku] = piece.product
            prices[sku] = piece.price
            for promotion in piece.promotions:
                promotions[promotion.id] = promotion
        return QuoteInputs(distributor.distributor, products, prices, distributor.tier,
                           list(promotions.values()), self.price_version, self.version, None)

    def learn(self, distributor_id: int, inputs: QuoteInputs, at: datetime) -> None:
        """Keep what ``inputs`` (read for the instant ``at``) can price a quote from. A read at a newer
        version replaces the whole book; one at an older version than the book's is ignored."""
        if inputs.inputs_version is None:  # read without the book's columns (a catalog view)
            return
        if self.version is not None and inputs.inputs_version < self.version:
            return
        if inputs.inputs_version != self.version:
            self.forget()
            self.version, self.price_version = inputs.inputs_version, inputs.price_version
        distributor = inputs.distributor
        if (distributor is not None and distributor.status == "active" and inputs.tier is not None
                and distributor.tier == inputs.tier.name):
            _put(self._distributors, distributor_id, _Distributor(distributor, inputs.tier),
                 self.max_distributors)
        for sku, product in inputs.products.items():
            price = inputs.prices.get(sku)
            if product.status != "active" or price is None:
                continue
            covering = tuple(p for p in inputs.promotions if p.covers(sku))
            _put(self._skus, sku, _Sku(product, price, covering, at, inputs.next_change), self.max_skus)

    def forget(self) -> None:
        """Drop everything: something the book holds has changed (the guarded INSERT said so)."""
        self.version = self.price_version = None
        self._skus.clear()
        self._distributors.clear()

    def __len__(self) -> int:
        return len(self._skus) + len(self._distributors)


def _put(pieces: dict, key, piece, limit: int) -> None:
    pieces.pop(key, None)
    while len(pieces) >= limit:
        del pieces[next(iter(pieces))]
    pieces[key] = piece


class Book(DependencyProvider):
    """The container's price book, shared by its workers (eventlet: no worker is interrupted
    between two of the book's lines)."""

    def setup(self) -> None:
        self.book = PriceBook()

    def get_dependency(self, worker_ctx) -> PriceBook:
        return self.book
