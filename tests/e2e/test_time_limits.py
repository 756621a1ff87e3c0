"""A stalled service costs a caller at most RPC_TIMEOUT_SECONDS, then a 504 naming the service; the
others keep answering, and the stalled one answers again as soon as it resumes."""
import os
import signal
import time

import pytest
import requests

from conftest import running_system

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
