"""429 at the entrance: per distributor on the distributor API, per address on the public onboarding
routes; the sales team, storefronts and health checks are never throttled. A second gateway with
low limits joins the running system for these tests."""
import subprocess
import time

import pytest
import requests
from test_onboarding_api import application

from common.testing import free_port, service_env, start, wait_ready, wait_until
from conftest import onboard_distributor
from gateway.ratelimit import parse_limit


@pytest.fixture(scope="module")
def strict_gateway(system, keys):
    port = free_port()
    env = service_env(system.amqp_uri, system.database_urls["gateway"], port)
    env.update({"RATE_LIMIT_DISTRIBUTOR": "5/second", "RATE_LIMIT_PUBLIC": "3/minute"})
    log_dir = system.log_dir / "strict"
    log_dir.mkdir(exist_ok=True)
    proc = start("gateway", env, log_dir)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(base, [proc])
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def burst(base, path, key=None, n=8):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return [requests.get(f"{base}{path}", headers=headers, timeout=10) for _ in range(n)]


def test_a_distributor_past_its_limit_gets_429_with_retry_after(strict_gateway, keys, system):
    answers = burst(strict_gateway, "/v1/diagnostics/echo", keys["distributor"])
    refused_at = time.monotonic()
    assert [r.status_code for r in answers[:5]] == [200] * 5
    refused = answers[-1]
    assert refused.status_code == 429
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert refused.json()["title"] == "Too many requests" and "per second" in refused.json()["detail"]
    wait = int(refused.headers["Retry-After"])
    assert 1 <= wait <= 2

    # another distributor has its own budget; the sales team is not limited
    approved = onboard_distributor(system.base_url, keys["manager"], application())
    other = system.issue_key("distributor", distributor=str(approved["distributor_id"]))
    assert burst(strict_gateway, "/v1/diagnostics/echo", other, 5)[-1].status_code == 200
    assert {r.status_code for r in burst(strict_gateway, "/v1/diagnostics/echo", keys["sales"], 20)} == {200}

    # served again once Retry-After has passed: asked until then (the moving window does not count
    # a refused request, so asking early does not push the reset back), it must be served by then,
    # with half a second for the request itself
    def served() -> bool:
        return requests.get(f"{strict_gateway}/v1/diagnostics/echo", timeout=10, headers={
            "Authorization": f"Bearer {keys['distributor']}"}).status_code == 200

    wait_until(served, max(0.0, refused_at + wait + 0.5 - time.monotonic()),
               f"the distributor served again {wait} s (Retry-After) after its 429")


def test_anonymous_onboarding_calls_are_limited_per_address_but_health_is_not(strict_gateway):
    answers = burst(strict_gateway, "/v1/applications/999999", n=4)
    assert [r.status_code for r in answers] == [404, 404, 404, 429]
    assert int(answers[-1].headers["Retry-After"]) >= 1
    assert {r.status_code for r in burst(strict_gateway, "/health", n=10)} == {200}
    assert requests.get(f"{strict_gateway}/openapi.json", timeout=10).status_code == 200


def test_the_openapi_document_names_429_where_it_can_happen(client):
    paths = client["anonymous"].get("/openapi.json").json()["paths"]
    assert "Retry-After" in paths["/v1/quotes"]["post"]["responses"]["429"]["headers"]
    assert "429" in paths["/v1/applications"]["post"]["responses"]
    assert "429" not in paths["/v1/admin/products"]["post"]["responses"]
    assert "429" not in paths["/health"]["get"]["responses"]


@pytest.mark.parametrize("value,amount", [("50/second", 50), ("30/minute", 30), ("off", None), ("0", None)])
def test_limit_settings(value, amount):
    limit = parse_limit("RATE_LIMIT_DISTRIBUTOR", value)
    assert (limit.amount if limit else None) == amount


def test_a_malformed_limit_setting_names_itself():
    with pytest.raises(ValueError, match="RATE_LIMIT_PUBLIC='lots'"):
        parse_limit("RATE_LIMIT_PUBLIC", "lots")

