"""common.db.Statement on real PostgreSQL: prepared once per session, kept across a rollback, prepared
again on a new session; and a standalone worker connection goes back to the pool transactional."""
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
