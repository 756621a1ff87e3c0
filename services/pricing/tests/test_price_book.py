"""The price book alone: what it keeps, for which instants, and when it lets go (no database; the
guarded INSERT that makes it safe is tested in test_pricing_service.py)."""
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

from pricing import domain
from pricing.book import PriceBook
from pricing.domain import DistributorState, PriceEntry, ProductState, Promotion, QuoteInputs, Tier, VolumeBreak

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
GOLD = Tier("gold", D(35), (VolumeBreak(10, D(2)),))
DIST = DistributorState(7, "gold", "active", 1, False)


def price(sku: str, list_price: str = "100.00") -> PriceEntry:
    return PriceEntry(1, sku, D(list_price), D("50.00"), "CNY", T0 - timedelta(days=1), "m", T0)


def read(version: int = 5, skus=("A", "B"), promotions=(), next_change=None, distributor=DIST,
         statuses=None, tier=GOLD) -> QuoteInputs:
    """What ``store.quote_inputs`` gives for ``skus`` at inputs_version ``version``."""
    statuses = statuses or {}
    return QuoteInputs(distributor, {s: ProductState(s, statuses.get(s, "active"), 1) for s in skus},
                       {s: price(s) for s in skus if statuses.get(s) != "unpriced"}, tier,
                       list(promotions), 3, version, next_change)


def test_an_empty_book_knows_nothing():
    assert PriceBook().inputs(7, ["A"], T0) is None


def test_what_was_read_prices_a_quote_exactly_as_the_read_did():
    promo = Promotion(4, "Spring", D(10), T0 - timedelta(hours=1), T0 + timedelta(hours=1), ("A",), "approved")
    fresh = read(promotions=[promo], next_change=promo.ends_at)
    book = PriceBook()
    book.learn(7, fresh, T0)
    later = T0 + timedelta(minutes=5)
    kept = book.inputs(7, ["B", "A"], later)
    assert (kept.inputs_version, kept.price_version) == (5, 3)
    lines = [("B", 12), ("A", 1)]
    assert domain.quote(lines, kept.prices, kept.tier, kept.promotions, later, timedelta(minutes=15)) == \
        domain.quote(lines, fresh.prices, fresh.tier, fresh.promotions, later, timedelta(minutes=15))
    assert book.inputs(7, ["A"], later).promotions == [promo]
    assert book.inputs(7, ["B"], later).promotions == []  # the promotion covers A only


def test_any_sku_or_distributor_not_read_is_a_miss():
    book = PriceBook()
    book.learn(7, read(skus=("A",)), T0)
    assert book.inputs(7, ["A", "Z"], T0) is None
    assert book.inputs(8, ["A"], T0) is None
    book.learn(7, read(skus=("Z",)), T0)  # the same version: pieces add up
    assert set(book.inputs(7, ["A", "Z"], T0).prices) == {"A", "Z"}


def test_a_piece_is_trusted_from_the_instant_read_until_the_next_scheduled_change():
    change = T0 + timedelta(hours=2)  # a scheduled list price, or a promotion starting or ending
    book = PriceBook()
    book.learn(7, read(next_change=change), T0)
    assert book.inputs(7, ["A"], T0) is not None
    assert book.inputs(7, ["A"], change - timedelta(microseconds=1)) is not None
    assert book.inputs(7, ["A"], change) is None  # in force at exactly that instant
    assert book.inputs(7, ["A"], T0 - timedelta(microseconds=1)) is None  # before what it describes
    book.learn(7, read(next_change=None), T0)
    assert book.inputs(7, ["A"], T0 + timedelta(days=365)) is not None  # nothing scheduled


def test_a_newer_read_replaces_the_book_and_an_older_one_is_ignored():
    book = PriceBook()
    book.learn(7, read(version=5, skus=("A", "B")), T0)
    book.learn(7, read(version=6, skus=("A",)), T0)
    assert book.version == 6
    assert book.inputs(7, ["B"], T0) is None  # read at 5: gone with it
    book.learn(7, read(version=4, skus=("B",)), T0)  # a slower read that finished later
    assert (book.version, book.inputs(7, ["B"], T0)) == (6, None)
    book.learn(7, read(version=None, skus=("B",)), T0)  # a catalog view's read: no version to keep it by
    assert (book.version, book.inputs(7, ["B"], T0)) == (6, None)


def test_forgetting_drops_everything():
    book = PriceBook()
    book.learn(7, read(), T0)
    book.forget()
    assert (book.version, len(book), book.inputs(7, ["A"], T0)) == (None, 0, None)


def test_only_what_a_quote_can_be_priced_from_is_kept():
    book = PriceBook()
    book.learn(7, read(skus=("A", "D", "X", "U"),
                       statuses={"D": "draft", "X": "discontinued", "U": "unpriced"}), T0)
    assert book.inputs(7, ["A"], T0) is not None
    for sku in ("D", "X", "U"):
        assert book.inputs(7, [sku], T0) is None
    for distributor, tier in ((DIST._replace(status="suspended"), GOLD), (DIST, None),
                              (DIST._replace(tier="silver"), GOLD)):
        other = PriceBook()
        other.learn(7, read(distributor=distributor, tier=tier), T0)
        assert other.inputs(7, ["A"], T0) is None


def test_the_book_stays_within_its_bounds_dropping_the_oldest_pieces():
    book = PriceBook(max_skus=3, max_distributors=2)
    for i in range(5):
        book.learn(i, read(skus=(f"S{i}",), distributor=DIST._replace(id=i)), T0)
    assert len(book) == 3 + 2
    assert book.inputs(4, ["S4", "S3", "S2"], T0) is not None
    assert book.inputs(4, ["S1"], T0) is None and book.inputs(2, ["S4"], T0) is None
