"""Fulfilment against real PostgreSQL and RabbitMQ: the nearest search uses its index, a pending
assignment past the timeout is re-routed by the timer, and stock stays consistent under any sequence
of uploads, reservations, releases and shipments."""
import random
import time
from datetime import UTC, datetime, timedelta

import psycopg2
import psycopg2.extras
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from nameko.standalone.rpc import ClusterRpcProxy
from nameko.testing.services import entrypoint_hook

import catalog.errors
import common.errors
import distributors.errors
import fulfillment.errors
import pricing.errors
from catalog.service import CatalogService
from common.db import transaction
from common.pagination import encode_cursor
from distributors.service import DistributorsService
from fulfillment import domain, handlers, store
from fulfillment.domain import StockMove
from fulfillment.errors import DistributorNotActive
from fulfillment.service import FulfillmentService
from pricing.service import PricingService

common.errors.make_deserializable(common.errors, catalog.errors, distributors.errors, pricing.errors,
                                  fulfillment.errors)
NOW = datetime(2026, 11, 22, tzinfo=UTC)


def test_the_nearest_search_uses_the_gist_index(fulfillment_db):
    rng = random.Random(7)
    with transaction(fulfillment_db) as cur:
        cur.execute("INSERT INTO locations (id, distributor_id, name, lat, lon, service_radius_km, active, "
                    "updated_at) SELECT g, g, 'l', %s, %s, 50, true, now() FROM generate_series(1, 1) g",
                    (31.0, 121.0))
        rows = [(i, i, "loc", rng.uniform(18, 54), rng.uniform(73, 135)) for i in range(2, 20_002)]
        cur.execute("INSERT INTO locations (id, distributor_id, name, lat, lon, service_radius_km, active, "
                    "updated_at) SELECT id, did, name, lat, lon, 50, true, now() FROM "
                    "unnest(%s::bigint[], %s::bigint[], %s::text[], %s::float8[], %s::float8[]) "
                    "AS t(id, did, name, lat, lon)",
                    tuple(list(col) for col in zip(*rows, strict=True)))
    conn = psycopg2.connect(fulfillment_db)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("ANALYZE locations")
        cur.execute("EXPLAIN " + store.CANDIDATES_SQL, {"lat": 31.23, "lon": 121.47, "reach_m": 50_600,
                                                        "skus": ["A"], "fresh_since": NOW})
        plan = "\n".join(r[0] for r in cur.fetchall())
    conn.close()
    assert "locations_earth_idx" in plan, plan
    assert "Seq Scan on locations" not in plan


@pytest.fixture
def cluster(amqp_uri, catalog_db, distributors_db, pricing_db, fulfillment_db, container_factory):
    base = {"AMQP_URI": amqp_uri, "serializer": "json", "max_workers": 4}
    containers = {}
    for cls, db in ((CatalogService, catalog_db), (DistributorsService, distributors_db),
                    (PricingService, pricing_db), (FulfillmentService, fulfillment_db)):
        containers[cls.name] = container_factory(cls, {**base, "DATABASE_URL": db})
        containers[cls.name].start()
    with ClusterRpcProxy(base) as rpc:
        yield rpc, containers, fulfillment_db


def approved_distributor(rpc, company: str, code: str = "91440300708461136T",
                         lat: float = 31.2) -> tuple[int, int]:
    """A gold distributor with one location in Shanghai: (distributor id, location id)."""
    app = rpc.distributors.submit_application({
        "company_name": company, "credit_code": code,
        "contact": {"name": "S", "phone": "13800000000", "email": "ops@example.cn"}, "address": "x",
        "province": "Shanghai", "city": "Shanghai", "locations": [{"name": "DC", "lat": lat, "lon": 121.4}],
        "requested_tier": "gold", "channels": ["tmall"]})
    did = rpc.distributors.approve_application(app["id"], {"tier": "gold"}, "m")["distributor_id"]
    return did, rpc.distributors.get_profile(did)["locations"][0]["id"]


def test_a_pending_assignment_past_the_timeout_is_rerouted(cluster):
    rpc, containers, db = cluster
    rpc.catalog.create_product({"sku": "T", "name": "t", "category": "c", "lifecycle": "new",
                                "status": "active"}, "s")
    rpc.pricing.set_price("T", {"list_price": "100.00", "floor_price": "50.00"}, "m")
    did, loc = approved_distributor(rpc, "Slow Co")
    rpc.fulfillment.put_stock(did, loc, {"items": [{"sku": "T", "on_hand": 3}]})
    placed = rpc.fulfillment.create_order("tmall", {
        "external_id": "slow-1", "ship_to": {"name": "c", "phone": "13800000001", "address": "a",
                                             "lat": 31.21, "lon": 121.41},
        "lines": [{"sku": "T", "qty": 2}]})["order"]
    assert placed["status"] == "routed"
    with transaction(db) as cur:
        cur.execute("UPDATE assignments SET created_at = now() - interval '31 minutes'")
    with entrypoint_hook(containers["fulfillment"], "reroute_overdue") as tick:
        tick()
    after = rpc.fulfillment.get_order(None, placed["id"])
    assert after["status"] == "backordered" and after["shipments"] == []
    assert after["explanation"][-1]["trigger"] == "timeout"
    assert {c["location_id"]: c["reason"] for c in after["explanation"][-1]["candidates"]}[loc] == \
        "excluded_after_reject"
    with transaction(db) as cur:
        cur.execute("SELECT status FROM assignments")
        assert [r["status"] for r in cur.fetchall()] == ["rerouted"]
        cur.execute("SELECT reserved FROM stock")
        assert cur.fetchone()["reserved"] == 0


def test_a_reinstated_distributor_may_change_stock_at_once(cluster):
    rpc, containers, db = cluster
    did, loc = approved_distributor(rpc, "Back Co")
    rpc.distributors.change_status(did, "suspend", {"reason": "audit"}, "m")
    deadline = time.monotonic() + 5
    while True:
        try:
            rpc.fulfillment.put_stock(did, loc, {"items": []})
        except DistributorNotActive:
            break
        assert time.monotonic() < deadline, "the suspension never reached fulfilment"
        time.sleep(0.05)
    version = rpc.distributors.change_status(did, "reinstate", {}, "m")["version"]
    with transaction(db) as cur:  # as if the reinstatement's event had not arrived yet
        cur.execute("UPDATE distributors SET status = 'suspended', version = %s WHERE id = %s",
                    (version - 1, did))
    rpc.fulfillment.put_stock(did, loc, {"items": [{"sku": "T", "on_hand": 3}]})
    assert rpc.fulfillment.get_stock(did, loc, {})["items"][0]["on_hand"] == 3


class StockMachine(RuleBasedStateMachine):
    """Uploads, deltas, reservations, releases and shipments in any order keep
    0 ≤ reserved ≤ on_hand and match a plain model."""

    db_url = None
    SKUS = ("A", "B")

    def __init__(self):
        super().__init__()
        self.conn = psycopg2.connect(self.db_url)
        with self.conn, self.conn.cursor() as cur:
            cur.execute("TRUNCATE stock")
        self.model = {sku: [0, 0] for sku in self.SKUS}  # on_hand, reserved
        self.held: list[tuple[str, int]] = []

    def _cur(self):
        return self.conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor)

    @rule(a=st.integers(0, 20), b=st.integers(0, 20))
    def upload_snapshot(self, a, b):
        with self.conn, self._cur() as cur:
            rejected = {r.sku for r in store.apply_snapshot(cur, 1, [("A", a), ("B", b)], NOW)}
        for sku, qty in (("A", a), ("B", b)):
            if qty >= self.model[sku][1]:
                assert sku not in rejected
                self.model[sku][0] = qty
            else:
                assert sku in rejected

    @rule(sku=st.sampled_from(SKUS), delta=st.integers(-10, 10))
    def adjust(self, sku, delta):
        with self.conn, self._cur() as cur:
            applied = store.apply_adjustment(cur, 1, sku, delta, NOW) is not None
        on_hand, reserved = self.model[sku]
        assert applied == (on_hand + delta >= reserved and on_hand + delta >= 0)
        if applied:
            self.model[sku][0] += delta

    @rule(moves=st.lists(st.tuples(st.sampled_from(SKUS), st.integers(1, 8)), min_size=1, max_size=3))
    def reserve(self, moves):
        """Reservations all or nothing, in one statement (a SKU may come twice: both count)."""
        with self.conn, self._cur() as cur:
            ok = store.reserve_all(cur, [StockMove(1, sku, qty) for sku, qty in moves])
        wanted = {sku: sum(q for s, q in moves if s == sku) for sku, _ in moves}
        assert ok == all(self.model[sku][0] - self.model[sku][1] >= qty for sku, qty in wanted.items())
        if ok:
            for sku, qty in moves:
                self.model[sku][1] += qty
                self.held.append((sku, qty))

    @precondition(lambda self: self.held)
    @rule(ship=st.booleans())
    def finish_one(self, ship):
        sku, qty = self.held.pop(0)
        with self.conn, self._cur() as cur:
            (store.consume if ship else store.release)(cur, 1, sku, qty)
        self.model[sku][1] -= qty
        if ship:
            self.model[sku][0] -= qty

    @invariant()
    def stock_matches_the_model_and_never_oversells(self):
        with self.conn, self._cur() as cur:
            cur.execute("SELECT sku, on_hand, reserved, on_hand - reserved AS available FROM stock")
            rows = {r["sku"]: r for r in cur.fetchall()}
        for sku, (on_hand, reserved) in self.model.items():
            row = rows.get(sku, {"on_hand": 0, "reserved": 0, "available": 0})
            assert (row["on_hand"], row["reserved"]) == (on_hand, reserved)
            assert row["available"] >= 0 and row["reserved"] >= 0

    def teardown(self):
        self.conn.close()


def test_stock_stays_consistent_under_any_sequence(fulfillment_db):
    StockMachine.db_url = fulfillment_db
    run = StockMachine.TestCase
    run.settings = settings(max_examples=25, stateful_step_count=25, deadline=None)
    run("runTest").runTest()


def test_a_reservation_that_cannot_be_made_whole_holds_no_stock_and_no_lock(fulfillment_db):
    """One line short: nothing is reserved, and the rows it touched are not left locked by the
    order's transaction (it may route again, and other orders need those rows meanwhile)."""
    with transaction(fulfillment_db) as cur:
        cur.execute("INSERT INTO stock VALUES (1, 'A', 5, 0, now()), (1, 'B', 1, 0, now())")
    ordering = psycopg2.connect(fulfillment_db)
    other = psycopg2.connect(fulfillment_db)
    try:
        with ordering.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
            assert not store.reserve_all(cur, [StockMove(1, "A", 2), StockMove(1, "B", 1), StockMove(1, "B", 1)])
            cur.execute("SELECT sku, reserved FROM stock ORDER BY sku")
            assert [(r["sku"], r["reserved"]) for r in cur.fetchall()] == [("A", 0), ("B", 0)]
            with other.cursor() as elsewhere:  # the ordering transaction is still open
                elsewhere.execute("SET lock_timeout = '2s'")
                elsewhere.execute("UPDATE stock SET reserved = reserved + 1 WHERE location_id = 1 AND sku = 'A'")
                other.commit()
            assert store.reserve_all(cur, [StockMove(1, "A", 4), StockMove(1, "B", 1)])
        ordering.commit()
    finally:
        ordering.close()
        other.close()
    with transaction(fulfillment_db) as cur:
        cur.execute("SELECT sku, reserved FROM stock ORDER BY sku")
        assert [(r["sku"], r["reserved"]) for r in cur.fetchall()] == [("A", 5), ("B", 1)]


@settings(max_examples=80, deadline=None)
@given(network=st.lists(st.tuples(st.integers(-30, 30), st.integers(-30, 30), st.integers(0, 4),
                                  st.integers(0, 4), st.booleans()), min_size=1, max_size=14),
       want_a=st.integers(1, 5), want_b=st.integers(0, 3))
def test_the_short_list_decides_exactly_as_every_candidate_would(fulfillment_db_url, monkeypatch_limits,
                                                                network, want_a, want_b):
    """Nearest-first short lists (cut at 3 and 2 rows of a 3-row, then a 6-row scan here, to exercise every cut)
    never change a decision."""
    now = datetime.now(UTC)
    conn = psycopg2.connect(fulfillment_db_url)
    with conn, conn.cursor() as cur:
        cur.execute("TRUNCATE locations, stock, distributors")
        for i, (dlat, dlon, a, b, fresh) in enumerate(network, start=1):
            # a coarse grid (0.01°) makes distance ties common
            cur.execute("INSERT INTO locations VALUES (%s, %s, 'l', %s, %s, 50, true, now())",
                        (i, i, 31.0 + dlat / 100, 121.0 + dlon / 100))
            synced = now if fresh else now - timedelta(days=3)
            for sku, qty in (("A", a), ("B", b)):
                cur.execute("INSERT INTO stock VALUES (%s, %s, %s, 0, %s)", (i, sku, qty, synced))
    lines = [("A", want_a)] + ([("B", want_b)] if want_b else [])
    wanted = dict(lines)
    order = {"lat": 31.0, "lon": 121.0}
    with conn, conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
        fresh_since = now - timedelta(hours=24)
        decision, _ = handlers.decide(store.SqlStore(cur), order["lat"], order["lon"], lines, list(wanted), set(),
                                      3, fresh_since)  # the largest radius read in the scan, as the service does
        everyone = store.candidates(cur, 31.0, 121.0, list(wanted), fresh_since, 50.0)
        reference = __import__("fulfillment.domain", fromlist=["route"]).route(lines, 31.0, 121.0, everyone)
    conn.close()
    assert [(s.location_id, s.lines) for s in decision.shipments] == \
        [(s.location_id, s.lines) for s in reference.shipments]
    assert decision.backordered == reference.backordered


def test_the_nearest_scan_reads_the_largest_radius_of_every_location(fulfillment_db_url):
    """Routing reads the largest service radius in the scan's own statement, not only of what it scanned."""
    conn = psycopg2.connect(fulfillment_db_url)
    with conn, conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
        cur.execute("TRUNCATE locations, stock, distributors")
        cur.execute("INSERT INTO locations VALUES (1, 1, 'near', 31.0, 121.0, 30, true, now()), "
                    "(2, 2, 'far', 35.0, 121.0, 80, false, now())")
        scan = store.nearest_scan(cur, 31.0, 121.0, {"A": 1}, [], datetime.now(UTC), 1)
        assert (scan.scanned, scan.reach_km) == (1, 80.0) and store.max_radius_km(cur) == 80.0
        cur.execute("TRUNCATE locations")
        assert store.nearest_scan(cur, 31.0, 121.0, {"A": 1}, [], datetime.now(UTC), 1).reach_km == 0.0
    conn.close()


@pytest.fixture(scope="module")
def monkeypatch_limits():
    saved = store.NEAREST_LIMIT, store.WHOLE_LIMIT, domain.SCAN_LIMITS
    store.NEAREST_LIMIT, store.WHOLE_LIMIT, domain.SCAN_LIMITS = 3, 2, (3, 6)
    yield
    store.NEAREST_LIMIT, store.WHOLE_LIMIT, domain.SCAN_LIMITS = saved


WORKFLOW: dict = {}


class WorkflowMachine(RuleBasedStateMachine):
    """Uploads, orders, accepts, rejects, shipments and cancellations through the service in any order:
    reserved always equals what open assignments hold, and 0 ≤ reserved ≤ on_hand."""

    def __init__(self):
        super().__init__()
        # kept off the class: hypothesis inspects class attributes, and a proxy answers any name
        self.rpc, self.db, self.distributors = WORKFLOW["rpc"], WORKFLOW["db"], WORKFLOW["distributors"]
        with transaction(self.db) as cur:
            cur.execute("TRUNCATE stock, assignments, orders RESTART IDENTITY CASCADE")
        self.orders = 0

    @rule(which=st.integers(0, 1), qty=st.integers(0, 6))
    def upload(self, which, qty):
        did, loc = self.distributors[which]
        self.rpc.fulfillment.put_stock(did, loc, {"items": [{"sku": "W", "on_hand": qty}]})

    @rule(qty=st.integers(1, 4))
    def order(self, qty):
        self.orders += 1
        self.rpc.fulfillment.create_order("tmall", {
            "external_id": f"wf-{self.orders}", "lines": [{"sku": "W", "qty": qty}],
            "ship_to": {"name": "c", "phone": "13800000001", "address": "a", "lat": 31.2, "lon": 121.4}})

    def _assignment(self, status):
        with transaction(self.db) as cur:
            cur.execute("SELECT id, distributor_id FROM assignments WHERE status = %s ORDER BY id LIMIT 1",
                        (status,))
            return cur.fetchone()

    @rule()
    def accept(self):
        a = self._assignment("pending")
        if a:
            self.rpc.fulfillment.accept_assignment(a["distributor_id"], a["id"])

    @rule()
    def reject(self):
        a = self._assignment("pending") or self._assignment("accepted")
        if a:
            self.rpc.fulfillment.reject_assignment(a["distributor_id"], a["id"], {"reason": "busy"})

    @rule()
    def ship(self):
        a = self._assignment("accepted")
        if a:
            self.rpc.fulfillment.ship_assignment(a["distributor_id"], a["id"],
                                                 {"carrier": "SF", "tracking_no": "1"})

    @rule()
    def cancel(self):
        with transaction(self.db) as cur:
            cur.execute("SELECT id FROM orders WHERE status NOT IN ('cancelled', 'shipped') ORDER BY id LIMIT 1")
            row = cur.fetchone()
        if row:
            try:
                self.rpc.fulfillment.cancel_order("tmall", row["id"], "test")
            except fulfillment.errors.IllegalOrderChange:
                pass  # it has a shipped assignment

    @invariant()
    def reservations_match_open_assignments(self):
        with transaction(self.db) as cur:
            cur.execute("SELECT location_id, on_hand, reserved FROM stock WHERE sku = 'W'")
            stock = {r["location_id"]: r for r in cur.fetchall()}
            cur.execute("SELECT location_id, sum((l->>'qty')::int) AS held FROM assignments, "
                        "jsonb_array_elements(lines) l WHERE status IN ('pending', 'accepted') "
                        "GROUP BY location_id")
            held = {r["location_id"]: r["held"] for r in cur.fetchall()}
        for location_id, row in stock.items():
            assert 0 <= row["reserved"] <= row["on_hand"]
            assert row["reserved"] == held.get(location_id, 0)


def test_the_workflow_keeps_stock_consistent(cluster):
    rpc, _, db = cluster
    rpc.catalog.create_product({"sku": "W", "name": "w", "category": "c", "lifecycle": "new",
                                "status": "active"}, "s")
    rpc.pricing.set_price("W", {"list_price": "10.00", "floor_price": "5.00"}, "m")
    ids = []
    for code, lat in (("91110000710935732K", 31.21), ("91440300192241158P", 31.25)):
        app = rpc.distributors.submit_application({
            "company_name": "WF", "credit_code": code,
            "contact": {"name": "w", "phone": "13800000000", "email": "w@wf.cn"}, "address": "x",
            "province": "Shanghai", "city": "Shanghai", "locations": [{"name": "DC", "lat": lat, "lon": 121.4}],
            "requested_tier": "gold", "channels": ["tmall"]})
        did = rpc.distributors.approve_application(app["id"], {"tier": "gold"}, "m")["distributor_id"]
        ids.append((did, rpc.distributors.get_profile(did)["locations"][0]["id"]))
    WORKFLOW.update(rpc=rpc, db=db, distributors=ids)
    run = WorkflowMachine.TestCase
    run.settings = settings(max_examples=10, stateful_step_count=20, deadline=None)
    run("runTest").runTest()


# ---- the sales team's order search, bounded explanations, status and hardening ----------------------


def product(rpc, sku: str, list_price: str = "100.00") -> None:
    rpc.catalog.create_product({"sku": sku, "name": sku, "category": "c", "lifecycle": "classic",
                                "status": "active"}, "s")
    rpc.pricing.set_price(sku, {"list_price": list_price, "floor_price": "1.00"}, "m")


def place(rpc, external_id: str, lines: list, channel: str = "tmall", phone: str = "13800000001",
          lat: float = 31.21) -> dict:
    return rpc.fulfillment.create_order(channel, {
        "external_id": external_id, "ship_to": {"name": "c", "phone": phone, "address": "a",
                                                "lat": lat, "lon": 121.41},
        "lines": [{"sku": sku, "qty": qty} for sku, qty in lines]})["order"]


def ids(page: dict) -> list[int]:
    return [o["id"] for o in page["items"]]


def test_the_order_search_filters_and_lists_no_explanation(cluster):
    rpc, _, db = cluster
    product(rpc, "S")
    one, loc_one = approved_distributor(rpc, "One Co", "91110000710935732K", lat=31.2)
    two, loc_two = approved_distributor(rpc, "Two Co", "91440300192241158P", lat=31.3)
    rpc.fulfillment.put_stock(one, loc_one, {"items": [{"sku": "S", "on_hand": 2}]})
    rpc.fulfillment.put_stock(two, loc_two, {"items": [{"sku": "S", "on_hand": 9}]})
    first = place(rpc, "TM-1", [("S", 1)])                      # from `one`, the nearer
    second = place(rpc, "TM-2", [("S", 1)], channel="jd")       # `one` again: now it is empty
    third = place(rpc, "TM-3", [("S", 3)])                      # from `two`
    nothing = place(rpc, "TM-4", [("S", 99)], lat=40.0)         # nobody near Beijing
    assert [o["shipments"][0]["distributor_id"] for o in (first, second, third)] == [one, one, two]
    with transaction(db) as cur:                                # a day apart each, the first oldest
        for days, order in enumerate((nothing, third, second, first)):
            cur.execute("UPDATE orders SET created_at = %s WHERE id = %s",
                        (NOW - timedelta(days=days), order["id"]))

    search = rpc.fulfillment.list_orders
    everything = search({})
    assert ids(everything) == [nothing["id"], third["id"], second["id"], first["id"]]
    assert all("explanation" not in o for o in everything["items"])
    assert everything["items"][-1]["shipments"][0]["location_id"] == loc_one
    assert ids(search({"external_id": "TM-2"})) == [second["id"]]
    assert ids(search({"external_id": "TM-2", "channel": "tmall"})) == []
    assert ids(search({"external_id": "NO-SUCH"})) == []
    assert ids(search({"channel": "jd"})) == [second["id"]]
    assert ids(search({"distributor_id": str(one)})) == [second["id"], first["id"]]
    assert ids(search({"distributor_id": two, "channel": "tmall"})) == [third["id"]]
    assert ids(search({"status": "backordered"})) == [nothing["id"]]
    day = timedelta(days=1)
    assert ids(search({"created_from": (NOW - 2 * day).isoformat(),
                       "created_to": NOW.isoformat()})) == [third["id"], second["id"]]   # to: exclusive
    assert ids(search({"created_from": (NOW - day).isoformat()})) == [nothing["id"], third["id"]]
    assert ids(search({"created_to": (NOW - 2 * day).isoformat()})) == [first["id"]]
    page = search({"limit": "1", "distributor_id": one})
    assert ids(page) == [second["id"]] and page["next_cursor"]
    page = search({"limit": "1", "distributor_id": one, "cursor": page["next_cursor"]})
    assert ids(page) == [first["id"]] and page["next_cursor"] is None
    for bad, field in (({"status": "bogus"}, "status"), ({"external_id_typo": "TM-2"}, "external_id_typo"),
                       ({"distributor_id": str(2**64)}, "distributor_id"),
                       ({"created_from": "2026-11-01T00:00:00"}, "created_from"),
                       ({"cursor": encode_cursor("SKU-1")}, "cursor")):
        with pytest.raises(common.errors.InvalidInput) as refused:
            search(bad)
        assert [e["field"] for e in refused.value.errors] == [field]
    detail = rpc.fulfillment.get_order(None, first["id"])
    assert detail["explanation"][0]["omitted"] == {} and detail["explanation"][0]["candidates"]


class Captured:
    """Stands in for a cursor to catch the statement a store function would run."""

    def execute(self, sql, args=None):
        self.sql, self.args = sql, args

    def fetchall(self):
        return []


def test_the_order_search_uses_an_index_for_each_filter(fulfillment_db):
    with transaction(fulfillment_db) as cur:
        cur.execute("INSERT INTO orders (channel, external_id, ship_to, geocode, lat, lon, lines, retail, "
                    "substitutes, retail_total, status, created_at, updated_at) "
                    "SELECT 'ch' || (g %% 20), 'E' || g, '{}', '{\"precision\": \"given\"}', "
                    "31, 121, '[]', '{}', '{}', 1, "
                    "(ARRAY['routed','shipped','backordered','cancelled','partially_routed'])[1 + g %% 5], "
                    "%(now)s - g * interval '1 minute', %(now)s FROM generate_series(1, 50000) g", {"now": NOW})
        cur.execute("INSERT INTO assignments (order_id, distributor_id, location_id, distance_km, lines, "
                    "status, created_at, updated_at) SELECT g, 1 + g %% 2000, 1, 1, '[]', 'shipped', "
                    "%(now)s, %(now)s FROM generate_series(1, 50000) g", {"now": NOW})
    conn = psycopg2.connect(fulfillment_db)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("ANALYZE orders")
        cur.execute("ANALYZE assignments")
        for filters, index in (({"external_id": "E77"}, "orders_external_id_idx"),
                               ({"distributor_id": 17}, "assignments_distributor_order_idx"),
                               ({"created_from": NOW - timedelta(minutes=90),
                                 "created_to": NOW - timedelta(minutes=30)}, "orders_created_at_idx")):
            statement = Captured()
            store.list_orders(statement, filters, None, 50)
            cur.execute("EXPLAIN " + statement.sql, statement.args)
            plan = "\n".join(r[0] for r in cur.fetchall())
            assert index in plan, plan
            assert "Seq Scan on orders" not in plan and "Seq Scan on assignments" not in plan, plan
    conn.close()


def test_a_round_names_at_most_20_passed_over_candidates_and_counts_the_rest(cluster):
    rpc, _, db = cluster
    product(rpc, "N")
    with transaction(db) as cur:   # 30 locations with one unit each and 10 without, around the customer
        for i in range(1, 41):
            cur.execute("INSERT INTO distributors VALUES (%s, 'active', 1)", (9000 + i,))
            cur.execute("INSERT INTO locations VALUES (%s, %s, 'l', %s, 121.41, 50, true, now())",
                        (9000 + i, 9000 + i, 31.21 + i / 1000))
            if i <= 30:
                cur.execute("INSERT INTO stock VALUES (%s, 'N', 1, 0, now())", (9000 + i,))
    placed = place(rpc, "MANY-1", [("N", 50)])
    assert placed["status"] == "partially_routed" and len(placed["shipments"]) == 3
    round_ = rpc.fulfillment.get_order(None, placed["id"])["explanation"][0]
    others = [c for c in round_["candidates"] if not c["chosen"]]
    assert [c["location_id"] for c in round_["candidates"] if c["chosen"]] == [9001, 9002, 9003]
    assert [c["location_id"] for c in others] == list(range(9004, 9024))   # nearest first
    assert all(c["reason"] == "shipment_limit" for c in others)
    assert round_["omitted"] == {"no_stock": 10, "shipment_limit": 7}
    with transaction(db) as cur:   # stored bounded, not only shown bounded
        cur.execute("SELECT explanation FROM orders WHERE id = %s", (placed["id"],))
        stored = cur.fetchone()["explanation"][0]
    assert len(stored["candidates"]) == 23 and stored["omitted"] == round_["omitted"]

    legacy = {**stored, "candidates": [{"location_id": 100 + i, "distributor_id": 1, "distance_km": i / 10,
                                        "available": 1, "chosen": i == 0, "reason": "farther"}
                                       for i in range(30)]}
    del legacy["omitted"]
    with transaction(db) as cur:   # recorded before rounds were bounded: bounded when shown
        cur.execute("UPDATE orders SET explanation = %s WHERE id = %s",
                    (psycopg2.extras.Json([legacy]), placed["id"]))
    shown = rpc.fulfillment.get_order(None, placed["id"])["explanation"][0]
    assert len(shown["candidates"]) == 21 and shown["omitted"] == {"farther": 9}


def test_an_order_whose_assigned_lines_shipped_is_shipped_though_a_line_is_backordered(cluster):
    rpc, _, _ = cluster
    product(rpc, "H")
    product(rpc, "GONE")
    did, loc = approved_distributor(rpc, "Ship Co")
    rpc.fulfillment.put_stock(did, loc, {"items": [{"sku": "H", "on_hand": 5}]})
    placed = place(rpc, "SHIP-1", [("H", 2), ("GONE", 1)])
    assert placed["status"] == "partially_routed"
    assignment = placed["shipments"][0]["assignment_id"]
    rpc.fulfillment.accept_assignment(did, assignment)
    assert rpc.fulfillment.get_order("tmall", placed["id"])["status"] == "partially_routed"
    rpc.fulfillment.ship_assignment(did, assignment, {"carrier": "SF", "tracking_no": "SF1"})
    shipped = rpc.fulfillment.get_order("tmall", placed["id"])
    assert shipped["status"] == "shipped"
    assert shipped["backordered"] == [{"sku": "GONE", "qty": 1, "substitutes": [], "refund_amount": "100.00"}]
    assert ids(rpc.fulfillment.list_orders({"status": "shipped"})) == [placed["id"]]


def test_an_order_answered_at_creation_is_the_order_as_stored(cluster):
    """create_order builds its answer and its events from the rows its inserts returned (no read
    back): the answer is what GET answers afterwards, and each event carries the same view."""
    rpc, _, db = cluster
    product(rpc, "V1")
    product(rpc, "V2", "12.30")
    did, loc = approved_distributor(rpc, "View Co")
    rpc.fulfillment.put_stock(did, loc, {"items": [{"sku": "V1", "on_hand": 5}]})
    for external_id, lines in (("VIEW-1", [("V1", 2)]), ("VIEW-2", [("V1", 1), ("V2", 3)]),
                               ("VIEW-3", [("V2", 1)])):
        placed = place(rpc, external_id, lines)
        assert placed == rpc.fulfillment.get_order("tmall", placed["id"]), external_id
        with transaction(db) as cur:
            cur.execute("SELECT event_type AS name, payload FROM outbox WHERE payload::text LIKE %s ORDER BY id",
                        (f'%"{external_id}"%',))
            published = cur.fetchall()
        assert published and all(row["payload"]["order"] == placed for row in published
                                 if row["name"].startswith("order_")), external_id
    assert [placed["status"] for placed in (rpc.fulfillment.get_order("tmall", i) for i in
            [o["id"] for o in rpc.fulfillment.list_orders({"channel": "tmall"})["items"]][:3])] == \
        ["backordered", "partially_routed", "routed"]


def test_a_ship_to_phone_is_stored_and_returned_in_e164(cluster):
    rpc, _, db = cluster
    product(rpc, "P")
    placed = place(rpc, "PHONE-1", [("P", 1)], phone="+86 138-0013-8000")
    assert placed["ship_to"]["phone"] == "+8613800138000"
    with transaction(db) as cur:
        cur.execute("SELECT ship_to->>'phone' AS phone FROM orders WHERE id = %s", (placed["id"],))
        assert cur.fetchone()["phone"] == "+8613800138000"
    with pytest.raises(common.errors.InvalidInput) as refused:
        place(rpc, "PHONE-2", [("P", 1)], phone="+1 212 555 0100")
    assert [e["field"] for e in refused.value.errors] == ["ship_to.phone"]


def test_ids_beyond_any_we_hand_out_or_not_in_ascii_digits_name_nothing(cluster):
    rpc, _, _ = cluster
    did, loc = approved_distributor(rpc, "Edge Co")
    for odd in (str(2**63), str(2**64), 2**63, "9" * 30, str(2**53), f"+{loc}", f" {loc}", f"{loc}_0",
                 chr(0x0660 + loc) if loc < 10 else "\u0661"):   # int() reads these; they name nothing
        with pytest.raises(fulfillment.errors.OrderNotFound):
            rpc.fulfillment.get_order(None, odd)
        with pytest.raises(fulfillment.errors.OrderNotFound):
            rpc.fulfillment.cancel_order("tmall", odd, "t")
        with pytest.raises(fulfillment.errors.LocationNotFound):
            rpc.fulfillment.get_stock(did, odd, {})
        with pytest.raises(fulfillment.errors.LocationNotFound):
            rpc.fulfillment.put_stock(did, odd, {"items": []})
        with pytest.raises(fulfillment.errors.AssignmentNotFound):
            rpc.fulfillment.accept_assignment(did, odd)


def test_stock_never_goes_beyond_what_its_column_holds_and_a_refusal_stores_nothing(cluster):
    rpc, _, db = cluster
    did, loc = approved_distributor(rpc, "Big Co")
    rpc.fulfillment.put_stock(did, loc, {"items": [{"sku": "B", "on_hand": 1_000_000_000}]})
    for adjustments in ([("B", 1)], [("B", 1_000_000_000)],
                        [("E", 1_000_000_000), ("F", 7), ("B", 1)]):   # the last refuses them all
        with pytest.raises(fulfillment.errors.StockConflict) as refused:
            rpc.fulfillment.adjust_stock(did, loc, {"adjustments": [
                {"sku": sku, "delta": delta, "reason": "count"} for sku, delta in adjustments]})
        assert [e["field"] for e in refused.value.errors] == [f"adjustments[{len(adjustments) - 1}].delta"]
    assert rpc.fulfillment.get_stock(did, loc, {})["items"][0]["on_hand"] == 1_000_000_000
    with transaction(db) as cur:
        cur.execute("SELECT sku, on_hand FROM stock WHERE on_hand > 0 ORDER BY sku")
        assert [(r["sku"], r["on_hand"]) for r in cur.fetchall()] == [("B", 1_000_000_000)]
    with pytest.raises(common.errors.InvalidInput) as refused:
        rpc.fulfillment.put_stock(did, loc, {"items": [{"sku": "B", "on_hand": 2**31}]})
    assert [e["field"] for e in refused.value.errors] == ["items[0].on_hand"]
    with pytest.raises(common.errors.InvalidInput) as refused:
        rpc.fulfillment.get_stock(did, loc, {"cursor": encode_cursor(12)})
    assert [e["field"] for e in refused.value.errors] == ["cursor"]


def test_an_order_worth_more_than_money_can_hold_is_refused_and_not_stored(cluster):
    rpc, _, db = cluster
    product(rpc, "GOLD", list_price="9999999999.99")
    with pytest.raises(fulfillment.errors.InvalidOrder) as refused:
        place(rpc, "RICH-1", [("GOLD", 2)])
    assert [e["field"] for e in refused.value.errors] == ["lines"]
    with transaction(db) as cur:
        cur.execute("SELECT count(*) AS n FROM orders")
        assert cur.fetchone()["n"] == 0
    assert place(rpc, "RICH-2", [("GOLD", 1)])["retail_total"] == "9999999999.99"


def test_deltas_with_a_request_key_are_applied_once_however_often_they_arrive(cluster):
    rpc, _, db = cluster
    did, loc = approved_distributor(rpc, "Once Co")
    body = {"adjustments": [{"sku": "K", "delta": 5, "reason": "count"}]}
    first = rpc.fulfillment.adjust_stock(did, loc, body, "distributor:1:key-1")
    again = [rpc.fulfillment.adjust_stock(did, loc, body, "distributor:1:key-1") for _ in range(3)]
    assert all(answer == first for answer in again)
    assert rpc.fulfillment.get_stock(did, loc, {})["items"][0]["on_hand"] == 5
    with pytest.raises(fulfillment.errors.KeyReused):
        rpc.fulfillment.adjust_stock(did, loc, {"adjustments": [{"sku": "K", "delta": 6, "reason": "count"}]},
                                     "distributor:1:key-1")
    rpc.fulfillment.adjust_stock(did, loc, body, "distributor:1:key-2")  # another key: applied
    rpc.fulfillment.adjust_stock(did, loc, body)  # no key: applied, as before
    assert rpc.fulfillment.get_stock(did, loc, {})["items"][0]["on_hand"] == 15
    with pytest.raises(fulfillment.errors.StockConflict):  # refused: the key is not spent
        rpc.fulfillment.adjust_stock(did, loc, {"adjustments": [{"sku": "K", "delta": -99, "reason": "count"}]},
                                     "distributor:1:key-3")
    rpc.fulfillment.adjust_stock(did, loc, {"adjustments": [{"sku": "K", "delta": -15, "reason": "count"}]},
                                 "distributor:1:key-3")
    assert rpc.fulfillment.get_stock(did, loc, {})["items"][0]["on_hand"] == 0
