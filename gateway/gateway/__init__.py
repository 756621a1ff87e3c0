"""The gateway: the one HTTP entrance. It authenticates, maps each route to one RPC and each error to
a status; it holds no business rules. It owns two tables of its own: API keys and idempotency records."""
