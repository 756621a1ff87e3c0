-- The gateway's own data: API keys (hashes only) and idempotency records.
CREATE TABLE api_keys (
    id              bigserial PRIMARY KEY,
    key_hash        text NOT NULL UNIQUE,
    prefix          text NOT NULL,
    role            text NOT NULL CHECK (role IN ('manager', 'sales', 'channel', 'distributor')),
    distributor_id  text,
    channel         text,
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    revoked_at      timestamptz,
    CHECK ((role = 'channel') = (channel IS NOT NULL)),
    CHECK ((role = 'distributor') = (distributor_id IS NOT NULL))
);

CREATE TABLE idempotency_keys (
    scope         text NOT NULL,
    key           text NOT NULL,
    request_hash  text NOT NULL,
    state         text NOT NULL CHECK (state IN ('in_flight', 'done')),
    status        integer,
    headers       jsonb,
    body          text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    completed_at  timestamptz,
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
