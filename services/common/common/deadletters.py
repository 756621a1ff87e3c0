"""Events a service gave up on (see ``common.entrypoints.EventHandler``): look at them, or send them
back to the queues they came from once the cause is fixed.

    python -m common.deadletters list pricing      # one JSON line per event: queue, attempts, error, payload
    python -m common.deadletters replay pricing    # each back to its queue, counted from attempt 1

Only the events present when the command starts are handled, so one that fails again is not replayed
twice in a run. ``AMQP_URI`` names the broker (as for the services).
"""
from __future__ import annotations

import json
import os
import sys

from kombu import Connection, Producer, Queue

from common.entrypoints import ATTEMPT_HEADER, ERROR_HEADER, QUEUE_HEADER, dead_letter_queue
from common.topology import BACKENDS

SERVICES = BACKENDS  # the services with a dead-letter queue


def _broker(amqp_uri: str) -> Connection:
    return Connection(amqp_uri, transport_options={"confirm_publish": True})


def _queue(channel, service: str) -> tuple[Queue, int]:
    """The service's dead-letter queue on ``channel``, and how many events wait in it."""
    queue = Queue(dead_letter_queue(service), durable=True)(channel)
    return queue, queue.queue_declare().message_count


def peek(amqp_uri: str, service: str) -> list[dict]:
    """The dead letters, left where they are."""
    with _broker(amqp_uri) as conn:
        channel = conn.channel()
        queue, waiting = _queue(channel, service)
        found = []
        for _ in range(waiting):
            message = queue.get(no_ack=False)
            if message is None:
                break
            headers = message.headers or {}
            found.append({"queue": headers.get(QUEUE_HEADER), "attempts": headers.get(ATTEMPT_HEADER, 1) - 1,
                          "error": headers.get(ERROR_HEADER), "request_id": headers.get("nameko.request_id"),
                          "payload": message.decode()})
        channel.close()  # unacknowledged: every message goes back to the queue
    return found


def replay(amqp_uri: str, service: str) -> int:
    """Send each dead letter back to its queue; returns how many were sent."""
    sent = 0
    with _broker(amqp_uri) as conn:
        channel = conn.channel()
        queue, waiting = _queue(channel, service)
        producer = Producer(channel)
        for _ in range(waiting):
            message = queue.get(no_ack=False)
            if message is None:
                break
            headers = {k: v for k, v in (message.headers or {}).items() if k != ERROR_HEADER}
            headers[ATTEMPT_HEADER] = 1
            producer.publish(message.body, routing_key=headers[QUEUE_HEADER], headers=headers,
                             content_type=message.content_type,
                             content_encoding=message.content_encoding, delivery_mode=2)
            message.ack()  # only once the broker has confirmed the copy
            sent += 1
    return sent


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("list", "replay") or argv[1] not in SERVICES:
        print(f"usage: python -m common.deadletters list|replay {'|'.join(SERVICES)}", file=sys.stderr)
        return 2
    amqp_uri = os.environ.get("AMQP_URI", "pyamqp://guest:guest@127.0.0.1:5672/")
    if argv[0] == "list":
        for letter in peek(amqp_uri, argv[1]):
            print(json.dumps(letter, ensure_ascii=False))
    else:
        print(f"{argv[1]}: {replay(amqp_uri, argv[1])} event(s) sent back")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
