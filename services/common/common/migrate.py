"""Create a service's database if it is missing and apply its SQL migrations (yoyo-migrations).

    python -m common.migrate catalog        # uses DATABASE_URL, else dcm_catalog on localhost
"""
from __future__ import annotations

import importlib
import pathlib
import sys
from urllib.parse import urlsplit, urlunsplit

import psycopg2
from psycopg2 import sql
from yoyo import get_backend, read_migrations

from common.config import database_url

# which package holds each service's migrations/
PACKAGES = {"catalog": "catalog", "distributors": "distributors", "pricing": "pricing",
            "fulfillment": "fulfillment",
            "gateway": "gateway"}


def migrations_dir(service: str) -> pathlib.Path:
    package = importlib.import_module(PACKAGES[service])
    return pathlib.Path(package.__file__).parent / "migrations"


def ensure_database(url: str) -> None:
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(path="/postgres"))
    conn = psycopg2.connect(admin)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cur.fetchone() is None:
                try:
                    cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                except psycopg2.errors.DuplicateDatabase:
                    pass
    finally:
        conn.close()


def drop_database(url: str) -> None:
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    conn = psycopg2.connect(urlunsplit(parts._replace(path="/postgres")))
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    finally:
        conn.close()


def migrate(service: str, url: str | None = None) -> int:
    """Apply pending migrations; returns how many were applied."""
    url = url or database_url(service)
    ensure_database(url)
    backend = get_backend(url)
    migrations = read_migrations(str(migrations_dir(service)))
    with backend.lock():
        pending = backend.to_apply(migrations)
        backend.apply_migrations(pending)
    return len(pending)


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in PACKAGES:
        print(f"usage: python -m common.migrate {{{'|'.join(PACKAGES)}}}", file=sys.stderr)
        return 2
    applied = migrate(argv[0])
    print(f"{argv[0]}: {applied} migration(s) applied")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
