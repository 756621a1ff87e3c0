"""The compose file is valid (Debian's docker-compose validates it; no engine is needed) and runs each
service with the same command as `make run`."""
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "deploy" / "docker-compose.yml"


def procfile_commands() -> dict[str, str]:
    commands = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, command = line.split(":", 1)
            # drop leading VAR=value assignments: compose sets those as environment
            commands[name.strip()] = re.sub(r"^(\S+=\S+\s+)+", "", command.strip())
    return commands


def test_compose_config_is_valid():
    tool = shutil.which("docker-compose")
    if tool is None:
        pytest.fail("docker-compose is not installed (.ci/run installs Debian's package)")
    out = subprocess.run([tool, "-f", str(COMPOSE), "config", "-q"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_compose_runs_the_same_commands_as_make_run():
    compose = yaml.safe_load(COMPOSE.read_text())["services"]
    for name, command in procfile_commands().items():
        assert compose[name]["command"] == command
        assert "DATABASE_URL" in compose[name]["environment"]


def test_every_service_is_health_checked_and_started_in_order():
    compose = yaml.safe_load(COMPOSE.read_text())["services"]
    for name, service in compose.items():
        assert "healthcheck" in service, name
    for name in procfile_commands():
        conditions = compose[name]["depends_on"]
        assert conditions["postgres"]["condition"] == "service_healthy"
        assert conditions["rabbitmq"]["condition"] == "service_healthy"
    for name in procfile_commands():
        if name != "gateway":
            assert compose["gateway"]["depends_on"][name]["condition"] == "service_healthy"


def test_the_package_folders_are_on_the_path_from_one_list():
    """deploy/packages.txt is the only list: the venv's dcm.pth (make venv) is made from it, the
    Dockerfile makes the image's from it, and nothing else sets PYTHONPATH."""
    folders = [line for line in (ROOT / "deploy" / "packages.txt").read_text().splitlines()
               if line and not line.startswith("#")]
    assert {pathlib.Path(f).name for f in folders} == {
        "common", "catalog", "distributors", "pricing", "fulfillment", "gateway"}
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    probe = "import common, catalog.service, distributors.service, pricing.service, " \
            "fulfillment.service, gateway.service; print(common.__file__)"
    out = subprocess.run([sys.executable, "-c", probe], cwd="/", env=env,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().startswith(str(ROOT / folders[0]))
    assert "deploy/packages.txt" in (ROOT / "deploy" / "Dockerfile").read_text()
    for path in ("Makefile", "deploy/start-service", "deploy/Dockerfile", "pytest.ini"):
        assert "PYTHONPATH" not in (ROOT / path).read_text(), path
