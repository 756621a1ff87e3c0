-- Applications, distributors, their history and locations (outbox and processed events:
-- common/migrations).
CREATE TABLE applications (
    id                 bigserial PRIMARY KEY,
    status             text NOT NULL CHECK (status IN ('submitted', 'approved', 'rejected')),
    status_token_hash  text NOT NULL,
    company_name       text NOT NULL,
    credit_code        text NOT NULL,
    contact            jsonb NOT NULL,
    address            text NOT NULL,
    province           text NOT NULL,
    city               text NOT NULL,
    locations          jsonb NOT NULL,
    requested_tier     text NOT NULL,
    channels           text[] NOT NULL,
    submitted_at       timestamptz NOT NULL,
    decided_at         timestamptz,
    decided_by         text,
    reason             text,
    distributor_id     bigint
);
CREATE INDEX applications_status_idx ON applications (status, id);
CREATE INDEX applications_credit_code_idx ON applications (credit_code) WHERE status = 'submitted';

CREATE TABLE distributors (
    id                  bigserial PRIMARY KEY,
    application_id      bigint NOT NULL UNIQUE REFERENCES applications (id),
    company_name        text NOT NULL,
    credit_code         text NOT NULL,
    tier                text NOT NULL,
    status              text NOT NULL CHECK (status IN ('active', 'suspended', 'terminated')),
    province            text NOT NULL,
    city                text NOT NULL,
    flagged_for_review  boolean NOT NULL DEFAULT false,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL
);
CREATE INDEX distributors_status_idx ON distributors (status, id);
CREATE UNIQUE INDEX distributors_live_credit_code_idx ON distributors (credit_code)
    WHERE status IN ('active', 'suspended');

CREATE TABLE distributor_history (
    id              bigserial PRIMARY KEY,
    distributor_id  bigint NOT NULL REFERENCES distributors (id),
    kind            text NOT NULL CHECK (kind IN ('status', 'tier')),
    from_value      text,
    to_value        text NOT NULL,
    actor           text NOT NULL,
    at              timestamptz NOT NULL,
    reason          text
);
CREATE INDEX distributor_history_idx ON distributor_history (distributor_id, id);

CREATE TABLE locations (
    id                 bigserial PRIMARY KEY,
    distributor_id     bigint NOT NULL REFERENCES distributors (id),
    name               text NOT NULL,
    address            text,
    lat                double precision NOT NULL CHECK (lat BETWEEN 18 AND 54),
    lon                double precision NOT NULL CHECK (lon BETWEEN 73 AND 135),
    service_radius_km  double precision NOT NULL CHECK (service_radius_km > 0),
    active             boolean NOT NULL DEFAULT true,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL
);
CREATE INDEX locations_distributor_idx ON locations (distributor_id, id);
