-- The catalog's products (its outbox and processed-event table: common/migrations).
CREATE TABLE products (
    sku          text PRIMARY KEY,
    name         text NOT NULL,
    category     text NOT NULL,
    lifecycle    text NOT NULL CHECK (lifecycle IN ('new', 'classic')),
    hero         boolean NOT NULL DEFAULT false,
    attributes   jsonb NOT NULL DEFAULT '{}'::jsonb,
    substitutes  text[] NOT NULL DEFAULT '{}',
    status       text NOT NULL CHECK (status IN ('draft', 'active', 'discontinued')),
    version      integer NOT NULL DEFAULT 1,
    created_by   text,
    updated_by   text,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);
CREATE INDEX products_status_idx ON products (status, sku);
CREATE INDEX products_category_idx ON products (category, sku);
