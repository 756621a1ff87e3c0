"""Webhooks (Standard Webhooks) on the real services, with a loopback receiver: delivery within a
second and a signature the `standardwebhooks` library verifies, retries with the same webhook-id,
disabling after 20 failed deliveries and enabling again, isolation between parties, channel events
for the channel's own orders only, a slow receiver holding up no one else, and a restart of the
webhooks service with deliveries due.

These tests run on a system of their own: private destinations allowed (the receiver is on
127.0.0.1) and retry pauses scaled down (WEBHOOK_RETRY_SCALE)."""
import json
import signal
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from standardwebhooks.webhooks import Webhook
from test_admin_orders import quiet_spot
from test_onboarding_api import application

from common.testing import running_system, service_env, start, wait_until
from conftest import Client, onboard_distributor

SCALE = "0.0001"  # 5 s → 0.5 ms … 10 h → 3.6 s: a delivery fails for good within ~10 s


class Receiver:
    """A loopback HTTP server recording every POST; ``plan[path]`` says what each path answers:
    a list of statuses taken in turn (the last one repeats), or ``"slow"`` (answers after ``hold``
    is set or 8 s)."""

    def __init__(self):
        self.requests: list[dict] = []
        self.plan: dict[str, list | str] = {}
        self.hold = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                plan = receiver.plan.get(self.path, [200])
                if plan == "slow":
                    receiver.hold.wait(8)
                    status = 200
                else:
                    seen = sum(1 for r in receiver.requests if r["path"] == self.path)
                    status = plan[min(seen, len(plan) - 1)]
                receiver.requests.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                                          "body": body, "at": time.monotonic(), "status": status})
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_port}{path}"

    def at(self, path: str) -> list[dict]:
        return [r for r in self.requests if r["path"] == path]

    def close(self):
        self.hold.set()
        self.server.shutdown()


@pytest.fixture(scope="module")
def hooks(pg_server, rabbit, tmp_path_factory):
    env = {"WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true", "WEBHOOK_RETRY_SCALE": SCALE}
    with running_system(pg_server, rabbit, tmp_path_factory.mktemp("hook-logs"), name="hooks", **env) as sysm:
        sysm.extra_env = env
        yield sysm


@pytest.fixture(scope="module")
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture(scope="module")
def parties(hooks):
    manager = hooks.issue_key("manager")
    sales = hooks.issue_key("sales")
    return {"manager": Client(hooks.base_url, manager), "sales": Client(hooks.base_url, sales),
            "tmall": Client(hooks.base_url, hooks.issue_key("channel", channel="tmall")),
            "jd": Client(hooks.base_url, hooks.issue_key("channel", channel="jd"))}


def new_distributor(hooks, parties, lat: float, lon: float):
    manager_key = parties["manager"].session.headers["Authorization"].split()[1]
    approved = onboard_distributor(hooks.base_url, manager_key, application(locations=[
        {"name": "DC", "lat": lat, "lon": lon}]))
    dist = Client(hooks.base_url, approved["api_key"])
    return dist, approved["distributor_id"], dist.get("/v1/me").json()["locations"][0]["id"]


def product(parties) -> str:
    sku = f"W{uuid.uuid4().hex[:8].upper()}"
    assert parties["sales"].post("/v1/admin/products", json={
        "sku": sku, "name": sku, "category": "towels", "lifecycle": "classic", "status": "active"}).status_code == 201
    assert parties["manager"].put(f"/v1/admin/prices/{sku}", json={"list_price": "100.00",
                                                                  "floor_price": "50.00"}).status_code == 200
    return sku


def register(client, url: str, events: list[str]) -> dict:
    r = client.post("/v1/webhooks", json={"url": url, "events": events})
    assert r.status_code == 201, r.text
    return r.json()


def order(channel, sku: str, lat: float, lon: float, qty: int = 1) -> dict:
    r = channel.post("/v1/orders", json={
        "external_id": uuid.uuid4().hex, "lines": [{"sku": sku, "qty": qty}],
        "ship_to": {"name": "Li", "phone": "13812345678", "address": "x", "lat": lat, "lon": lon}})
    assert r.status_code == 201, r.text
    return r.json()


def verified(endpoint: dict, request: dict) -> dict:
    """The delivery as a receiver reads it: the signature checked by the standardwebhooks library."""
    return Webhook(endpoint["secret"]).verify(request["body"], request["headers"])


def test_a_distributor_is_told_of_its_new_assignment_within_a_second_signed(hooks, parties, receiver):
    lat, lon = quiet_spot()
    dist, distributor_id, loc = new_distributor(hooks, parties, lat, lon)
    sku = product(parties)
    assert dist.put(f"/v1/locations/{loc}/stock", json={"items": [{"sku": sku, "on_hand": 5}]}).status_code == 200
    endpoint = register(dist, receiver.url("/dist-a"), ["assignment.created", "assignment.withdrawn"])
    assert endpoint["status"] == "enabled" and endpoint["secret"].startswith("whsec_")
    assert "secret" not in dist.get(f"/v1/webhooks/{endpoint['id']}").json()  # shown only once

    answered = time.monotonic()
    placed = order(parties["tmall"], sku, lat, lon)
    wait_until(lambda: receiver.at("/dist-a"), timeout=10, message="the assignment.created delivery")
    [request] = receiver.at("/dist-a")
    # SPEC: within a second (measured ~0.1-0.3 s; the bound allows for a loaded 2-core machine)
    assert request["at"] - answered < 3, "delivered long after the order"
    message = verified(endpoint, request)
    assert message["type"] == "assignment.created"
    listed = dist.get("/v1/assignments").json()["items"]
    assert message["data"] == next(a for a in listed if a["id"] == placed["shipments"][0]["assignment_id"])
    assert request["headers"]["webhook-id"].startswith("msg_")
    assert abs(int(request["headers"]["webhook-timestamp"]) - time.time()) < 30

    # withdrawn when its order is cancelled
    assert parties["tmall"].post(f"/v1/orders/{placed['id']}/cancel").status_code == 200
    wait_until(lambda: len(receiver.at("/dist-a")) == 2, timeout=10, message="assignment.withdrawn")
    withdrawn = verified(endpoint, receiver.at("/dist-a")[1])
    assert withdrawn["type"] == "assignment.withdrawn" and withdrawn["data"]["status"] == "cancelled"
    deliveries = dist.get(f"/v1/webhooks/{endpoint['id']}/deliveries").json()["items"]
    assert [(d["event_type"], d["status"], d["attempt"]) for d in deliveries] == [
        ("assignment.withdrawn", "succeeded", 1), ("assignment.created", "succeeded", 1)]


def test_a_failed_delivery_is_retried_with_the_same_id_until_it_succeeds(hooks, parties, receiver):
    receiver.plan["/flaky"] = [500, 503, 200]
    endpoint = register(parties["jd"], receiver.url("/flaky"), ["order.routed"])
    sent = parties["jd"].post(f"/v1/webhooks/{endpoint['id']}/test")
    assert sent.status_code == 202, sent.text
    wait_until(lambda: len(receiver.at("/flaky")) == 3, timeout=15, message="three attempts")
    attempts = receiver.at("/flaky")
    assert len({a["headers"]["webhook-id"] for a in attempts}) == 1
    assert [a["status"] for a in attempts] == [500, 503, 200]
    assert attempts[0]["at"] < attempts[1]["at"] < attempts[2]["at"]
    assert len({a["body"] for a in attempts}) == 1  # the same bytes every time
    assert all(verified(endpoint, a)["type"] == "webhook.test" for a in attempts)

    def settled():
        [d] = parties["jd"].get(f"/v1/webhooks/{endpoint['id']}/deliveries").json()["items"]
        return d if d["status"] == "succeeded" else None
    delivery = wait_until(settled, timeout=10, message="the delivery to be recorded succeeded")
    assert (delivery["attempt"], delivery["response_status"], delivery["event_type"]) == (3, 200, "webhook.test")
    assert delivery["webhook_id"] == attempts[0]["headers"]["webhook-id"]


def test_twenty_failed_deliveries_disable_an_endpoint_and_its_owner_enables_it(hooks, parties, receiver):
    receiver.plan["/dead"] = [500]
    endpoint = register(parties["jd"], receiver.url("/dead"), ["order.routed"])
    for _ in range(20):
        assert parties["jd"].post(f"/v1/webhooks/{endpoint['id']}/test").status_code == 202

    def disabled():
        return parties["jd"].get(f"/v1/webhooks/{endpoint['id']}").json()["status"] == "disabled"
    wait_until(disabled, timeout=90, message="the endpoint disabled after 20 failed deliveries")
    failed = parties["jd"].get(f"/v1/webhooks/{endpoint['id']}/deliveries",
                               params={"status": "failed", "limit": 50}).json()["items"]
    assert len(failed) == 20 and {d["attempt"] for d in failed} == {8}
    assert len(receiver.at("/dead")) == 160  # 8 attempts each: the first and 7 retries

    receiver.plan["/dead"] = [200]
    enabled = parties["jd"].patch(f"/v1/webhooks/{endpoint['id']}", json={"status": "enabled"})
    assert enabled.status_code == 200 and enabled.json()["status"] == "enabled"
    assert parties["jd"].post(f"/v1/webhooks/{endpoint['id']}/test").status_code == 202
    wait_until(lambda: receiver.at("/dead")[-1]["status"] == 200, timeout=10, message="a delivery after enabling")


def test_channels_hear_only_of_their_own_orders_and_parties_see_only_their_own_endpoints(hooks, parties, receiver):
    lat, lon = quiet_spot()
    dist, _, loc = new_distributor(hooks, parties, lat, lon)
    sku = product(parties)
    assert dist.put(f"/v1/locations/{loc}/stock", json={"items": [{"sku": sku, "on_hand": 5}]}).status_code == 200
    tmall = register(parties["tmall"], receiver.url("/tmall"), ["order.routed", "shipment.shipped"])
    register(parties["jd"], receiver.url("/jd"), ["order.routed", "shipment.shipped"])
    placed = order(parties["tmall"], sku, lat, lon)
    assignment = placed["shipments"][0]["assignment_id"]
    assert dist.post(f"/v1/assignments/{assignment}/accept").status_code == 200
    shipped = dist.post(f"/v1/assignments/{assignment}/ship", json={"carrier": "SF", "tracking_no": "1"})
    assert shipped.status_code == 200, shipped.text
    wait_until(lambda: len(receiver.at("/tmall")) == 2, timeout=10, message="order.routed and shipment.shipped")
    routed, shipped = (verified(tmall, r) for r in receiver.at("/tmall"))
    assert routed["type"] == "order.routed" and routed["data"]["id"] == placed["id"]
    assert "explanation" not in routed["data"]  # the order as the channel's GET shows it
    assert shipped["type"] == "shipment.shipped"
    assert shipped["data"] == parties["tmall"].get(f"/v1/orders/{placed['id']}").json()
    assert all(json.loads(r["body"])["data"].get("channel") != "tmall" for r in receiver.at("/jd"))

    # every key of a party sees the same endpoints; another party's are 404
    assert parties["jd"].get(f"/v1/webhooks/{tmall['id']}").status_code == 404
    assert parties["jd"].delete(f"/v1/webhooks/{tmall['id']}").status_code == 404
    other_tmall_key = Client(hooks.base_url, hooks.issue_key("channel", channel="tmall"))
    assert other_tmall_key.get(f"/v1/webhooks/{tmall['id']}").status_code == 200
    assert dist.get(f"/v1/webhooks/{tmall['id']}").status_code == 404


def test_subscriptions_are_checked(hooks, parties, receiver):
    lat, lon = quiet_spot()
    dist, _, _ = new_distributor(hooks, parties, lat, lon)
    wrong_kind = dist.post("/v1/webhooks", json={"url": receiver.url("/x"), "events": ["order.routed"]})
    assert wrong_kind.status_code == 400 and wrong_kind.json()["errors"][0]["field"] == "events[0]"
    unknown = dist.post("/v1/webhooks", json={"url": receiver.url("/x"), "events": ["price.changed", "nope"]})
    assert unknown.status_code == 400 and unknown.json()["errors"][0]["field"] == "events[1]"
    bad_url = dist.post("/v1/webhooks", json={"url": "ftp://example.com/x", "events": ["price.changed"]})
    assert bad_url.status_code == 400 and bad_url.json()["errors"][0]["field"] == "url"
    for i in range(10):
        register(dist, receiver.url(f"/n{i}"), ["price.changed"])
    eleventh = dist.post("/v1/webhooks", json={"url": receiver.url("/n10"), "events": ["price.changed"]})
    assert eleventh.status_code == 409
    assert len(dist.get("/v1/webhooks").json()["items"]) == 10
    rotated = dist.post(f"/v1/webhooks/{dist.get('/v1/webhooks').json()['items'][0]['id']}/rotate-secret")
    assert rotated.status_code == 200 and rotated.json()["secret"].startswith("whsec_")


def test_a_slow_receiver_holds_up_no_one_else(hooks, parties, receiver):
    receiver.hold.clear()
    receiver.plan["/slow"] = "slow"
    slow = register(parties["jd"], receiver.url("/slow"), ["order.routed"])
    fast = register(parties["jd"], receiver.url("/fast"), ["order.routed"])
    for _ in range(3):
        assert parties["jd"].post(f"/v1/webhooks/{slow['id']}/test").status_code == 202
    asked = time.monotonic()
    assert parties["jd"].post(f"/v1/webhooks/{fast['id']}/test").status_code == 202
    wait_until(lambda: receiver.at("/fast"), timeout=5, message="the fast receiver's delivery")
    assert receiver.at("/fast")[0]["at"] - asked < 2
    receiver.hold.set()


def test_deliveries_due_while_the_service_was_down_go_when_it_is_back(hooks, parties, receiver):
    """The order's event waits in the webhooks service's durable queue while it is down; once back it
    becomes a delivery and goes (a delivery already in its table and due would go the same way)."""
    endpoint = register(parties["jd"], receiver.url("/later"), ["order.routed", "order.backordered"])
    proc = hooks.procs["webhooks"]
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    lat, lon = quiet_spot()
    placed = order(parties["jd"], product(parties), lat, lon)  # nobody stocks it: back-ordered
    assert placed["status"] == "backordered"
    env = {**service_env(hooks.amqp_uri, hooks.database_urls["webhooks"], int(hooks.base_url.rsplit(":", 1)[1])),
           **hooks.extra_env}
    hooks.procs["webhooks"] = start("webhooks", env, hooks.log_dir)
    wait_until(lambda: receiver.at("/later"), timeout=60, message="the delivery after the restart")
    message = verified(endpoint, receiver.at("/later")[0])
    assert message["type"] == "order.backordered" and message["data"]["id"] == placed["id"]


def test_a_distributor_hears_of_prices_at_its_own_unit_price_and_of_its_status(hooks, parties, receiver):
    lat, lon = quiet_spot()
    dist, distributor_id, _ = new_distributor(hooks, parties, lat, lon)
    sku = product(parties)
    endpoint = register(dist, receiver.url("/prices"), ["price.changed", "distributor.status_changed"])
    assert parties["manager"].put(f"/v1/admin/prices/{sku}", json={"list_price": "120.00",
                                                                  "floor_price": "50.00"}).status_code == 200
    wait_until(lambda: receiver.at("/prices"), timeout=10, message="price.changed")
    changed = verified(endpoint, receiver.at("/prices")[0])
    assert changed["type"] == "price.changed"
    assert changed["data"] == dist.get(f"/v1/catalog/products/{sku}").json()  # with its gold unit price
    assert changed["data"]["price"]["unit_price"] != "120.00"
    suspended = parties["manager"].post(f"/v1/admin/distributors/{distributor_id}/suspend", json={"reason": "audit"})
    assert suspended.status_code == 200, suspended.text
    wait_until(lambda: len(receiver.at("/prices")) == 2, timeout=10, message="distributor.status_changed")
    status = verified(endpoint, receiver.at("/prices")[1])
    assert status["type"] == "distributor.status_changed" and status["data"]["status"] == "suspended"
    assert status["data"]["id"] == distributor_id
    # a suspended distributor may read its webhooks but not change them
    assert dist.get(f"/v1/webhooks/{endpoint['id']}").status_code == 200
    assert dist.patch(f"/v1/webhooks/{endpoint['id']}", json={"status": "disabled"}).status_code == 403


def test_private_destinations_are_refused_unless_allowed(client):
    """On a system with the default settings (tests/e2e/conftest.py's): the SSRF guard is on."""
    for url in ("http://127.0.0.1:9/hook", "http://10.0.0.5/hook", "http://[::1]/hook",
                "http://169.254.169.254/latest/meta-data", "http://localhost/x", "http://224.0.0.1/x"):
        r = client["channel"].post("/v1/webhooks", json={"url": url, "events": ["order.routed"]})
        assert r.status_code == 400, (url, r.text)
        assert r.json()["errors"][0]["field"] == "url", r.text
    assert client["channel"].get("/v1/webhooks").json()["items"] == []
