"""Shared by the benchmarks: start the whole system on its own databases and vhost (as `make run`
does), and drive HTTP load with keep-alive connections from threads.

Figures are printed, never asserted."""
from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import pathlib
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.request
import uuid
import warnings
from collections.abc import Callable

warnings.filterwarnings("ignore", r"(?s).*Eventlet is deprecated")
# our packages come from the venv's dcm.pth (make venv)
from common.migrate import drop_database  # noqa: E402
from common.testing import (  # noqa: E402
    SERVICES,
    drop_vhost,
    free_port,
    fresh_database,
    issue_key,
    make_vhost,
    service_env,
    start,
    wait_ready,
)

PG = os.environ.get("TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432")
RABBIT = (os.environ.get("TEST_AMQP_URI", "pyamqp://guest:guest@127.0.0.1:5672"),
          os.environ.get("TEST_RABBIT_MGMT_URL", "http://guest:guest@127.0.0.1:15672"))


SERVICE_PIDS: dict[int, str] = {}  # the running system's service processes, filled by running_system
# each service's database URL, filled by running_system; the names carry the run's id, so two
# benchmarks (or a benchmark and a test run) on one machine never drop each other's databases
DATABASE_URLS: dict[str, str] = {}
RUN_ID = uuid.uuid4().hex[:6]
PROFILES: dict[str, pathlib.Path] = {}  # service → its cProfile output (BENCH_CPROFILE), written as it stops
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds() -> dict[tuple[int, str], tuple[str, float]]:
    """CPU time used so far by each process of the system, keyed by (pid, start time) and labelled
    with its part: our services (by name), PostgreSQL (its server processes and the backends of this
    run's databases; backends of other databases, such as another agent's tests, apart), RabbitMQ
    (all of it: one process for every vhost) and this load generator; read from /proc."""
    used: dict[tuple[int, str], tuple[str, float]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read()
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if pid in SERVICE_PIDS:
            part = SERVICE_PIDS[pid]
        elif pid == os.getpid():
            part = "load generator"
        elif b"postgres" in cmdline:
            backend_of_others = b" 127.0.0.1(" in cmdline and f"dcm_bench_{RUN_ID}_".encode() not in cmdline
            part = "postgresql, other databases" if backend_of_others else "postgresql"
        elif b"beam.smp" in cmdline:
            part = "rabbitmq"
        else:
            continue
        used[(pid, fields[19])] = (part, (int(fields[11]) + int(fields[12])) / CLOCK_TICKS)
    return used


def cpu_used(before: dict, after: dict) -> dict[str, float]:
    """Each part's CPU seconds between two ``cpu_seconds`` readings: by process, so that processes
    ending in between (another agent's database sessions) take nothing away; a process that started
    in between counts from zero, one that ended counts nothing of its last moments."""
    used: dict[str, float] = {}
    for key, (part, seconds) in after.items():
        used[part] = used.get(part, 0.0) + seconds - before.get(key, (part, 0.0))[1]
    return used


@contextlib.contextmanager
def running_system():
    """Yields (base_url, gateway_database_url)."""
    vhost = f"dcm_bench_{uuid.uuid4().hex[:6]}"
    amqp = make_vhost(RABBIT, vhost)
    urls = {s: fresh_database(PG, f"dcm_bench_{RUN_ID}_{s}", None) for s in SERVICES}
    DATABASE_URLS.update(urls)
    port = free_port()
    logs = pathlib.Path(tempfile.mkdtemp(prefix="dcm-bench-"))
    env_extra = {"LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING")}
    procs = []
    try:
        profiled = set(filter(None, os.environ.get("BENCH_CPROFILE", "").split(",")))
        for s in SERVICES:
            env = service_env(amqp, urls[s], port)
            env.update(env_extra)
            if s in profiled:  # under cProfile (bench/cprofile-python), its profile kept in PROFILES
                PROFILES[s] = logs / f"{s}.prof"
                env.update(PYTHON=str(pathlib.Path(__file__).with_name("cprofile-python")),
                           REAL_PYTHON=env["PYTHON"], CPROFILE_OUT=str(PROFILES[s]))
            procs.append(start(s, env, logs))
            SERVICE_PIDS[procs[-1].pid] = s  # start-service execs the service: same pid
        base = f"http://127.0.0.1:{port}"
        wait_ready(base, procs)
        yield base, urls["gateway"]
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
            SERVICE_PIDS.pop(p.pid, None)
        drop_vhost(RABBIT, vhost)
        if not os.environ.get("BENCH_KEEP_DATABASES"):
            for url in urls.values():
                drop_database(url)
        DATABASE_URLS.clear()


def load(base_url: str, method: str, path: str, headers: dict, body: bytes | Callable[[], bytes] | None,
         connections: int, seconds: float, warmup: float = 1.0) -> dict:
    """Closed-loop load: each connection sends its next request when the last one answered.
    ``body`` is the same bytes every time, or a callable that makes each request's (an order with
    its own external id). ``cpu_ms`` is each part's CPU time per request over the whole run, warm-up
    included; ``latencies`` are the measured requests' seconds, sorted."""
    host_port = base_url.split("//", 1)[1]
    latencies: list[float] = []
    errors = [0]
    sent = [0]
    lock = threading.Lock()
    stop_at = time.perf_counter() + warmup + seconds
    measure_from = time.perf_counter() + warmup

    def worker():
        conn = http.client.HTTPConnection(host_port, timeout=30)
        mine, bad, count = [], 0, 0
        while True:
            t0 = time.perf_counter()
            if t0 >= stop_at:
                break
            conn.request(method, path, body=body() if callable(body) else body, headers=headers)
            resp = conn.getresponse()
            resp.read()
            t1 = time.perf_counter()
            count += 1
            if t0 >= measure_from:
                mine.append(t1 - t0)
                if resp.status >= 400:
                    bad += 1
        conn.close()
        with lock:
            latencies.extend(mine)
            errors[0] += bad
            sent[0] += count

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    cpu_before = cpu_seconds()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    cpu = cpu_used(cpu_before, cpu_seconds())
    latencies.sort()
    n = len(latencies)
    return {
        "cpu_ms": {part: seconds * 1000 / max(sent[0], 1) for part, seconds in cpu.items()},
        "requests": n,
        "errors": errors[0],
        "rps": n / seconds,
        "p50_ms": statistics.median(latencies) * 1000 if n else float("nan"),
        "p99_ms": latencies[min(n - 1, int(n * 0.99))] * 1000 if n else float("nan"),
        "latencies": latencies,
    }


ECHO = ("GET", "/v1/diagnostics/echo", None)


def against_echo(base_url: str, headers: dict, route: tuple[str, str, bytes | None], connections: int,
                 seconds: float, rounds: int) -> tuple[dict, dict, list[float]]:
    """The echo floor and ``route`` (method, path, body), run ``rounds`` times each, alternately and
    in alternating order (E R, R E, E R …), so that the drift of a shared machine falls on both; each
    run starts with half a second unmeasured (its connections open). Returns each one's median
    figures over the rounds and each round's throughput ratio."""
    runs: dict[tuple, list[dict]] = {ECHO: [], route: []}
    for i in range(rounds):
        for method, path, body in (ECHO, route) if i % 2 == 0 else (route, ECHO):
            runs[(method, path, body)].append(load(base_url, method, path, headers, body, connections,
                                                   seconds, warmup=0.5))
    echo, measured = runs[ECHO], runs[route]
    return _median(echo), _median(measured), [m["rps"] / e["rps"] for e, m in zip(echo, measured,
                                                                                    strict=True)]


def mean_interval(values: list[float]) -> tuple[float, float]:
    """The mean and the half-width of its ~95 % confidence interval (normal approximation)."""
    if len(values) < 2:
        return (values[0] if values else float("nan")), float("nan")
    return statistics.mean(values), 1.96 * statistics.stdev(values) / len(values) ** 0.5


def echo_floor_arguments(description: str) -> argparse.Namespace:
    """``--seconds`` (one run of one route) and ``--rounds`` (echo/route pairs per connection count)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--seconds", type=float, default=2.0, help="one run of one route")
    parser.add_argument("--rounds", type=int, default=15, help="echo/route pairs per connection count")
    return parser.parse_args()


def compare_with_echo(base_url: str, headers: dict, route: tuple[str, str, bytes | None],
                      args: argparse.Namespace) -> list[tuple[int, dict, dict, list[float]]]:
    """After a warm-up, ``against_echo`` at 1 and at 20 connections: the rows ``print_against_echo``
    prints."""
    warm_up(base_url, headers, [ECHO, route])
    return [(connections, *against_echo(base_url, headers, route, connections, args.seconds, args.rounds))
            for connections in (1, 20)]


def warm_up(base_url: str, headers: dict, routes: list[tuple[str, str, bytes | None]],
            seconds: float = 3.0) -> None:
    """Load every route once, unmeasured: pooled connections, prepared statements and caches fill."""
    for method, path, body in routes:
        load(base_url, method, path, headers, body, 20, seconds, warmup=0)


def _median(runs: list[dict]) -> dict:
    parts = {part for r in runs for part in r["cpu_ms"]}
    return {"cpu_ms": {part: statistics.median(r["cpu_ms"].get(part, 0.0) for r in runs) for part in parts},
            "requests": sum(r["requests"] for r in runs), "errors": sum(r["errors"] for r in runs),
            **{key: statistics.median(r[key] for r in runs) for key in ("rps", "p50_ms", "p99_ms")}}


def print_against_echo(rows: list[tuple[int, dict, dict, list[float]]], route: str, short: str,
                       target: str) -> None:
    """The route's figures beside the echo floor's at each connection count (medians over the
    rounds of ``against_echo``), their ratios, each round's throughput ratio, the target, and the CPU
    each part spent per request at the last (busiest) connection count."""
    print(f"{'route':<34}{'conns':>6}{'p50 ms':>9}{'p99 ms':>9}{'req/s':>9}{'errors':>8}")
    for connections, echo, measured, rounds in rows:
        for name, r in (("echo (gateway→RPC floor)", echo), (route, measured)):
            print(f"{name:<34}{connections:>6}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}{r['rps']:>9.0f}"
                  f"{r['errors']:>8}")
        mean, half = mean_interval(rounds)
        print(f"{'ratio ' + short + '/echo':<34}{connections:>6}{measured['p50_ms'] / echo['p50_ms']:>9.2f}"
              f"{measured['p99_ms'] / echo['p99_ms']:>9.2f}{measured['rps'] / echo['rps']:>9.2f}"
              f"   each round's req/s ratio: mean {mean:.2f} ± {half:.2f}")
        print(f"{'':<40}rounds: {' '.join(f'{r:.2f}' for r in rounds)}")
    print("medians over the rounds; a round runs the echo and the route back to back;")
    print("± is the half-width of the round ratios' ~95 % confidence interval")
    print(target)
    print()
    connections, echo, measured, _ = rows[-1]
    print_cpu([(f"echo, {connections} connections", echo), (f"{short}, {connections} connections", measured)])


def print_cpu(rows: list[tuple[str, dict]]) -> None:
    """A table of CPU milliseconds per request, by part of the system, for each named run."""
    parts = sorted({part for _, r in rows for part, ms in r["cpu_ms"].items() if ms >= 0.005})
    print(f"{'CPU ms per request':<34}" + "".join(f"{part:>15}" for part in parts) + f"{'total':>9}")
    for name, r in rows:
        cells = [r["cpu_ms"].get(part, 0.0) for part in parts]
        print(f"{name:<34}" + "".join(f"{ms:>15.2f}" for ms in cells) + f"{sum(cells):>9.2f}")


def call(base: str, method: str, path: str, key: str | None, body: dict | None = None):
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    req = urllib.request.Request(f"{base}{path}", method=method, headers=headers,
                                 data=json.dumps(body).encode() if body is not None else None)
    with urllib.request.urlopen(req) as resp:
        return json.loads(resp.read() or b"null")


def onboard(base: str, manager_key: str, credit_code: str = "91350100M000100Y43") -> str:
    """Apply and approve a distributor through the API; returns its API key."""
    receipt = call(base, "POST", "/v1/applications", None, {
        "company_name": "Bench Co", "credit_code": credit_code,
        "contact": {"name": "B", "phone": "13812345678", "email": "b@example.cn"},
        "address": "1 Rd", "province": "Jiangsu", "city": "Suzhou",
        "locations": [{"name": "DC", "lat": 31.3, "lon": 120.6}],
        "requested_tier": "gold", "channels": ["tmall"]})
    return call(base, "POST", f"/v1/admin/applications/{receipt['id']}/approve", manager_key,
                {"tier": "gold"})["api_key"]


def issue(gateway_db: str, role: str, **kw) -> str:
    return issue_key(gateway_db, role, kw.get("channel"), kw.get("distributor"))
