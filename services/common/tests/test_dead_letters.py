"""Failed events on real RabbitMQ: retried with a pause, an outage retried until it ends, a poison event
parked in the service's dead letters (not spun forever) while the others flow, and sent back."""
import psycopg2
import pytest
from nameko.standalone.events import event_dispatcher

from common import deadletters
from common.entrypoints import event_handler, gives_up, retry_delay
from common.testing import wait_until

SEEN: dict[str, int] = {}  # event key -> times the handler ran
APPLIED: list[str] = []
CURED: set[str] = set()  # keys whose cause has been fixed


class ListenerService:
    name = "listener"

    @event_handler("source", "thing_happened")
    def on_thing(self, payload: dict) -> None:
        key = payload["key"]
        SEEN[key] = SEEN.get(key, 0) + 1
        if payload["kind"] == "poison" and key not in CURED:
            raise ValueError(f"cannot apply {key}")
        if payload["kind"] == "outage" and SEEN[key] <= 4:
            raise psycopg2.OperationalError("server closed the connection unexpectedly")
        APPLIED.append(key)


@pytest.fixture
def listener(amqp_uri, container_factory):
    SEEN.clear()
    APPLIED.clear()
    CURED.clear()
    # one worker: the listener handles one event at a time, its queue in order (a marker relies on it)
    config = {"AMQP_URI": amqp_uri, "serializer": "json", "max_workers": 1, "EVENT_MAX_ATTEMPTS": 3}
    container_factory(ListenerService, config).start()
    return config, event_dispatcher(config)


def eventually(check, what: str, timeout: float = 15.0):
    return wait_until(check, timeout, lambda: f"{what} (seen {SEEN}, applied {APPLIED})")


def dead_letters(config) -> int:
    return len(deadletters.peek(config["AMQP_URI"], "listener"))


def test_the_retry_rules():
    assert [retry_delay(n) for n in (1, 2, 3, 4)] == [0.1, 0.2, 0.4, 0.8]
    assert retry_delay(30) == 5.0
    assert not gives_up(ValueError(), 2, 3) and gives_up(ValueError(), 3, 3)
    assert not gives_up(psycopg2.OperationalError(), 50, 3)  # an outage is waited out


def test_a_poison_event_is_parked_while_the_others_flow_and_comes_back_when_cured(listener):
    config, dispatch = listener
    dispatch("source", "thing_happened", {"key": "bad", "kind": "poison"})
    for i in range(5):
        dispatch("source", "thing_happened", {"key": f"good-{i}", "kind": "fine"})
    eventually(lambda: len(APPLIED) == 5, "the five good events applied")
    eventually(lambda: dead_letters(config) == 1, "the poison event dead-lettered")
    # then left alone: with one worker, marker-1 runs only once the poison's last attempt is over
    # (whatever it republished is queued by then); marker-2, sent after marker-1 was applied, queues
    # behind anything that attempt sent back, so once marker-2 is applied it would have been seen
    for marker in ("marker-1", "marker-2"):
        dispatch("source", "thing_happened", {"key": marker, "kind": "fine"})
        eventually(lambda marker=marker: marker in APPLIED, f"{marker} applied")
    assert SEEN["bad"] == 3  # EVENT_MAX_ATTEMPTS, then left alone
    [letter] = deadletters.peek(config["AMQP_URI"], "listener")
    assert letter["queue"] == "evt-source-thing_happened--listener.on_thing"
    assert letter["attempts"] == 3 and letter["error"] == "ValueError: cannot apply bad"
    assert letter["payload"] == {"key": "bad", "kind": "poison"}
    assert len(deadletters.peek(config["AMQP_URI"], "listener")) == 1  # looking does not take it

    CURED.add("bad")
    assert deadletters.replay(config["AMQP_URI"], "listener") == 1
    eventually(lambda: "bad" in APPLIED, "the cured event applied")
    assert SEEN["bad"] == 4 and deadletters.peek(config["AMQP_URI"], "listener") == []


def test_an_outage_is_retried_until_it_ends_not_dead_lettered(listener):
    config, dispatch = listener
    dispatch("source", "thing_happened", {"key": "db-down", "kind": "outage"})
    eventually(lambda: "db-down" in APPLIED, "the event applied once the outage ended")
    assert SEEN["db-down"] == 5  # more attempts than EVENT_MAX_ATTEMPTS
    assert deadletters.peek(config["AMQP_URI"], "listener") == []


def test_the_command_line(listener, capsys, monkeypatch):
    config, dispatch = listener
    monkeypatch.setenv("AMQP_URI", config["AMQP_URI"])
    assert deadletters.main(["list", "nosuchservice"]) == 2
    dispatch("source", "thing_happened", {"key": "cli", "kind": "poison"})
    eventually(lambda: dead_letters(config) == 1, "the poison event dead-lettered")
    monkeypatch.setattr(deadletters, "SERVICES", ("listener",))
    assert deadletters.main(["list", "listener"]) == 0
    assert '"error": "ValueError: cannot apply cli"' in capsys.readouterr().out
