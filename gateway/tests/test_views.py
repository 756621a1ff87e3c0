"""The gateway's copies of catalog views: kept for one version, until pricing's valid_until, at most ttl."""
from datetime import UTC, datetime

import gateway.service  # noqa: F401  (declares the routes)
from gateway.http import ROUTES
from gateway.views import CHANGING_ROUTES, ViewCache

T = 1_800_000_000.0


def settled(cache: ViewCache, version: int) -> ViewCache:
    """The cache as it is once ``version`` has held for its settling time."""
    cache.get("-", version, T - cache.settle)
    return cache


def test_a_copy_holds_for_its_version_only():
    cache = settled(ViewCache(ttl=2.0), 3)
    cache.put(("7", "A"), 3, {"sku": "A"}, None, T)
    assert cache.get(("7", "A"), 3, T + 1) == {"sku": "A"}
    assert cache.get(("7", "A"), 4, T + 1) is None
    assert cache.get(("7", "A"), 3, T + 1) is None  # dropped once another version was asked for


def test_a_copy_expires_at_the_ttl_or_when_pricing_says_it_changes():
    cache = settled(ViewCache(ttl=2.0), 1)
    cache.put("a", 1, "x", None, T)
    assert cache.get("a", 1, T + 1.99) == "x" and cache.get("a", 1, T + 2.0) is None
    change = datetime.fromtimestamp(T + 0.5, UTC).isoformat()
    cache.put("b", 1, "y", change, T)
    assert cache.get("b", 1, T + 0.49) == "y" and cache.get("b", 1, T + 0.5) is None


def test_an_answer_read_just_after_a_change_is_not_kept():
    """pricing learns some changes by event a moment after the API acknowledged them."""
    cache = ViewCache(ttl=2.0, settle=1.0)
    assert cache.get("a", 5, T) is None  # version 5 first seen now
    cache.put("a", 5, "maybe stale", None, T + 0.5)
    assert cache.get("a", 5, T + 0.6) is None
    cache.put("a", 5, "settled", None, T + 1.0)
    assert cache.get("a", 5, T + 1.1) == "settled"


def test_a_view_is_read_fresh_while_a_change_may_be_on_its_way():
    cache = ViewCache(ttl=2.0, settle=1.0)
    assert cache.settling(5, T)  # a version this process has not seen yet
    cache.get("a", 5, T)
    assert cache.settling(5, T + 0.99) and not cache.settling(5, T + 1.0)
    assert cache.settling(6, T + 5)  # moved again
    cache.clear()
    assert cache.settling(5, T + 9)


def test_a_full_cache_starts_again():
    cache = settled(ViewCache(ttl=10, max_entries=2), 1)
    for key in "abc":
        cache.put(key, 1, key, None, T)
    assert cache.get("c", 1, T) == "c" and cache.get("a", 1, T) is None


def test_every_route_named_as_changing_views_exists():
    assert CHANGING_ROUTES <= {spec.name for spec in ROUTES}
