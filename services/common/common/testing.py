"""Helpers for tests that need real PostgreSQL databases and RabbitMQ vhosts."""
from __future__ import annotations

import contextlib
import os
import pathlib
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg2
import requests

from common.migrate import drop_database, migrate
from common.topology import NAMES

ROOT = pathlib.Path(__file__).resolve().parents[3]
# each test run's databases carry its own id, so two runs on one machine never empty each other's
RUN_ID = os.environ.get("TEST_RUN_ID") or uuid.uuid4().hex[:6]
SERVICES = NAMES  # in start order


def _mgmt(mgmt_url: str):
    parts = urlsplit(mgmt_url)
    base = urlunsplit(parts._replace(netloc=parts.hostname + (f":{parts.port}" if parts.port else "")))
    return base, (parts.username or "guest", parts.password or "guest")


def make_vhost(rabbit, name: str) -> str:
    uri, mgmt = rabbit
    base, auth = _mgmt(mgmt)
    user = auth[0]
    r = requests.put(f"{base}/api/vhosts/{quote(name, safe='')}", auth=auth, timeout=10)
    r.raise_for_status()
    r = requests.put(f"{base}/api/permissions/{quote(name, safe='')}/{user}", auth=auth,
                     json={"configure": ".*", "write": ".*", "read": ".*"}, timeout=10)
    r.raise_for_status()
    return f"{uri}/{quote(name, safe='')}"


def drop_vhost(rabbit, name: str) -> None:
    base, auth = _mgmt(rabbit[1])
    requests.delete(f"{base}/api/vhosts/{quote(name, safe='')}", auth=auth, timeout=10)


def fresh_database(pg_server: str, name: str, service: str | None) -> str:
    url = f"{pg_server}/{name}"
    drop_database(url)
    if service:
        migrate(service, url)
    return url


def truncate_all(url: str) -> None:
    conn = psycopg2.connect(url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                        "AND tablename NOT LIKE '\\_yoyo%%' AND tablename NOT LIKE 'yoyo%%'")
            tables = [r[0] for r in cur.fetchall()]
            if tables:
                cur.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY")
    finally:
        conn.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def service_env(amqp_uri: str, database_url: str, port: int, metrics_port: int = 0) -> dict:
    """A service process's environment; its /metrics port is any free one unless given, so test
    systems side by side (and a `make run` on 9100–9104) never collide."""
    env = dict(os.environ)
    env.update({"AMQP_URI": amqp_uri, "DATABASE_URL": database_url, "GATEWAY_PORT": str(port),
                "METRICS_PORT": str(metrics_port),
                "PYTHON": sys.executable, "IDEMPOTENCY_TTL_HOURS": "48",
                # the limiter runs, but no test or benchmark loop should meet it by accident
                "RATE_LIMIT_DISTRIBUTOR": "100000/second", "RATE_LIMIT_PUBLIC": "100000/second"})
    return env


def start(service: str, env: dict, log_dir: pathlib.Path) -> subprocess.Popen:
    log = open(log_dir / f"{service}.log", "ab")  # a restarted service appends
    return subprocess.Popen([str(ROOT / "deploy" / "start-service"), service], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)


def wait_ready(base_url: str, procs: list, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        for p in procs:
            if p.poll() is not None:
                raise RuntimeError(f"a service exited with {p.returncode} during start-up")
        try:
            last = requests.get(f"{base_url}/ready", timeout=3)
            if last.status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"system not ready: {last.text if last is not None else 'no answer'}")


T = TypeVar("T")


def query(url: str, sql: str, params: tuple = ()) -> list[tuple]:
    """The rows of one statement on its own connection (tests and checks reading a database)."""
    conn = psycopg2.connect(url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()
    finally:
        conn.close()


def wait_until(predicate: Callable[[], T], timeout: float, message: str | Callable[[], str],
               interval: float = 0.05) -> T:
    """Poll ``predicate`` until it returns something truthy, and return that; past ``timeout``
    seconds fail with ``message`` (a string, or a callable for one that shows the last state).

    The predicate is always tried once, and once more at the deadline, so a short timeout never fails
    a condition that holds. A test waits with this for what it expects, never with a fixed sleep."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            text = message() if callable(message) else message
            raise AssertionError(f"not within {timeout:g} s: {text}")
        time.sleep(min(interval, remaining))


def issue_key(gateway_database_url: str, role: str, channel: str | None = None,
              distributor: str | None = None, amqp_uri: str | None = None) -> str:
    """A key from the same CLI that `make api-key` runs; the key is the last line it prints. A
    distributor key needs the system running on ``amqp_uri`` (the CLI checks the distributor)."""
    cmd = [sys.executable, "-m", "gateway.keys", "--role", role]
    if channel:
        cmd += ["--channel", channel]
    if distributor:
        cmd += ["--distributor", distributor]
    env = dict(os.environ, DATABASE_URL=gateway_database_url)
    if amqp_uri:
        env["AMQP_URI"] = amqp_uri
    out = subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    return out.stdout.strip().splitlines()[-1]


@dataclass
class System:
    base_url: str
    database_urls: dict
    amqp_uri: str
    log_dir: pathlib.Path
    procs: dict = field(default_factory=dict)
    keys: dict = field(default_factory=dict)
    metrics_ports: dict = field(default_factory=dict)  # service → the port of its /metrics

    def issue_key(self, role: str, channel: str | None = None, distributor: str | None = None) -> str:
        return issue_key(self.database_urls["gateway"], role, channel, distributor, self.amqp_uri)


@contextlib.contextmanager
def running_system(pg_server, rabbit, log_dir: pathlib.Path, name: str = "e2e", **env: str):
    """The whole system on databases ``dcm_<name>_<run>_<service>`` (dropped afterwards) and a vhost
    of its own."""
    vhost = f"dcm_{name}_{uuid.uuid4().hex[:8]}"
    amqp_uri = make_vhost(rabbit, vhost)
    urls = {s: fresh_database(pg_server, f"dcm_{name}_{RUN_ID}_{s}", None) for s in SERVICES}
    port = free_port()
    sysm = System(f"http://127.0.0.1:{port}", urls, amqp_uri, log_dir)
    try:
        for s in SERVICES:
            sysm.metrics_ports[s] = free_port()
            sysm.procs[s] = start(s, {**service_env(amqp_uri, urls[s], port, sysm.metrics_ports[s]),
                                      **env}, log_dir)
        wait_ready(sysm.base_url, list(sysm.procs.values()))
        yield sysm
    except Exception:
        for s in SERVICES:
            path = log_dir / f"{s}.log"
            if path.exists():
                sys.stderr.write(f"---- {s} log ----\n{path.read_text()[-5000:]}\n")
        raise
    finally:
        for p in sysm.procs.values():
            p.terminate()
        for p in sysm.procs.values():
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        drop_vhost(rabbit, vhost)
        for url in urls.values():
            drop_database(url)
