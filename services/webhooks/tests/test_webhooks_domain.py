"""Webhooks' pure rules: signatures a Standard Webhooks receiver verifies, the retry schedule, when an
endpoint is disabled, who may subscribe to what, which destinations are refused, and which party an
event concerns."""
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from webhooks import domain
from webhooks.domain import CHANNEL, DISTRIBUTOR, Party
from webhooks.errors import InvalidWebhook

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@given(st.binary(min_size=32, max_size=32), st.dictionaries(st.text(max_size=20), st.text(max_size=50) | st.integers()))
def test_every_signature_verifies_with_the_standard_webhooks_library(key, data):
    secret = domain.new_secret(key)
    body = domain.body("order.routed", NOW.isoformat(), data).encode()
    headers = domain.headers(secret, domain.webhook_id("e", 1), datetime.now(UTC), body)
    assert Webhook(secret).verify(body, headers) == {"type": "order.routed", "timestamp": NOW.isoformat(),
                                                     "data": data}


def test_the_specifications_example_signature():
    """The example of the Standard Webhooks specification (spec/standard-webhooks.md)."""
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    assert domain.signature(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body) == \
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_a_tampered_body_or_another_secret_fails_verification():
    secret = domain.new_secret(bytes(32))
    headers = domain.headers(secret, "msg_1", datetime.now(UTC), b'{"a":1}')
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(b'{"a":2}', headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(domain.new_secret(bytes([1]) * 32)).verify(b'{"a":1}', headers)


def test_the_webhook_id_is_the_same_for_an_event_to_an_endpoint_and_differs_otherwise():
    assert domain.webhook_id("e1", 1) == domain.webhook_id("e1", 1)
    assert len({domain.webhook_id("e1", 1), domain.webhook_id("e1", 2), domain.webhook_id("e2", 1)}) == 3


def test_retries_follow_the_schedule_then_the_delivery_fails():
    pauses = []
    for attempt in range(1, domain.MAX_ATTEMPTS):
        outcome = domain.after_attempt(attempt, 500, NOW)
        assert outcome.status == domain.PENDING
        pauses.append(outcome.next_attempt_at - NOW)
    assert pauses == [timedelta(seconds=5), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2),
                      timedelta(hours=5), timedelta(hours=10), timedelta(hours=10)]
    last = domain.after_attempt(domain.MAX_ATTEMPTS, None, NOW)
    assert (last.status, last.next_attempt_at, last.failed_delivery) == (domain.FAILED, None, True)
    assert domain.after_attempt(1, 204, NOW).status == domain.SUCCEEDED
    assert domain.after_attempt(1, 301, NOW).status == domain.PENDING  # redirects are not followed
    assert domain.after_attempt(2, 500, NOW, scale=0.001).next_attempt_at == NOW + timedelta(seconds=0.3)


def test_twenty_failed_deliveries_in_a_row_disable_an_endpoint_and_a_success_ends_the_run():
    failed, ok, retry = (domain.after_attempt(8, 500, NOW), domain.after_attempt(3, 200, NOW),
                         domain.after_attempt(1, 500, NOW))
    assert domain.endpoint_after(domain.ENABLED, 18, failed) == (domain.ENABLED, 19)
    assert domain.endpoint_after(domain.ENABLED, 19, failed) == (domain.DISABLED, 20)
    assert domain.endpoint_after(domain.ENABLED, 19, ok) == (domain.ENABLED, 0)
    assert domain.endpoint_after(domain.ENABLED, 19, retry) == (domain.ENABLED, 19)


def test_a_party_subscribes_only_to_its_own_kind_of_events():
    assert domain.check_events(Party(DISTRIBUTOR, "7"), ["price.changed", "price.changed"]) == ["price.changed"]
    with pytest.raises(InvalidWebhook) as wrong:
        domain.check_events(Party(DISTRIBUTOR, "7"), ["price.changed", "order.routed"])
    assert wrong.value.errors[0]["field"] == "events[1]" and "channel event" in wrong.value.errors[0]["message"]
    with pytest.raises(InvalidWebhook) as unknown:
        domain.check_events(Party(CHANNEL, "tmall"), ["order.shipped"])
    assert unknown.value.errors[0]["field"] == "events[0]"


@pytest.mark.parametrize(("address", "refused"), [
    ("127.0.0.1", True), ("10.1.2.3", True), ("172.16.0.1", True), ("192.168.1.1", True), ("169.254.169.254", True),
    ("224.0.0.1", True), ("0.0.0.0", True), ("::1", True), ("fe80::1", True), ("fc00::1", True),
    ("::ffff:127.0.0.1", True), ("8.8.8.8", False), ("2400:3200::1", False), ("101.226.4.6", False),
    ("100.100.100.200", True), ("100.64.0.1", True), ("2002:7f00:1::1", True), ("2002:0808:0808::1", False),
])
def test_only_public_destinations_are_allowed(address, refused):
    assert (domain.refused_address(address) is not None) == refused


@pytest.mark.parametrize("url", ["ftp://x.example/y", "example.com/hook", "http:///nohost", "http://u:p@x.example/",
                                 "http://x.example:99999/", "http://V(0GoW\u00ca1\u00aa\\\u00ca\ud8d7\udee2c/",
                                 "http://a..b/", "http://-x.example/", "http://x_y.example/"])
def test_a_destination_must_be_an_http_url_with_a_host(url):
    with pytest.raises(InvalidWebhook):
        domain.check_url(url)


def test_events_reach_the_party_they_concern():
    assignment = {"id": 3, "distributor_id": 7, "status": "pending"}
    [notice] = domain.notices("fulfillment", "assignment_created", {"assignment": assignment})
    assert (notice.party, notice.event_type, notice.data) == (Party(DISTRIBUTOR, "7"), "assignment.created", assignment)
    order = {"id": 9, "channel": "jd"}
    [shipped] = domain.notices("fulfillment", "shipment_shipped", {"assignment": assignment, "order": order})
    assert (shipped.party, shipped.event_type, shipped.data) == (Party(CHANNEL, "jd"), "shipment.shipped", order)
    [status] = domain.notices("distributors", "distributor_suspended", {"distributor": {"id": 7, "status": "x"}})
    assert status.event_type == "distributor.status_changed" and status.party == Party(DISTRIBUTOR, "7")
    [price] = domain.notices("pricing", "price_changed", {"sku": "A"})
    assert price.party is None and price.data is None  # every subscribed distributor, at its own price
    assert domain.notices("fulfillment", "assignment_accepted", {"assignment": assignment}) == []


def test_every_webhook_event_comes_from_a_system_event():
    assert sorted(set(domain.BECOMES.values())) == sorted(domain.DISTRIBUTOR_EVENTS + domain.CHANNEL_EVENTS)
    assert domain.becomes("fulfillment", "order_routed") == "order.routed"
    assert domain.becomes("fulfillment", "assignment_accepted") is None
