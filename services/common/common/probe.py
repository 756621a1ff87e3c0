"""Health checks for a service with no HTTP port (the nameko services; the gateway has /health).

    python -m common.probe catalog          # its ``health`` RPC answers in time (compose's health check)
    python -m common.probe --live catalog   # this container: the service runs and is connected to the broker
    python -m common.probe --ready catalog  # both (Kubernetes' readiness probe)

Exit 0 when healthy, 1 with the reason on stderr when not, 2 on a usage error.

The ``health`` RPC goes through RabbitMQ to whichever replica takes it, and checks that replica's
database: it says the *service* works, not that *this* container does. ``--live`` looks only inside
the container, without a round trip, so a database or broker outage shared by every replica does not
read as every replica being broken at once:

- a process whose command line runs ``nameko run … <service>.service`` exists and is neither a zombie
  nor stopped (``SIGSTOP``: state ``T`` in ``/proc/<pid>/stat``);
- the container's network namespace holds an ESTABLISHED TCP connection to the broker's port (from
  ``AMQP_URI``; ``/proc/net/tcp`` and ``tcp6``). A service whose event loop hangs stops answering
  AMQP heartbeats (nameko's default: 60 s), the broker closes the connection, and this fails; so it
  does when a service lost the broker and never reconnected.
"""
from __future__ import annotations

import os
import pathlib
import sys
from urllib.parse import urlsplit

from common import topology

PROC = pathlib.Path("/proc")
DEFAULT_AMQP_URI = "pyamqp://guest:guest@127.0.0.1:5672/"
TCP_ESTABLISHED = "01"  # the st column of /proc/net/tcp (include/net/tcp_states.h)
NOT_RUNNING = {"Z", "X", "x", "T", "t"}  # zombie, dead, stopped, traced


def broker_ports(amqp_uri: str) -> set[int]:
    """The ports of the broker URIs in ``amqp_uri`` (kombu takes ``;``-separated alternatives)."""
    ports = set()
    for uri in filter(None, (part.strip() for part in amqp_uri.split(";"))):
        parts = urlsplit(uri)
        ports.add(parts.port or (5671 if parts.scheme == "amqps" else 5672))
    return ports


def established_remote_ports(proc: pathlib.Path = PROC) -> list[int]:
    """The remote port of every ESTABLISHED TCP connection in this network namespace (IPv4 and 6)."""
    ports = []
    for table in ("tcp", "tcp6"):
        try:
            lines = (proc / "net" / table).read_text().splitlines()[1:]
        except FileNotFoundError:  # no IPv6 in this kernel
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 3 and fields[3] == TCP_ESTABLISHED:
                ports.append(int(fields[2].rsplit(":", 1)[1], 16))
    return ports


def runs_service(argv: list[str], service: str) -> bool:
    """Whether a command line is ``… nameko run … <service>.service`` (deploy/start-service's)."""
    return ("run" in argv and f"{service}.service" in argv
            and any(arg == "nameko" or arg.endswith("/nameko") for arg in argv))


def process_state(proc: pathlib.Path, pid: str) -> str:
    """The one-letter state of ``/proc/<pid>/stat`` (after the command name, which may hold spaces)."""
    stat = (proc / pid / "stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0]


def service_processes(service: str, proc: pathlib.Path = PROC) -> dict[int, str]:
    """Pid → state of every process running the service."""
    found = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
            if runs_service(argv, service):
                found[int(entry.name)] = process_state(proc, entry.name)
        except (FileNotFoundError, ProcessLookupError, PermissionError, IndexError):
            continue  # it ended while we looked, or is not ours to read
    return found


def live_problems(service: str, amqp_uri: str, proc: pathlib.Path = PROC) -> list[str]:
    """What is wrong with the service inside this container; empty when it is live."""
    problems = []
    processes = service_processes(service, proc)
    running = [pid for pid, state in processes.items() if state not in NOT_RUNNING]
    if not running:
        states = ", ".join(f"{pid}: {state}" for pid, state in sorted(processes.items()))
        problems.append(f"no running '{service}' process" + (f" ({states})" if states else ""))
    ports = broker_ports(amqp_uri)
    if not ports.intersection(established_remote_ports(proc)):
        problems.append(f"no connection to the broker (port {', '.join(map(str, sorted(ports)))})")
    return problems


def rpc_problems(service: str, amqp_uri: str) -> list[str]:
    """Empty when the service's ``health`` RPC answers within 5 s (from any of its replicas)."""
    import warnings

    warnings.filterwarnings("ignore", r"(?s).*Eventlet is deprecated")
    import eventlet

    eventlet.monkey_patch()
    from nameko.standalone.rpc import ServiceRpcProxy

    try:
        with ServiceRpcProxy(service, {"AMQP_URI": amqp_uri, "serializer": "json"}, timeout=5) as proxy:
            print(proxy.health())
        return []
    except Exception as exc:  # any failure is "unhealthy"
        return [f"health RPC: {type(exc).__name__}: {exc}"]


def main(argv: list[str]) -> int:
    mode, names = (argv[0], argv[1:]) if argv and argv[0].startswith("--") else ("--rpc", argv)
    if mode not in ("--rpc", "--live", "--ready") or len(names) != 1 or names[0] not in topology.NAMES:
        print(f"usage: python -m common.probe [--live|--ready] {{{'|'.join(topology.NAMES)}}}",
              file=sys.stderr)
        return 2
    service = names[0]
    amqp_uri = os.environ.get("AMQP_URI", DEFAULT_AMQP_URI)
    problems = live_problems(service, amqp_uri) if mode in ("--live", "--ready") else []
    if not problems and mode in ("--rpc", "--ready"):
        problems = rpc_problems(service, amqp_uri)
    for problem in problems:
        print(f"{service}: unhealthy: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
