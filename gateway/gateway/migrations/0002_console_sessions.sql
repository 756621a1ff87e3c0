-- The sales console's sessions (gateway/console). The browser's cookie holds a random session id;
-- this table keeps only its SHA-256 and the API key sealed under a key derived from that id, so the
-- table alone yields neither a usable session nor a key. Signing out deletes the row.
CREATE TABLE console_sessions (
    id_hash       text PRIMARY KEY,
    key_id        bigint NOT NULL REFERENCES api_keys (id),
    role          text NOT NULL CHECK (role IN ('manager', 'sales')),
    sealed_key    bytea NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL
);
CREATE INDEX console_sessions_expires_idx ON console_sessions (expires_at);
