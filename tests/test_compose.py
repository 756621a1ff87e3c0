"""The compose file is valid against the Compose Specification (the JSON schema check-jsonschema
vendors; no docker-compose or engine needed) and runs each service with the same command as `make run`."""
import copy
import importlib.resources
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest
import yaml
from jsonschema.validators import validator_for

from common.topology import NAMES, PACKAGES

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


@pytest.fixture(scope="module")
def compose_schema():
    """The Compose Specification's validator, of the JSON Schema draft its `$schema` names. Formats
    stay annotations (as in docker-compose): compose's `duration` is Go's "5s", not ISO 8601."""
    vendored = importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
    schema = json.loads((vendored / "compose-spec.json").read_text())
    validator = validator_for(schema, default=None)
    assert validator is not None, f"no validator for {schema.get('$schema')}"
    validator.check_schema(schema)
    return validator(schema)


def schema_errors(validator, document) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


def test_compose_file_follows_the_compose_specification(compose_schema):
    document = yaml.safe_load(COMPOSE.read_text())
    assert schema_errors(compose_schema, document) == []


def break_unknown_service_key(doc):
    doc["services"]["catalog"]["comand"] = "deploy/start-service catalog"


def break_ports_type(doc):
    doc["services"]["gateway"]["ports"] = "x"


def break_healthcheck_key(doc):
    doc["services"]["postgres"]["healthcheck"]["retry"] = 3


def break_depends_on_condition(doc):
    doc["services"]["gateway"]["depends_on"]["catalog"]["condition"] = "when_ready"


def break_unknown_top_level_key(doc):
    doc["service"] = doc.pop("services")


@pytest.mark.parametrize(("breakage", "where"), [
    (break_unknown_service_key, "services/catalog: "),
    (break_ports_type, "services/gateway/ports: "),
    (break_healthcheck_key, "services/postgres/healthcheck: "),
    (break_depends_on_condition, "services/gateway/depends_on: "),
    (break_unknown_top_level_key, ": 'service'"),
])
def test_a_broken_compose_file_is_refused_at_the_broken_place(compose_schema, breakage, where):
    broken = copy.deepcopy(yaml.safe_load(COMPOSE.read_text()))
    breakage(broken)
    errors = schema_errors(compose_schema, broken)
    assert any(error.startswith(where) for error in errors), errors


def test_docker_compose_accepts_the_compose_file():
    """An extra check where a docker-compose binary exists; the schema test above always runs."""
    tool = shutil.which("docker-compose")
    if tool is None:
        pytest.skip("no docker-compose binary here (the schema test validates the file)")
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
    """deploy/packages.txt (common.topology's folders, tests/test_topology.py) is the only list put on the
    path: the venv's dcm.pth (make venv) is made from it, the Dockerfile makes the image's from it, and
    nothing else sets PYTHONPATH."""
    folders = [line for line in (ROOT / "deploy" / "packages.txt").read_text().splitlines()
               if line and not line.startswith("#")]
    assert {pathlib.Path(f).name for f in folders} == set(PACKAGES)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    probe = f"import common, {', '.join(f'{name}.service' for name in NAMES)}; print(common.__file__)"
    out = subprocess.run([sys.executable, "-c", probe], cwd="/", env=env,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().startswith(str(ROOT / folders[0]))
    assert "deploy/packages.txt" in (ROOT / "deploy" / "Dockerfile").read_text()
    for path in ("Makefile", "deploy/start-service", "deploy/Dockerfile", "pytest.ini"):
        assert "PYTHONPATH" not in (ROOT / path).read_text(), path
