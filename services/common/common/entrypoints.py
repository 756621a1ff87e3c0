"""nameko entrypoints that commit the worker's transaction before the caller hears the result.

Use ``from common.entrypoints import rpc, event_handler`` in every service instead of nameko's own.
"""
from __future__ import annotations

from nameko.events import EventHandler as NamekoEventHandler
from nameko.rpc import Rpc as NamekoRpc

from common.db import finish_transactions


class Rpc(NamekoRpc):
    def handle_result(self, message, worker_ctx, result, exc_info):
        exc_info = finish_transactions(worker_ctx, exc_info)
        return super().handle_result(message, worker_ctx, None if exc_info else result, exc_info)


class EventHandler(NamekoEventHandler):
    """An event is acknowledged only after its effect (and its processed_events row) is committed;
    a failed handler's event is requeued (nameko's default would acknowledge and lose it)."""

    def __init__(self, source_service, event_type, **kwargs):
        kwargs.setdefault("requeue_on_error", True)
        super().__init__(source_service, event_type, **kwargs)

    def handle_result(self, message, worker_ctx, result=None, exc_info=None):
        exc_info = finish_transactions(worker_ctx, exc_info)
        return super().handle_result(message, worker_ctx, result, exc_info)


rpc = Rpc.decorator
event_handler = EventHandler.decorator
