"""RPC proxies whose every call is bounded in time (SPEC, Hardening rules: "Time limits").

``RpcProxy("pricing")`` from here instead of nameko's: a call that gets no reply within
``RPC_TIMEOUT_SECONDS`` (default 10) raises ``ServiceTimeout`` naming the service (the gateway
answers 504) instead of waiting for as long as the service is stalled. A reply that arrives later is
dropped by nameko's reply listener (no caller waits for its correlation id any more).
"""
from __future__ import annotations

import time

import eventlet
from kombu import Connection, Queue
from nameko import rpc as nameko_rpc
from nameko.constants import AMQP_URI_CONFIG_KEY
from nameko.rpc import RPC_QUEUE_TEMPLATE

from common.config import setting
from common.errors import ServiceNotRunning, ServiceTimeout

DEFAULT_TIMEOUT = 10.0
DEADLINE = "deadline"  # context key: when the caller stops waiting (Unix seconds)
PROBE_AFTER = 1.0  # seconds without a reply before asking the broker whether the service runs


class _NoReply(Exception):
    pass


def expired(context_data: dict, now: float | None = None) -> bool:
    deadline = context_data.get(DEADLINE)
    return deadline is not None and (time.time() if now is None else now) > float(deadline)


def consumers_of(amqp_uri: str, service: str) -> int | None:
    """How many processes consume the service's RPC queue (None: the broker did not say)."""
    try:
        with Connection(amqp_uri, connect_timeout=2) as conn:
            queue = Queue(RPC_QUEUE_TEMPLATE.format(service), no_declare=True)(conn.channel())
            return queue.queue_declare(passive=True).consumer_count
    except Exception:  # no such queue (never started) or no broker: nobody is there either way
        return 0


class TimedMethod:
    def __init__(self, method: nameko_rpc.MethodProxy, service: str, timeout: float,
                 amqp_uri: str | None = None):
        self.method, self.service, self.timeout = method, service, timeout
        self.amqp_uri = amqp_uri

    def __call__(self, *args, **kwargs):
        self.set_deadline()
        return self.wait(self.method.call_async(*args, **kwargs))

    def set_deadline(self) -> None:
        """The callee is told when its caller stops waiting (``deadline``, Unix seconds, carried in
        the call's context like the request id, so nested calls inherit the earliest); a service
        that gets the call later — it was stalled, or its queue was long — drops it unrun instead
        of doing work nobody waits for, which a client's retry would then do a second time."""
        data = self.method.worker_ctx.data
        deadline = time.time() + self.timeout
        inherited = data.get(DEADLINE)
        data[DEADLINE] = min(deadline, float(inherited)) if inherited else deadline

    def call_async(self, *args, **kwargs):
        return self.method.call_async(*args, **kwargs)

    def wait(self, reply):
        """The reply, within the time limit. A call still unanswered after ``PROBE_AFTER`` seconds
        asks the broker whether anyone consumes the service's queue: nobody means the service is
        down (503 at once, not a wait for the whole limit)."""
        started = time.monotonic()
        first = min(PROBE_AFTER, self.timeout) if self.amqp_uri else self.timeout
        try:
            return self._within(reply, first)
        except _NoReply:
            if self.amqp_uri and consumers_of(self.amqp_uri, self.service) == 0:
                raise ServiceNotRunning(f"the {self.service} service is not running") from None
        try:
            return self._within(reply, max(self.timeout - (time.monotonic() - started), 0.001))
        except _NoReply:
            raise ServiceTimeout(f"the {self.service} service did not answer within "
                                 f"{self.timeout:g} s") from None

    @staticmethod
    def _within(reply, seconds: float):
        timer = eventlet.Timeout(seconds)
        try:
            return reply.result()
        except eventlet.Timeout as exc:
            if exc is not timer:
                raise
            raise _NoReply from None
        finally:
            timer.cancel()


class TimedServiceProxy(nameko_rpc.ServiceProxy):
    def __init__(self, *args, timeout: float, amqp_uri: str | None, **kwargs):
        super().__init__(*args, **kwargs)
        self.timeout, self.amqp_uri = timeout, amqp_uri

    def __getattr__(self, name):
        return TimedMethod(super().__getattr__(name), self.service_name, self.timeout,
                           self.amqp_uri)


class RpcProxy(nameko_rpc.RpcProxy):
    def setup(self):
        super().setup()
        config = self.container.config
        self.timeout = float(setting(config, "RPC_TIMEOUT_SECONDS", DEFAULT_TIMEOUT))
        self.amqp_uri = config.get(AMQP_URI_CONFIG_KEY)

    def get_dependency(self, worker_ctx):
        return TimedServiceProxy(worker_ctx, self.target_service, self.rpc_reply_listener,
                                 timeout=self.timeout, amqp_uri=self.amqp_uri, **self.options)
