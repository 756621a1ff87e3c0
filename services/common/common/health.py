"""The ``health`` RPC every service exposes for the gateway's /ready."""
from __future__ import annotations


def check_database(tx) -> dict:
    cur = tx.cursor()
    cur.execute("SELECT 1 AS ok")
    cur.fetchone()
    return {"database": "ok"}
