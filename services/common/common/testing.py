"""Helpers for tests that need real PostgreSQL databases and RabbitMQ vhosts."""
from __future__ import annotations

from urllib.parse import quote, urlsplit, urlunsplit

import psycopg2
import requests

from common.migrate import drop_database, migrate


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
