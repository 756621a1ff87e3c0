"""Fulfilment's gauges, read from its database when Prometheus scrapes (common.metrics): declared
here once with their SQL, served by ``DatabaseGauges`` in service.py. Each query reads an index
(orders_status_idx, and the two of migration 0006), so a scrape costs milliseconds."""
from __future__ import annotations

from common.metrics import ScrapeGauge

ORDERS = ScrapeGauge("dcm_orders", "Orders by status", ("status",),
                     sql="SELECT status, count(*) FROM orders GROUP BY status")
RESERVATIONS = ScrapeGauge(
    "dcm_reservations", "Assignments holding stock (pending: waiting for the distributor to accept; "
    "accepted: waiting to ship)", ("status",),
    sql="SELECT s.status, count(a.id) FROM unnest(ARRAY['pending', 'accepted']) AS s(status) "
        "LEFT JOIN assignments a ON a.status = s.status AND a.status IN ('pending', 'accepted') "
        "GROUP BY s.status")
RESERVED_UNITS = ScrapeGauge("dcm_reserved_units", "Units of stock reserved by open assignments",
                             sql="SELECT coalesce(sum(reserved), 0) FROM stock WHERE reserved > 0")

GAUGES = (ORDERS, RESERVATIONS, RESERVED_UNITS)
