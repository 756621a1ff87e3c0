"""An event handled while the broker goes away: its effect is committed, its acknowledgement cannot
be sent. The container must live on (the broker redelivers the event; consumers de-duplicate by
event id) instead of dying with the connection, which took a whole service down in a fault test."""
from types import SimpleNamespace

from common.entrypoints import EventHandler


class Counter:
    def __init__(self):
        self.n = 0

    def inc(self):
        self.n += 1


class DeadConnection:
    def ack_message(self, message):
        raise ConnectionResetError(104, "Connection reset by peer")

    def requeue_message(self, message):
        raise BrokenPipeError(32, "Broken pipe")


def handler() -> EventHandler:
    h = EventHandler.__new__(EventHandler)  # no container: only what handle_message_processed uses
    h.queue_consumer = DeadConnection()
    h.queue = SimpleNamespace(name="evt-fulfillment-order_routed--webhooks.on_order_routed")
    h._handled = Counter()
    return h


def test_a_lost_acknowledgement_is_logged_not_raised():
    h = handler()
    h.handle_message_processed(SimpleNamespace(headers={"nameko.request_id": "r1"}))
    assert h._handled.n == 1
