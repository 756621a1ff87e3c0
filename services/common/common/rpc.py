"""RPC proxies whose every call is bounded in time (SPEC, Hardening rules: "Time limits").

``RpcProxy("pricing")`` from here instead of nameko's: a call that gets no reply within
``RPC_TIMEOUT_SECONDS`` (default 10) raises ``ServiceTimeout`` naming the service (the gateway
answers 504) instead of waiting for as long as the service is stalled. A reply that arrives later is
dropped by nameko's reply listener (no caller waits for its correlation id any more).
"""
from __future__ import annotations

import time
import warnings

import eventlet
from amqp.exceptions import NotFound
from kombu import Connection, Queue
from nameko import rpc as nameko_rpc
from nameko.constants import AMQP_URI_CONFIG_KEY
from nameko.exceptions import UnknownService
from nameko.messaging import QueueConsumer
from nameko.rpc import RPC_QUEUE_TEMPLATE

from common.config import setting
from common.errors import ServiceError, ServiceNotRunning, ServiceTimeout, StoreUnavailable
from common.metrics import observe_call

# nameko warns on every call published mandatory without confirms; the probe covers what it means
warnings.filterwarnings("ignore", message="Mandatory delivery was requested", category=UserWarning)
DEFAULT_TIMEOUT = 10.0
DEADLINE = "deadline"  # context key: when the caller stops waiting (Unix seconds)
PROBE_AFTER = 1.0  # seconds without a reply before asking the broker whether the service runs


class _NoReply(Exception):
    pass


def expired(context_data: dict, now: float | None = None) -> bool:
    deadline = context_data.get(DEADLINE)
    return deadline is not None and (time.time() if now is None else now) > float(deadline)


def consumers_of(amqp_uri: str, service: str, within: float) -> int | None:
    """How many processes consume the service's RPC queue: 0 when the queue does not exist (the
    service never ran), None when the broker did not say within ``within`` seconds (keep waiting)."""
    timer = eventlet.Timeout(within)
    try:
        with Connection(amqp_uri, connect_timeout=within) as conn:
            queue = Queue(RPC_QUEUE_TEMPLATE.format(service), no_declare=True)(conn.channel())
            return queue.queue_declare(passive=True).consumer_count
    except NotFound:
        return 0
    except eventlet.Timeout as exc:
        if exc is not timer:
            raise
        return None
    except Exception:  # the broker is unwell: no verdict, the call waits out its limit
        return None
    finally:
        timer.cancel()


class TimedMethod:
    def __init__(self, method: nameko_rpc.MethodProxy, service: str, timeout: float,
                 amqp_uri: str | None = None, parent_deadline: float | None = None):
        self.method, self.service, self.timeout = method, service, timeout
        self.amqp_uri, self.parent_deadline = amqp_uri, parent_deadline

    def __call__(self, *args, **kwargs):
        """The callee is told when its caller stops waiting (``deadline``, Unix seconds, carried in
        the call's context like the request id; a nested call gets the earlier of its own and the
        one its worker was called with); a service that gets the call later — it was stalled, or
        its queue was long — drops it unrun instead of doing work nobody waits for, which a client's
        retry would then do a second time. The worker's own deadline is restored afterwards, so one
        call's does not shorten the next's."""
        data = self.method.worker_ctx.data
        deadline = time.time() + self.timeout
        if self.parent_deadline is not None:
            deadline = min(deadline, self.parent_deadline)
        data[DEADLINE] = deadline
        started, outcome = time.perf_counter(), "error"
        try:
            try:
                reply = self.method.call_async(*args, **kwargs)
            finally:
                if self.parent_deadline is None:
                    data.pop(DEADLINE, None)
                else:
                    data[DEADLINE] = self.parent_deadline
            # never longer than the worker's own caller waits: past that the answer is nobody's
            result = self.wait(reply, max(deadline - time.time(), 0.001))
            outcome = "ok"
            return result
        except ServiceTimeout:
            outcome = "timeout"
            raise
        except (ServiceNotRunning, UnknownService):
            outcome = "not_running"
            raise
        except StoreUnavailable:
            outcome = "unavailable"
            raise
        except ServiceError:
            outcome = "refused"
            raise
        finally:
            observe_call(self.service, self.method.method_name, outcome, time.perf_counter() - started)

    def call_async(self, *args, **kwargs):
        return self.method.call_async(*args, **kwargs)

    def spawn(self, *args, **kwargs) -> eventlet.greenthread.GreenThread:
        """The call, bounded and counted as ``__call__`` does, made in a green thread of its own:
        ``.wait()`` gives its answer or raises its error. Two calls spawned one after the other are
        in flight at once (a worker's independent lookups cost one round trip, not two)."""
        return eventlet.spawn(self, *args, **kwargs)

    def wait(self, reply, limit: float | None = None):
        """The reply, within the time limit (``limit``, at most ``timeout``). A call still unanswered
        after ``PROBE_AFTER`` seconds asks the broker whether anyone consumes the service's queue:
        nobody means the service is down (503 at once, not a wait for the whole limit)."""
        timeout = self.timeout if limit is None else min(limit, self.timeout)
        started = time.monotonic()
        first = min(PROBE_AFTER, timeout) if self.amqp_uri else timeout
        try:
            return self._within(reply, first)
        except _NoReply:
            remaining = timeout - (time.monotonic() - started)
            if self.amqp_uri and remaining > 0 and \
                    consumers_of(self.amqp_uri, self.service, remaining) == 0:
                self._forget(reply)
                raise ServiceNotRunning(f"the {self.service} service is not running") from None
        try:
            return self._within(reply, max(timeout - (time.monotonic() - started), 0.001))
        except _NoReply:
            self._forget(reply)
            raise ServiceTimeout(f"the {self.service} service did not answer within "
                                 f"{timeout:.3g} s") from None

    def _forget(self, reply) -> None:
        """nameko's reply listener keeps a waiting call's event until its reply comes; one given up
        on may never get one (dropped unrun, service gone): forget it, or it is kept for ever."""
        waiting = self.method.reply_listener._reply_events
        for correlation_id, event in list(waiting.items()):
            if event is reply.reply_event:
                waiting.pop(correlation_id, None)

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


def rpc_confirms(config) -> bool:
    """``RPC_CONFIRMS``: RPC requests and replies persistent, confirmed and acknowledged (default off)."""
    return str(setting(config, "RPC_CONFIRMS", "false")).lower() in ("1", "true", "yes")


class _ReplyConsumer(QueueConsumer):
    """The reply queue's own consumer (a connection of its own): replies are taken unacknowledged
    (``no_ack``) and handed to their waiting caller in the consuming thread, not in a new green
    thread each. A reply is transient already (lost with the broker) and its queue is this
    process's, so an acknowledgement bought nothing but a frame each way and a thread per call;
    with ``RPC_CONFIRMS`` true replies are acknowledged as nameko does."""

    def get_consumers(self, consumer_cls, channel):
        acked = rpc_confirms(self.container.config)
        for provider in self._providers:
            consumer = consumer_cls(queues=[provider.queue], callbacks=[provider.take_reply],
                                    accept=self.accept, no_ack=not acked)
            if acked:
                consumer.qos(prefetch_count=self.prefetch_count)
            self._consumers[provider] = consumer
        return self._consumers.values()


class ReplyListener(nameko_rpc.ReplyListener):
    queue_consumer = _ReplyConsumer()

    def setup(self):
        super().setup()
        self.acked = rpc_confirms(self.container.config)

    def take_reply(self, body, message) -> None:
        if self.acked:
            self.queue_consumer.ack_message(message)
        event = self._reply_events.pop(message.properties.get("correlation_id"), None)
        if event is not None:  # else given up on (timed out) or not ours
            event.send(body)


class TimedServiceProxy(nameko_rpc.ServiceProxy):
    def __init__(self, worker_ctx, *args, timeout: float, amqp_uri: str | None, **kwargs):
        super().__init__(worker_ctx, *args, **kwargs)
        self.timeout, self.amqp_uri = timeout, amqp_uri
        inherited = worker_ctx.data.get(DEADLINE)  # as the worker was called, before any call of its own
        self.parent_deadline = float(inherited) if inherited is not None else None

    def __getattr__(self, name):
        return TimedMethod(super().__getattr__(name), self.service_name, self.timeout,
                           self.amqp_uri, self.parent_deadline)


class RpcProxy(nameko_rpc.RpcProxy):
    """Calls are published transient and without waiting for the broker's confirm unless
    ``RPC_CONFIRMS`` is true: a request that never reaches its service is the caller's timeout (or,
    when nobody consumes the queue, ``ServiceNotRunning`` from the probe above) either way, and
    confirms cost a broker round trip per call (docs/benchmarks.md). Events stay persistent and
    confirmed (common.outbox). Replies are taken without acknowledgements (``_ReplyConsumer``)."""

    rpc_reply_listener = ReplyListener()

    def setup(self):
        super().setup()
        config = self.container.config
        self.timeout = float(setting(config, "RPC_TIMEOUT_SECONDS", DEFAULT_TIMEOUT))
        self.amqp_uri = config.get(AMQP_URI_CONFIG_KEY)
        if not rpc_confirms(config):
            self.options = {"use_confirms": False, "delivery_mode": 1, **self.options}

    def get_dependency(self, worker_ctx):
        return TimedServiceProxy(worker_ctx, self.target_service, self.rpc_reply_listener,
                                 timeout=self.timeout, amqp_uri=self.amqp_uri, **self.options)
