-- What the scrape-time gauges of fulfillment.metrics read at every Prometheus scrape, kept to the
-- rows that matter: the open assignments (the ones holding stock) and the stock rows holding some.
-- depends: 0005_settlement
CREATE INDEX assignments_holding_idx ON assignments (status) WHERE status IN ('pending', 'accepted');
CREATE INDEX stock_reserved_idx ON stock (location_id) INCLUDE (reserved) WHERE reserved > 0;
