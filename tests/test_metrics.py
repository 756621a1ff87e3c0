"""Prometheus metrics (SPEC, Operations): every process of a running system serves /metrics on its own
port, and what the system did shows there with the right labels; the ports are the topology's in
compose and Kubernetes; the pure parts (ports, outcomes, labels, the scrape-time collector) alone."""
from __future__ import annotations

import pathlib
import socket
import types
import uuid

import pytest
import requests
import yaml
from prometheus_client.parser import text_string_to_metric_families

from common import metrics
from common.entrypoints import rpc_outcome
from common.errors import InvalidInput, NotFound, ServiceNotRunning, StoreUnavailable
from common.testing import running_system, wait_until
from common.topology import BACKENDS, METRICS_PORT_BASE, NAMES, SERVICES, metrics_port

ROOT = pathlib.Path(__file__).resolve().parents[1]
CUSTOMER = {"name": "Li Na", "phone": "13812345678", "address": "1 Huaihai Rd, Shanghai",
            "lat": 31.2304, "lon": 121.4737}


# ---- pure parts ----------------------------------------------------------------------------------

def test_default_ports_follow_the_topology_gateway_first():
    assert metrics_port("gateway") == METRICS_PORT_BASE == 9100
    assert [metrics_port(name) for name in BACKENDS] == list(range(9101, 9101 + len(BACKENDS)))
    assert metrics_port("catalog") == 9101 and metrics_port("fulfillment") == 9104
    assert len({metrics_port(name) for name in NAMES}) == len(NAMES)
    with pytest.raises(KeyError):
        metrics_port("no-such-service")


@pytest.mark.parametrize(("error", "outcome"), [
    (None, "ok"),
    (NotFound("no such sku"), "refused"),
    (InvalidInput("bad"), "refused"),
    (StoreUnavailable("database away"), "unavailable"),
    (ServiceNotRunning("pricing is not running"), "unavailable"),
    (ZeroDivisionError("a bug"), "error"),
])
def test_rpc_outcomes(error, outcome):
    exc_info = None if error is None else (type(error), error, None)
    assert rpc_outcome(exc_info, (NotFound, InvalidInput, StoreUnavailable)) == outcome


@pytest.mark.parametrize(("method", "label"), [("GET", "GET"), ("PATCH", "PATCH"), ("HEAD", "HEAD"),
                                               ("BREW", "OTHER"), ("get", "OTHER")])
def test_http_methods_are_a_bounded_label(method, label):
    assert metrics.bounded_method(method) == label


def _container(name: str):
    return types.SimpleNamespace(service_name=name)


def test_scraped_gauges_label_each_sample_with_its_service_and_survive_a_failing_source():
    gauges = metrics.ScrapedGauges()
    orders = metrics.ScrapeGauge("dcm_test_orders", "orders", ("status",))
    one, two = _container("one"), _container("two")
    gauges.add(one, "orders", lambda: [(orders, ("open",), 3), (orders, ("shipped",), 4)])
    gauges.add(two, "orders", lambda: [(orders, ("open",), 1)])
    gauges.add(two, "broken", lambda: 1 / 0)
    before = metrics.SCRAPE_ERRORS.labels("two", "broken")._value.get()
    [family] = gauges.collect()
    assert family.name == "dcm_test_orders"
    assert {(s.labels["service"], s.labels["status"]): s.value for s in family.samples} == {
        ("one", "open"): 3, ("one", "shipped"): 4, ("two", "open"): 1}
    assert metrics.SCRAPE_ERRORS.labels("two", "broken")._value.get() == before + 1
    gauges.add(one, "orders", lambda: [(orders, ("open",), 5)])  # the same source replaces
    gauges.forget(two)
    [family] = gauges.collect()
    assert [(s.labels["service"], s.value) for s in family.samples] == [("one", 5)]


def test_the_server_takes_any_free_port_and_a_taken_port_costs_only_the_metrics():
    server = metrics._Server()
    server.acquire("127.0.0.1", 0)
    try:
        assert server.port
        text = requests.get(f"http://127.0.0.1:{server.port}/metrics", timeout=5).text
        assert "dcm_http_requests_total" in text or "# HELP dcm_http_requests" in text
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            other = metrics._Server()
            other.acquire("127.0.0.1", taken.getsockname()[1])  # logs metrics_port_unavailable
            assert other.port is None and other.thread is None
    finally:
        server.release()
    assert server.port is None


def _k8s(name: str) -> dict:
    docs = yaml.safe_load_all((ROOT / "deploy" / "k8s" / f"{name}.yaml").read_text())
    return next(d for d in docs if d and d["kind"] == "Deployment")


@pytest.mark.parametrize("name", NAMES)
def test_kubernetes_scrapes_each_pod_on_its_topology_port(name):
    pod = _k8s(name)["spec"]["template"]
    [container] = pod["spec"]["containers"]
    port = metrics_port(name)
    assert pod["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == str(port)
    assert {"name": "metrics", "containerPort": port} in container["ports"]
    assert {"name": "METRICS_PORT", "value": str(port)} in container["env"]
    config = yaml.safe_load((ROOT / "deploy" / "k8s" / "config.yaml").read_text())
    assert config["data"]["METRICS_HOST"] == "0.0.0.0"


@pytest.mark.parametrize("name", NAMES)
def test_compose_publishes_each_service_metrics_port(name):
    service = yaml.safe_load((ROOT / "deploy" / "docker-compose.yml").read_text())["services"][name]
    port = metrics_port(name)
    assert f"127.0.0.1:{port}:{port}" in service["ports"]
    assert service["environment"]["METRICS_HOST"] == "0.0.0.0"


# ---- a running system ----------------------------------------------------------------------------

def scrape(port: int) -> list:
    response = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    return [s for family in text_string_to_metric_families(response.text) for s in family.samples]


def value(samples: list, name: str, **labels: str) -> float | None:
    """The sum of the samples called ``name`` whose labels include ``labels``; None if there is none."""
    found = [s.value for s in samples
             if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]
    return sum(found) if found else None


@pytest.fixture(scope="module")
def system(pg_server, rabbit, tmp_path_factory):
    with running_system(pg_server, rabbit, tmp_path_factory.mktemp("metrics"), name="metrics") as sysm:
        yield sysm


@pytest.fixture(scope="module")
def traffic(system):
    """A 200, an unknown path, a route's 404, a product (an event other services handle), an order."""
    sales, manager = system.issue_key("sales"), system.issue_key("manager")
    channel = system.issue_key("channel", channel="tmall")
    base, sku = system.base_url, f"M{uuid.uuid4().hex[:8].upper()}"

    def call(method: str, path: str, key: str | None = None, **kwargs) -> requests.Response:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return requests.request(method, base + path, headers=headers, timeout=30, **kwargs)

    assert call("GET", "/health").status_code == 200
    assert call("GET", f"/no/such/path/{sku}").status_code == 404
    assert call("GET", f"/v1/admin/products/{sku}", sales).status_code == 404
    assert call("POST", "/v1/admin/products", sales, json={
        "sku": sku, "name": "Metrics towel", "category": "towels", "lifecycle": "classic",
        "status": "active"}).status_code == 201
    assert call("PUT", f"/v1/admin/prices/{sku}", manager,
                json={"list_price": "100.00", "floor_price": "50.00"}).status_code == 200
    placed = call("POST", "/v1/orders", channel, json={
        "external_id": uuid.uuid4().hex, "ship_to": CUSTOMER, "lines": [{"sku": sku, "qty": 1}]})
    assert placed.status_code == 201, placed.text
    return sku


def test_every_process_serves_metrics_on_its_own_port(system, traffic):
    assert len(set(system.metrics_ports.values())) == len(SERVICES)
    for name, port in system.metrics_ports.items():
        samples = scrape(port)
        in_use = value(samples, "dcm_db_pool_connections", service=name, state="in_use")
        idle = value(samples, "dcm_db_pool_connections", service=name, state="idle")
        most = value(samples, "dcm_db_pool_max_connections", service=name)
        assert None not in (in_use, idle, most), name
        assert 0 <= in_use + idle <= most == 14, name  # MAX_WORKERS 10 + 4


def test_the_gateway_counts_requests_by_route_template(system, traffic):
    samples = scrape(system.metrics_ports["gateway"])
    requests_total = "dcm_http_requests_total"
    assert value(samples, requests_total, route="/health", method="GET", status="200") >= 1
    assert value(samples, requests_total, route="unmatched", method="GET", status="404") >= 1
    assert value(samples, requests_total, route="/v1/admin/products/<sku>", method="GET",
                 status="404") >= 1
    assert value(samples, requests_total, route="/v1/admin/products", method="POST", status="201") >= 1
    assert value(samples, requests_total, route="/v1/orders", method="POST", status="201") >= 1
    assert value(samples, "dcm_http_request_duration_seconds_count", route="/health", method="GET") >= 1
    assert value(samples, "dcm_http_request_duration_seconds_bucket", route="/health", method="GET",
                 le="+Inf") >= 1
    assert not [s for s in samples if traffic in "".join(s.labels.values())], "a raw path as a label"
    # the gateway's side of its calls
    assert value(samples, "dcm_rpc_calls_total", service="catalog", method="get_product",
                 outcome="refused") >= 1
    assert value(samples, "dcm_rpc_calls_total", service="catalog", method="create_product",
                 outcome="ok") >= 1
    assert value(samples, "dcm_rpc_call_duration_seconds_count", service="fulfillment",
                 method="create_order") >= 1


def test_services_count_and_time_the_calls_they_answer(system, traffic):
    samples = scrape(system.metrics_ports["catalog"])
    assert value(samples, "dcm_rpc_handled_total", service="catalog", method="get_product",
                 outcome="refused") >= 1
    assert value(samples, "dcm_rpc_handled_total", service="catalog", method="create_product",
                 outcome="ok") >= 1
    assert value(samples, "dcm_rpc_handled_duration_seconds_count", service="catalog",
                 method="create_product", outcome="ok") >= 1
    assert value(samples, "dcm_rpc_handled_total", outcome="error") in (None, 0)


def test_events_are_counted_and_the_outbox_and_dead_letters_read(system, traffic):
    # catalog relays product_created; pricing applies it to its read model
    wait_until(lambda: (value(scrape(system.metrics_ports["pricing"]), "dcm_events_handled_total",
                              service="pricing", source="catalog", event_type="product_created")
                        or 0) >= 1, 30, "pricing never counted product_created")
    catalog = scrape(system.metrics_ports["catalog"])
    assert value(catalog, "dcm_outbox_relayed_events_total", service="catalog") >= 1
    for name in BACKENDS:
        samples = scrape(system.metrics_ports[name])
        backlog = value(samples, "dcm_outbox_unpublished_events", service=name)
        age = value(samples, "dcm_outbox_oldest_unpublished_age_seconds", service=name)
        assert backlog is not None and backlog >= 0, name
        assert age is not None and 0 <= age < 60, name
        assert value(samples, "dcm_metrics_read_errors_total", service=name) in (None, 0), name
    for name in ("pricing", "fulfillment"):  # they handle events: their dead-letter queue is read
        assert value(scrape(system.metrics_ports[name]), "dcm_dead_letters_waiting", service=name) == 0


def test_fulfillment_reports_orders_by_status_and_reservations(system, traffic):
    samples = scrape(system.metrics_ports["fulfillment"])
    assert value(samples, "dcm_orders", service="fulfillment") >= 1
    assert {s.labels["status"] for s in samples if s.name == "dcm_orders"}
    assert value(samples, "dcm_reservations", service="fulfillment", status="pending") is not None
    assert value(samples, "dcm_reservations", service="fulfillment", status="accepted") is not None
    assert value(samples, "dcm_reserved_units", service="fulfillment") >= 0
