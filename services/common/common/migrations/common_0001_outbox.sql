-- The outbox (events written in the same transaction as the change, relayed by common.outbox) and
-- the processed-event table (each consumed event applied once), for every service that owns events.
-- Applied before the service's own migrations. Until this file existed each service's 0001 created
-- these tables itself, so on such a database every statement here must be a no-op: IF NOT EXISTS.
CREATE TABLE IF NOT EXISTS outbox (
    id            bigserial PRIMARY KEY,
    event_id      uuid NOT NULL UNIQUE,
    event_type    text NOT NULL,
    payload       jsonb NOT NULL,
    occurred_at   timestamptz NOT NULL,
    published_at  timestamptz
);
CREATE INDEX IF NOT EXISTS outbox_unpublished_idx ON outbox (id) WHERE published_at IS NULL;

CREATE TABLE IF NOT EXISTS processed_events (
    consumer      text NOT NULL,
    event_id      uuid NOT NULL,
    processed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
