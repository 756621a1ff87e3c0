"""A stalled service costs a caller at most RPC_TIMEOUT_SECONDS, then a 504 naming the service; the
others keep answering, and the stalled one answers again as soon as it resumes."""
import os
import signal
import time

import pytest
import requests

from common.testing import running_system, service_env, start, wait_ready

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
