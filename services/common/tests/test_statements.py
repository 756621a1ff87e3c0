"""common.db.Statement on real PostgreSQL: prepared once per session, kept across a rollback, prepared
again on a new session; and a standalone worker connection goes back to the pool transactional."""
import time

import psycopg2
import psycopg2.extras
import pytest

from common.db import KeepingPool, Statement, Transaction, connect

DOUBLE = Statement("test_double", "SELECT $1::int * 2 AS doubled", 1)


def prepared_names(cur) -> list[str]:
    cur.execute("SELECT name FROM pg_prepared_statements ORDER BY name")
    return [r["name"] for r in cur.fetchall()]


@pytest.fixture
def conn(pg_server):
    conn = connect(f"{pg_server}/postgres")
    yield conn
    conn.close()


def test_a_statement_is_prepared_once_per_session_and_survives_a_rollback(conn):
    cur = conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor)
    for n in (1, 2, 3):
        DOUBLE.execute(cur, n)
        assert cur.fetchone()["doubled"] == 2 * n
    assert prepared_names(cur) == ["test_double"]
    conn.rollback()
    DOUBLE.execute(cur, 21)
    assert cur.fetchone()["doubled"] == 42


def test_a_new_session_prepares_again(pg_server, conn):
    DOUBLE.execute(conn.cursor(), 1)
    other = connect(f"{pg_server}/postgres")
    try:
        cur = other.cursor(cursor_factory=psycopg2.extras.RealDictCursor)
        assert prepared_names(cur) == []
        DOUBLE.execute(cur, 5)
        assert cur.fetchone()["doubled"] == 10
    finally:
        other.close()


def test_the_wrong_number_of_parameters_is_refused_before_the_database(conn):
    with pytest.raises(TypeError, match="takes 1 parameters, got 2"):
        DOUBLE.execute(conn.cursor(), 1, 2)


def test_a_standalone_connection_returns_to_the_pool_transactional(pg_server):
    pool = KeepingPool(1, 2, f"{pg_server}/postgres")
    try:
        tx = Transaction(pool)
        tx.standalone()
        cur = tx.cursor()
        cur.execute("CREATE TEMP TABLE seen (n int)")  # committed at once: no transaction open
        assert tx.conn.get_transaction_status() == psycopg2.extensions.TRANSACTION_STATUS_IDLE
        conn = tx.conn
        tx.release()
        assert pool.getconn() is conn and not conn.autocommit
    finally:
        pool.closeall()


def test_connections_left_idle_since_a_burst_are_closed_and_one_is_kept(pg_server):
    pool = KeepingPool(1, 4, f"{pg_server}/postgres")
    try:
        burst = [pool.getconn() for _ in range(4)]
        for conn in burst:
            pool.putconn(conn)
        assert len(pool._pool) == 4  # kept after the burst, as the workers may come back at once
        assert pool.trim(60) == 0  # not idle long enough
        assert pool.trim(60, now=time.monotonic() + 61) == 3 and len(pool._pool) == 1
        assert sum(c.closed != 0 for c in burst) == 3
        kept = pool.getconn()
        assert kept.closed == 0
        kept.cursor().execute("SELECT 1")
        pool.putconn(kept)
    finally:
        pool.closeall()
    assert pool.trim(0) == 0  # a closed pool: nothing to do
