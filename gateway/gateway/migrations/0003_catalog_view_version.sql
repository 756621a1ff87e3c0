-- The version of what distributors' catalog views show (gateway/views.py): every gateway replica keeps
-- copies of pricing's answers by it, and a route that changes a product, a price, a tier, a promotion
-- or a distributor moves it before answering, so no replica answers from a copy older than a change
-- the API has acknowledged.
-- depends: 0002_console_sessions
CREATE TABLE catalog_view_version (
    id       integer PRIMARY KEY CHECK (id = 1),
    version  bigint NOT NULL
);
INSERT INTO catalog_view_version VALUES (1, 0);
