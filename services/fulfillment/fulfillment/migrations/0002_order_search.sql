-- The sales team's order search (GET /v1/admin/orders): each filter is answered from an index,
-- newest first where the filter leaves many orders.
-- depends: 0001_fulfillment
CREATE INDEX orders_external_id_idx ON orders (external_id);
CREATE INDEX orders_channel_idx ON orders (channel, id);
CREATE INDEX orders_status_idx ON orders (status, id);
CREATE INDEX orders_created_at_idx ON orders (created_at);
CREATE INDEX assignments_distributor_order_idx ON assignments (distributor_id, order_id);
