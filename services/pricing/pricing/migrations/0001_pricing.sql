-- List prices (every entry kept), tiers, promotions, the green channel, quotes, observations,
-- the read models of products and distributors (outbox and processed events: common/migrations).
CREATE TABLE price_version (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    version    bigint NOT NULL
);
INSERT INTO price_version VALUES (true, 1);

CREATE TABLE list_prices (
    id              bigserial PRIMARY KEY,
    sku             text NOT NULL,
    list_price      numeric(14, 2) NOT NULL CHECK (list_price > 0),
    floor_price     numeric(14, 2) NOT NULL CHECK (floor_price > 0 AND floor_price <= list_price),
    currency        text NOT NULL,
    effective_from  timestamptz NOT NULL,
    set_by          text NOT NULL,
    set_at          timestamptz NOT NULL
);
CREATE INDEX list_prices_sku_idx ON list_prices (sku, effective_from, id);

CREATE TABLE tiers (
    name           text PRIMARY KEY,
    discount_pct   numeric(7, 4) NOT NULL,
    volume_breaks  jsonb NOT NULL DEFAULT '[]'::jsonb,
    updated_by     text NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now()
);
INSERT INTO tiers (name, discount_pct, updated_by) VALUES
    ('platinum', 40, 'default'), ('gold', 35, 'default'), ('silver', 30, 'default');

CREATE TABLE green_channel (
    singleton           boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    max_discount_pct    numeric(7, 4) NOT NULL,
    max_duration_hours  numeric(10, 2) NOT NULL,
    updated_by          text NOT NULL,
    updated_at          timestamptz NOT NULL DEFAULT now()
);
INSERT INTO green_channel VALUES (true, 10, 72, 'default', now());

CREATE TABLE promotions (
    id             bigserial PRIMARY KEY,
    name           text NOT NULL,
    discount_pct   numeric(7, 4) NOT NULL,
    starts_at      timestamptz NOT NULL,
    ends_at        timestamptz NOT NULL CHECK (ends_at > starts_at),
    skus           text[],
    status         text NOT NULL CHECK (status IN ('approved', 'pending_approval', 'rejected')),
    green_channel  boolean NOT NULL,
    created_by     text NOT NULL,
    created_at     timestamptz NOT NULL,
    decided_by     text,
    decided_at     timestamptz,
    reason         text
);
CREATE INDEX promotions_live_idx ON promotions (starts_at, ends_at) WHERE status = 'approved';

CREATE TABLE quotes (
    id              bigserial PRIMARY KEY,
    distributor_id  bigint NOT NULL,
    body            jsonb NOT NULL,
    created_at      timestamptz NOT NULL
);

CREATE TABLE observations (
    id              bigserial PRIMARY KEY,
    channel         text NOT NULL,
    seller          text NOT NULL,
    distributor_id  bigint,
    sku             text NOT NULL,
    observed_price  numeric(14, 2) NOT NULL,
    observed_at     timestamptz NOT NULL,
    source_url      text NOT NULL,
    result          text NOT NULL CHECK (result IN ('ok', 'violation')),
    direction       text,
    expected_price  numeric(14, 2) NOT NULL,
    deviation_pct   numeric(9, 2) NOT NULL,
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL
);
CREATE INDEX observations_violations_idx ON observations (seller, observed_at, id)
    WHERE result = 'violation';

-- read models, fed by catalog and distributors events (a miss is resolved by RPC)
CREATE TABLE products (
    sku      text PRIMARY KEY,
    status   text NOT NULL,
    version  integer NOT NULL
);

CREATE TABLE distributors (
    id                  bigint PRIMARY KEY,
    tier                text NOT NULL,
    status              text NOT NULL,
    version             integer NOT NULL,
    flagged_for_review  boolean NOT NULL DEFAULT false
);
