"""Shared test fixtures: real PostgreSQL and RabbitMQ.

``TEST_PG_URL`` (a server, e.g. postgresql://postgres@127.0.0.1:5432) and ``TEST_AMQP_URI`` (with
``TEST_RABBIT_MGMT_URL`` for the management API) name the real services; `make test` sets them to the
local ones. Where they are unset and a Docker engine exists, testcontainers starts them. Otherwise
the run fails: a test that needs a broker is never skipped.
"""
import warnings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", r"(?s).*Eventlet is deprecated")  # nameko 2 is built on it
    import eventlet

eventlet.monkey_patch()  # before anything imports sockets; also makes psycopg2 cooperative

import os  # noqa: E402
import uuid  # noqa: E402
from urllib.parse import urlsplit, urlunsplit  # noqa: E402

import pytest  # noqa: E402

from common.migrate import drop_database  # noqa: E402
from common.testing import RUN_ID, drop_vhost, fresh_database, make_vhost, truncate_all  # noqa: E402

# every /metrics server a test starts (in-process containers, `make run` in tests/test_supervision.py)
# takes a free port, never 9100–9104, which a `make run` on this machine may hold
os.environ["METRICS_PORT"] = "0"


def _docker_available() -> bool:
    try:
        import docker

        docker.from_env().ping()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def pg_server():
    url = os.environ.get("TEST_PG_URL")
    if url:
        yield url.rstrip("/")
        return
    if not _docker_available():
        pytest.fail("TEST_PG_URL is unset and there is no Docker engine to start PostgreSQL")
    from testcontainers.postgres import PostgresContainer

    with PostgresContainer("postgres:15", driver=None) as pg:
        url = pg.get_connection_url()
        yield urlunsplit(urlsplit(url)._replace(path=""))


@pytest.fixture(scope="session")
def rabbit():
    """(amqp uri without vhost, management url)."""
    uri = os.environ.get("TEST_AMQP_URI")
    mgmt = os.environ.get("TEST_RABBIT_MGMT_URL", "http://guest:guest@127.0.0.1:15672")
    if uri:
        yield uri.rstrip("/"), mgmt
        return
    if not _docker_available():
        pytest.fail("TEST_AMQP_URI is unset and there is no Docker engine to start RabbitMQ")
    from testcontainers.rabbitmq import RabbitMqContainer

    with RabbitMqContainer("rabbitmq:3.13-management") as rmq:
        host, port = rmq.get_container_host_ip(), rmq.get_exposed_port(5672)
        mport = rmq.get_exposed_port(15672)
        yield f"pyamqp://guest:guest@{host}:{port}", f"http://guest:guest@{host}:{mport}"


@pytest.fixture
def amqp_uri(rabbit):
    """A fresh RabbitMQ vhost for one test, so no other test's consumers see its messages."""
    name = f"dcm_test_{uuid.uuid4().hex[:10]}"
    uri = make_vhost(rabbit, name)
    yield uri
    drop_vhost(rabbit, name)


def _service_database(service: str, reset=None):
    """A session-wide test database for ``service`` and a per-test fixture that empties it first."""

    @pytest.fixture(scope="session", name=f"{service}_db_url")
    def url(pg_server):
        db_url = fresh_database(pg_server, f"dcm_test_{service}_{RUN_ID}", service)
        yield db_url
        drop_database(db_url)

    @pytest.fixture(name=f"{service}_db")
    def emptied(request):
        db_url = request.getfixturevalue(f"{service}_db_url")
        truncate_all(db_url)
        if reset:
            reset(db_url)
        return db_url

    return url, emptied


def _pricing_defaults(db_url: str) -> None:
    """The migrations' seed rows (tiers, green channel, versions) come back after truncation."""
    from common.db import transaction

    with transaction(db_url) as cur:
        cur.execute("INSERT INTO price_version VALUES (true, 1)")
        cur.execute("INSERT INTO inputs_version VALUES (true, 1)")
        cur.execute("INSERT INTO tiers (name, discount_pct, updated_by) VALUES "
                    "('platinum', 40, 'default'), ('gold', 35, 'default'), ('silver', 30, 'default')")
        cur.execute("INSERT INTO green_channel VALUES (true, 10, 72, 'default', now())")


catalog_db_url, catalog_db = _service_database("catalog")
gateway_db_url, gateway_db = _service_database("gateway")
distributors_db_url, distributors_db = _service_database("distributors")
pricing_db_url, pricing_db = _service_database("pricing", _pricing_defaults)
fulfillment_db_url, fulfillment_db = _service_database("fulfillment")
webhooks_db_url, webhooks_db = _service_database("webhooks")
