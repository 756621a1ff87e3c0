"""`make run` as an operator runs it, on databases `dcm_sup_<service>` (made by the services' own
migrations at start) and a RabbitMQ vhost of its own: a service killed with SIGKILL is back within
10 s while the gateway and the other services keep answering; a service sent SIGTERM finishes
cleanly (exit status 0, no traceback) and is restarted; SIGTERM to `make run` stops every process.

The tests run in order on one system; the last one stops it."""
import os
import pathlib
import re
import signal
import subprocess
import time
import uuid

import pytest
import requests

from common.migrate import drop_database
from common.testing import SERVICES, drop_vhost, free_port, issue_key, make_vhost

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESTART_SECONDS = 10  # SPEC, Hardening rules, "Processes"
STOP_SECONDS = 25  # supervisord's stopwaitsecs (20) is the most any one service may take


def session_processes(sid: int) -> dict[int, str]:
    """Every live process of session ``sid`` (`make run` started as its leader) → its command line."""
    found = {}
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:  # gone meanwhile
            continue
        fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)": state ppid pgrp session …
        if int(fields[3]) == sid and fields[0] != "Z":
            found[int(entry.name)] = cmdline.replace(b"\0", b" ").decode(errors="replace").strip()
    return found


class Run:
    """`make run` in a session of its own, its output (every service's and supervisord's) in a file."""

    def __init__(self, env: dict, log: pathlib.Path):
        self.log = log
        with open(log, "ab") as out:  # appended to, as supervisord opens /dev/stdout
            self.proc = subprocess.Popen(["make", "-s", "run"], cwd=ROOT, env=env, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)

    def output(self, since: int = 0) -> str:
        return self.log.read_bytes()[since:].decode(errors="replace")

    def mark(self) -> int:
        return self.log.stat().st_size

    def service_pid(self, name: str) -> int | None:
        """The pid of the process running ``<name>.service``, as deploy/start-service names it."""
        pids = [pid for pid, cmd in session_processes(self.proc.pid).items()
                if cmd.endswith(f" {name}.service") and "nameko run" in cmd]
        assert len(pids) <= 1, pids
        return pids[0] if pids else None


def eventually(check, what: str, timeout: float, run: Run | None = None):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            tail = run.output()[-4000:] if run else ""
            pytest.fail(f"not within {timeout:g} s: {what}\n{tail}")
        time.sleep(0.1)


def answers(url: str, headers: dict | None = None) -> int | None:
    try:
        return requests.get(url, headers=headers, timeout=3).status_code
    except requests.RequestException:
        return None


@pytest.fixture(scope="module")
def system(pg_server, rabbit, tmp_path_factory):
    vhost = f"dcm_sup_{uuid.uuid4().hex[:8]}"
    amqp_uri = make_vhost(rabbit, vhost)
    urls = {s: f"{pg_server}/dcm_sup_{s}" for s in SERVICES}
    for url in urls.values():
        drop_database(url)  # created again by each service's migrations as it starts
    port = free_port()
    env = {**os.environ, "AMQP_URI": amqp_uri, "GATEWAY_PORT": str(port),
           **{f"{s.upper()}_DATABASE_URL": url for s, url in urls.items()}}
    run = Run(env, tmp_path_factory.mktemp("supervision") / "make-run.log")
    base_url = f"http://127.0.0.1:{port}"
    try:
        eventually(lambda: run.proc.poll() is None and answers(f"{base_url}/ready") == 200,
                   "the system ready", timeout=90, run=run)
        key = issue_key(urls["gateway"], "manager")
        yield run, base_url, {"Authorization": f"Bearer {key}"}
    finally:
        if run.proc.poll() is None:
            os.killpg(run.proc.pid, signal.SIGKILL)
            run.proc.wait()
        for pid in session_processes(run.proc.pid):  # whatever a failed test left behind
            os.kill(pid, signal.SIGKILL)
        drop_vhost(rabbit, vhost)
        for url in urls.values():
            drop_database(url)


def test_every_procfile_service_is_supervised_with_its_procfile_command():
    config = subprocess.run([str(ROOT / "deploy" / "run"), "--print-config"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout
    programs = dict(re.findall(r"^\[program:(\S+)\]\ncommand=(.*)$", config, re.M))
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, command = (part.strip() for part in line.split(":", 1))
            service = command.rsplit(" ", 1)[1]
            assert programs.pop(name).endswith(f" exec deploy/start-service {service}'"), name
    assert programs == {}
    for setting in ("autorestart=true", "stopasgroup=true", "killasgroup=true", "stopwaitsecs=20",
                    "stdout_logfile=/dev/stdout", "stdout_logfile_maxbytes=0"):
        assert config.count(setting) == len(SERVICES), setting
    assert "nodaemon=true" in config


def test_a_killed_service_is_back_within_10_s_while_the_others_keep_serving(system):
    run, base_url, manager = system
    old = run.service_pid("catalog")
    assert old and all(run.service_pid(s) for s in SERVICES)
    others = {s: run.service_pid(s) for s in SERVICES if s != "catalog"}
    os.kill(old, signal.SIGKILL)
    killed = time.monotonic()
    # while the catalog is down: the gateway and routes of the other services answer
    assert answers(f"{base_url}/health") == 200
    assert answers(f"{base_url}/v1/admin/tiers", manager) == 200  # pricing
    assert answers(f"{base_url}/v1/admin/distributors", manager) == 200  # distributors
    new = eventually(lambda: run.service_pid("catalog") not in (None, old), "a new catalog process",
                     timeout=RESTART_SECONDS, run=run)
    eventually(lambda: answers(f"{base_url}/v1/admin/products", manager) == 200,
               "the catalog answering again", timeout=RESTART_SECONDS - (time.monotonic() - killed) + 5,
               run=run)
    assert answers(f"{base_url}/ready") == 200
    assert {s: run.service_pid(s) for s in others} == others  # untouched
    assert new != old
    assert "exited: catalog (terminated by SIGKILL; not expected)" in run.output()


def test_sigterm_to_a_service_ends_it_cleanly_and_it_is_restarted(system):
    run, base_url, manager = system
    old = run.service_pid("pricing")
    since = run.mark()
    os.kill(old, signal.SIGTERM)
    eventually(lambda: "exited: pricing (" in run.output(since), "pricing to exit", timeout=15, run=run)
    output = run.output(since)
    assert "exited: pricing (exit status 0; expected)" in output, output[-4000:]
    eventually(lambda: run.service_pid("pricing") not in (None, old), "a new pricing process",
               timeout=RESTART_SECONDS, run=run)
    eventually(lambda: answers(f"{base_url}/v1/admin/tiers", manager) == 200, "pricing answering again",
               timeout=RESTART_SECONDS, run=run)
    output = run.output(since)
    assert "Traceback" not in output and "PoolError" not in output, output[-4000:]


def test_sigterm_to_make_run_stops_every_process_cleanly(system):
    run, base_url, manager = system
    assert all(run.service_pid(s) for s in SERVICES)
    since = run.mark()
    os.killpg(run.proc.pid, signal.SIGTERM)
    signalled = time.monotonic()
    returncode = run.proc.wait(timeout=STOP_SECONDS)
    eventually(lambda: not session_processes(run.proc.pid), "every process gone", timeout=2, run=run)
    took = time.monotonic() - signalled
    output = run.output(since)
    for s in SERVICES:
        assert f"stopped: {s} (exit status 0)" in output, output[-4000:]
    assert "Traceback" not in output and "PoolError" not in output, output[-4000:]
    # make waits for deploy/run (which waits for supervisord), then dies of the signal it was sent
    assert returncode in (0, -signal.SIGTERM), (returncode, output[-4000:])
    assert answers(f"{base_url}/health") is None
    assert took < 20, took
