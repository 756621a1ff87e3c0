"""What every client of the gateway relies on: problem+json, request ids, body limits, idempotency,
health, readiness and the OpenAPI document."""
import json
import uuid

import psycopg2
import pytest
import requests
from openapi_spec_validator import validate

from common.testing import wait_until


def product(sku):
    return {"sku": sku, "name": "Towel", "category": "towels", "lifecycle": "new"}


def test_request_id_is_echoed_or_created(client):
    r = client["sales"].get("/v1/admin/products", headers={"X-Request-Id": "erp-call-7"})
    assert r.headers["X-Request-Id"] == "erp-call-7"
    r1, r2 = client["anonymous"].get("/health"), client["anonymous"].get("/nope")
    assert r1.headers["X-Request-Id"] and r2.headers["X-Request-Id"]
    assert r1.headers["X-Request-Id"] != r2.headers["X-Request-Id"]


def test_request_id_follows_the_call_into_the_service_logs(client, system, uniq):
    rid = f"trace-{uniq}"
    client["sales"].post("/v1/admin/products", json=product(uniq), headers={"X-Request-Id": rid})

    def lines(service: str) -> list[dict]:
        """The complete JSON lines of ``service``'s log that mention the request id."""
        written = (system.log_dir / f"{service}.log").read_text().split("\n")[:-1]  # last: unfinished
        return [json.loads(line) for line in written if line.startswith("{") and rid in line]

    # the gateway writes its summary line once it has answered: wait for that line and catalog's
    wait_until(lambda: lines("catalog") and any(line["event"] == "http_request" for line in lines("gateway")),
               10, f"the gateway's http_request line and a catalog line carrying {rid}")
    for service in ("gateway", "catalog"):
        found = lines(service)
        assert found, f"no {service} log line carries the request id"
        assert all(line["request_id"] == rid for line in found)
    gateway_line = next(line for line in lines("gateway") if line["event"] == "http_request")
    assert {"method", "path", "status", "duration_ms"} <= set(gateway_line)


@pytest.mark.parametrize("data,detail_part", [
    (b"{not json", "malformed JSON"),
    (b"", "JSON object"),
    (b"[1, 2]", "JSON object"),
])
def test_malformed_bodies_are_400_problem_json(client, data, detail_part):
    r = client["sales"].post("/v1/admin/products", data=data,
                             headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    body = r.json()
    assert r.headers["Content-Type"] == "application/problem+json"
    assert set(body) >= {"type", "title", "status", "detail", "errors"}
    assert body["errors"][0]["field"] == "body" and detail_part in body["errors"][0]["message"]


def test_a_body_over_the_limit_is_413(client, uniq):
    big = {**product(uniq), "attributes": {"blob": "x" * (1024 * 1024)}}
    r = client["sales"].post("/v1/admin/products", json=big)
    assert r.status_code == 413 and r.json()["status"] == 413
    assert client["sales"].get(f"/v1/admin/products/{uniq}").status_code == 404


def test_unknown_route_and_wrong_method_are_problem_json(client):
    r = client["sales"].get("/v1/nothing-here")
    assert r.status_code == 404 and r.headers["Content-Type"] == "application/problem+json"
    r = client["sales"].request("PUT", "/v1/admin/products")
    assert r.status_code == 405 and r.headers["Content-Type"] == "application/problem+json"


def test_idempotency_key_replays_the_first_response(client, uniq):
    sales = client["sales"]
    key = str(uuid.uuid4())
    first = sales.post("/v1/admin/products", json=product(uniq), headers={"Idempotency-Key": key})
    again = sales.post("/v1/admin/products", json=product(uniq), headers={"Idempotency-Key": key})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Location"] == first.headers["Location"]


def test_same_key_with_another_body_is_422(client, uniq):
    sales = client["sales"]
    key = str(uuid.uuid4())
    sales.post("/v1/admin/products", json=product(uniq), headers={"Idempotency-Key": key})
    r = sales.post("/v1/admin/products", json=product(uniq + "X"), headers={"Idempotency-Key": key})
    assert r.status_code == 422 and r.headers["Content-Type"] == "application/problem+json"
    assert client["sales"].get(f"/v1/admin/products/{uniq}X").status_code == 404


def test_idempotency_keys_are_scoped_to_the_caller(client, uniq):
    key = str(uuid.uuid4())
    a = client["sales"].post("/v1/admin/products", json=product(uniq), headers={"Idempotency-Key": key})
    b = client["manager"].post("/v1/admin/products", json=product(uniq), headers={"Idempotency-Key": key})
    assert a.status_code == 201
    assert b.status_code == 409 and "Idempotent-Replayed" not in b.headers


def test_a_refusal_is_replayed_too(client, uniq):
    key = str(uuid.uuid4())
    bad = {**product(uniq), "sku": "bad sku"}
    first = client["sales"].post("/v1/admin/products", json=bad, headers={"Idempotency-Key": key})
    again = client["sales"].post("/v1/admin/products", json=bad, headers={"Idempotency-Key": key})
    assert first.status_code == again.status_code == 400
    assert again.headers["Idempotent-Replayed"] == "true"


def test_a_key_still_in_flight_is_409(client, system, keys, uniq):
    from gateway.auth import hash_key

    key = str(uuid.uuid4())
    conn = psycopg2.connect(system.database_urls["gateway"])
    with conn, conn.cursor() as cur:
        cur.execute("SELECT id FROM api_keys WHERE key_hash = %s", (hash_key(keys["sales"]),))
        key_id = cur.fetchone()[0]
        # another gateway worker has claimed this key and is still working on it
        cur.execute("INSERT INTO idempotency_keys (scope, key, request_hash, state) "
                    "VALUES (%s, %s, 'whatever', 'in_flight')", (f"key:{key_id}", key))
    conn.close()
    from gateway.idempotency import request_fingerprint

    body = json.dumps(product(uniq)).encode()
    conn = psycopg2.connect(system.database_urls["gateway"])
    with conn, conn.cursor() as cur:
        cur.execute("UPDATE idempotency_keys SET request_hash = %s WHERE key = %s",
                    (request_fingerprint("POST", "/v1/admin/products", body), key))
    conn.close()
    r = client["sales"].post("/v1/admin/products", data=body, headers={
        "Idempotency-Key": key, "Content-Type": "application/json"})
    assert r.status_code == 409
    assert client["sales"].get(f"/v1/admin/products/{uniq}").status_code == 404


def test_health_ready_and_openapi_are_public(client):
    anon = client["anonymous"]
    assert anon.get("/health").json() == {"status": "ok"}
    ready = anon.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"gateway_database": "ok", "catalog": "ok", "distributors": "ok",
                                      "pricing": "ok", "fulfillment": "ok", "webhooks": "ok"}
    doc = anon.get("/openapi.json")
    assert doc.status_code == 200
    validate(doc.json())
    assert "/v1/admin/products/{sku}" in doc.json()["paths"]


def test_ready_is_503_naming_a_service_that_does_not_answer(system, rabbit, tmp_path):
    """A second gateway on a vhost where no catalog runs."""
    from common.testing import drop_vhost, free_port, make_vhost, service_env, start

    vhost = f"dcm_e2e_lonely_{uuid.uuid4().hex[:6]}"
    uri = make_vhost(rabbit, vhost)
    port = free_port()
    proc = start("gateway", service_env(uri, system.database_urls["gateway"], port), tmp_path)
    try:
        base = f"http://127.0.0.1:{port}"

        def answer() -> list[requests.Response] | None:  # a 503 Response is falsy: wrap it
            try:
                return [requests.get(f"{base}/ready", timeout=30)]
            except requests.ConnectionError:  # not listening yet
                return None

        [r] = wait_until(answer, 30, "the second gateway answering /ready")
        assert r.status_code == 503
        body = r.json()
        assert r.headers["Content-Type"] == "application/problem+json"
        assert "catalog" in body["detail"] and body["checks"]["catalog"] in ("not running", "no answer")
        assert body["checks"]["gateway_database"] == "ok"
        assert requests.get(f"{base}/health", timeout=5).status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        drop_vhost(rabbit, vhost)


def test_an_acknowledged_change_is_visible_to_the_very_next_request(client, uniq):
    """Services commit before they answer (nameko replies before worker_result runs)."""
    sales, manager = client["sales"], client["manager"]
    for i in range(40):
        sku = f"{uniq}-{i}"
        assert sales.post("/v1/admin/products", json=product(sku)).status_code == 201
        assert sales.get(f"/v1/admin/products/{sku}").status_code == 200
        rows = [product(f"{sku}-{j}") for j in range(50)]
        assert sales.post("/v1/admin/products/import", json={"products": rows}).status_code == 200
        assert sales.get(f"/v1/admin/products/{sku}-49").status_code == 200
    issued = manager.post("/v1/admin/api-keys", json={"role": "sales"}).json()
    from conftest import Client

    assert Client(sales.base_url, issued["api_key"]).get("/v1/admin/products").status_code == 200
