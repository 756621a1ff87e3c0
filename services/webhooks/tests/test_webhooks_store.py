"""The webhooks store on a real PostgreSQL: claims per endpoint, claim tokens, retention."""
from datetime import UTC, datetime, timedelta

from common.db import transaction
from webhooks import store

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def endpoint(cur, party: str = "channel:jd") -> int:
    return store.insert_endpoint(cur, party, "http://x.example/h", ["order.routed"], None, "whsec_x", NOW).id


def deliveries(cur, endpoint_id: int, n: int, at: datetime = NOW) -> list[int]:
    return [store.insert_delivery(cur, endpoint_id, f"00000000-0000-0000-0000-{endpoint_id:06d}{i:06d}",
                                  f"msg_{endpoint_id}_{i}", "order.routed", "{}", at) for i in range(n)]


def test_one_endpoints_backlog_hides_no_other_endpoints_delivery(webhooks_db):
    with transaction(webhooks_db) as cur:
        busy, quiet = endpoint(cur), endpoint(cur, "channel:tmall")
        deliveries(cur, busy, 300, NOW - timedelta(minutes=5))  # older than anything of the other
        [waiting] = deliveries(cur, quiet, 1)
    with transaction(webhooks_db) as cur:
        claimed = store.claim_due(cur, NOW, timedelta(seconds=30), 50, {busy: 2}, per_endpoint=2)
    assert [d.id for d in claimed] == [waiting]  # the busy endpoint is full; the other goes at once


def test_each_endpoint_gets_at_most_its_share_oldest_first(webhooks_db):
    with transaction(webhooks_db) as cur:
        a, b = endpoint(cur), endpoint(cur, "channel:tmall")
        ids_a, ids_b = deliveries(cur, a, 5), deliveries(cur, b, 5)
    with transaction(webhooks_db) as cur:
        claimed = store.claim_due(cur, NOW, timedelta(seconds=30), 50, {}, per_endpoint=2)
    assert sorted(d.id for d in claimed) == sorted(ids_a[:2] + ids_b[:2])
    with transaction(webhooks_db) as cur:  # leased ones are skipped; the next of each come after
        again = store.claim_due(cur, NOW, timedelta(seconds=30), 50, {}, per_endpoint=2)
    assert sorted(d.id for d in again) == sorted(ids_a[2:4] + ids_b[2:4])


def test_a_lapsed_claim_records_nothing(webhooks_db):
    with transaction(webhooks_db) as cur:
        e = endpoint(cur)
        deliveries(cur, e, 1)
    with transaction(webhooks_db) as cur:
        [first] = store.claim_due(cur, NOW, timedelta(seconds=30), 10, {}, 2)
    later = NOW + timedelta(seconds=31)  # the lease ran out: another claim takes it
    with transaction(webhooks_db) as cur:
        [second] = store.claim_due(cur, later, timedelta(seconds=30), 10, {}, 2)
    with transaction(webhooks_db) as cur:
        assert store.record_attempt(cur, second, later, 5, 200, None, "succeeded", None, later)
        assert not store.record_attempt(cur, first, later, 5, 500, "HTTP 500", "pending", later, later)
        [row] = store.deliveries(cur, e, None, None, 10)
    assert (row.status, row.attempt, row.response_status) == ("succeeded", 1, 200)


def test_settled_deliveries_older_than_the_retention_go_with_their_attempts(webhooks_db):
    with transaction(webhooks_db) as cur:
        e = endpoint(cur)
        old, recent, waiting = deliveries(cur, e, 3)
        cur.execute("UPDATE deliveries SET status = 'succeeded', updated_at = %s WHERE id = %s",
                    (NOW - timedelta(days=40), old))
        cur.execute("INSERT INTO attempts VALUES (%s, 1, %s, 5, 200, NULL)", (old, NOW - timedelta(days=40)))
        cur.execute("UPDATE deliveries SET status = 'failed', updated_at = %s WHERE id = %s",
                    (NOW - timedelta(days=2), recent))
        cur.execute("UPDATE deliveries SET updated_at = %s WHERE id = %s", (NOW - timedelta(days=90), waiting))
    with transaction(webhooks_db) as cur:
        assert store.purge_settled(cur, NOW - timedelta(days=30)) == 1
        left = {d.id for d in store.deliveries(cur, e, None, None, 10)}
        cur.execute("SELECT count(*) AS n FROM attempts")
        assert cur.fetchone()["n"] == 0
    assert left == {recent, waiting}  # a pending one stays however old: it may still go


def test_only_an_enabled_endpoint_makes_an_event_worth_loading(webhooks_db):
    with transaction(webhooks_db) as cur:
        store.insert_endpoint(cur, "channel:jd", "http://x.example/h", ["shipment.shipped"], None, "whsec_x", NOW)
        assert store.anyone_subscribed(cur, "shipment.shipped")
        cur.execute("UPDATE endpoints SET status = 'disabled' WHERE 'shipment.shipped' = ANY(events)")
        assert not store.anyone_subscribed(cur, "shipment.shipped")
