-- Webhook endpoints of distributors and channels, one delivery per (endpoint, event) with its state,
-- and every attempt made (SPEC: Webhooks (Standard Webhooks)).
CREATE TABLE endpoints (
    id             bigserial PRIMARY KEY,
    party          text NOT NULL,              -- distributor:<id> | channel:<code>
    url            text NOT NULL,
    events         text[] NOT NULL,
    description    text,
    status         text NOT NULL DEFAULT 'enabled' CHECK (status IN ('enabled', 'disabled')),
    secret         text NOT NULL,              -- shown only when created or rotated; never logged
    failed_streak  integer NOT NULL DEFAULT 0, -- deliveries in a row that ended failed
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);
CREATE INDEX endpoints_party_idx ON endpoints (party, id);

CREATE TABLE deliveries (
    id               bigserial PRIMARY KEY,
    endpoint_id      bigint NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
    event_id         uuid NOT NULL,
    webhook_id       text NOT NULL,
    event_type       text NOT NULL,
    body             text NOT NULL,            -- the exact bytes every attempt posts (UTF-8)
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempt          integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz,
    leased_until     timestamptz,              -- a sender is at it until then (a crashed one's lease runs out)
    response_status  integer,
    last_error       text,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX deliveries_due_idx ON deliveries (next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX deliveries_endpoint_idx ON deliveries (endpoint_id, id);

CREATE TABLE attempts (
    delivery_id      bigint NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    attempt          integer NOT NULL,
    started_at       timestamptz NOT NULL,
    duration_ms      integer NOT NULL,
    response_status  integer,
    error            text,
    PRIMARY KEY (delivery_id, attempt)
);
