"""`make demo`: load a believable network into a running system through its public HTTP API, then
print what routing did with it.

    .venv/bin/python deploy/demo.py [--distributors 300] [--orders 1000] [--products 50] [--seed 1]

What it loads (deploy/demo_data.py plans it): a home-textile brand's products (one in five ``new``),
their list and floor prices, the distributor tiers; distributors at real district centres in every
mainland province (applications giving addresses only, which the API places offline; approved by a
manager key), each warehouse's stock uploaded with the distributor's own key; and orders from the
brand's flagship stores (channel keys) whose ``ship_to`` is a Chinese postal address only, spread over
the provinces by population.

Running it again adds nothing: it lists what exists first (products, prices, tiers, applications,
distributors, stock, orders) and sends only what is missing; credit codes, SKUs and order external ids
come from ``--seed``, and every POST/PUT carries an Idempotency-Key. The manager, sales and channel keys
it uses are issued as `make api-key` issues them (``python -m gateway.keys`` on the gateway's database,
``GATEWAY_DATABASE_URL``); a distributor approved by an earlier run gets a key for this run only,
revoked at the end. Progress goes to stderr, the summary to stdout (``--json FILE`` also writes it as
JSON). See docs/demo.md.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import pathlib
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from decimal import Decimal

import requests

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import demo_data  # noqa: E402
from demo_data import CHANNELS, TIER_TERMS, Distributor, Order, OrderBook, Product  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
DEFAULT_GATEWAY_DB = "postgresql://postgres@127.0.0.1:5432/dcm_gateway"  # as `make api-key`
RETRY_STATUSES = {429, 502, 503, 504}
RETRY_FOR_SECONDS = 60.0
DEMO_ACTOR_PREFIX = "demo"


class DemoError(Exception):
    """A call the demo cannot go on without was refused; the message names it and the answer."""


# ---- HTTP ------------------------------------------------------------------------------------------

class Api:
    """The gateway's HTTP API with one keep-alive session per thread. Transient answers (a
    connection refused, 429, 502–504, an idempotency key still in flight) are retried, with the same
    Idempotency-Key, for up to ``RETRY_FOR_SECONDS``."""

    def __init__(self, base_url: str):
        self.base_url = base_url.rstrip("/")
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def call(self, method: str, path: str, key: str | None, body: dict | None = None,
             idempotency_key: str | None = None, ok: Sequence[int] = (200, 201, 204),
             params: dict | None = None) -> requests.Response:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        deadline = time.monotonic() + RETRY_FOR_SECONDS
        pause = 0.2
        while True:
            try:
                response = self._session().request(method, self.base_url + path, json=body, params=params,
                                                   headers=headers, timeout=60)
            except requests.ConnectionError as exc:
                response, failure = None, f"no answer ({exc.__class__.__name__})"
            else:
                failure = f"{response.status_code} {response.text[:500]}"
                if response.status_code in ok or not _transient(response):
                    break
            if time.monotonic() + pause > deadline:
                raise DemoError(f"{method} {path}: {failure}")
            wait = pause
            if response is not None and response.headers.get("Retry-After", "").isdigit():
                wait = float(response.headers["Retry-After"])
            time.sleep(min(wait, max(0.0, deadline - time.monotonic())))
            pause = min(pause * 2, 5.0)
        if response.status_code not in ok:
            raise DemoError(f"{method} {path}: {failure}")
        return response

    def json(self, method: str, path: str, key: str | None, body: dict | None = None, **kw) -> dict:
        return self.call(method, path, key, body, **kw).json()

    def pages(self, path: str, key: str, **filters: str) -> Iterator[dict]:
        """Every item of a list, 500 at a time."""
        params: dict = {"limit": 500, **filters}
        while True:
            page = self.json("GET", path, key, params=params)
            yield from page["items"]
            if not page.get("next_cursor"):
                return
            params["cursor"] = page["next_cursor"]


def _transient(response: requests.Response) -> bool:
    """Worth retrying: overload, a service restarting, or our own earlier attempt still in flight."""
    return response.status_code in RETRY_STATUSES or (
        response.status_code == 409 and "in flight" in response.text)


# ---- progress ----------------------------------------------------------------------------------------

class Progress:
    """One phase's bar on stderr: redrawn in place on a terminal (at most ten times a second), and
    written once, finished, otherwise."""

    WIDTH = 30

    def __init__(self, label: str, total: int, stream=None):
        self.label, self.total = label, total
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty()
        self.done = 0
        self.started = self.drawn_at = time.monotonic()
        self.lock = threading.Lock()
        if self.live:
            self._draw()

    def advance(self, count: int = 1) -> None:
        with self.lock:
            self.done += count
            if self.live and time.monotonic() - self.drawn_at >= 0.1:
                self._draw()

    def finish(self, note: str = "") -> None:
        with self.lock:
            self.done = self.total
            self._draw(f"  {note}\n" if note else "\n")

    def _draw(self, end: str = "") -> None:
        self.drawn_at = time.monotonic()
        filled = self.WIDTH * self.done // self.total if self.total else self.WIDTH
        bar = "█" * filled + "·" * (self.WIDTH - filled)
        start = "\r" if self.live else ""
        self.stream.write(f"{start}{self.label:<13} {bar} {self.done:>5}/{self.total:<5}"
                          f" {self.drawn_at - self.started:6.1f} s{end}")
        self.stream.flush()


def run_all(label: str, tasks: Sequence, work: Callable, workers: int, note: Callable[[list], str]
            = lambda results: "") -> list:
    """``work(task)`` for every task on a thread pool, with a progress bar; the results in task order.
    The first failure stops the run (tasks not yet started are cancelled)."""
    progress = Progress(label, len(tasks))
    results: list = [None] * len(tasks)
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(work, task): i for i, task in enumerate(tasks)}
        try:
            for future in concurrent.futures.as_completed(futures):
                results[futures[future]] = future.result()
                progress.advance()
        except BaseException:
            for future in futures:
                future.cancel()
            raise
    progress.finish(note(results))
    return results


# ---- keys ----------------------------------------------------------------------------------------------

def issue_key(gateway_database_url: str, role: str, channel: str | None = None) -> str:
    """A key from the CLI `make api-key` runs (``python -m gateway.keys``); it is its last line."""
    command = [sys.executable, "-m", "gateway.keys", "--role", role]
    if channel:
        command += ["--channel", channel]
    done = subprocess.run(command, cwd=ROOT, env={**os.environ, "DATABASE_URL": gateway_database_url},
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise DemoError(f"make api-key ROLE={role}: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout.strip().splitlines()[-1]


def issue_keys(gateway_database_url: str) -> dict[str, str]:
    """The manager, sales and one channel key per flagship store, issued side by side."""
    wanted = {"manager": ("manager", None), "sales": ("sales", None),
              **{channel: ("channel", channel) for channel in CHANNELS}}
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(wanted)) as pool:
        futures = {name: pool.submit(issue_key, gateway_database_url, role, channel)
                   for name, (role, channel) in wanted.items()}
        return {name: future.result() for name, future in futures.items()}


# ---- catalog, prices, tiers -----------------------------------------------------------------------------

def load_catalog(api: Api, keys: dict, catalog: Sequence[Product], seed: int) -> int:
    """The products the catalog lacks, in one import (upsert by sku); returns how many it created."""
    progress = Progress("products", len(catalog))
    have = {item["sku"] for item in api.pages("/v1/admin/products", keys["sales"], q="MY-")}
    missing = [product.body() for product in catalog if product.sku not in have]
    created = 0
    if missing:
        result = api.json("POST", "/v1/admin/products/import", keys["sales"], {"products": missing},
                          idempotency_key=f"demo{seed}:import:{len(missing)}:{missing[0]['sku']}")
        created = result["created"]
    progress.finish(f"{created} created, {len(catalog) - len(missing)} already there")
    return created


def set_prices(api: Api, keys: dict, catalog: Sequence[Product], seed: int, workers: int) -> None:
    def price(product: Product) -> bool:
        current = api.json("GET", f"/v1/admin/prices/{product.sku}", keys["sales"])["current"]
        if current and Decimal(current["list_price"]) == product.list_price:
            return False
        api.call("PUT", f"/v1/admin/prices/{product.sku}", keys["manager"],
                 {"list_price": str(product.list_price), "floor_price": str(product.floor_price)},
                 idempotency_key=f"demo{seed}:price:{product.sku}:{product.list_price}")
        return True

    run_all("prices", catalog, price, workers,
            lambda results: f"{sum(results)} set, {len(results) - sum(results)} already there")


def set_tiers(api: Api, keys: dict, seed: int) -> None:
    progress = Progress("tiers", len(TIER_TERMS))
    have = {item["tier"]: item for item in api.pages("/v1/admin/tiers", keys["sales"])}
    changed = 0
    for tier, (discount, breaks) in TIER_TERMS.items():
        wanted = {"discount_pct": discount,
                  "volume_breaks": [{"min_qty": qty, "extra_discount_pct": extra} for qty, extra in breaks]}
        current = have.get(tier)
        if current and _same_terms(current, wanted):
            progress.advance()
            continue
        api.call("PUT", f"/v1/admin/tiers/{tier}", keys["manager"], wanted,
                 idempotency_key=f"demo{seed}:tier:{tier}")
        changed += 1
        progress.advance()
    progress.finish(f"{changed} set, {len(TIER_TERMS) - changed} already there")


def _same_terms(current: dict, wanted: dict) -> bool:
    def terms(tier: dict) -> tuple:
        return (Decimal(str(tier["discount_pct"])),
                sorted((int(b["min_qty"]), Decimal(str(b["extra_discount_pct"]))) for b in tier["volume_breaks"]))
    return terms(current) == terms(wanted)


# ---- distributors --------------------------------------------------------------------------------------

class Onboarding:
    """Each planned distributor applied for, approved and stocked, unless it already is."""

    def __init__(self, api: Api, keys: dict, catalog: Sequence[Product], seed: int):
        self.api, self.keys, self.catalog, self.seed = api, keys, catalog, seed
        self.applications: dict[str, dict] = {}
        self.distributors: dict[str, dict] = {}
        self.temporary_keys: list[int] = []
        self.lock = threading.Lock()

    def look_up(self) -> None:
        """What exists: applications and distributors by credit code (a later application of a code
        wins over an earlier, rejected one)."""
        for item in self.api.pages("/v1/admin/applications", self.keys["sales"]):
            known = self.applications.get(item["credit_code"])
            if known is None or item["id"] > known["id"]:
                self.applications[item["credit_code"]] = item
        for item in self.api.pages("/v1/admin/distributors", self.keys["sales"]):
            self.distributors[item["credit_code"]] = item

    def onboard(self, plan: Distributor) -> dict:
        """``{"distributor", "new", "stocked"}``: the distributor as the admin API shows it, whether
        this run created it, and how many of its warehouses this run stocked."""
        distributor = self.distributors.get(plan.credit_code)
        if distributor is not None:
            if distributor["status"] != "active":
                return {"distributor": distributor, "new": False, "stocked": 0}
            key = self._temporary_key(distributor["id"])
            return {"distributor": distributor, "new": False,
                    "stocked": self._stock(plan, distributor, key, check_first=True)}
        application = self.applications.get(plan.credit_code)
        if application is None or application["status"] == "rejected":
            application = self.api.json("POST", "/v1/applications", self.keys["manager"], plan.application(),
                                        idempotency_key=f"demo{self.seed}:apply:{plan.credit_code}")
        approval = self.api.json("POST", f"/v1/admin/applications/{application['id']}/approve",
                                 self.keys["manager"], {"tier": plan.tier},
                                 idempotency_key=f"demo{self.seed}:approve:{plan.credit_code}")
        distributor = self.api.json("GET", f"/v1/admin/distributors/{approval['distributor_id']}",
                                    self.keys["sales"])
        return {"distributor": distributor, "new": True,
                "stocked": self._stock(plan, distributor, approval["api_key"], check_first=False)}

    def _temporary_key(self, distributor_id: int) -> str:
        issued = self.api.json("POST", "/v1/admin/api-keys", self.keys["manager"],
                               {"role": "distributor", "distributor_id": distributor_id})
        with self.lock:
            self.temporary_keys.append(issued["id"])
        return issued["api_key"]

    def revoke_temporary_keys(self) -> None:
        for key_id in self.temporary_keys:
            self.api.call("DELETE", f"/v1/admin/api-keys/{key_id}", self.keys["manager"], ok=(204, 404))
        self.temporary_keys.clear()

    def _stock(self, plan: Distributor, distributor: dict, key: str, check_first: bool) -> int:
        """Upload each warehouse's snapshot (matched to the location by name), skipping a location that
        already holds stock when ``check_first``; returns how many were uploaded."""
        by_name = {location["name"]: location for location in distributor["locations"]}
        uploaded = 0
        for i, warehouse in enumerate(plan.warehouses):
            location = by_name.get(warehouse.name)
            if location is None or not location.get("active", True):
                continue
            path = f"/v1/locations/{location['id']}/stock"
            if check_first and self.api.json("GET", path, key, params={"limit": 1})["items"]:
                continue
            self.api.call("PUT", path, key, {"items": demo_data.stock(self.catalog, warehouse, self.seed)},
                          idempotency_key=f"demo{self.seed}:stock:{plan.credit_code}:{i}")
            uploaded += 1
        return uploaded


def onboard_all(api: Api, keys: dict, plan: Sequence[Distributor], catalog: Sequence[Product], seed: int,
                workers: int) -> list[dict]:
    onboarding = Onboarding(api, keys, catalog, seed)
    onboarding.look_up()
    try:
        return run_all("distributors", plan, onboarding.onboard, workers, lambda results: (
            f"{sum(r['new'] for r in results)} approved, {sum(not r['new'] for r in results)} already there, "
            f"{sum(r['stocked'] for r in results)} warehouses stocked"))
    finally:
        onboarding.revoke_temporary_keys()


# ---- orders ----------------------------------------------------------------------------------------------

def demo_orders(api: Api, keys: dict, external_ids: set[str]) -> dict[str, dict]:
    """The demo's orders that exist, by external id (each flagship store's orders, listed)."""
    found = {}
    for channel in CHANNELS:
        for item in api.pages("/v1/admin/orders", keys["sales"], channel=channel):
            if item["external_id"] in external_ids:
                found[item["external_id"]] = item
    return found


def place_orders(api: Api, keys: dict, orders: Sequence[Order], workers: int) -> dict[str, dict]:
    """The orders that do not exist yet, each from its flagship store's key; then every demo order as
    the admin API lists it."""
    wanted = {order.external_id for order in orders}
    existing = demo_orders(api, keys, wanted)
    missing = [order for order in orders if order.external_id not in existing]

    def place(order: Order) -> int:
        response = api.call("POST", "/v1/orders", keys[order.channel], order.body(),
                            idempotency_key=order.external_id)
        return response.status_code

    run_all("orders", missing, place, workers,
            lambda results: f"{len(results)} placed, {len(existing)} already there")
    return demo_orders(api, keys, wanted)


# ---- the summary ---------------------------------------------------------------------------------------

LIVE_SHIPMENT = {"pending", "accepted", "shipped"}


def percentile(values: Sequence[float], q: float) -> float | None:
    """The nearest-rank percentile (``q`` in 0–100) of ``values``; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def summarize(plan: Sequence[Distributor], onboarded: Sequence[dict], catalog: Sequence[Product],
              orders: Iterable[dict]) -> dict:
    orders = list(orders)
    statuses = Counter(order["status"] for order in orders)
    shipments = [[s for s in order["shipments"] if s["status"] in LIVE_SHIPMENT] for order in orders]
    distances = [s["distance_km"] for live in shipments for s in live]
    active = [r["distributor"] for r in onboarded if r["distributor"]["status"] == "active"]
    locations = [location for d in active for location in d["locations"]]
    order_provinces = Counter((order.get("geocode") or {}).get("province") for order in orders)
    served_provinces = {(order.get("geocode") or {}).get("province")
                        for order, live in zip(orders, shipments, strict=True) if live}
    precision = Counter((order.get("geocode") or {}).get("precision") for order in orders)
    count = len(orders)

    def share(n: int) -> float:
        return round(100.0 * n / count, 1) if count else 0.0

    return {
        "distributors": len(active), "planned_distributors": len(plan), "locations": len(locations),
        "distributor_provinces": len({d["province"] for d in active}),
        "products": len(catalog), "new_products": sum(p.lifecycle == "new" for p in catalog),
        "orders": count,
        "statuses": dict(statuses),
        "routed_pct": share(statuses["routed"] + statuses["shipped"]),
        "split_pct": share(sum(len(live) > 1 for live in shipments)),
        "partially_routed_pct": share(statuses["partially_routed"]),
        "backordered_pct": share(statuses["backordered"]),
        "with_backordered_lines_pct": share(sum(bool(order["backordered"]) for order in orders)),
        "shipments": len(distances),
        "distance_km": {f"p{q}": percentile(distances, q) for q in (50, 90, 99)},
        "order_provinces": len([p for p in order_provinces if p]),
        "served_provinces": len([p for p in served_provinces if p]),
        "geocode_precision": dict(precision),
        "ship_to_with_coordinates": sum(order["ship_to"].get("lat") is not None
                                        or order["ship_to"].get("lon") is not None for order in orders),
        "top_provinces": [[p, n] for p, n in order_provinces.most_common(5) if p],
    }


def print_summary(summary: dict, seconds: float, out=sys.stdout) -> None:
    d = summary["distance_km"]

    def km(value: float | None) -> str:
        return "–" if value is None else f"{value:.1f}"

    lines = [
        f"network   {summary['distributors']} distributors, {summary['locations']} warehouses in "
        f"{summary['distributor_provinces']} provinces; {summary['products']} products "
        f"({summary['new_products']} new)",
        f"orders    {summary['orders']} from {summary['order_provinces']} provinces "
        f"(geocoded: {', '.join(f'{k} {v}' for k, v in sorted(summary['geocode_precision'].items(), key=str))}; "
        f"sent with coordinates: {summary['ship_to_with_coordinates']})",
        f"routing   routed {summary['routed_pct']} %   split over >1 shipment {summary['split_pct']} %   "
        f"partially routed {summary['partially_routed_pct']} %   back-ordered {summary['backordered_pct']} %",
        f"          orders with a back-ordered line {summary['with_backordered_lines_pct']} %",
        f"distance  {summary['shipments']} shipments, km p50 {km(d['p50'])}  p90 {km(d['p90'])}  "
        f"p99 {km(d['p99'])}",
        f"coverage  orders routed in {summary['served_provinces']} of the {summary['order_provinces']} "
        f"provinces they came from; most orders: "
        + ", ".join(f"{p} {n}" for p, n in summary["top_provinces"]),
        f"took      {seconds:.1f} s",
    ]
    out.write("\n".join(lines) + "\n")


# ---- main ------------------------------------------------------------------------------------------------

def arguments(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="deploy/demo.py", description=__doc__.split("\n\n")[0])
    port = os.environ.get("GATEWAY_PORT", "8000")
    parser.add_argument("--gateway-url", default=os.environ.get("GATEWAY_URL") or f"http://127.0.0.1:{port}",
                        help="the running system (GATEWAY_URL, else http://127.0.0.1:$GATEWAY_PORT)")
    parser.add_argument("--gateway-database-url",
                        default=os.environ.get("GATEWAY_DATABASE_URL") or DEFAULT_GATEWAY_DB,
                        help="where `make api-key` writes keys (GATEWAY_DATABASE_URL)")
    parser.add_argument("--distributors", type=int, default=300, help="distributors to onboard (300)")
    parser.add_argument("--orders", type=int, default=1000, help="orders to place (1000)")
    parser.add_argument("--products", type=int, default=50, help="products in the catalog (50)")
    parser.add_argument("--seed", type=int, default=1, help="which network: the same seed, the same one (1)")
    parser.add_argument("--workers", type=int, default=8, help="concurrent HTTP calls (8)")
    parser.add_argument("--json", metavar="FILE", help="also write the summary to FILE as JSON")
    args = parser.parse_args(argv)
    for name in ("distributors", "orders", "products", "workers"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if not 0 <= args.seed < 10_000:
        parser.error("--seed must be 0 to 9999")
    return args


def main(argv: Sequence[str]) -> int:
    args = arguments(argv)
    started = time.monotonic()
    api = Api(args.gateway_url)
    try:
        api.call("GET", "/ready", None)
    except DemoError as exc:
        print(f"error: the system at {args.gateway_url} is not ready ({exc}); start it with `make run`",
              file=sys.stderr)
        return 1
    catalog = demo_data.products(args.products)
    plan = demo_data.distributors(args.distributors, args.seed)
    orders = OrderBook(catalog, args.seed).orders(args.orders)
    try:
        keys = issue_keys(args.gateway_database_url)
        load_catalog(api, keys, catalog, args.seed)
        set_tiers(api, keys, args.seed)
        set_prices(api, keys, catalog, args.seed, args.workers)
        onboarded = onboard_all(api, keys, plan, catalog, args.seed, args.workers)
        placed = place_orders(api, keys, orders, args.workers)
    except DemoError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    summary = summarize(plan, onboarded, catalog, (placed[o.external_id] for o in orders if o.external_id in placed))
    print_summary(summary, time.monotonic() - started)
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(summary, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
