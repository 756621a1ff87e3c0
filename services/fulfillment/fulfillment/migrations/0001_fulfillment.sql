-- Read models of locations and distributors (fed by the distributors service's events), stock,
-- orders and assignments (the outbox and processed events: common/migrations).
CREATE EXTENSION IF NOT EXISTS cube;
CREATE EXTENSION IF NOT EXISTS earthdistance;

CREATE TABLE distributors (
    id       bigint PRIMARY KEY,
    status   text NOT NULL,
    version  integer NOT NULL
);

CREATE TABLE locations (
    id                 bigint PRIMARY KEY,
    distributor_id     bigint NOT NULL,
    name               text NOT NULL,
    lat                double precision NOT NULL,
    lon                double precision NOT NULL,
    service_radius_km  double precision NOT NULL,
    active             boolean NOT NULL,
    updated_at         timestamptz NOT NULL
);
-- nearest search: a GiST index on the point, queried with earth_box(...) @> ll_to_earth(...)
CREATE INDEX locations_earth_idx ON locations USING gist (ll_to_earth(lat, lon));
CREATE INDEX locations_distributor_idx ON locations (distributor_id);

CREATE TABLE stock (
    location_id     bigint NOT NULL,
    sku             text NOT NULL,
    on_hand         integer NOT NULL CHECK (on_hand >= 0),
    reserved        integer NOT NULL DEFAULT 0 CHECK (reserved >= 0 AND reserved <= on_hand),
    last_synced_at  timestamptz NOT NULL,
    PRIMARY KEY (location_id, sku)
);
CREATE INDEX stock_sku_idx ON stock (sku, location_id) WHERE on_hand > reserved;

CREATE TABLE orders (
    id                     bigserial PRIMARY KEY,
    channel                text NOT NULL,
    external_id            text NOT NULL,
    ship_to                jsonb NOT NULL,
    lat                    double precision NOT NULL,
    lon                    double precision NOT NULL,
    lines                  jsonb NOT NULL,
    retail                 jsonb NOT NULL,
    substitutes            jsonb NOT NULL,
    retail_total           numeric(14, 2) NOT NULL,
    status                 text NOT NULL,
    backordered            jsonb NOT NULL DEFAULT '[]'::jsonb,
    excluded_distributors  bigint[] NOT NULL DEFAULT '{}',
    explanation            jsonb NOT NULL DEFAULT '[]'::jsonb,
    created_at             timestamptz NOT NULL,
    updated_at             timestamptz NOT NULL,
    UNIQUE (channel, external_id)
);
CREATE INDEX orders_created_idx ON orders (id DESC);

CREATE TABLE assignments (
    id              bigserial PRIMARY KEY,
    order_id        bigint NOT NULL REFERENCES orders (id),
    distributor_id  bigint NOT NULL,
    location_id     bigint NOT NULL,
    distance_km     numeric(8, 1) NOT NULL,
    lines           jsonb NOT NULL,
    status          text NOT NULL CHECK (status IN ('pending', 'accepted', 'shipped', 'rejected',
                                                    'rerouted', 'cancelled')),
    stale_stock     boolean NOT NULL DEFAULT false,
    reason          text,
    carrier         text,
    tracking_no     text,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);
CREATE INDEX assignments_order_idx ON assignments (order_id);
CREATE INDEX assignments_distributor_idx ON assignments (distributor_id, id);
CREATE INDEX assignments_open_idx ON assignments (created_at) WHERE status = 'pending';
