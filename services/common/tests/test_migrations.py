"""Each service's migrations apply cleanly to an empty database, twice without effect the second time,
and yield the tables its code uses."""
import psycopg2
import pytest

from common.migrate import migrate
from common.testing import fresh_database

EXPECTED = {
    "catalog": {"products", "outbox", "processed_events"},
    "distributors": {"applications", "distributors", "distributor_history", "locations", "outbox",
                     "processed_events"},
    "pricing": {"price_version", "list_prices", "tiers", "green_channel", "promotions", "quotes",
                "observations", "products", "distributors", "outbox", "processed_events"},
    "fulfillment": {"distributors", "locations", "stock", "orders", "assignments", "outbox",
                    "processed_events"},
    "gateway": {"api_keys", "idempotency_keys"},
}


@pytest.mark.parametrize("service", sorted(EXPECTED))
def test_migrations_apply_to_an_empty_database(pg_server, service):
    url = fresh_database(pg_server, f"dcm_test_migrate_{service}", None)
    assert migrate(service, url) >= 1
    assert migrate(service, url) == 0
    conn = psycopg2.connect(url)
    with conn, conn.cursor() as cur:
        cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        tables = {r[0] for r in cur.fetchall()}
    conn.close()
    assert EXPECTED[service] <= tables
