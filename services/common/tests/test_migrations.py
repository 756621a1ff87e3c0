"""Each service's migrations apply cleanly to an empty database, twice without effect the second time,
and yield the tables its code uses; the outbox tables, defined once in common/migrations, come out the
same in every service that owns events, on a fresh database and on one migrated before they moved."""
from decimal import Decimal

import psycopg2
import pytest
from yoyo import get_backend, read_migrations

from common import topology
from common.migrate import COMMON_MIGRATIONS, drop_database, ensure_database, migrate, migrations_dir
from common.testing import RUN_ID, fresh_database, query

EXPECTED = {
    "catalog": {"products", "outbox", "processed_events"},
    "distributors": {"applications", "distributors", "distributor_history", "locations", "outbox",
                     "processed_events"},
    "pricing": {"price_version", "list_prices", "tiers", "green_channel", "promotions", "quotes",
                "observations", "products", "distributors", "outbox", "processed_events"},
    "fulfillment": {"distributors", "locations", "stock", "orders", "assignments", "outbox",
                    "processed_events", "channel_rates", "statements", "settlement_lines"},
    "webhooks": {"endpoints", "deliveries", "attempts", "outbox", "processed_events"},
    "gateway": {"api_keys", "idempotency_keys"},
}
OUTBOX_TABLES = ("outbox", "processed_events")
OUTBOX_COLUMNS = {
    "outbox": [("id", "bigint", "NO"), ("event_id", "uuid", "NO"), ("event_type", "text", "NO"),
               ("payload", "jsonb", "NO"), ("occurred_at", "timestamp with time zone", "NO"),
               ("published_at", "timestamp with time zone", "YES")],
    "processed_events": [("consumer", "text", "NO"), ("event_id", "uuid", "NO"),
                         ("processed_at", "timestamp with time zone", "NO")],
}


def tables(url: str) -> set[str]:
    return {r[0] for r in query(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}


def schema(url: str, only: tuple[str, ...] | None = None) -> dict[str, list[tuple]]:
    """Columns, indexes and constraints of the public tables (or of ``only``), comparable across
    databases (no OIDs, nothing named after the database)."""
    only = list(only or sorted(tables(url)))
    return {
        "columns": query(url, "SELECT table_name, column_name, data_type, is_nullable, column_default "
                               "FROM information_schema.columns WHERE table_schema = 'public' "
                               "AND table_name = ANY(%s) ORDER BY table_name, ordinal_position", (only,)),
        "indexes": query(url, "SELECT tablename, indexname, indexdef FROM pg_indexes "
                               "WHERE schemaname = 'public' AND tablename = ANY(%s) ORDER BY 1, 2", (only,)),
        "constraints": query(url, "SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid) "
                                   "FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace "
                                   "WHERE n.nspname = 'public' AND c.conrelid::regclass::text = ANY(%s) "
                                   "ORDER BY 1, 2", (only,)),
    }


def test_every_service_is_covered():
    assert set(EXPECTED) == set(topology.NAMES)


@pytest.fixture
def empty_database(pg_server):
    """An empty database of this run's (``dcm_test_migrate_<run>_<name>``), dropped afterwards."""
    made = []

    def make(name: str) -> str:
        made.append(fresh_database(pg_server, f"dcm_test_migrate_{RUN_ID}_{name}", None))
        return made[-1]

    yield make
    for url in made:
        drop_database(url)


@pytest.mark.parametrize("service", sorted(EXPECTED))
def test_migrations_apply_to_an_empty_database(empty_database, service):
    url = empty_database(service)
    assert migrate(service, url) >= 1
    assert migrate(service, url) == 0
    assert EXPECTED[service] <= tables(url)


@pytest.fixture(scope="module")
def migrated(pg_server):
    """A freshly migrated database of every service."""
    made = {s: fresh_database(pg_server, f"dcm_test_migrated_{RUN_ID}_{s}", s) for s in topology.NAMES}
    yield made
    for url in made.values():
        drop_database(url)


def test_the_outbox_tables_are_the_same_in_every_service_that_owns_events(migrated):
    assert len(topology.BACKENDS) > 1
    first, *others = topology.BACKENDS
    reference = schema(migrated[first], OUTBOX_TABLES)
    columns = {t: [c[1:4] for c in reference["columns"] if c[0] == t] for t in OUTBOX_TABLES}
    assert columns == OUTBOX_COLUMNS
    assert {i[1] for i in reference["indexes"]} >= {"outbox_unpublished_idx"}
    for service in others:
        assert schema(migrated[service], OUTBOX_TABLES) == reference, service


def test_a_service_without_events_gets_no_outbox(migrated):
    for service in set(topology.NAMES) - set(topology.BACKENDS):
        assert not set(OUTBOX_TABLES) & tables(migrated[service]), service


@pytest.mark.parametrize("service", topology.BACKENDS)
def test_the_common_migrations_apply_first(migrated, service):
    applied = [r[0] for r in query(migrated[service], "SELECT migration_id FROM _yoyo_migration "
                                                       "ORDER BY applied_at_utc, migration_id")]
    common = sorted(p.stem for p in COMMON_MIGRATIONS.glob("*.sql"))
    assert common and applied[:len(common)] == common
    assert set(applied[len(common):]) == {p.stem for p in migrations_dir(service).glob("*.sql")}


@pytest.mark.parametrize("service", topology.BACKENDS)
def test_a_database_migrated_before_the_outbox_moved_to_common_upgrades_to_the_same_schema(
        empty_database, migrated, service):
    """Before common/migrations each service's 0001 created the outbox tables itself: such a database
    has them, and yoyo's history has the service's migrations only. The common migration is then
    recorded as applied without changing anything."""
    url = empty_database(f"legacy_{service}")
    ensure_database(url)
    backend = get_backend(url)
    with backend.lock():
        backend.apply_migrations(backend.to_apply(read_migrations(str(migrations_dir(service)))))
    conn = psycopg2.connect(url)  # what the old 0001 files did, with the same statements
    with conn, conn.cursor() as cur:
        for path in sorted(COMMON_MIGRATIONS.glob("*.sql")):
            cur.execute(path.read_text().replace(" IF NOT EXISTS", ""))
    conn.close()
    before = schema(url)
    assert migrate(service, url) == len(list(COMMON_MIGRATIONS.glob("*.sql")))
    assert schema(url) == before == schema(migrated[service])


def test_shipments_from_before_settlement_are_settled_by_its_migration(empty_database):
    """fulfillment 0005 settles the assignments shipped before it existed (0 % commission, in the
    month they shipped), so `make check` finds every shipment settled once."""
    url = empty_database("settlement_backfill")
    ensure_database(url)
    backend = get_backend(url)
    every = read_migrations(str(COMMON_MIGRATIONS), str(migrations_dir("fulfillment")))
    with backend.lock():
        backend.apply_migrations(backend.to_apply(every.filter(lambda m: m.id < "0005")))
    conn = psycopg2.connect(url)
    with conn, conn.cursor() as cur:
        cur.execute("INSERT INTO orders (channel, external_id, ship_to, geocode, lat, lon, lines, retail, "
                    "substitutes, retail_total, status, created_at, updated_at) VALUES ('tmall', 'TM-1', '{}', "
                    "'{}', 31, 121, '[]', '{\"A\": \"33.33\", \"B\": \"10.00\"}', '{}', 109.99, 'shipped', "
                    "now(), now()) RETURNING id")
        order_id = cur.fetchone()[0]
        cur.execute("INSERT INTO assignments (order_id, distributor_id, location_id, distance_km, lines, status, "
                    "created_at, updated_at) VALUES (%s, 4, 7, 1.0, "
                    "'[{\"sku\": \"A\", \"qty\": 3}, {\"sku\": \"B\", \"qty\": 1}]', 'shipped', "
                    "'2026-10-31T16:30:00Z', '2026-10-31T16:30:00Z')", (order_id,))
    conn.close()
    assert migrate("fulfillment", url) >= 1
    assert query(url, "SELECT distributor_id, period, lines, gross, commission, net FROM statements") == [
        (4, "2026-11", 2, Decimal("109.99"), Decimal("0.00"), Decimal("109.99"))]
    assert query(url, "SELECT sku, qty, unit_price, gross, net FROM settlement_lines ORDER BY sku") == [
        ("A", 3, Decimal("33.33"), Decimal("99.99"), Decimal("99.99")),
        ("B", 1, Decimal("10.00"), Decimal("10.00"), Decimal("10.00"))]
