"""The webhooks service layer: one function per use case, on a unit of work
(``webhooks.unit_of_work``); the rules are in ``webhooks.domain``, sending in ``webhooks.sender``."""
from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from common.errors import parse_id
from common.pagination import decode_cursor, page
from webhooks import domain
from webhooks.domain import Party
from webhooks.errors import InvalidWebhook, PartyNotActive, TooManyWebhooks, WebhookNotFound
from webhooks.store import Delivery, Endpoint


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def endpoint_view(e: Endpoint, secret: bool = False) -> dict:
    view = {"id": e.id, "url": e.url, "events": list(e.events), "description": e.description,
            "status": e.status, "created_at": _iso(e.created_at), "updated_at": _iso(e.updated_at)}
    if secret:
        view["secret"] = e.secret
    return view


def delivery_view(d: Delivery) -> dict:
    return {"id": d.id, "event_id": d.event_id, "webhook_id": d.webhook_id, "event_type": d.event_type,
            "attempt": d.attempt, "status": d.status, "response_status": d.response_status,
            "last_error": d.last_error, "next_attempt_at": _iso(d.next_attempt_at),
            "created_at": _iso(d.created_at)}


def check_destination(uow, url: str, allow_private: bool) -> None:
    """At registration: the host must resolve, and (unless private networks are allowed) only to
    public addresses. The sender checks again at each attempt."""
    host = urlsplit(url).hostname
    try:
        addresses = uow.resolve(host)
    except (OSError, UnicodeError, ValueError):
        addresses = []
    if not addresses:
        raise InvalidWebhook(f"url: {host} does not resolve", [{"field": "url", "message": f"{host} does not resolve"}])
    if allow_private:
        return
    for address in addresses:
        why = domain.refused_address(address)
        if why:
            message = f"{why}: webhooks are sent only to public addresses"
            raise InvalidWebhook(f"url: {message}", [{"field": "url", "message": message}])


def _writable(uow, party: Party) -> None:
    if party.kind == domain.DISTRIBUTOR and not uow.distributor_active(int(party.id)):
        raise PartyNotActive(f"distributor {party.id} is not active: it may read but not change its webhooks")


def _own(uow, party: Party, endpoint_id, for_update: bool = False) -> Endpoint:
    number = parse_id(endpoint_id, WebhookNotFound, "webhook")
    found = uow.endpoint(party.key, number, for_update)
    if found is None:
        raise WebhookNotFound(f"webhook {endpoint_id} not found")
    return found


def create_endpoint(uow, party: Party, fields: Mapping[str, Any], secret: str, now: datetime,
                    allow_private: bool) -> dict:
    url = domain.check_url(fields["url"])
    events = domain.check_events(party, fields["events"])
    _writable(uow, party)
    check_destination(uow, url, allow_private)
    uow.lock_party(party.key)
    if uow.count_endpoints(party.key) >= domain.MAX_ENDPOINTS:
        raise TooManyWebhooks(f"{party.kind} {party.id} already has {domain.MAX_ENDPOINTS} webhooks")
    return endpoint_view(uow.insert_endpoint(party.key, url, events, fields.get("description"), secret, now),
                         secret=True)


def list_endpoints(uow, party: Party, cursor: str | None, limit: int) -> dict:
    result = page(uow.endpoints(party.key, decode_cursor(cursor, int), limit), limit, key=lambda e: e.id)
    result["items"] = [endpoint_view(e) for e in result["items"]]
    return result


def get_endpoint(uow, party: Party, endpoint_id) -> dict:
    return endpoint_view(_own(uow, party, endpoint_id))


def update_endpoint(uow, party: Party, endpoint_id, changes: Mapping[str, Any], now: datetime,
                    allow_private: bool) -> dict:
    current = _own(uow, party, endpoint_id, for_update=True)
    _writable(uow, party)
    changes = dict(changes)
    if "url" in changes:
        check_destination(uow, domain.check_url(changes["url"]), allow_private)
    if "events" in changes:
        changes["events"] = domain.check_events(party, changes["events"])
    if changes.get("status") == domain.ENABLED:
        changes["failed_streak"] = 0  # its owner enabled it again: a fresh run
    if not changes:
        return endpoint_view(current)
    return endpoint_view(uow.update_endpoint(current.id, changes, now))


def delete_endpoint(uow, party: Party, endpoint_id) -> None:
    current = _own(uow, party, endpoint_id, for_update=True)
    _writable(uow, party)
    uow.delete_endpoint(current.id)


def rotate_secret(uow, party: Party, endpoint_id, secret: str, now: datetime) -> dict:
    current = _own(uow, party, endpoint_id, for_update=True)
    _writable(uow, party)
    return endpoint_view(uow.update_endpoint(current.id, {"secret": secret}, now), secret=True)


def send_test(uow, party: Party, endpoint_id, now: datetime) -> dict:
    """A ``webhook.test`` event to this endpoint alone, delivered like any other."""
    current = _own(uow, party, endpoint_id)
    _writable(uow, party)
    event_id = str(uuid.uuid4())
    delivery_id = uow.insert_delivery(current.id, event_id, domain.webhook_id(event_id, current.id), domain.TEST_EVENT,
                                      domain.body(domain.TEST_EVENT, now.isoformat(), {"webhook_id": current.id}), now)
    return {"delivery_id": delivery_id, "event_id": event_id, "status": domain.PENDING}


def list_deliveries(uow, party: Party, endpoint_id, status: str | None, cursor: str | None, limit: int) -> dict:
    current = _own(uow, party, endpoint_id)
    rows = uow.deliveries(current.id, status, decode_cursor(cursor, int), limit)
    result = page(rows, limit, key=lambda d: d.id)
    result["items"] = [delivery_view(d) for d in result["items"]]
    return result


def concerns_anyone(uow, source: str, event_type: str) -> bool:
    """Whether a system event may become a delivery at all: some enabled endpoint subscribed to the
    webhook event it becomes. Asked before the event is even loaded (most events concern nobody)."""
    kind = domain.becomes(source, event_type)
    if kind is None:
        return False
    uow.standalone()
    return uow.anyone_subscribed(kind)


def on_event(uow, source: str, event_type: str, payload: Mapping[str, Any], now: datetime) -> int:
    """A system event becomes a delivery for each enabled endpoint of the party it concerns that
    subscribed to it (one per endpoint and event: a redelivered event adds nothing); returns how many.
    Each statement stands alone (no BEGIN/COMMIT: most events concern nobody, and cost one read):
    every delivery is one idempotent insert, so an event redelivered after a crash half-way adds
    only the ones it had not made."""
    uow.standalone()
    made = 0
    for notice in domain.notices(source, event_type, payload):
        parties = [notice.party.key] if notice.party else None
        for endpoint in uow.subscribers(notice.event_type, parties):
            data = notice.data
            if data is None:  # price.changed: the product as this distributor sees it, unit price and all
                party = endpoint.party.split(":", 1)
                if party[0] != domain.DISTRIBUTOR:
                    continue
                data = uow.catalog_product(int(party[1]), payload["sku"])
                if data is None:
                    continue
            body = domain.body(notice.event_type, payload.get("occurred_at") or now.isoformat(), data)
            event_id = payload["event_id"]
            if uow.insert_delivery(endpoint.id, event_id, domain.webhook_id(event_id, endpoint.id),
                                   notice.event_type, body, now) is not None:
                made += 1
    return made
