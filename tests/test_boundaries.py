"""The import boundaries of .importlinter hold (the same `lint-imports` run as `make lint`, so a violation
fails the suite too), and each contract catches a deliberate violation in a copy of our packages."""
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

from common.topology import PACKAGE_FOLDERS, PACKAGES

ROOT = pathlib.Path(__file__).resolve().parents[1]
CONFIG = ROOT / ".importlinter"
LINT_IMPORTS = pathlib.Path(sys.executable).parent / "lint-imports"


def lint_imports(cwd: pathlib.Path, *args: str, pythonpath: list[pathlib.Path] | None = None):
    env = dict(os.environ, COLUMNS="200")  # rich wraps its report at the terminal's width
    env.pop("PYTHONPATH", None)
    if pythonpath:  # before site-packages, so ahead of the venv's dcm.pth folders
        env["PYTHONPATH"] = os.pathsep.join(map(str, pythonpath))
    return subprocess.run([str(LINT_IMPORTS), "--config", str(CONFIG), "--no-cache", "--no-logo", *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_our_packages_keep_their_boundaries():
    out = lint_imports(ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 broken" in out.stdout


@pytest.fixture
def copy_of_our_packages(tmp_path) -> tuple[pathlib.Path, list[pathlib.Path]]:
    """Every package's Python files (not its tests), where they are in the repository."""
    folders = []
    for folder, package in zip(PACKAGE_FOLDERS, PACKAGES, strict=True):
        shutil.copytree(ROOT / folder / package, tmp_path / folder / package,
                        ignore=shutil.ignore_patterns("__pycache__", "migrations"))
        folders.append(tmp_path / folder)
    return tmp_path, folders


def test_the_copy_keeps_the_boundaries_too(copy_of_our_packages):
    root, folders = copy_of_our_packages
    out = lint_imports(root, pythonpath=folders)
    assert out.returncode == 0, out.stdout + out.stderr


VIOLATIONS = [
    # (contract, module the line is added to, the line, the import reported)
    ("services-meet-through-their-contracts", "pricing.service", "import catalog.domain",
     "pricing.service -> catalog.domain"),
    ("services-meet-through-their-contracts", "gateway.service", "from fulfillment import store",
     "gateway.service -> fulfillment.store"),
    ("services-meet-through-their-contracts", "fulfillment.service",
     "def _late():\n    from distributors.service import DistributorsService\n",
     "fulfillment.service -> distributors.service"),
    ("services-meet-through-their-contracts", "distributors.schemas", "import pricing",
     "distributors.schemas -> pricing"),
    ("common-imports-no-service", "common.outbox", "import pricing.schemas", "common.outbox -> pricing.schemas"),
    ("common-imports-no-service", "common.db", "from gateway import errors", "common.db -> gateway.errors"),
    ("services-never-import-the-gateway", "catalog.domain", "import gateway.errors",
     "catalog.domain -> gateway.errors"),
]


@pytest.mark.parametrize(("contract", "module", "line", "reported"), VIOLATIONS,
                         ids=[v[3] for v in VIOLATIONS])
def test_a_violation_is_caught(copy_of_our_packages, contract, module, line, reported):
    root, folders = copy_of_our_packages
    package, name = module.split(".")
    path = folders[PACKAGES.index(package)] / package / f"{name}.py"
    path.write_text(path.read_text() + "\n" + line + "\n")
    out = lint_imports(root, "--contract", contract, pythonpath=folders)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "1 broken" in out.stdout and reported in out.stdout, out.stdout
