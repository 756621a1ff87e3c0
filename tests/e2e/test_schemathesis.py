"""A third-party fuzzer against the running system: Schemathesis generates requests from our own
/openapi.json — valid ones, and ones that break the document's rules — for every route, with a key
of every role and anonymously, and runs all of its checks on every answer: no 5xx, every status,
content type, header and body as the document says, invalid input refused, valid input accepted
(tests/e2e/schemathesis.toml names the business rules a JSON Schema cannot state).

The fuzzer approves, suspends and revokes whatever ids it guesses, so it gets a system of its own
(not the session's) and the manager goes last. Bounded (examples per operation, a fixed seed) so it
fits the suite; ``FUZZ_EXAMPLES`` and ``FUZZ_SEED`` widen or vary a run by hand.
"""
import os
import pathlib
import subprocess
import sys

import pytest

from conftest import SHANGHAI_DISTRIBUTOR, onboard_distributor, running_system

CONFIG = pathlib.Path(__file__).with_name("schemathesis.toml")
EXAMPLES = os.environ.get("FUZZ_EXAMPLES", "12")
SEED = os.environ.get("FUZZ_SEED", "20261130")
ROLES = ["anonymous", "sales", "channel", "distributor", "manager"]  # the manager last


@pytest.fixture(scope="module")
def fuzzed(pg_server, rabbit, tmp_path_factory):
    with running_system(pg_server, rabbit, tmp_path_factory.mktemp("fuzz-logs"), "fuzz") as sysm:
        yield sysm


def key_for(system, role: str) -> str | None:
    if role == "anonymous":
        return None
    if role == "distributor":
        manager = system.issue_key("manager")
        return onboard_distributor(system.base_url, manager, SHANGHAI_DISTRIBUTOR)["api_key"]
    return system.issue_key(role, channel="tmall" if role == "channel" else None)


def schemathesis(base_url: str, key: str | None, report_dir: pathlib.Path) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "schemathesis.cli", "--config-file", str(CONFIG), "run",
               f"{base_url}/openapi.json", "--checks", "all", "--max-examples", EXAMPLES,
               "--seed", SEED, "--phases", "examples,coverage,fuzzing", "--workers", "2",
               "--generation-database", "none", "--no-color", "--request-timeout", "30",
               "--report", "junit", "--report-dir", str(report_dir)]
    if key:
        command += ["--header", f"Authorization: Bearer {key}"]
    return subprocess.run(command, capture_output=True, text=True, timeout=900)


def server_errors(system) -> str:
    text = (system.log_dir / "gateway.log").read_text()
    return "\n".join(line for line in text.splitlines() if '"level": "error"' in line)[-5000:]


@pytest.mark.parametrize("role", ROLES)
def test_schemathesis_finds_nothing(fuzzed, role, tmp_path):
    run = schemathesis(fuzzed.base_url, key_for(fuzzed, role), tmp_path)
    tail = run.stdout[-20000:]
    assert run.returncode == 0, (f"schemathesis ({role}) found problems:\n{tail}\n{run.stderr[-3000:]}"
                                 f"\ngateway errors:\n{server_errors(fuzzed)}")
