"""Webhooks, pure rules (SPEC: Webhooks (Standard Webhooks)): who may subscribe to what, which party an
event concerns and what it is told, the Standard Webhooks signature, the retry schedule, when an
endpoint is disabled, and which destinations are refused. Deterministic; no I/O; time passed in."""
from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from webhooks.errors import InvalidWebhook

DISTRIBUTOR, CHANNEL = "distributor", "channel"
DISTRIBUTOR_EVENTS = ("assignment.created", "assignment.withdrawn", "distributor.status_changed", "price.changed")
CHANNEL_EVENTS = ("order.routed", "order.backordered", "shipment.shipped", "order.cancelled")
EVENTS_OF = {DISTRIBUTOR: DISTRIBUTOR_EVENTS, CHANNEL: CHANNEL_EVENTS}
TEST_EVENT = "webhook.test"
ENABLED, DISABLED = "enabled", "disabled"
PENDING, SUCCEEDED, FAILED = "pending", "succeeded", "failed"
MAX_ENDPOINTS = 10  # per party
DISABLE_AFTER = 20  # consecutive deliveries that ended failed
TIMEOUT_SECONDS = 10.0  # a 2xx within this is a success
# the pause after each failed attempt: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h; then failed
RETRY_PAUSES = (timedelta(seconds=5), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2),
                timedelta(hours=5), timedelta(hours=10), timedelta(hours=10))
MAX_ATTEMPTS = len(RETRY_PAUSES) + 1
SECRET_PREFIX = "whsec_"
MESSAGES = uuid.UUID("6f1c7a52-3b8e-4d53-9c64-1d2f0e9a7b31")  # namespace of webhook-ids


# ---- parties and subscriptions ------------------------------------------------------------------


@dataclass(frozen=True)
class Party:
    """Whose endpoints these are: a distributor (every key of it) or a channel (every key of it)."""

    kind: str  # distributor | channel
    id: str  # the distributor's id (decimal) or the channel's code

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.id}"

    @classmethod
    def of(cls, distributor_id: int | str | None, channel: str | None) -> Party:
        if distributor_id is not None:
            return cls(DISTRIBUTOR, str(int(distributor_id)))
        if channel:
            return cls(CHANNEL, channel)
        raise InvalidWebhook("webhooks belong to a distributor or a channel")


def check_events(party: Party, events: Iterable[str]) -> list[str]:
    """The event types, de-duplicated in order; InvalidWebhook naming ``events[i]`` for a type that
    does not exist or is the other kind of party's."""
    events = list(events)
    errors = []
    for i, event in enumerate(events):
        if event in EVENTS_OF[party.kind]:
            continue
        other = CHANNEL if party.kind == DISTRIBUTOR else DISTRIBUTOR
        message = (f"{event!r} is a {other} event: a {party.kind} may subscribe to "
                   f"{', '.join(EVENTS_OF[party.kind])}") if event in EVENTS_OF[other] else (
            f"unknown event type {event!r}: one of {', '.join(EVENTS_OF[party.kind])}")
        errors.append({"field": f"events[{i}]", "message": message})
    if errors:
        raise InvalidWebhook(f"{errors[0]['field']}: {errors[0]['message']}", errors)
    return list(dict.fromkeys(events))


def check_url(url: str) -> str:
    """An http(s) URL with a host and no credentials; InvalidWebhook naming ``url`` otherwise."""
    problem = None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises for a port that is not a number in range)
    except ValueError:
        parts, problem = None, "not a URL"
    if parts is not None:
        if parts.scheme not in ("http", "https"):
            problem = "must be an http or https URL"
        elif not parts.hostname:
            problem = "must name a host"
        elif parts.username or parts.password:
            problem = "must not carry credentials"
        elif not _host_name(parts.hostname):
            problem = "must name a host: a domain name or an IP address"
    if problem:
        raise InvalidWebhook(f"url: {problem}", [{"field": "url", "message": problem}])
    return url


def _host_name(host: str) -> bool:
    """A host name DNS can look up (IDNA, labels of letters, digits and hyphens) or an IP address."""
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    labels = ascii_host.rstrip(".").split(".")
    return len(ascii_host) <= 253 and all(
        0 < len(label) <= 63 and label[0] != "-" and label[-1] != "-"
        and all(c.isalnum() or c == "-" for c in label) for label in labels)


def refused_address(address: str) -> str | None:
    """Why a destination address is refused, or None for a globally routable unicast one. Anything
    else is refused: loopback, private, link-local, multicast, unspecified, reserved, and the shared
    space of 100.64.0.0/10 (Alibaba Cloud's metadata service answers at 100.100.100.200); an IPv6
    address wrapping an IPv4 one (mapped, 6to4, Teredo) is judged by the IPv4 one."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        wrapped = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if wrapped is not None:
            ip = wrapped
    for name in ("loopback", "private", "link_local", "multicast", "unspecified", "reserved"):
        if getattr(ip, f"is_{name}"):
            return f"{address} is a {name.replace('_', '-')} address"
    if not ip.is_global:
        return f"{address} is not a public address"
    return None


# ---- secrets and signatures ---------------------------------------------------------------------


def new_secret(random_bytes: bytes) -> str:
    """``whsec_`` + base64 of 32 random bytes."""
    assert len(random_bytes) == 32
    return SECRET_PREFIX + base64.b64encode(random_bytes).decode()


def signature(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """Standard Webhooks: ``v1,`` + base64(HMAC-SHA256(key, id.timestamp.body)), the key being the
    base64-decoded secret after ``whsec_``."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    digest = hmac.new(key, f"{webhook_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(secret: str, webhook_id: str, now: datetime, body: bytes) -> dict[str, str]:
    timestamp = int(now.timestamp())
    return {"webhook-id": webhook_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": signature(secret, webhook_id, timestamp, body),
            "content-type": "application/json"}


def webhook_id(event_id: str, endpoint_id: int) -> str:
    """The same on every attempt of one event to one endpoint (a receiver de-duplicates on it)."""
    return "msg_" + uuid.uuid5(MESSAGES, f"{event_id}:{endpoint_id}").hex


def body(event_type: str, occurred_at: str, data: Mapping[str, Any]) -> str:
    """What is posted: ``{"type", "timestamp", "data"}``, encoded once so every attempt sends the
    same bytes."""
    return json.dumps({"type": event_type, "timestamp": occurred_at, "data": data}, ensure_ascii=False,
                      separators=(",", ":"), sort_keys=True)


# ---- attempts -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What an attempt left: the delivery's status, when to try next, and whether the endpoint's run
    of failed deliveries grew (``failed_delivery``) or ended (``succeeded``)."""

    status: str
    next_attempt_at: datetime | None
    succeeded: bool
    failed_delivery: bool


def after_attempt(attempt: int, response_status: int | None, now: datetime, scale: float = 1.0) -> Outcome:
    """``attempt`` (1 for the first) got ``response_status`` (None: no answer within the timeout, or
    refused before sending): a 2xx succeeds; anything else is tried again after the pause for this
    attempt × ``scale``, and after the last one the delivery has failed."""
    if response_status is not None and 200 <= response_status < 300:
        return Outcome(SUCCEEDED, None, True, False)
    if attempt >= MAX_ATTEMPTS:
        return Outcome(FAILED, None, False, True)
    return Outcome(PENDING, now + RETRY_PAUSES[attempt - 1] * scale, False, False)


def endpoint_after(status: str, failed_streak: int, outcome: Outcome) -> tuple[str, int]:
    """An endpoint's status and its run of deliveries that ended failed, after a delivery's attempt:
    a success ends the run; the 20th failed delivery in a row disables it."""
    if outcome.succeeded:
        return status, 0
    if outcome.failed_delivery:
        streak = failed_streak + 1
        return (DISABLED if streak >= DISABLE_AFTER else status), streak
    return status, failed_streak


# ---- which party an event concerns --------------------------------------------------------------


@dataclass(frozen=True)
class Notice:
    """One webhook event for one party: its type and the resource as that party's API GET shows it
    (None: the receiver's view must be asked for, per party — a price's unit price is the tier's)."""

    party: Party | None  # None: every party subscribed to it (price.changed)
    event_type: str
    data: Mapping[str, Any] | None


# the webhook event type each system event may become (``notices`` says for whom, if anyone)
BECOMES: Mapping[tuple[str, str], str] = {
    ("fulfillment", "assignment_created"): "assignment.created",
    ("fulfillment", "assignment_withdrawn"): "assignment.withdrawn",
    ("fulfillment", "order_routed"): "order.routed",
    ("fulfillment", "order_backordered"): "order.backordered",
    ("fulfillment", "order_cancelled"): "order.cancelled",
    ("fulfillment", "shipment_shipped"): "shipment.shipped",
    ("distributors", "distributor_suspended"): "distributor.status_changed",
    ("distributors", "distributor_reinstated"): "distributor.status_changed",
    ("distributors", "distributor_terminated"): "distributor.status_changed",
    ("pricing", "price_changed"): "price.changed",
}


def becomes(source: str, event_type: str) -> str | None:
    """The webhook event type a system event may become (None: none)."""
    return BECOMES.get((source, event_type))


def notices(source: str, event_type: str, payload: Mapping[str, Any]) -> list[Notice]:
    """The webhook events a system event becomes."""
    kind = becomes(source, event_type)
    if kind is None:
        return []
    if event_type in ("assignment_created", "assignment_withdrawn"):
        a = payload["assignment"]
        return [Notice(Party(DISTRIBUTOR, str(a["distributor_id"])), kind, a)]
    if source == "fulfillment":
        order = payload.get("order")
        return [Notice(Party(CHANNEL, order["channel"]), kind, order)] if order else []
    if source == "distributors":
        d = payload["distributor"]
        return [Notice(Party(DISTRIBUTOR, str(d["id"])), kind, d)]
    return [Notice(None, kind, None)]  # price.changed: every distributor subscribed to it
