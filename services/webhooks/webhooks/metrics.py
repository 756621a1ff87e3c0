"""The webhooks service's gauges, read from its database when Prometheus scrapes (common.metrics)."""
from __future__ import annotations

from common.metrics import ScrapeGauge

DELIVERIES = ScrapeGauge(
    "dcm_webhook_deliveries", "Webhook deliveries by status (pending: waiting for their next attempt)",
    ("status",), sql="SELECT s.status, count(d.id) FROM unnest(ARRAY['pending', 'succeeded', 'failed']) AS "
                     "s(status) LEFT JOIN deliveries d ON d.status = s.status GROUP BY s.status")
OLDEST_PENDING = ScrapeGauge(
    "dcm_webhook_oldest_pending_seconds", "Age of the oldest delivery still pending to an enabled endpoint",
    sql="SELECT coalesce(extract(epoch FROM now() - min(d.created_at)), 0) FROM deliveries d "
        "JOIN endpoints e ON e.id = d.endpoint_id WHERE d.status = 'pending' AND e.status = 'enabled'")
DISABLED_ENDPOINTS = ScrapeGauge("dcm_webhook_endpoints_disabled", "Endpoints disabled after failed deliveries",
                                 sql="SELECT count(*) FROM endpoints WHERE status = 'disabled'")

GAUGES = (DELIVERIES, OLDEST_PENDING, DISABLED_ENDPOINTS)
