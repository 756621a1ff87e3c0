"""nameko entrypoints that commit the worker's transaction before the caller hears the result.

Use ``from common.entrypoints import rpc, event_handler`` in every service instead of nameko's own.
"""
from __future__ import annotations

import inspect
import time

import eventlet
import psycopg2
import structlog
from amqp.exceptions import ConnectionError as AmqpConnectionError
from amqp.exceptions import NotFound
from kombu import Connection, Queue
from kombu.exceptions import OperationalError as KombuOperationalError
from nameko.amqp.publish import Publisher
from nameko.constants import AMQP_URI_CONFIG_KEY, SERIALIZER_CONFIG_KEY
from nameko.events import EventHandler as NamekoEventHandler
from nameko.exceptions import IncorrectSignature, RpcTimeout, UnknownService
from nameko.rpc import Responder, RpcConsumer, get_rpc_exchange
from nameko.rpc import Rpc as NamekoRpc

from common.config import setting
from common.db import finish_transactions
from common.errors import ServiceError, ServiceNotRunning, ServiceTimeout, StoreUnavailable
from common.metrics import DEAD_LETTERS, EVENTS_FAILED, EVENTS_HANDLED, READ_TIMEOUT, observe_handled, scraped
from common.rpc import expired, rpc_confirms

ATTEMPT_HEADER = "x-dcm-attempt"
QUEUE_HEADER = "x-dcm-queue"
ERROR_HEADER = "x-dcm-error"
# the broker or a service being away, not the work being wrong
BROKER_OUTAGE = (ConnectionError, KombuOperationalError, AmqpConnectionError)
# what a called service answers while it or its own infrastructure is away
SERVICE_OUTAGE = (ServiceTimeout, ServiceNotRunning, StoreUnavailable, UnknownService, RpcTimeout)
# PostgreSQL errors that say the connection or the server is gone (SQLSTATE class 08, and 57P01-03:
# terminated by an administrator, a crash, a server starting up), not that a statement is wrong
DATABASE_GONE = ("08", "57P01", "57P02", "57P03")


def is_outage(exc: BaseException) -> bool:
    """The infrastructure being down, not the work being wrong: an event is retried for as long as
    it takes, a call answers 503 ("try again"). A statement PostgreSQL refuses for what it is (too
    large, cancelled by a timeout, a deadlock) is not one: that stays a bug to see."""
    if isinstance(exc, psycopg2.InterfaceError) or isinstance(exc, BROKER_OUTAGE + SERVICE_OUTAGE):
        return True
    if isinstance(exc, psycopg2.OperationalError):
        code = exc.pgcode
        return code is None or code.startswith("08") or code in DATABASE_GONE
    return False

log = structlog.get_logger("common.events")


def dead_letter_queue(service: str) -> str:
    return f"dead-letters.{service}"


def retry_delay(attempt: int) -> float:
    """Seconds to wait before attempt ``attempt + 1``: 0.1, 0.2, 0.4 … at most 5."""
    return min(0.1 * 2 ** (attempt - 1), 5.0)


def gives_up(exc: BaseException, attempt: int, max_attempts: int) -> bool:
    """Whether a failed event goes to the dead letters instead of being tried again."""
    return not is_outage(exc) and attempt >= max_attempts


def unavailable(service: str, exc_info):
    """The infrastructure failing under a call (a dropped database connection, the broker gone) is
    not the caller's mistake nor a bug of ours: the caller hears ``StoreUnavailable`` (503, try
    again) instead of an opaque error."""
    if exc_info is None or isinstance(exc_info[1], ServiceError) or not is_outage(exc_info[1]):
        return exc_info  # a called service's own 503/504 passes through as it is
    exc = exc_info[1]
    if isinstance(exc, UnknownService):
        error = ServiceNotRunning(f"the {exc.args[0]} service is not running")
    else:
        error = StoreUnavailable(f"the {service} service could not reach its database or the "
                                 f"broker ({type(exc).__name__}); try again")
    return type(error), error, exc_info[2]


def rpc_outcome(exc_info, expected: type | tuple) -> str:
    """How an RPC call ended, as ``dcm_rpc_handled_total`` counts it (after ``unavailable``)."""
    if exc_info is None:
        return "ok"
    if isinstance(exc_info[1], (StoreUnavailable, ServiceNotRunning, ServiceTimeout)):
        return "unavailable"
    return "refused" if isinstance(exc_info[1], expected) else "error"


def dead_letters_waiting(amqp_uri: str, service: str) -> list:
    """How many events wait in the service's dead-letter queue (none when it was never made)."""
    with Connection(amqp_uri, connect_timeout=READ_TIMEOUT) as conn:
        try:
            queue = Queue(dead_letter_queue(service), no_declare=True)(conn.channel())
            waiting = queue.queue_declare(passive=True).message_count
        except NotFound:
            waiting = 0
    return [(DEAD_LETTERS, (), waiting)]


class TransientReplies(Publisher):
    """A reply goes to its caller's own exclusive reply queue, which dies with the caller: making it
    persistent and waiting for the broker's confirm buys nothing (a lost reply is a caller's timeout
    either way, and the caller may retry: deadlines and idempotency keys keep that safe)."""

    use_confirms = False
    delivery_mode = 1  # transient


class _Replies(Responder):
    publisher_cls = TransientReplies


class ReplyingConsumer(RpcConsumer):
    """nameko's RPC consumer, replying without publisher confirms unless ``RPC_CONFIRMS`` is true
    (docs/benchmarks.md: what confirms cost per call)."""

    def handle_result(self, message, result, exc_info):
        config = self.container.config
        responder = (Responder if rpc_confirms(config) else _Replies)(
            config[AMQP_URI_CONFIG_KEY], get_rpc_exchange(config),
            config.get(SERIALIZER_CONFIG_KEY, "json"), message, ssl=config.get("AMQP_SSL"),
            login_method=config.get("LOGIN_METHOD"))
        result, exc_info = responder.send_response(result, exc_info)
        self.queue_consumer.ack_message(message)
        return result, exc_info


class Rpc(NamekoRpc):
    rpc_consumer = ReplyingConsumer()

    def setup(self):
        super().setup()
        self._received: dict[int, float] = {}  # id(message) → when it arrived
        self._signature = inspect.signature(getattr(self.container.service_cls, self.method_name))

    def check_signature(self, args, kwargs):
        """As nameko's (a call whose arguments the method cannot take is refused before any worker
        runs), from the signature read once instead of ``inspect.getcallargs`` per call (~20 µs)."""
        try:
            self._signature.bind(None, *args, **kwargs)
        except TypeError as exc:
            raise IncorrectSignature(str(exc)) from None

    def handle_message(self, body, message):
        if expired(self.unpack_message_headers(message)):
            # the caller has answered its client already (504): running it now would only do
            # work nobody waits for, and a retry would do it again
            log.warning("rpc_expired", service=self.container.service_name, method=self.method_name,
                        request_id=message.headers.get("nameko.request_id"))
            self.rpc_consumer.queue_consumer.ack_message(message)
            observe_handled(self.container.service_name, self.method_name, "expired", None)
            return
        self._received[id(message)] = time.perf_counter()
        try:
            super().handle_message(body, message)
        except BaseException:
            self._received.pop(id(message), None)
            raise

    def handle_result(self, message, worker_ctx, result, exc_info):
        exc_info = finish_transactions(worker_ctx, exc_info)
        exc_info = unavailable(self.container.service_name, exc_info)
        received = self._received.pop(id(message), None)
        observe_handled(self.container.service_name, self.method_name,
                        rpc_outcome(exc_info, self.expected_exceptions),
                        None if received is None else time.perf_counter() - received)
        try:
            return super().handle_result(message, worker_ctx, None if exc_info else result, exc_info)
        except BROKER_OUTAGE as exc:
            # the broker went away between the work and its reply: the caller times out and may
            # retry (the work is committed; idempotency keys and deadlines keep a retry safe).
            # Raising here would kill the whole container for one lost reply.
            log.warning("rpc_reply_lost", service=self.container.service_name,
                        method=self.method_name, error=f"{type(exc).__name__}: {exc}")
            try:  # on a connection that survived, the request must not hold a prefetch slot
                self.rpc_consumer.queue_consumer.ack_message(message)
            except Exception:  # noqa: BLE001 - its connection is gone: the broker requeued it
                pass
            return result, exc_info


class EventHandler(NamekoEventHandler):
    """An event is acknowledged only after its effect (and its processed_events row) is committed.

    A failed event is tried again after a growing pause (``retry_delay``), republished to the back
    of its queue with its attempt number in a header. One that keeps failing for a reason of its own
    (not a database or service outage, which is retried for as long as it lasts) goes after
    ``EVENT_MAX_ATTEMPTS`` (default 5) to the durable queue ``dead-letters.<service>`` with the error,
    where it waits for ``python -m common.deadletters`` — instead of spinning in a requeue loop.
    Republishing comes before the acknowledgement, so a crash between them delivers twice, which
    consumers tolerate (``first_delivery``)."""

    def setup(self):
        super().setup()
        config = self.container.config
        self.max_attempts = setting(config, "EVENT_MAX_ATTEMPTS", 5)
        self.dead_letters = Queue(dead_letter_queue(self.container.service_name), durable=True)
        self.republisher = Publisher(config[AMQP_URI_CONFIG_KEY], declare=[self.dead_letters],
                                     serializer=config.get(SERIALIZER_CONFIG_KEY, "json"))
        service = self.container.service_name
        self._handled = EVENTS_HANDLED.labels(service, self.source_service, self.event_type)
        # one gauge per service, however many handlers it has (the same source replaced)
        scraped.add(self.container, "dead_letters",
                    lambda: dead_letters_waiting(config[AMQP_URI_CONFIG_KEY], service))

    def _failed(self, action: str) -> None:
        EVENTS_FAILED.labels(self.container.service_name, self.source_service, self.event_type,
                             action).inc()

    def handle_result(self, message, worker_ctx, result=None, exc_info=None):
        exc_info = finish_transactions(worker_ctx, exc_info)
        return super().handle_result(message, worker_ctx, result, exc_info)

    def handle_message_processed(self, message, result=None, exc_info=None):
        if exc_info is None:
            try:
                self.queue_consumer.ack_message(message)
            except BROKER_OUTAGE as exc:
                # the broker went away after the effect committed: it redelivers the event once it
                # is back, and applying it again is a no-op (consumers de-duplicate by event id).
                # Raising here would kill the whole container for one lost acknowledgement.
                log.warning("event_ack_lost", queue=self.queue.name, error=f"{type(exc).__name__}: {exc}",
                            request_id=message.headers.get("nameko.request_id"))
            self._handled.inc()
            return
        exc = exc_info[1]
        attempt = int(message.headers.get(ATTEMPT_HEADER, 1))
        headers = {**message.headers, ATTEMPT_HEADER: attempt + 1, QUEUE_HEADER: self.queue.name}
        fields = {"queue": self.queue.name, "attempt": attempt, "error": f"{type(exc).__name__}: {exc}",
                  "request_id": message.headers.get("nameko.request_id")}
        try:
            if gives_up(exc, attempt, self.max_attempts):
                headers[ERROR_HEADER] = fields["error"][:1000]
                self.republisher.publish(message.payload, routing_key=self.dead_letters.name,
                                         headers=headers)
                log.error("event_dead_lettered", **fields)
                self._failed("dead_lettered")
            else:
                eventlet.sleep(retry_delay(attempt))
                self.republisher.publish(message.payload, routing_key=self.queue.name, headers=headers)
                log.warning("event_retried", **fields)
                self._failed("retried")
        except Exception:  # the broker would not take it: put the original back, lose nothing
            log.exception("event_republish_failed", **fields)
            self._failed("requeued")
            try:
                self.queue_consumer.requeue_message(message)
            except BROKER_OUTAGE:  # its connection is gone: the broker requeues it by itself
                log.warning("event_requeue_lost", **fields)
            return
        self.queue_consumer.ack_message(message)


rpc = Rpc.decorator
event_handler = EventHandler.decorator
