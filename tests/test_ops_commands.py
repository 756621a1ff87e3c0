"""The README's commands as ops type them."""
import os
import pathlib
import subprocess

import psycopg2

from gateway.auth import hash_key

ROOT = pathlib.Path(__file__).resolve().parents[1]


def make(*args, env=None):
    return subprocess.run(["make", "-s", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)


def test_make_api_key_prints_a_new_key_last_and_stores_only_its_hash(gateway_db):
    env = dict(os.environ, GATEWAY_DATABASE_URL=gateway_db)
    out = make("api-key", "ROLE=channel", "CHANNEL=tmall", env=env)
    assert out.returncode == 0, out.stderr
    key = out.stdout.strip().splitlines()[-1]
    assert key.startswith("dcm_") and len(key) > 40
    conn = psycopg2.connect(gateway_db)
    with conn, conn.cursor() as cur:
        cur.execute("SELECT role, channel FROM api_keys WHERE key_hash = %s", (hash_key(key),))
        assert cur.fetchone() == ("channel", "tmall")
        cur.execute("SELECT count(*) FROM api_keys WHERE key_hash = %s OR prefix = %s", (key, key))
        assert cur.fetchone() == (0,)
    conn.close()
    second = make("api-key", "ROLE=manager", env=env).stdout.strip().splitlines()[-1]
    assert second != key


def test_make_api_key_refuses_bad_input(gateway_db):
    env = dict(os.environ, GATEWAY_DATABASE_URL=gateway_db)
    assert make("api-key", env=env).returncode != 0
    out = make("api-key", "ROLE=channel", env=env)
    assert out.returncode != 0 and "channel" in out.stderr
