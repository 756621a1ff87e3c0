"""Stopping a service in the middle of its work, on real PostgreSQL and RabbitMQ: SIGTERM to
`nameko run` (what `make run`'s supervisor sends) and ``container.stop()``. The requests in flight are
answered, the outbox relay makes its last pass and the quote writer writes its last batch before the
pool and connections close, nothing raises, and the process exits 0.

Before: nameko stops every dependency provider at once and kills managed threads only after, so the
relay met the pool the Database provider had just closed (``PoolError: connection pool is closed``),
which killed the container and made the process exit 1."""
import os
import pathlib
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime

import eventlet
import pytest
import requests
from graceful_service import SCHEMA, GracefulService
from nameko.standalone.rpc import ClusterRpcProxy
from structlog.testing import capture_logs

from common import outbox
from common.db import Database, connect, transaction
from common.entrypoints import rpc
from common.migrate import drop_database, ensure_database
from common.testing import ROOT, free_port
from pricing.writer import Quotes, QuoteWriter

HERE = pathlib.Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def graceful_db_url(pg_server):
    url = f"{pg_server}/dcm_test_graceful"
    drop_database(url)
    ensure_database(url)
    with transaction(url) as cur:
        cur.execute(SCHEMA)
    yield url
    drop_database(url)


@pytest.fixture
def graceful_db(graceful_db_url):
    with transaction(graceful_db_url) as cur:
        cur.execute("TRUNCATE outbox RESTART IDENTITY")
    return graceful_db_url


@pytest.fixture
def config(amqp_uri, graceful_db):
    return {"AMQP_URI": amqp_uri, "DATABASE_URL": graceful_db, "serializer": "json",
            "max_workers": 4, "WEB_SERVER_ADDRESS": f"127.0.0.1:{free_port()}"}


def eventually(check, what: str, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)
    return result


def unpublished(db_url: str) -> int:
    with transaction(db_url) as cur:
        cur.execute("SELECT count(*) AS n FROM outbox WHERE published_at IS NULL")
        return cur.fetchone()["n"]


def queries_sleeping(db_url: str) -> int:
    """How many pg_sleep statements are running in ``db_url``'s database: requests in flight."""
    name = db_url.rsplit("/", 1)[1]
    with transaction(db_url) as cur:
        cur.execute("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = %s AND state = 'active' "
                    "AND query LIKE 'SELECT pg_sleep%%'", (name,))
        return cur.fetchone()["n"]


def test_a_container_stopped_while_its_relay_runs_stops_without_an_error(config, container_factory):
    container = container_factory(GracefulService, config)
    container.start()
    with ClusterRpcProxy(config) as cluster:
        assert cluster.graceful.announce(3) == 3
    database = next(p for p in container.dependencies if isinstance(p, Database))
    with capture_logs() as logs:
        container.stop()
        assert container.wait() is None  # raises whatever killed the container
    assert [e for e in logs if e["log_level"] in ("warning", "error", "critical")] == []
    assert database.pool.closed
    assert unpublished(config["DATABASE_URL"]) == 0


def test_the_relays_last_pass_publishes_what_is_left_in_the_outbox(config, container_factory,
                                                                   monkeypatch):
    monkeypatch.setattr(outbox, "RELAY_INTERVAL", 60.0)  # no poll before the stop: only its last pass
    container = container_factory(GracefulService, config)
    container.start()
    with transaction(config["DATABASE_URL"]) as cur:  # as a crash or another replica leaves them
        outbox.add_events(cur, [outbox.new_event("thing_happened", {"n": n}) for n in range(2)])
    assert unpublished(config["DATABASE_URL"]) == 2
    container.stop()
    assert container.wait() is None
    assert unpublished(config["DATABASE_URL"]) == 0


def test_requests_in_flight_when_a_container_stops_are_answered(config, container_factory):
    container = container_factory(GracefulService, config)
    container.start()
    url = f"http://{config['WEB_SERVER_ADDRESS']}/hold/1.0"
    with ClusterRpcProxy(config) as cluster:
        by_rpc = cluster.graceful.hold.call_async(1.0)
        by_http = eventlet.spawn(requests.get, url, timeout=10)
        eventually(lambda: queries_sleeping(config["DATABASE_URL"]) == 2, "both requests in flight")
        container.stop()
        assert by_rpc.result() == "held"
    answer = by_http.wait()
    assert (answer.status_code, answer.text) == (200, "held")
    assert container.wait() is None


class QuotingService:
    name = "quoting"

    quotes = Quotes()

    @rpc
    def quote(self, distributor_id: int) -> int:
        return self.quotes.store(distributor_id, {"n": 1}, datetime.now(UTC))


def stored_quotes(db_url: str) -> int:
    with transaction(db_url) as cur:
        cur.execute("SELECT count(*) AS n FROM quotes")
        return cur.fetchone()["n"]


def test_a_stopped_quote_writer_writes_what_it_was_handed_and_takes_no_more(pricing_db):
    writer = QuoteWriter(lambda: connect(pricing_db))
    handed = [eventlet.spawn(writer.store, 7, {"n": n}, datetime.now(UTC)) for n in range(3)]
    eventually(lambda: writer._waiting.qsize() == 3, "three quotes handed over")
    writer.stop()
    writer.run()  # returns after writing them
    ids = [quote.wait() for quote in handed]
    assert len(set(ids)) == 3 and stored_quotes(pricing_db) == 3
    with pytest.raises(RuntimeError, match="stopped"):
        writer.store(7, {"n": 4}, datetime.now(UTC))
    writer.close()


def test_the_quote_writers_thread_ends_on_stop_rather_than_being_killed(amqp_uri, pricing_db,
                                                                        container_factory):
    config = {"AMQP_URI": amqp_uri, "DATABASE_URL": pricing_db, "serializer": "json"}
    container = container_factory(QuotingService, config)
    container.start()
    with ClusterRpcProxy(config) as cluster:
        assert isinstance(cluster.quoting.quote(7), int)
    provider = next(p for p in container.dependencies if isinstance(p, Quotes))
    thread = provider.thread
    container.stop()
    assert container.wait() is None
    assert thread.dead and thread.wait() is None  # returned: a killed thread raises GreenletExit
    assert provider.writer._conn is None and stored_quotes(pricing_db) == 1


@pytest.fixture
def graceful_process(amqp_uri, graceful_db):
    """GracefulService under `nameko run`, with the config every service uses (deploy/nameko.yaml)."""
    port = free_port()
    env = {**os.environ, "AMQP_URI": amqp_uri, "DATABASE_URL": graceful_db, "GATEWAY_PORT": str(port)}
    proc = subprocess.Popen([sys.executable, "-m", "nameko", "run", "--config",
                             str(ROOT / "deploy" / "nameko.yaml"), "graceful_service"],
                            cwd=HERE, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        yield proc, {"AMQP_URI": amqp_uri, "serializer": "json"}, f"http://127.0.0.1:{port}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_sigterm_to_nameko_run_mid_request_answers_it_and_exits_0(graceful_process, graceful_db):
    proc, config, base_url = graceful_process

    def answers() -> bool:
        assert proc.poll() is None, proc.stdout.read().decode()
        try:
            return requests.get(f"{base_url}/hold/0.0", timeout=2).status_code == 200
        except (requests.ConnectionError, requests.Timeout):
            return False

    eventually(answers, "the service to answer HTTP", timeout=30)
    with ClusterRpcProxy(config) as cluster:
        eventually(lambda: cluster.graceful.announce(2) == 2, "the service to answer RPC")
        by_rpc = cluster.graceful.hold.call_async(1.5)
        by_http = eventlet.spawn(requests.get, f"{base_url}/hold/1.5", timeout=10)
        eventually(lambda: queries_sleeping(graceful_db) == 2, "both requests in flight")
        signalled = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert by_rpc.result() == "held"
    answer = by_http.wait()
    assert (answer.status_code, answer.text) == (200, "held")
    output = proc.communicate(timeout=20)[0].decode()
    assert proc.returncode == 0, output
    assert time.monotonic() - signalled < 10
    assert "Traceback" not in output and "Error" not in output, output
    assert unpublished(graceful_db) == 0


def test_a_relay_whose_connection_died_logs_it_and_carries_on(config, container_factory, monkeypatch):
    """Its rollback on the dead connection used to raise as well, and that killed the container."""
    monkeypatch.setattr(outbox, "RELAY_INTERVAL", 60.0)  # the relay passes only when woken
    container = container_factory(GracefulService, config)
    container.start()
    relay = next(p for p in container.dependencies if isinstance(p, outbox.OutboxRelay))
    database = next(p for p in container.dependencies if isinstance(p, Database))
    with transaction(config["DATABASE_URL"]) as cur:
        outbox.add_events(cur, [outbox.new_event("thing_happened", {"n": 1})])
        cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = %s AND pid <> pg_backend_pid()",
                    (config["DATABASE_URL"].rsplit("/", 1)[1],))
    assert len(database.pool._pool) == 1  # the relay's next pass takes this dead connection
    with capture_logs() as logs:
        relay.wake()
        eventually(lambda: any(e["event"] == "outbox_relay_failed" for e in logs), "the failed pass")
        eventually(lambda: relay.wake() or unpublished(config["DATABASE_URL"]) == 0,
                   "a pass on a new connection")
    container.stop()
    assert container.wait() is None
