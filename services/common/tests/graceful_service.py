"""A service that holds a database connection for as long as it is asked to, and announces events
through the outbox: what test_graceful_stop stops in the middle of its work, in a container and as a
process under `nameko run` (its module is named on the command line, as deploy/start-service names
each service's)."""
from nameko.web.handlers import http

from common.db import Database
from common.entrypoints import rpc
from common.outbox import OutboxRelay, add_events, new_event

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id bigserial PRIMARY KEY, event_id uuid NOT NULL UNIQUE, event_type text NOT NULL,
    payload jsonb NOT NULL, occurred_at timestamptz NOT NULL, published_at timestamptz);
"""


class GracefulService:
    name = "graceful"

    db = Database("graceful")
    relay = OutboxRelay()

    @rpc
    def announce(self, count: int) -> int:
        add_events(self.db.cursor(), [new_event("thing_happened", {"n": n}) for n in range(count)])
        return count

    @rpc
    def hold(self, seconds: float) -> str:
        with self.db.cursor() as cur:
            cur.execute("SELECT pg_sleep(%s)", (seconds,))
        return "held"

    @http("GET", "/hold/<float:seconds>")
    def hold_http(self, request, seconds: float) -> str:
        return self.hold(seconds)
