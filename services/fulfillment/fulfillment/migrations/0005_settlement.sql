-- Settlement (分账): channels' commission rates, one line per order line of each shipped assignment,
-- and a statement per distributor and month (Asia/Shanghai) whose totals are the sums of its lines.
-- A line is written in the same transaction as the shipment, and (assignment_id, sku) is unique: an
-- assignment is settled once or not at all.
-- depends: 0004_order_geocode
CREATE TABLE channel_rates (
    channel         text PRIMARY KEY,
    commission_pct  numeric(7, 4) NOT NULL CHECK (commission_pct >= 0 AND commission_pct <= 100),
    updated_at      timestamptz NOT NULL,
    updated_by      text NOT NULL
);

CREATE TABLE statements (
    distributor_id  bigint NOT NULL,
    period          text NOT NULL CHECK (period ~ '^\d{4}-(0[1-9]|1[0-2])$'),
    status          text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    lines           integer NOT NULL DEFAULT 0,
    gross           numeric(16, 2) NOT NULL DEFAULT 0,
    commission      numeric(16, 2) NOT NULL DEFAULT 0,
    net             numeric(16, 2) NOT NULL DEFAULT 0,
    closed_at       timestamptz,
    closed_by       text,
    PRIMARY KEY (distributor_id, period)
);
CREATE INDEX statements_period_idx ON statements (period, distributor_id);

CREATE TABLE settlement_lines (
    id              bigserial PRIMARY KEY,
    distributor_id  bigint NOT NULL,
    period          text NOT NULL,
    assignment_id   bigint NOT NULL REFERENCES assignments (id),
    order_id        bigint NOT NULL,
    external_id     text NOT NULL,
    channel         text NOT NULL,
    sku             text NOT NULL,
    qty             integer NOT NULL CHECK (qty > 0),
    unit_price      numeric(12, 2) NOT NULL,
    gross           numeric(14, 2) NOT NULL,
    commission_pct  numeric(7, 4) NOT NULL,
    commission      numeric(14, 2) NOT NULL,
    net             numeric(14, 2) NOT NULL,
    shipped_at      timestamptz NOT NULL,
    UNIQUE (assignment_id, sku),
    FOREIGN KEY (distributor_id, period) REFERENCES statements (distributor_id, period)
);
-- a statement's lines in order, page by page
CREATE INDEX settlement_lines_statement_idx ON settlement_lines (distributor_id, period, id);
CREATE INDEX settlement_lines_period_channel_idx ON settlement_lines (period, channel);

-- Assignments shipped before settlement existed are settled now, at 0 % commission, in the month they
-- shipped (their last update), so that every shipment is settled exactly once.
CREATE TEMPORARY TABLE settlement_backfill ON COMMIT DROP AS
SELECT a.distributor_id, to_char(a.updated_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM') AS period,
       a.id AS assignment_id, o.id AS order_id, o.external_id, o.channel, l->>'sku' AS sku,
       sum((l->>'qty')::int)::int AS qty, (o.retail->>(l->>'sku'))::numeric(12, 2) AS unit_price,
       a.updated_at AS shipped_at
  FROM assignments a JOIN orders o ON o.id = a.order_id, jsonb_array_elements(a.lines) l
 WHERE a.status = 'shipped'
 GROUP BY a.distributor_id, a.updated_at, a.id, o.id, o.external_id, o.channel, l->>'sku', o.retail;
INSERT INTO statements (distributor_id, period, lines, gross, commission, net)
SELECT distributor_id, period, count(*), sum(unit_price * qty), 0, sum(unit_price * qty)
  FROM settlement_backfill GROUP BY distributor_id, period;
INSERT INTO settlement_lines (distributor_id, period, assignment_id, order_id, external_id, channel, sku, qty,
                              unit_price, gross, commission_pct, commission, net, shipped_at)
SELECT distributor_id, period, assignment_id, order_id, external_id, channel, sku, qty, unit_price,
       unit_price * qty, 0, 0, unit_price * qty, shipped_at
  FROM settlement_backfill;
