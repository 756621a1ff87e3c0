"""A prospective distributor applies, a manager decides, the distributor manages its locations, and
the manager suspends, reinstates and terminates it — all through the gateway."""
import random
import subprocess

import psycopg2
import pytest
import requests

from conftest import Client, onboard_distributor
from distributors.domain import CREDIT_CODE_ALPHABET, credit_code_check_character


def new_code() -> str:
    body = "91" + "".join(random.choice("0123456789") for _ in range(6)) + "".join(
        random.choice(CREDIT_CODE_ALPHABET) for _ in range(9))
    return body + credit_code_check_character(body)


def application(**overrides):
    body = {
        "company_name": "Hangzhou Home Textiles Ltd", "credit_code": new_code(),
        "contact": {"name": "Wang Fang", "phone": "+86 13912345678", "email": "wang@hz-textiles.cn"},
        "address": "1 Wensan Rd", "province": "Zhejiang", "city": "Hangzhou",
        "locations": [{"name": "Hangzhou DC", "lat": 30.27, "lon": 120.15}],
        "requested_tier": "gold", "channels": ["offline_store", "douyin"],
    }
    body.update(overrides)
    return body


def onboard(client, system, **overrides):
    """Apply and approve; returns (distributor_id, client with its first key)."""
    receipt = client["anonymous"].post("/v1/applications", json=application(**overrides)).json()
    approved = client["manager"].post(f"/v1/admin/applications/{receipt['id']}/approve",
                                      json={"tier": "gold"}).json()
    return approved["distributor_id"], Client(system.base_url, approved["api_key"])


def test_the_onboarding_flow(client, system):
    anon, manager, sales = client["anonymous"], client["manager"], client["sales"]
    r = anon.post("/v1/applications", json=application(city="Ningbo", locations=[
        {"name": "Ningbo DC", "lat": 29.87, "lon": 121.55, "service_radius_km": 30},
        {"name": "Yuyao shop", "lat": 30.04, "lon": 121.15}]))
    assert r.status_code == 201, r.text
    receipt = r.json()
    assert set(receipt) >= {"id", "status", "status_token"} and receipt["status"] == "submitted"
    app_id, token = receipt["id"], receipt["status_token"]

    assert anon.get(f"/v1/applications/{app_id}").status_code == 404
    assert anon.get(f"/v1/applications/{app_id}",
                    headers={"X-Application-Token": "guess"}).status_code == 404
    progress = anon.get(f"/v1/applications/{app_id}", headers={"X-Application-Token": token})
    assert progress.status_code == 200 and progress.json()["status"] == "submitted"

    listed = sales.get("/v1/admin/applications", params={"status": "submitted", "city": "Ningbo",
                                                          "limit": 500}).json()["items"]
    assert app_id in [a["id"] for a in listed]

    assert sales.post(f"/v1/admin/applications/{app_id}/approve",
                      json={"tier": "gold"}).status_code == 403
    r = manager.post(f"/v1/admin/applications/{app_id}/approve",
                     json={"tier": "platinum", "service_radius_km": 75})
    assert r.status_code == 200, r.text
    approved = r.json()
    assert set(approved) >= {"distributor_id", "api_key"}
    did = approved["distributor_id"]
    assert manager.post(f"/v1/admin/applications/{app_id}/approve",
                        json={"tier": "gold"}).status_code == 409
    decided = anon.get(f"/v1/applications/{app_id}", headers={"X-Application-Token": token}).json()
    assert decided["status"] == "approved" and decided["distributor_id"] == did

    me = Client(system.base_url, approved["api_key"]).get("/v1/me")
    assert me.status_code == 200
    profile = me.json()
    assert (profile["id"], profile["tier"], profile["status"], profile["city"]) == (
        did, "platinum", "active", "Ningbo")
    assert [(loc["name"], loc["service_radius_km"]) for loc in profile["locations"]] == [
        ("Ningbo DC", 30.0), ("Yuyao shop", 75.0)]

    admin_view = sales.get(f"/v1/admin/distributors/{did}").json()
    assert admin_view["history"][0]["to"] == "active" and admin_view["flagged_for_review"] is False


def test_a_rejection_carries_its_reason(client):
    receipt = client["anonymous"].post("/v1/applications", json=application()).json()
    assert client["manager"].post(f"/v1/admin/applications/{receipt['id']}/reject",
                                  json={}).status_code == 400
    r = client["manager"].post(f"/v1/admin/applications/{receipt['id']}/reject",
                               json={"reason": "licence expired"})
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    view = client["anonymous"].get(f"/v1/applications/{receipt['id']}",
                                   headers={"X-Application-Token": receipt["status_token"]}).json()
    assert (view["status"], view["reason"]) == ("rejected", "licence expired")


def test_a_credit_code_already_live_is_409(client):
    body = application()
    assert client["anonymous"].post("/v1/applications", json=body).status_code == 201
    r = client["anonymous"].post("/v1/applications", json={**body, "company_name": "Other"})
    assert r.status_code == 409
    assert r.headers["Content-Type"] == "application/problem+json"


def test_locations_are_private_to_their_distributor(client, system):
    a_id, a = onboard(client, system)
    b_id, b = onboard(client, system)
    r = a.post("/v1/locations", json={"name": "Shaoxing", "address": "5 Jiefang Rd", "lat": 30.0,
                                      "lon": 120.58})
    assert r.status_code == 201, r.text
    loc = r.json()
    assert loc["service_radius_km"] == 50.0 and loc["active"] is True
    assert b.patch(f"/v1/locations/{loc['id']}", json={"name": "mine now"}).status_code == 404
    assert loc["id"] not in [x["id"] for x in b.get("/v1/locations").json()["items"]]
    r = a.patch(f"/v1/locations/{loc['id']}", json={"active": False, "service_radius_km": 25})
    assert r.status_code == 200 and (r.json()["active"], r.json()["service_radius_km"]) == (False, 25.0)
    assert a.patch(f"/v1/locations/{loc['id']}", json={"lat": 1.3}).status_code == 400
    assert a.patch("/v1/locations/abc", json={"name": "x"}).status_code == 404


def test_suspension_reinstatement_termination(client, system):
    did, dist = onboard(client, system)
    manager = client["manager"]
    assert manager.post(f"/v1/admin/distributors/{did}/suspend", json={}).status_code == 400
    r = manager.post(f"/v1/admin/distributors/{did}/suspend", json={"reason": "price violations"})
    assert r.status_code == 200 and r.json()["status"] == "suspended"

    refused = dist.post("/v1/locations", json={"name": "x", "lat": 30.0, "lon": 120.0})
    assert refused.status_code == 403 and "suspended" in refused.json()["detail"]
    assert dist.get("/v1/me").json()["status"] == "suspended"
    assert dist.get("/v1/locations").status_code == 200

    assert manager.post(f"/v1/admin/distributors/{did}/suspend",
                        json={"reason": "again"}).status_code == 409
    assert manager.post(f"/v1/admin/distributors/{did}/reinstate").status_code == 200
    assert dist.post("/v1/locations", json={"name": "x", "lat": 30.0, "lon": 120.0}).status_code == 201
    r = manager.patch(f"/v1/admin/distributors/{did}", json={"tier": "silver"})
    assert r.status_code == 200 and r.json()["tier"] == "silver"
    r = manager.post(f"/v1/admin/distributors/{did}/terminate", json={"reason": "contract ended"})
    assert r.status_code == 200 and r.json()["status"] == "terminated"
    assert manager.post(f"/v1/admin/distributors/{did}/reinstate").status_code == 409

    history = client["sales"].get(f"/v1/admin/distributors/{did}").json()["history"]
    assert [(h["from"], h["to"], h["reason"]) for h in history if h["kind"] == "status"] == [
        (None, "active", history[0]["reason"]), ("active", "suspended", "price violations"),
        ("suspended", "active", None), ("active", "terminated", "contract ended")]
    assert all(h["actor"].startswith("manager:") and h["at"] for h in history)
    assert [(h["from"], h["to"]) for h in history if h["kind"] == "tier"] == [("gold", "silver")]


def test_admin_filters_distributors(client, system):
    did, _ = onboard(client, system, province="Sichuan", city="Chengdu",
                     locations=[{"name": "Chengdu", "lat": 30.66, "lon": 104.06}])
    found = client["sales"].get("/v1/admin/distributors", params={
        "province": "Sichuan", "city": "Chengdu", "tier": "gold", "status": "active",
        "limit": 500}).json()["items"]
    assert did in [d["id"] for d in found]
    assert all(d["city"] == "Chengdu" for d in found)
    none = client["sales"].get("/v1/admin/distributors", params={"city": "Chengdu",
                                                                  "status": "terminated"}).json()
    assert did not in [d["id"] for d in none["items"]]


def test_distributor_keys_must_name_a_real_distributor(client, system):
    did, _ = onboard(client, system)
    r = client["manager"].post("/v1/admin/api-keys", json={"role": "distributor",
                                                           "distributor_id": "999999"})
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "distributor_id"
    r = client["manager"].post("/v1/admin/api-keys", json={"role": "distributor",
                                                           "distributor_id": str(did)})
    assert r.status_code == 201
    assert Client(system.base_url, r.json()["api_key"]).get("/v1/me").json()["id"] == did


def count_applications(system) -> int:
    conn = psycopg2.connect(system.database_urls["distributors"])
    with conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM applications")
        n = cur.fetchone()[0]
    conn.close()
    return n


BAD = [
    ({"company_name": 42}, "company_name"),
    ({"company_name": "x" * 201}, "company_name"),
    ({"company_name": "   "}, "company_name"),
    ({"credit_code": "91350100M000100Y44"}, "credit_code"),
    ({"credit_code": "123"}, "credit_code"),
    ({"contact": {"name": "A", "phone": "12345", "email": "a@b.cn"}}, "contact.phone"),
    ({"contact": {"name": "A", "phone": "13812345678", "email": "not-an-email"}}, "contact.email"),
    ({"contact": "Wang"}, "contact"),
    ({"locations": []}, "locations"),
    ({"locations": [{"name": "Tokyo", "lat": 35.68, "lon": 139.69}]}, "locations[0].lon"),
    ({"locations": [{"name": "South", "lat": 10.0, "lon": 110.0}]}, "locations[0].lat"),
    ({"locations": [{"name": "x", "lat": "31.2", "lon": 121.4}]}, "locations[0].lat"),
    ({"locations": [{"name": "x", "lat": 31.2, "lon": 121.4, "service_radius_km": -5}]},
     "locations[0].service_radius_km"),
    ({"requested_tier": "diamond"}, "requested_tier"),
    ({"channels": ["ebay"]}, "channels[0]"),
    ({"channels": "tmall"}, "channels"),
    ({"fax": "021-1234"}, "fax"),
]


@pytest.mark.parametrize("change,field", BAD, ids=[f for _, f in BAD])
def test_bad_applications_name_the_field_and_write_nothing(client, system, change, field):
    before = count_applications(system)
    r = client["anonymous"].post("/v1/applications", json=application(**change))
    assert r.status_code == 400, r.text
    assert r.headers["Content-Type"] == "application/problem+json"
    assert field in [e["field"] for e in r.json()["errors"]]
    assert count_applications(system) == before


@pytest.mark.parametrize("missing", ["company_name", "credit_code", "contact", "address", "province",
                                     "city", "locations", "requested_tier", "channels"])
def test_missing_fields_are_named(client, missing):
    body = application()
    del body[missing]
    r = client["anonymous"].post("/v1/applications", json=body)
    assert r.status_code == 400 and [e["field"] for e in r.json()["errors"]] == [missing]


def test_malformed_json_and_oversized_bodies(client, system):
    before = count_applications(system)
    r = client["anonymous"].post("/v1/applications", data=b'{"company_name": ',
                                 headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "body"
    huge = application(address="x" * (1024 * 1024))
    r = client["anonymous"].post("/v1/applications", json=huge)
    assert r.status_code == 413 and r.headers["Content-Type"] == "application/problem+json"
    assert count_applications(system) == before


def test_make_api_key_checks_the_distributor(system, keys):
    approved = onboard_distributor(system.base_url, keys["manager"], application())
    key = system.issue_key("distributor", distributor=str(approved["distributor_id"]))
    me = requests.get(f"{system.base_url}/v1/me", headers={"Authorization": f"Bearer {key}"}, timeout=10)
    assert me.status_code == 200 and me.json()["id"] == approved["distributor_id"]
    with pytest.raises(subprocess.CalledProcessError) as refused:
        system.issue_key("distributor", distributor="424242")
    assert refused.value.returncode == 2 and "no distributor 424242" in refused.value.stderr
