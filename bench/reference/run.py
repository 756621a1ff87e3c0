"""Start the stock nameko reference (reference_service.py) on its own vhost and port: two
`nameko run` processes, products and gateway, as a stock deployment runs them.

    .venv/bin/python bench/reference/run.py     # runs it until Ctrl-C, printing its URL
"""
from __future__ import annotations

import contextlib
import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid

from common.testing import drop_vhost, free_port, make_vhost

HERE = pathlib.Path(__file__).resolve().parent
RABBIT = (os.environ.get("TEST_AMQP_URI", "pyamqp://guest:guest@127.0.0.1:5672"),
          os.environ.get("TEST_RABBIT_MGMT_URL", "http://guest:guest@127.0.0.1:15672"))
SERVICES = ("products", "gateway")  # in start order
CLASSES = {"products": "ProductsService", "gateway": "GatewayService"}


@contextlib.contextmanager
def running_reference(pids: dict[int, str] | None = None, timeout: float = 60.0):
    """Yields the reference gateway's base URL; ``pids`` (pid → "reference <service>") is filled
    while it runs, for the CPU accounting of the bench harness."""
    vhost = f"dcm_bench_ref_{uuid.uuid4().hex[:6]}"
    amqp = make_vhost(RABBIT, vhost)
    port = free_port()
    logs = pathlib.Path(tempfile.mkdtemp(prefix="dcm-bench-ref-"))
    env = dict(os.environ, AMQP_URI=amqp, WEB_SERVER_ADDRESS=f"127.0.0.1:{port}",
               PYTHONWARNINGS="ignore::Warning:nameko.cli.commands,ignore::Warning:nameko.extensions")
    procs = []
    try:
        for service in SERVICES:
            log = open(logs / f"{service}.log", "ab")
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "nameko", "run", "--config", "config.yaml",
                 f"reference_service:{CLASSES[service]}"],
                cwd=HERE, env=env, stdout=log, stderr=subprocess.STDOUT))
            if pids is not None:
                pids[procs[-1].pid] = f"reference {service}"
        base = f"http://127.0.0.1:{port}"
        _wait_ready(f"{base}/products/SKU-1", procs, timeout, logs)
        yield base
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
            if pids is not None:
                pids.pop(p.pid, None)
        drop_vhost(RABBIT, vhost)


def _wait_ready(url: str, procs: list, timeout: float, logs: pathlib.Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for p in procs:
            if p.poll() is not None:
                raise RuntimeError(f"a reference service exited with {p.returncode}; logs in {logs}")
        try:
            with urllib.request.urlopen(url, timeout=3) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError):
            pass
        time.sleep(0.3)
    raise RuntimeError(f"the reference did not answer {url} within {timeout:g} s; logs in {logs}")


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop the services on a plain kill too
    with running_reference() as base_url:
        print(f"reference gateway: {base_url}/products/SKU-1", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)
