"""Create a service's database if it is missing and apply its SQL migrations (yoyo-migrations).

    python -m common.migrate catalog        # uses DATABASE_URL, else dcm_catalog on localhost

A service that owns events (``common.topology``) first gets the common migrations
(``common/migrations/``: the outbox and processed-event tables every such service uses, defined once),
then its own (``<service>/migrations/``), in one run under yoyo's lock. Migration ids are file names
without the extension, and yoyo records applied ids, so the common files are named ``common_*`` to
stay distinct from any service's, and are written to be no-ops on a database whose service created
those tables itself (every database migrated before they existed).
"""
from __future__ import annotations

import importlib
import pathlib
import sys
from urllib.parse import urlsplit, urlunsplit

import psycopg2
from psycopg2 import sql
from yoyo import get_backend, read_migrations

from common import topology
from common.config import database_url

COMMON_MIGRATIONS = pathlib.Path(__file__).resolve().parent / "migrations"


def migrations_dir(service: str) -> pathlib.Path:
    """The service's own migrations: its package's ``migrations/`` (the package is named after it)."""
    package = importlib.import_module(topology.service(service).name)
    return pathlib.Path(package.__file__).parent / "migrations"


def migration_dirs(service: str) -> list[pathlib.Path]:
    """Every folder of migrations the service's database gets, in the order they apply."""
    common = [COMMON_MIGRATIONS] if topology.service(service).events else []
    return [*common, migrations_dir(service)]


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
    # read in the order given; without dependencies between them yoyo applies them in that order
    migrations = read_migrations(*map(str, migration_dirs(service)))
    with backend.lock():
        pending = backend.to_apply(migrations)
        backend.apply_migrations(pending)
    return len(pending)


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in topology.NAMES:
        print(f"usage: python -m common.migrate {{{'|'.join(topology.NAMES)}}}", file=sys.stderr)
        return 2
    applied = migrate(argv[0])
    print(f"{argv[0]}: {applied} migration(s) applied")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
