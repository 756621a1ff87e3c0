"""`make demo` (deploy/demo.py): a small network loaded into a system of its own through the HTTP API,
what it reports, and a second run that finds everything and adds nothing."""
import json
import pathlib
import subprocess
import sys

import pytest
import requests

from common.geocode import resolve
from common.testing import running_system
from distributors.domain import credit_code_problem

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "deploy"))
import demo  # noqa: E402
import demo_data  # noqa: E402

DISTRIBUTORS, ORDERS = 12, 40


def test_the_plan_is_valid_and_the_same_every_time():
    plan = demo_data.distributors(300, seed=1)
    assert plan == demo_data.distributors(300, seed=1)
    assert len({d.credit_code for d in plan}) == 300
    assert [d.credit_code for d in plan if credit_code_problem(d.credit_code)] == []
    assert {d.province for d in plan} == set(demo_data.POPULATION_M)  # every mainland province
    for distributor in plan[:40]:
        for warehouse in distributor.warehouses:
            assert resolve(warehouse.address).adcode == warehouse.adcode
    catalog = demo_data.products(50)
    assert sum(p.lifecycle == "new" for p in catalog) == 10
    book = demo_data.OrderBook(catalog, seed=1)
    assert book.orders(5) == demo_data.OrderBook(catalog, seed=1).orders(10)[:5]  # more orders only add
    assert all(resolve(o.ship_to["address"]).province == o.province for o in book.orders(50))


@pytest.mark.parametrize("total", [1, 12, 61, 62, 300])
def test_distributors_are_split_over_provinces_by_population(total):
    counts = demo_data.allocate(total, demo_data.POPULATION_M, demo_data.MIN_PER_PROVINCE)
    assert sum(counts.values()) == total
    if total >= 62:
        assert min(counts.values()) >= 2
    assert counts["广东省"] == max(counts.values())  # the most populous province


def test_distance_percentiles_are_nearest_rank():
    distances = [float(d) for d in range(1, 101)]
    assert [demo.percentile(distances, q) for q in (50, 90, 99)] == [50.0, 90.0, 99.0]
    assert demo.percentile([7.5], 99) == 7.5 and demo.percentile([], 50) is None


@pytest.fixture(scope="module")
def system(pg_server, rabbit, tmp_path_factory):
    with running_system(pg_server, rabbit, tmp_path_factory.mktemp("logs"), name="demo") as sysm:
        yield sysm


def run_demo(system, out: pathlib.Path) -> tuple[dict, str]:
    done = subprocess.run(
        [sys.executable, str(ROOT / "deploy" / "demo.py"), "--gateway-url", system.base_url,
         "--gateway-database-url", system.database_urls["gateway"], "--distributors", str(DISTRIBUTORS),
         "--orders", str(ORDERS), "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr + done.stdout
    return json.loads(out.read_text()), done.stdout


def everything(system, key: str, path: str) -> list[dict]:
    items, params = [], {"limit": 500}
    while True:
        page = requests.get(system.base_url + path, params=params, timeout=30,
                            headers={"Authorization": f"Bearer {key}"})
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        if not page.json()["next_cursor"]:
            return items
        params["cursor"] = page.json()["next_cursor"]


def network(system, key: str) -> dict:
    return {path: everything(system, key, path)
            for path in ("/v1/admin/applications", "/v1/admin/distributors", "/v1/admin/orders",
                         "/v1/admin/products")}


def test_the_demo_loads_a_network_and_a_second_run_adds_nothing(system, tmp_path):
    summary, printed = run_demo(system, tmp_path / "first.json")

    assert summary["distributors"] == DISTRIBUTORS and summary["orders"] == ORDERS
    assert summary["statuses"].get("routed", 0) > 0 and summary["routed_pct"] > 0
    assert summary["order_provinces"] > 5 and summary["distributor_provinces"] > 5
    assert summary["shipments"] > 0 and summary["distance_km"]["p50"] is not None
    assert summary["ship_to_with_coordinates"] == 0
    for needle in ("routed", "back-ordered", "p50", "p90", "p99", "provinces"):
        assert needle in printed, needle

    sales = system.issue_key("sales")
    first = network(system, sales)
    assert len(first["/v1/admin/distributors"]) == DISTRIBUTORS
    assert len(first["/v1/admin/applications"]) == DISTRIBUTORS
    assert len(first["/v1/admin/products"]) == 50
    orders = first["/v1/admin/orders"]
    assert len(orders) == ORDERS
    for order in orders:  # sent with an address only, placed offline at a district's centre
        assert order["ship_to"].get("lat") is None and order["ship_to"].get("lon") is None, order
        assert order["geocode"]["precision"] == "district" and order["geocode"]["adcode"], order
    for distributor in first["/v1/admin/distributors"]:
        assert distributor["status"] == "active"
        assert {location["geocode"]["precision"] for location in distributor["locations"]} == {"district"}
    routed = [o for o in orders if o["status"] == "routed"]
    assert all(s["distance_km"] <= 400 for o in routed for s in o["shipments"])

    again, printed_again = run_demo(system, tmp_path / "second.json")
    assert again == summary
    assert printed_again.splitlines()[:-1] == printed.splitlines()[:-1]  # all but the time it took
    second = network(system, sales)
    for path, items in first.items():
        assert sorted(i.get("id") or i["sku"] for i in second[path]) == \
            sorted(i.get("id") or i["sku"] for i in items), path
    sku = first["/v1/admin/products"][0]["sku"]
    prices = requests.get(f"{system.base_url}/v1/admin/prices/{sku}", timeout=30,
                          headers={"Authorization": f"Bearer {sales}"}).json()
    assert len(prices["history"]) == 1  # the price was set once, not again
