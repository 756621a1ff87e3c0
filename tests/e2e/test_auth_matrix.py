"""Every declared route × every role: who gets in, who gets 401, who gets 403."""
import re

import pytest

import gateway.service  # noqa: F401  (declares the routes)
from gateway.http import ROUTES

CALLERS = ("anonymous", "manager", "sales", "channel", "distributor")
PLACEHOLDERS = {"int": "999999", None: "MATRIX-NO-SUCH-THING"}


def concrete(path: str) -> str:
    return re.sub(r"<(?:([a-z]+):)?[a-zA-Z_]+>", lambda m: PLACEHOLDERS.get(m.group(1), "x"), path)


def expected(route, caller: str) -> str:
    if route.roles is None:
        return "in"
    if caller == "anonymous":
        return "401"
    return "in" if caller in route.roles else "403"


CASES = [(r, c) for r in ROUTES for c in CALLERS]


@pytest.mark.parametrize("route,caller", CASES,
                         ids=[f"{r.method} {r.path} as {c}" for r, c in CASES])
def test_route_role_matrix(client, route, caller):
    kwargs = {"json": {}} if route.method in ("POST", "PUT", "PATCH") else {}
    r = client[caller].request(route.method, concrete(route.path), **kwargs)
    outcome = expected(route, caller)
    if outcome == "in":
        assert r.status_code not in (401, 403), r.text
        assert r.status_code < 500, r.text
    else:
        assert r.status_code == int(outcome), r.text
        assert r.headers["Content-Type"] == "application/problem+json"


def test_a_wrong_or_revoked_key_is_401(client, system):
    from conftest import Client

    wrong = Client(system.base_url, "dcm_not-a-real-key")
    r = wrong.get("/v1/admin/products")
    assert r.status_code == 401 and r.headers["Content-Type"] == "application/problem+json"
    issued = client["manager"].post("/v1/admin/api-keys", json={"role": "sales"})
    assert issued.status_code == 201
    body = issued.json()
    assert body["role"] == "sales" and body["api_key"].startswith("dcm_")
    fresh = Client(system.base_url, body["api_key"])
    assert fresh.get("/v1/admin/products").status_code == 200
    assert client["manager"].delete(f"/v1/admin/api-keys/{body['id']}").status_code == 204
    assert fresh.get("/v1/admin/products").status_code == 401
    assert client["manager"].delete(f"/v1/admin/api-keys/{body['id']}").status_code == 404


@pytest.mark.parametrize("body,field", [
    ({"role": "emperor"}, "role"),
    ({"role": "channel"}, "channel"),
    ({"role": "channel", "channel": "Not Valid"}, "channel"),
    ({"role": "distributor"}, "distributor_id"),
    ({"role": "sales", "channel": "tmall"}, "channel"),
    ({"role": "sales", "extra": 1}, "extra"),
])
def test_bad_key_requests_name_the_field(client, body, field):
    r = client["manager"].post("/v1/admin/api-keys", json=body)
    assert r.status_code == 400
    assert field in [e["field"] for e in r.json()["errors"]]


def test_keys_are_stored_only_as_hashes(client, system):
    import psycopg2

    key = client["manager"].post("/v1/admin/api-keys", json={"role": "channel", "channel": "jd"}).json()
    conn = psycopg2.connect(system.database_urls["gateway"])
    with conn, conn.cursor() as cur:
        cur.execute("SELECT * FROM api_keys WHERE id = %s", (key["id"],))
        row = cur.fetchone()
    conn.close()
    assert key["api_key"] not in [str(v) for v in row]
