"""`make check` finds what breaks the invariants, on real databases and a real broker."""
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from kombu import Connection, Producer, Queue

from common.check import SERVICES, check_all
from common.db import transaction
from common.entrypoints import dead_letter_queue
from common.migrate import drop_database
from common.testing import RUN_ID, fresh_database, truncate_all


@pytest.fixture(scope="module")
def urls(pg_server):
    made = {s: fresh_database(pg_server, f"dcm_check_{RUN_ID}_{s}", s) for s in SERVICES}
    yield made
    for url in made.values():
        drop_database(url)


@pytest.fixture
def emptied(urls):
    for url in urls.values():
        truncate_all(url)
    return urls


def stock_and_assignment(url, on_hand, reserved, open_qty, status="pending"):
    now = datetime.now(UTC)
    with transaction(url) as cur:
        cur.execute("INSERT INTO stock VALUES (7, 'A', %s, %s, %s)", (on_hand, reserved, now))
        cur.execute("INSERT INTO orders (channel, external_id, ship_to, geocode, lat, lon, lines, retail, "
                    "substitutes, retail_total, status, created_at, updated_at) VALUES ('tmall', 'x', "
                    "'{}', '{\"precision\": \"given\"}', 31, 121, %s, '{}', '{}', 0, 'routed', %s, %s) "
                    "RETURNING id",
                    (json.dumps([{"sku": "A", "qty": open_qty}]), now, now))
        order_id = cur.fetchone()["id"]
        cur.execute("INSERT INTO assignments (order_id, distributor_id, location_id, distance_km, "
                    "lines, status, created_at, updated_at) VALUES (%s, 1, 7, 1.0, %s, %s, %s, %s)",
                    (order_id, json.dumps([{"sku": "A", "qty": open_qty}]), status, now, now))


def test_a_consistent_system_has_no_problems(emptied, amqp_uri):
    stock_and_assignment(emptied["fulfillment"], on_hand=5, reserved=2, open_qty=2)
    assert check_all(emptied, amqp_uri) == []


def test_reserved_other_than_the_open_assignments_is_reported(emptied):
    stock_and_assignment(emptied["fulfillment"], on_hand=5, reserved=3, open_qty=2)
    problems = [str(p) for p in check_all(emptied, None)]
    assert problems == ["fulfillment.stock: location 7 sku A: on_hand=5 reserved=3 but open "
                        "assignments hold 2"]


def test_an_order_line_neither_placed_nor_backordered_is_reported(emptied):
    stock_and_assignment(emptied["fulfillment"], on_hand=5, reserved=0, open_qty=2, status="rejected")
    problems = [str(p) for p in check_all(emptied, None)]
    assert problems == ["fulfillment.orders: order 1 sku A: ordered 2, placed 0, back-ordered 0"]


def test_a_shipment_without_settlement_and_a_statement_off_its_lines_are_reported(emptied):
    url = emptied["fulfillment"]
    stock_and_assignment(url, on_hand=5, reserved=0, open_qty=2, status="shipped")
    with transaction(url) as cur:
        cur.execute("INSERT INTO statements (distributor_id, period, lines, gross, commission, net) "
                    "VALUES (1, '2026-11', 1, 10.00, 0, 10.00)")
    problems = [str(p) for p in check_all(emptied, None)]
    assert problems == [
        "fulfillment.statements: distributor 1 2026-11: statement says 1 lines, gross 10.00, net 10.00; "
        "its lines sum to 0, 0, 0",
        "fulfillment.settlement: assignment 1 shipped but not settled"]


def test_an_old_unpublished_event_and_a_stale_read_model_are_reported(emptied):
    old = datetime.now(UTC) - timedelta(minutes=5)
    with transaction(emptied["catalog"]) as cur:
        cur.execute("INSERT INTO outbox (event_id, event_type, payload, occurred_at) "
                    "VALUES (%s, 'product_changed', '{}', %s)", (uuid.uuid4(), old))
        cur.execute("INSERT INTO products (sku, name, category, lifecycle, status, created_at, "
                    "updated_at) VALUES ('A', 'Towel', 'towels', 'new', 'discontinued', %s, %s)",
                    (old, old))
    with transaction(emptied["pricing"]) as cur:
        cur.execute("INSERT INTO products VALUES ('A', 'active', 1)")
        cur.execute("INSERT INTO products VALUES ('GHOST', 'active', 1)")
    problems = [str(p) for p in check_all(emptied, None)]
    assert any(p.startswith("catalog.outbox: 1 events unpublished") for p in problems), problems
    assert "pricing.products: A.status: owner says 'discontinued', read model 'active'" in problems
    assert "pricing.products: GHOST is in the read model but not at its owner" in problems


def test_dead_letters_are_reported(emptied, amqp_uri):
    with Connection(amqp_uri) as conn:
        producer = Producer(conn.channel())
        queue = dead_letter_queue("pricing")
        Queue(queue, durable=True)(conn.channel()).declare()
        producer.publish({"x": 1}, routing_key=queue)
    problems = [str(p) for p in check_all(emptied, amqp_uri)]
    assert problems == ["pricing.dead-letters: 1 events wait (make dead-letters)"]
