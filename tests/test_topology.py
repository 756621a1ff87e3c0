"""common.topology is the one list of services; every file that cannot import it says the same thing.

A service added, renamed or moved in common/topology.py fails here until the Procfile, compose,
packages.txt, the Dockerfile, ruff.toml and .importlinter follow (and the other way round)."""
import pathlib
import re
import subprocess
import sys
import tomllib

import pytest
import yaml
from importlinter import api as importlinter

from common import topology
from common.topology import BACKENDS, NAMES, PACKAGE_FOLDERS, PACKAGES, SERVICES

ROOT = pathlib.Path(__file__).resolve().parents[1]
GATEWAY = topology.service("gateway")


def lines(path: pathlib.Path) -> list[str]:
    return [line.strip() for line in path.read_text().splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def test_the_list_is_consistent():
    assert len(set(NAMES)) == len(NAMES) and NAMES[-1] == "gateway"  # started last, stopped first
    assert [s.name for s in SERVICES if s.http_port] == ["gateway"]
    assert BACKENDS == tuple(n for n in NAMES if n != "gateway")
    with pytest.raises(KeyError):
        topology.service("billing")


def test_each_package_is_in_its_folder_and_no_package_is_unlisted():
    for folder, package in zip(PACKAGE_FOLDERS, PACKAGES, strict=True):
        assert (ROOT / folder / package / "__init__.py").is_file(), folder
    on_disk = {p.parent.parent.relative_to(ROOT).as_posix()
               for p in [*ROOT.glob("services/*/*/__init__.py"), *ROOT.glob("*/*/__init__.py")]
               if p.parent.name == p.parent.parent.name}  # services/x/x, gateway/gateway
    assert on_disk == set(PACKAGE_FOLDERS)


def test_packages_txt_lists_every_package_folder_shared_first():
    assert lines(ROOT / "deploy" / "packages.txt") == list(PACKAGE_FOLDERS)


def test_the_dockerfile_copies_every_package_folder():
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    for top in {folder.split("/")[0] for folder in PACKAGE_FOLDERS}:
        assert re.search(rf"^COPY {top} \./{top}$", dockerfile, re.M), top


def test_the_procfile_starts_every_service_in_order_on_its_own_database():
    assert lines(ROOT / "Procfile") == [
        f"{s.name}: DATABASE_URL=${{{s.name.upper()}_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/"
        f"{s.database}}} deploy/start-service {s.name}" for s in SERVICES]


def test_compose_runs_every_service_on_its_own_database():
    compose = yaml.safe_load((ROOT / "deploy" / "docker-compose.yml").read_text())["services"]
    assert set(compose) == {*NAMES, "postgres", "rabbitmq"}
    for s in SERVICES:
        assert compose[s.name]["command"] == f"deploy/start-service {s.name}"
        assert compose[s.name]["environment"]["DATABASE_URL"].endswith(f"@postgres:5432/{s.database}")
    for name in BACKENDS:
        assert compose[name]["healthcheck"]["test"] == ["CMD", "python", "-m", "common.probe", name]
        assert compose["gateway"]["depends_on"][name] == {"condition": "service_healthy"}


def test_the_gateway_port_is_the_same_everywhere():
    port = str(GATEWAY.http_port)
    compose = yaml.safe_load((ROOT / "deploy" / "docker-compose.yml").read_text())["services"]["gateway"]
    assert compose["environment"]["GATEWAY_PORT"] == port
    assert f"127.0.0.1:${{GATEWAY_PORT:-{port}}}:{port}" in compose["ports"]  # and /metrics
    assert f"127.0.0.1:{port}/ready" in compose["healthcheck"]["test"][-1]
    assert re.search(rf"^GATEWAY_PORT \?= {port}$", (ROOT / "Makefile").read_text(), re.M)
    assert f"${{GATEWAY_PORT:{port}}}" in (ROOT / "deploy" / "nameko.yaml").read_text()


def test_make_run_stops_the_gateway_first():
    assert re.search(rf'^FRONT_DOOR = "{NAMES[-1]}"', (ROOT / "deploy" / "run").read_text(), re.M)


def test_ruff_knows_every_first_party_package():
    config = tomllib.loads((ROOT / "ruff.toml").read_text())
    assert sorted(config["lint"]["isort"]["known-first-party"]) == sorted(PACKAGES)


def test_the_import_contracts_cover_every_package():
    config = importlinter.read_configuration(str(ROOT / ".importlinter"))
    assert config["session_options"]["root_packages"] == list(PACKAGES)
    contracts = {c["id"]: c for c in config["contracts_options"]}
    assert contracts["common-imports-no-service"]["source_modules"] == ["common"]
    assert contracts["common-imports-no-service"]["forbidden_modules"] == list(NAMES)
    assert contracts["services-never-import-the-gateway"]["source_modules"] == list(BACKENDS)
    assert contracts["services-never-import-the-gateway"]["forbidden_modules"] == ["gateway"]
    meet = contracts["services-meet-through-their-contracts"]
    assert meet["modules"] == list(NAMES)
    assert sorted(meet["ignore_imports"]) == sorted(f"** -> {name}.{module}" for name in BACKENDS
                                                    for module in ("errors", "schemas", "events"))


def test_the_makefile_asks_the_list_instead_of_spelling_it():
    makefile = (ROOT / "Makefile").read_text()
    assert "|".join(BACKENDS) not in makefile
    out = subprocess.run([sys.executable, "-m", "common.topology", "--backends"], capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "|".join(BACKENDS)
