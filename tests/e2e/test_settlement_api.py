"""Settlement statements (分账) through the gateway: a shipped order lands on its distributor's open
statement with the right gross, commission and net; the CSV opens with its Chinese text intact; only
a past month closes, and then it never changes; a shipment is settled once or not at all."""
import csv
import io
import uuid
from datetime import UTC, datetime

import psycopg2
import pytest
from test_admin_orders import distributor, quiet_spot, stock

from common.testing import query
from conftest import Client
from fulfillment.settlement import period_of


def now_period() -> str:
    return period_of(datetime.now(UTC))


def ship_order(client, system, skus, channel_client, qty: int = 3, external_id: str | None = None):
    """An order from ``channel_client`` shipped by a fresh distributor; (order, distributor id, its client)."""
    lat, lon = quiet_spot()
    dist, distributor_id, (loc,) = distributor(client, system, lat, lon, [0.01])
    stock(dist, loc, {skus[0]: 10, skus[1]: 10})
    r = channel_client.post("/v1/orders", json={
        "external_id": external_id or f"SET-{uuid.uuid4().hex[:12]}",
        "ship_to": {"name": "王芳", "phone": "13812345678", "address": "杭州市西湖区文三路90号", "lat": lat,
                    "lon": lon},
        "lines": [{"sku": skus[0], "qty": qty}, {"sku": skus[1], "qty": 1}]})
    assert r.status_code == 201, r.text
    order = r.json()
    [shipment] = order["shipments"]
    assert dist.post(f"/v1/assignments/{shipment['assignment_id']}/accept").status_code == 200
    shipped = dist.post(f"/v1/assignments/{shipment['assignment_id']}/ship",
                        json={"carrier": "顺丰", "tracking_no": "SF1234567890"})
    assert shipped.status_code == 200, shipped.text
    return order, distributor_id, dist


@pytest.fixture
def douyin(system):
    return Client(system.base_url, system.issue_key("channel", channel="douyin"))


def test_a_shipped_order_is_on_its_distributors_open_statement(client, system, skus, douyin):
    r = client["manager"].put("/v1/admin/channels/douyin", json={"commission_pct": "12.5"})
    assert r.status_code == 200, r.text
    assert r.json()["commission_pct"] == "12.5"
    order, distributor_id, dist = ship_order(client, system, skus, douyin, qty=3)
    period = now_period()

    # visible as soon as the ship call has returned
    [statement] = dist.get("/v1/statements").json()["items"]
    assert statement == {**statement, "distributor_id": distributor_id, "period": period, "status": "open",
                         "lines": 2, "gross": "410.00", "commission": "51.25", "net": "358.75",
                         "currency": "CNY"}
    detail = dist.get(f"/v1/statements/{period}").json()
    assert [(x["sku"], x["qty"], x["unit_price"], x["gross"], x["commission_pct"], x["commission"], x["net"])
            for x in detail["items"]] == [(skus[0], 3, "100.00", "300.00", "12.5", "37.50", "262.50"),
                                          (skus[1], 1, "110.00", "110.00", "12.5", "13.75", "96.25")]
    assert {x["order_id"] for x in detail["items"]} == {order["id"]}
    assert {x["external_id"] for x in detail["items"]} == {order["external_id"]}

    admin = client["sales"].get("/v1/admin/statements",
                                params={"distributor_id": distributor_id, "period": period}).json()
    assert [s["net"] for s in admin["items"]] == ["358.75"]
    assert client["sales"].get(f"/v1/admin/statements/{distributor_id}/{period}").json()["items"] == \
        detail["items"]
    summary = client["sales"].get("/v1/admin/settlement/summary", params={"period": period}).json()
    assert {"distributor_id": distributor_id, "net": "358.75"} in summary["distributors"]
    assert "douyin" in {c["channel"] for c in summary["channels"]}
    channels = {c["channel"]: c["commission_pct"] for c in client["sales"].get("/v1/admin/channels").json()["items"]}
    assert channels["douyin"] == "12.5" and channels["tmall"] == "0"  # tmall has a key, no rate


def test_the_csv_opens_with_chinese_text_intact(client, system, skus, douyin):
    order, distributor_id, dist = ship_order(client, system, skus, douyin)
    period = now_period()
    r = dist.get(f"/v1/statements/{period}.csv")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert r.content.startswith(b"order_id,")  # plain UTF-8: programs read it as it is
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0] == ["order_id", "external_id", "channel", "sku", "qty", "unit_price", "gross",
                       "commission_pct", "commission", "net", "shipped_at"]
    assert len(rows) == 3 and all(row[1] == order["external_id"] for row in rows[1:])
    admin_csv = client["sales"].get(f"/v1/admin/statements/{distributor_id}/{period}.csv")
    assert admin_csv.content == r.content
    for_excel = dist.get(f"/v1/statements/{period}.csv", params={"bom": "true"})
    assert for_excel.content == b"\xef\xbb\xbf" + r.content  # the byte-order mark Excel needs
    assert dist.get(f"/v1/statements/{period}.csv", params={"excel": "1"}).status_code == 400
    # another distributor's statement is not yours; a month without lines is 404
    assert client["sales"].get(f"/v1/admin/statements/{distributor_id}/2001-01.csv").status_code == 404
    assert dist.get("/v1/statements/2001-01").status_code == 404
    assert dist.get("/v1/statements/2026-13").status_code == 404


def test_chinese_names_survive_the_csv(client, system, skus):
    """Line text in Chinese (a channel's external id cannot carry it, so the check is on a row written
    straight into the statement) comes back byte for byte."""
    _, distributor_id, dist = ship_order(client, system, skus, client["channel"])
    url = system.database_urls["fulfillment"]
    period = now_period()
    query(url, "UPDATE settlement_lines SET sku = sku || %s WHERE distributor_id = %s RETURNING id",
          ("-毛巾礼盒装", distributor_id))
    rows = list(csv.DictReader(io.StringIO(dist.get(f"/v1/statements/{period}.csv").content.decode("utf-8"))))
    assert {row["sku"] for row in rows} == {f"{skus[0]}-毛巾礼盒装", f"{skus[1]}-毛巾礼盒装"}


def test_only_a_past_month_closes_and_a_closed_statement_never_changes(client, system, skus):
    _, distributor_id, dist = ship_order(client, system, skus, client["channel"])
    period = now_period()
    close = f"/v1/admin/statements/{distributor_id}/{period}/close"
    assert client["sales"].post(close).status_code == 403          # manager only
    early = client["manager"].post(close)
    assert early.status_code == 409 and "after its month" in early.json()["detail"]
    assert client["manager"].post(f"/v1/admin/statements/{distributor_id}/2001-01/close").status_code == 404

    # a statement of a month that has ended (written as the ship path writes one)
    url = system.database_urls["fulfillment"]
    query(url, "INSERT INTO statements (distributor_id, period, lines, gross, commission, net) "
               "VALUES (%s, '2026-01', 1, 10.00, 0.50, 9.50) RETURNING period", (distributor_id,))
    query(url, "INSERT INTO settlement_lines (distributor_id, period, assignment_id, order_id, external_id, "
               "channel, sku, qty, unit_price, gross, commission_pct, commission, net, shipped_at) "
               "SELECT %s, '2026-01', id, order_id, 'OLD-1', 'tmall', 'A', 1, 10.00, 10.00, 5, 0.50, 9.50, "
               "'2026-01-15T00:00:00Z' FROM assignments WHERE distributor_id = %s LIMIT 1 RETURNING id",
          (distributor_id, distributor_id))
    closed = client["manager"].post(f"/v1/admin/statements/{distributor_id}/2026-01/close")
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "closed" and closed.json()["net"] == "9.50"
    again = client["manager"].post(f"/v1/admin/statements/{distributor_id}/2026-01/close")
    assert again.status_code == 409
    assert dist.get("/v1/statements/2026-01").json()["status"] == "closed"


def test_a_shipment_is_settled_once_or_not_at_all(client, system, skus):
    """The lines are written in the shipment's own transaction: when writing them fails the shipment
    fails with them (nothing shipped, nothing settled), and a retry settles it exactly once."""
    lat, lon = quiet_spot()
    dist, distributor_id, (loc,) = distributor(client, system, lat, lon, [0.01])
    stock(dist, loc, {skus[0]: 5})
    order = client["channel"].post("/v1/orders", json={
        "external_id": f"SET-{uuid.uuid4().hex[:12]}",
        "ship_to": {"name": "Li", "phone": "13812345678", "address": "x", "lat": lat, "lon": lon},
        "lines": [{"sku": skus[0], "qty": 2}]}).json()
    assignment_id = order["shipments"][0]["assignment_id"]
    assert dist.post(f"/v1/assignments/{assignment_id}/accept").status_code == 200

    url = system.database_urls["fulfillment"]
    trigger = f"refuse_{distributor_id}"
    conn = psycopg2.connect(url)
    conn.autocommit = True
    with conn.cursor() as cur:  # the settlement insert fails for this distributor only
        cur.execute(f"CREATE FUNCTION {trigger}() RETURNS trigger AS $$ BEGIN "
                    f"IF NEW.distributor_id = {distributor_id} THEN RAISE EXCEPTION 'disk full'; END IF; "
                    f"RETURN NEW; END $$ LANGUAGE plpgsql")
        cur.execute(f"CREATE TRIGGER {trigger} BEFORE INSERT ON settlement_lines FOR EACH ROW "
                    f"EXECUTE FUNCTION {trigger}()")
    try:
        failed = dist.post(f"/v1/assignments/{assignment_id}/ship", json={"carrier": "SF", "tracking_no": "1"})
        assert failed.status_code >= 500, failed.text
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP TRIGGER {trigger} ON settlement_lines")
            cur.execute(f"DROP FUNCTION {trigger}()")
        conn.close()
    [(status,)] = query(url, "SELECT status FROM assignments WHERE id = %s", (assignment_id,))
    assert status == "accepted"  # not shipped
    assert query(url, "SELECT count(*) FROM settlement_lines WHERE assignment_id = %s", (assignment_id,)) == [(0,)]
    assert query(url, "SELECT coalesce(sum(lines), 0) FROM statements WHERE distributor_id = %s",
                 (distributor_id,)) == [(0,)]

    assert dist.post(f"/v1/assignments/{assignment_id}/ship",
                     json={"carrier": "SF", "tracking_no": "1"}).status_code == 200
    assert dist.post(f"/v1/assignments/{assignment_id}/ship",
                     json={"carrier": "SF", "tracking_no": "1"}).status_code == 409
    assert query(url, "SELECT count(*) FROM settlement_lines WHERE assignment_id = %s", (assignment_id,)) == [(1,)]
    [statement] = dist.get("/v1/statements").json()["items"]
    assert (statement["lines"], statement["gross"]) == (1, "200.00")


def test_bad_settlement_input_is_a_clear_4xx(client):
    for body in ({"commission_pct": "101"}, {"commission_pct": "-1"}, {"commission_pct": "1.00001"}, {}):
        r = client["manager"].put("/v1/admin/channels/tmall", json=body)
        assert r.status_code == 400 and r.json()["errors"][0]["field"] == "commission_pct", r.text
    r = client["manager"].put("/v1/admin/channels/Tmall!", json={"commission_pct": "1"})
    assert r.status_code in (400, 404), r.text
    assert client["sales"].get("/v1/admin/settlement/summary").json()["errors"][0]["field"] == "period"
    assert client["sales"].get("/v1/admin/statements", params={"period": "2026-1"}).status_code == 400
    assert client["distributor"].get("/v1/admin/statements").status_code == 403
    assert client["sales"].get("/v1/statements").status_code == 403
