-- Stock adjustments (deltas) a client sent with an Idempotency-Key, kept with their answer: a retry
-- after the gateway gave up waiting (504/503) must not apply the deltas a second time.
-- depends: 0002_order_search
CREATE TABLE applied_requests (
    key          text PRIMARY KEY,
    fingerprint  text NOT NULL,
    result       jsonb NOT NULL,
    applied_at   timestamptz NOT NULL
);
CREATE INDEX applied_requests_applied_idx ON applied_requests (applied_at);
