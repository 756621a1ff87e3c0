"""Submit and approve 1,000 applications through the gateway; print throughput and p50/p99 per step.

    .venv/bin/python bench/onboarding.py [--count 1000] [--connections 10]
"""
from __future__ import annotations

import argparse
import http.client
import json
import random
import statistics
import threading
import time

from harness import issue, running_system  # puts the services on sys.path

# isort: split
from distributors.domain import CREDIT_CODE_ALPHABET, credit_code_check_character


def credit_code(i: int) -> str:
    body = f"91{i:08d}" + "".join(random.choice(CREDIT_CODE_ALPHABET) for _ in range(7))
    return body + credit_code_check_character(body)


def application(i: int) -> dict:
    return {"company_name": f"Bench Trading {i}", "credit_code": credit_code(i),
            "contact": {"name": "Bench", "phone": "13812345678", "email": f"b{i}@example.cn"},
            "address": "1 Bench Rd", "province": "Jiangsu", "city": "Suzhou",
            "locations": [{"name": "DC", "lat": 31.3 + i % 10 / 100, "lon": 120.6}],
            "requested_tier": "gold", "channels": ["tmall"]}


def run_step(base: str, requests_: list[tuple[str, str, dict, dict]], connections: int):
    """Sends every (method, path, headers, body); returns (elapsed, latencies, responses)."""
    host = base.split("//", 1)[1]
    latencies: list[float] = []
    responses: list = [None] * len(requests_)
    cursor = iter(range(len(requests_)))
    lock = threading.Lock()

    def worker():
        conn = http.client.HTTPConnection(host, timeout=60)
        while True:
            with lock:
                i = next(cursor, None)
            if i is None:
                break
            method, path, headers, body = requests_[i]
            t0 = time.perf_counter()
            conn.request(method, path, body=json.dumps(body),
                         headers={"Content-Type": "application/json", **headers})
            resp = conn.getresponse()
            data = resp.read()
            latencies.append(time.perf_counter() - t0)
            responses[i] = (resp.status, json.loads(data) if data else None)
        conn.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - started, sorted(latencies), responses


def report(name: str, elapsed: float, latencies: list[float], responses: list) -> None:
    ok = sum(1 for r in responses if r and r[0] < 300)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
    print(f"{name:<10}{len(latencies):>7}{ok:>7}{len(latencies) / elapsed:>10.1f}"
          f"{statistics.median(latencies) * 1000:>9.2f}{p99:>9.2f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=10)
    args = parser.parse_args()
    with running_system() as (base, gateway_db):
        manager = {"Authorization": f"Bearer {issue(gateway_db, 'manager')}"}
        submits = [("POST", "/v1/applications", {}, application(i)) for i in range(args.count)]
        s_elapsed, s_lat, s_resp = run_step(base, submits, args.connections)
        approvals = [("POST", f"/v1/admin/applications/{r[1]['id']}/approve", manager,
                      {"tier": "gold"}) for r in s_resp if r and r[0] == 201]
        a_elapsed, a_lat, a_resp = run_step(base, approvals, args.connections)
    print(f"{args.count} applications, {args.connections} connections")
    print(f"{'step':<10}{'sent':>7}{'ok':>7}{'per s':>10}{'p50 ms':>9}{'p99 ms':>9}")
    report("submit", s_elapsed, s_lat, s_resp)
    report("approve", a_elapsed, a_lat, a_resp)


if __name__ == "__main__":
    main()
