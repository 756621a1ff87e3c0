"""common.probe's container-local checks, on a made /proc tree and on this machine's real one."""
from __future__ import annotations

import pathlib
import signal
import socket
import subprocess
import sys
import time

import pytest

from common import probe

# /proc/net/tcp as Linux writes it: 127.0.0.1:42000 → 127.0.0.1:5672 established, a listener on
# 5672, a connection to PostgreSQL, and one to 5672 that is closing (CLOSE_WAIT, 08)
TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:A410 0100007F:1628 01 00000000:00000000 00:00000000 00000000    65534        0 1 1
   1: 00000000:1628 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1
   2: 0100007F:A411 0100007F:1538 01 00000000:00000000 00:00000000 00000000    65534        0 3 1
   3: 0100007F:A412 0100007F:1629 08 00000000:00000000 00:00000000 00000000    65534        0 4 1
"""
TCP6 = """\
  sl  local_address                         remote_address                        st tx_queue
   0: 00000000000000000000000001000000:A413 00000000000000000000000001000000:1629 01 00000000
"""
NAMEKO = ["/usr/local/bin/python", "-m", "nameko", "run", "--config", "/app/deploy/nameko.yaml"]


def fake_proc(root: pathlib.Path, processes: dict[int, tuple[list[str], str]], tcp: str = TCP,
              tcp6: str | None = TCP6) -> pathlib.Path:
    (root / "net").mkdir(parents=True)
    (root / "net" / "tcp").write_text(tcp)
    if tcp6 is not None:
        (root / "net" / "tcp6").write_text(tcp6)
    for pid, (argv, state) in processes.items():
        (root / str(pid)).mkdir()
        (root / str(pid) / "cmdline").write_bytes("\0".join(argv).encode() + b"\0")
        (root / str(pid) / "stat").write_text(f"{pid} (python) {state} 0 {pid} {pid} 0 -1\n")
    (root / "self").mkdir()  # not a pid: skipped
    return root


@pytest.mark.parametrize("uri, ports", [
    ("pyamqp://guest:guest@rabbitmq:5672/", {5672}),
    ("amqp://u:p@rabbitmq.messaging.svc/dcm", {5672}),
    ("amqps://u:p@rabbitmq/dcm", {5671}),
    ("pyamqp://u:p@a:5673//;pyamqp://u:p@b:5674//", {5673, 5674}),
])
def test_broker_ports_come_from_the_amqp_uri(uri, ports):
    assert probe.broker_ports(uri) == ports


def test_only_established_connections_count(tmp_path):
    proc = fake_proc(tmp_path, {})
    assert sorted(probe.established_remote_ports(proc)) == [5432, 5672, 5673]
    assert probe.established_remote_ports(fake_proc(tmp_path / "v4", {}, tcp6=None)) == [5672, 5432]


@pytest.mark.parametrize("argv, service, runs", [
    ([*NAMEKO, "catalog.service"], "catalog", True),
    (["/app/.venv/bin/nameko", "run", "pricing.service"], "pricing", True),
    ([*NAMEKO, "catalog.service"], "pricing", False),
    (["python", "-m", "common.probe", "--live", "catalog"], "catalog", False),  # the probe itself
    (["python", "-m", "common.migrate", "catalog"], "catalog", False),
])
def test_the_service_process_is_known_by_its_command_line(argv, service, runs):
    assert probe.runs_service(argv, service) is runs


def test_a_running_connected_service_is_live(tmp_path):
    proc = fake_proc(tmp_path, {1: ([*NAMEKO, "catalog.service"], "S"), 7: (["sh"], "S")})
    assert probe.live_problems("catalog", "pyamqp://guest:guest@rabbitmq:5672/", proc) == []


@pytest.mark.parametrize("state", ["Z", "T"])
def test_a_zombie_or_stopped_service_is_not_live(tmp_path, state):
    proc = fake_proc(tmp_path, {1: ([*NAMEKO, "catalog.service"], state)})
    assert probe.live_problems("catalog", probe.DEFAULT_AMQP_URI, proc) == [
        f"no running 'catalog' process (1: {state})"]


def test_a_service_without_a_broker_connection_is_not_live(tmp_path):
    proc = fake_proc(tmp_path, {1: ([*NAMEKO, "pricing.service"], "R")})
    # 5674 has no established connection (and 5673's in tcp6 is not the one asked for)
    assert probe.live_problems("pricing", "pyamqp://u:p@rabbitmq:5674/", proc) == [
        "no connection to the broker (port 5674)"]
    assert probe.live_problems("catalog", "pyamqp://u:p@rabbitmq:5674/", proc) == [
        "no running 'catalog' process", "no connection to the broker (port 5674)"]


def wait_for(condition, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)
    return result


def test_the_real_proc_shows_a_connection_and_a_stopped_process():
    """This machine's /proc, as the probe reads it inside a container."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        uri = f"pyamqp://guest:guest@127.0.0.1:{port}/"
        assert "no connection" in " ".join(probe.live_problems("fulfillment", uri))
        with socket.create_connection(("127.0.0.1", port)), server.accept()[0]:
            assert port in probe.established_remote_ports()
            argv = [sys.executable, "-c", "import sys; sys.stdin.read()", "-m", "nameko", "run",
                    f"fulfillment-{port}.service"]  # a name no real service has
            child = subprocess.Popen(argv, stdin=subprocess.PIPE)
            try:
                service = f"fulfillment-{port}"
                wait_for(lambda: probe.service_processes(service).get(child.pid) in ("S", "R"))
                assert probe.live_problems(service, uri) == []
                child.send_signal(signal.SIGSTOP)
                wait_for(lambda: probe.service_processes(service).get(child.pid) == "T")
                assert probe.live_problems(service, uri) == [f"no running '{service}' process ({child.pid}: T)"]
            finally:
                child.kill()
                child.wait()


@pytest.mark.parametrize("argv", [[], ["nobody"], ["--live"], ["--deep", "catalog"], ["catalog", "pricing"]])
def test_a_usage_error_exits_2(argv, capsys):
    assert probe.main(argv) == 2
    assert "usage: python -m common.probe" in capsys.readouterr().err
