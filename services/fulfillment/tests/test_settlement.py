"""Settlement (分账): the pure rules, and the handlers on the in-memory unit of work — including the
property that, for any sequence of shipments and rate changes, every statement's totals are the sums
of its lines and the statements together hold every shipped line exactly once."""
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from fulfillment_fakes import InMemoryUnitOfWork
from hypothesis import given, settings
from hypothesis import strategies as st

from fulfillment import handlers, settlement
from fulfillment.domain import LocationFacts, Product
from fulfillment.errors import IllegalStatementChange, StatementNotFound
from fulfillment.settlement import CLOSED, OPEN, Statement, Totals

T0 = datetime(2026, 10, 1, tzinfo=UTC)


# ---- pure rules ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("at", "period"), [
    (datetime(2026, 11, 30, 15, 59, 59, tzinfo=UTC), "2026-11"),
    (datetime(2026, 11, 30, 16, 0, tzinfo=UTC), "2026-12"),     # midnight in Shanghai
    (datetime(2026, 12, 31, 16, 0, tzinfo=UTC), "2027-01"),
])
def test_the_period_is_the_month_in_china(at, period):
    assert settlement.period_of(at) == period


def test_a_period_ends_at_midnight_of_the_next_month_in_china():
    assert settlement.period_end("2026-11") == datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
    assert settlement.period_end("2026-12") == datetime(2026, 12, 31, 16, 0, tzinfo=UTC)


@pytest.mark.parametrize("text", ["2026-13", "2026-1", "26-11", "2026-11.csv", "", None, 202611, "0999-01"])
def test_a_malformed_period_names_no_statement(text):
    with pytest.raises(StatementNotFound):
        settlement.parse_period(text)


@pytest.mark.parametrize(("gross", "pct", "commission"), [
    ("100.00", "5", "5.00"), ("0.10", "5", "0.01"),       # 0.005 rounds half-up
    ("0.09", "5", "0.00"), ("33.33", "12.5", "4.17"),     # 4.16625
    ("10.00", "0", "0.00"), ("10.00", "100", "10.00"), ("1.01", "0.0001", "0.00"),
])
def test_commission_is_rounded_half_up_to_the_cent(gross, pct, commission):
    assert settlement.commission_of(Decimal(gross), Decimal(pct)) == Decimal(commission)


def test_a_shipment_settles_each_line_at_the_orders_retail_price():
    lines = settlement.settle(7, 3, 11, "TM-1", "tmall", [("A", 3), ("B", 1)],
                              {"A": Decimal("33.33"), "B": Decimal("10.00")}, Decimal("12.5"), T0)
    assert [(x.sku, x.gross, x.commission, x.net) for x in lines] == [
        ("A", Decimal("99.99"), Decimal("12.50"), Decimal("87.49")),
        ("B", Decimal("10.00"), Decimal("1.25"), Decimal("8.75"))]
    assert {x.period for x in lines} == {"2026-10"}


def test_a_statement_closes_only_after_its_month_and_then_never_changes():
    open_ = Statement(3, "2026-10", OPEN, Totals())
    with pytest.raises(IllegalStatementChange):
        open_.close("manager:1", datetime(2026, 10, 31, 15, 59, tzinfo=UTC))
    closed = open_.close("manager:1", datetime(2026, 10, 31, 16, 0, tzinfo=UTC))
    assert closed.status == CLOSED and closed.closed_by == "manager:1"
    with pytest.raises(IllegalStatementChange):
        closed.close("manager:1", T0 + timedelta(days=60))
    with pytest.raises(IllegalStatementChange):
        closed.adding([])


# ---- the handlers on the in-memory unit of work -------------------------------------------------


def world(uow: InMemoryUnitOfWork, distributors: int = 2) -> None:
    """Distributors 1.. with one location each near (31, 121), well stocked with A, B and C."""
    for sku, price in (("A", "33.33"), ("B", "10.00"), ("C", "0.10")):
        uow.catalog.known[sku] = Product(sku, "active")
        uow.pricing.retail[sku] = Decimal(price)
    for d in range(1, distributors + 1):
        uow.store.upsert_distributor(d, "active", 1)
        uow.store.upsert_location(LocationFacts(d, d, f"DC{d}", 31.0 + d / 100, 121.0, 100.0, True, T0))
        uow.store.apply_snapshot(d, [("A", 10_000), ("B", 10_000), ("C", 10_000)], T0)
    uow.commit()


def ship_to():
    return {"name": "Li", "phone": "+8613800138000", "address": "x", "lat": 31.0, "lon": 121.0}


def place_and_ship(uow, channel: str, external_id: str, lines, now: datetime) -> list[dict]:
    order = handlers.create_order(uow, channel, external_id, ship_to(), lines, now)["order"]
    shipped = []
    for s in order["shipments"]:
        handlers.accept_assignment(uow, s["distributor_id"], s["assignment_id"], now)
        shipped.append(handlers.ship_assignment(uow, s["distributor_id"], s["assignment_id"], "SF", "T1", now))
    return shipped


def test_shipping_records_the_lines_on_the_distributors_open_statement():
    uow = InMemoryUnitOfWork()
    world(uow, distributors=1)
    handlers.set_channel_rate(uow, "tmall", Decimal("12.5"), "manager:1", T0)
    place_and_ship(uow, "tmall", "TM-1", [("A", 3), ("B", 1)], T0 + timedelta(days=2))
    [statement] = handlers.list_statements(uow, 1, None, None, 50)["items"]
    assert statement == {"distributor_id": 1, "period": "2026-10", "status": "open", "lines": 2,
                         "gross": "109.99", "commission": "13.75", "net": "96.24", "currency": "CNY",
                         "closed_at": None, "closed_by": None}
    detail = handlers.get_statement(uow, 1, "2026-10", None, 50)
    assert [(x["sku"], x["qty"], x["unit_price"], x["commission_pct"], x["net"]) for x in detail["items"]] == [
        ("A", 3, "33.33", "12.5", "87.49"), ("B", 1, "10.00", "12.5", "8.75")]
    assert handlers.list_statements(uow, 2, None, None, 50)["items"] == []  # nothing shipped: empty
    with pytest.raises(StatementNotFound):
        handlers.get_statement(uow, 1, "2026-09", None, 50)


def test_a_rate_change_applies_to_lines_shipped_after_it():
    uow = InMemoryUnitOfWork()
    world(uow, distributors=1)
    place_and_ship(uow, "jd", "JD-1", [("B", 1)], T0 + timedelta(days=1))
    handlers.set_channel_rate(uow, "jd", Decimal("10"), "manager:1", T0 + timedelta(days=2))
    place_and_ship(uow, "jd", "JD-2", [("B", 1)], T0 + timedelta(days=3))
    items = handlers.get_statement(uow, 1, "2026-10", None, 50)["items"]
    assert [(x["external_id"], x["commission"]) for x in items] == [("JD-1", "0.00"), ("JD-2", "1.00")]
    summary = handlers.settlement_summary(uow, "2026-10")
    assert summary["channels"] == [{"channel": "jd", "gross": "20.00", "commission": "1.00", "net": "19.00"}]
    assert summary["distributors"] == [{"distributor_id": 1, "net": "19.00"}]


def test_channels_with_keys_are_listed_at_zero_until_a_rate_is_set():
    uow = InMemoryUnitOfWork()
    handlers.set_channel_rate(uow, "tmall", Decimal("5"), "manager:1", T0)
    listed = handlers.list_channels(uow, ["jd", "tmall"])["items"]
    assert [(c["channel"], c["commission_pct"]) for c in listed] == [("jd", "0"), ("tmall", "5")]


def test_closing_freezes_a_statement_after_its_month():
    uow = InMemoryUnitOfWork()
    world(uow, distributors=1)
    place_and_ship(uow, "tmall", "TM-1", [("B", 2)], T0 + timedelta(days=5))
    with pytest.raises(IllegalStatementChange):
        handlers.close_statement(uow, 1, "2026-10", "manager:1", T0 + timedelta(days=20))
    closed = handlers.close_statement(uow, 1, "2026-10", "manager:1", datetime(2026, 11, 1, tzinfo=UTC))
    assert closed["status"] == "closed" and closed["net"] == "20.00"
    with pytest.raises(StatementNotFound):
        handlers.close_statement(uow, 1, "2026-09", "manager:1", datetime(2026, 11, 1, tzinfo=UTC))
    # November's shipments open November's statement; October's stays as it was
    place_and_ship(uow, "tmall", "TM-2", [("B", 1)], datetime(2026, 11, 2, tzinfo=UTC))
    assert handlers.get_statement(uow, 1, "2026-10", None, 50)["lines"] == 1
    assert handlers.get_statement(uow, 1, "2026-11", None, 50)["status"] == "open"


def test_a_statements_lines_come_in_pages():
    uow = InMemoryUnitOfWork()
    world(uow, distributors=1)
    for i in range(7):
        place_and_ship(uow, "tmall", f"TM-{i}", [("C", 1)], T0 + timedelta(hours=i))
    seen, after = [], None
    while True:
        page = handlers.statement_lines(uow, 1, "2026-10", after, 3)
        seen += [x["external_id"] for x in page["items"]]
        after = page["after"]
        if after is None:
            break
    assert seen == [f"TM-{i}" for i in range(7)]


shipments = st.lists(st.tuples(
    st.sampled_from(["tmall", "jd", "douyin"]),                     # channel
    st.lists(st.tuples(st.sampled_from("ABC"), st.integers(1, 40)), min_size=1, max_size=3,
             unique_by=lambda line: line[0]),                      # lines
    st.integers(0, 24 * 90),                                        # hours after T0 (three months)
    st.one_of(st.none(), st.decimals(0, 100, places=4)),            # a rate change before it
), min_size=1, max_size=25)


@settings(max_examples=60, deadline=None)
@given(shipments)
def test_statement_totals_are_the_sums_of_their_lines_for_any_shipments_and_rate_changes(plan):
    uow = InMemoryUnitOfWork()
    world(uow, distributors=2)
    shipped_lines = 0
    for i, (channel, lines, hours, rate) in enumerate(sorted(plan, key=lambda p: p[2])):
        now = T0 + timedelta(hours=hours)
        if rate is not None:
            handlers.set_channel_rate(uow, channel, rate, "manager:1", now)
        for a in place_and_ship(uow, channel, f"E-{i}", lines, now):
            shipped_lines += len(a["lines"])
    every_line = [x for _, x in uow.tables.settlement_lines]
    assert len(every_line) == shipped_lines  # each shipped line settled exactly once
    statements = {(s.distributor_id, s.period): s for s in uow.tables.statements.values()}
    assert statements.keys() == settlement.statements_of(every_line).keys()
    for key, s in statements.items():
        mine = [x for x in every_line if (x.distributor_id, x.period) == key]
        assert s.totals == Totals(len(mine), sum((x.gross for x in mine), Decimal("0.00")),
                                  sum((x.commission for x in mine), Decimal("0.00")),
                                  sum((x.net for x in mine), Decimal("0.00")))
        assert all(x.net == x.gross - x.commission for x in mine)
    assert sum(s.totals.net for s in statements.values()) == sum(x.net for x in every_line)
    assert sum(s.totals.gross for s in statements.values()) == sum(
        Decimal(x.unit_price) * x.qty for x in every_line)
