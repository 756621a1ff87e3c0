"""A stalled service costs a caller at most RPC_TIMEOUT_SECONDS, then a 504 naming the service; the
others keep answering, and the stalled one answers again as soon as it resumes."""
import os
import signal
import time

import psycopg2
import pytest
import requests

from common.testing import running_system, service_env, start, wait_ready, wait_until

LIMIT = 2.0


@pytest.fixture(scope="module")
def timed(pg_server, rabbit, tmp_path_factory):
    with running_system(pg_server, rabbit, tmp_path_factory.mktemp("timed-logs"), "timed",
                        RPC_TIMEOUT_SECONDS=str(LIMIT)) as sysm:
        yield sysm


def test_a_stalled_service_is_a_504_within_the_limit(timed):
    key = timed.issue_key("sales")
    auth = {"Authorization": f"Bearer {key}"}
    base = timed.base_url
    assert requests.get(f"{base}/v1/admin/tiers", headers=auth, timeout=30).status_code == 200
    pricing = timed.procs["pricing"]
    os.kill(pricing.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        r = requests.get(f"{base}/v1/admin/tiers", headers=auth, timeout=30)
        waited = time.monotonic() - started
        assert r.status_code == 504, r.text
        assert r.headers["Content-Type"] == "application/problem+json"
        assert "pricing" in r.json()["detail"]
        assert LIMIT - 0.1 <= waited < LIMIT + 1.5
        # the others keep answering meanwhile
        assert requests.get(f"{base}/v1/admin/products", headers=auth, timeout=30).status_code == 200
        ready = requests.get(f"{base}/ready", timeout=30)
        assert ready.status_code == 503 and ready.json()["checks"]["pricing"] != "ok"
        assert ready.json()["checks"]["catalog"] == "ok"
    finally:
        os.kill(pricing.pid, signal.SIGCONT)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        r = requests.get(f"{base}/v1/admin/tiers", headers=auth, timeout=30)
        if r.status_code == 200:
            break
        time.sleep(0.2)
    assert r.status_code == 200, r.text


def test_a_service_that_is_down_is_a_503_at_once_and_back_when_it_is(timed):
    key = timed.issue_key("sales")
    auth = {"Authorization": f"Bearer {key}"}
    base = timed.base_url
    catalog = timed.procs["catalog"]
    catalog.kill()
    catalog.wait(timeout=10)
    try:
        started = time.monotonic()
        r = requests.get(f"{base}/v1/admin/products", headers=auth, timeout=30)
        assert r.status_code == 503, r.text
        assert "catalog" in r.json()["detail"] and "not running" in r.json()["detail"]
        assert time.monotonic() - started < LIMIT  # told at once, not after the whole limit
        assert requests.get(f"{base}/v1/admin/tiers", headers=auth, timeout=30).status_code == 200
    finally:
        env = {**service_env(timed.amqp_uri, timed.database_urls["catalog"],
                             int(base.rsplit(":", 1)[1])), "RPC_TIMEOUT_SECONDS": str(LIMIT)}
        timed.procs["catalog"] = start("catalog", env, timed.log_dir)
    wait_ready(base, [timed.procs["catalog"]])
    assert requests.get(f"{base}/v1/admin/products", headers=auth, timeout=30).status_code == 200


def test_a_call_that_waited_past_its_deadline_is_dropped_unrun(timed):
    manager = {"Authorization": f"Bearer {timed.issue_key('manager')}"}
    base = timed.base_url
    before = requests.get(f"{base}/v1/admin/green-channel", headers=manager, timeout=30).json()
    pricing = timed.procs["pricing"]
    os.kill(pricing.pid, signal.SIGSTOP)
    try:
        r = requests.put(f"{base}/v1/admin/green-channel", headers=manager, timeout=30,
                         json={"max_discount_pct": "7", "max_duration_hours": "24"})
        assert r.status_code == 504, r.text
    finally:
        os.kill(pricing.pid, signal.SIGCONT)
    log = timed.log_dir / "pricing.log"
    wait_until(lambda: "rpc_expired" in log.read_text(), 20, "pricing logs the expired call")
    after = requests.get(f"{base}/v1/admin/green-channel", headers=manager, timeout=30).json()
    assert after == before  # the client was told 504: nothing changed behind its back


def test_a_delta_applied_after_its_504_is_not_applied_again_on_retry(timed):
    manager = timed.issue_key("manager")
    sku = f"TL{os.getpid()}"
    auth = {"Authorization": f"Bearer {manager}"}
    base = timed.base_url
    requests.post(f"{base}/v1/admin/products", headers=auth, timeout=30, json={
        "sku": sku, "name": "Towel", "category": "towels", "lifecycle": "new"}).raise_for_status()
    receipt = requests.post(f"{base}/v1/applications", timeout=30, json={
        "company_name": "Slow Stock Ltd", "credit_code": "91350100M000100Y43",
        "contact": {"name": "Z", "phone": "13800001111", "email": "z@example.cn"},
        "address": "1 Road", "province": "Shanghai", "city": "Shanghai",
        "locations": [{"name": "DC", "lat": 31.2, "lon": 121.4}], "requested_tier": "gold",
        "channels": ["tmall"]}).json()
    approved = requests.post(f"{base}/v1/admin/applications/{receipt['id']}/approve", headers=auth,
                             json={"tier": "gold"}, timeout=30).json()
    dist = {"Authorization": f"Bearer {approved['api_key']}"}
    location = requests.get(f"{base}/v1/me", headers=dist, timeout=30).json()["locations"][0]["id"]
    requests.put(f"{base}/v1/locations/{location}/stock", headers=dist, timeout=30,
                 json={"items": [{"sku": sku, "on_hand": 10}]}).raise_for_status()
    adjust = {"adjustments": [{"sku": sku, "delta": 1, "reason": "found"}]}
    key = {**dist, "Idempotency-Key": f"slow-{sku}"}
    # hold the stock row: the service starts the delta in time, then waits past the gateway's limit
    conn = psycopg2.connect(timed.database_urls["fulfillment"])
    cur = conn.cursor()
    cur.execute("SELECT on_hand FROM stock WHERE location_id = %s AND sku = %s FOR UPDATE",
                (location, sku))
    try:
        r = requests.post(f"{base}/v1/locations/{location}/stock/adjustments", headers=key,
                          json=adjust, timeout=30)
        assert r.status_code == 504, r.text
    finally:
        conn.rollback()  # the held delta now commits, after its caller was told 504
        conn.close()

    def on_hand():
        rows = requests.get(f"{base}/v1/locations/{location}/stock", headers=dist, timeout=30).json()
        return rows["items"][0]["on_hand"]

    wait_until(lambda: on_hand() == 11, 10, "the held delta is applied once released")
    retry = requests.post(f"{base}/v1/locations/{location}/stock/adjustments", headers=key,
                          json=adjust, timeout=30)
    assert retry.status_code == 200, retry.text
    assert retry.json()["items"][0]["on_hand"] == 11  # the first application's answer
    assert on_hand() == 11
