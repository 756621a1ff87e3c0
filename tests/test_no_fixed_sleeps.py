"""Tests wait for a condition with a deadline, never a fixed sleep (STYLE.md, Tests).

A sleep is allowed only inside a ``while`` loop that reads ``monotonic()`` (a polling loop with a
deadline, as ``common.testing.wait_until``); "nothing more arrived" is proven by waiting for a later
marker. A fixed sleep passes on a slow machine whether or not the bug it guards against exists, and
slows every run on a fast one."""
import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCANNED = ("conftest.py", "services/*/tests/**/*.py", "gateway/tests/**/*.py", "tests/**/*.py",
           "services/common/common/testing.py")
ALLOWED = {
    # the fault suite keeps traffic running for a set time before, during and after each fault and
    # paces its client threads: those sleeps are the traffic's duration, not waits for a condition
    "tests/faults/test_faults.py": "traffic runs for PHASE_SECONDS around each fault",
}
SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef, ast.Module)


def _is_sleep(node: ast.AST) -> bool:
    """``sleep(...)``, ``time.sleep(...)``, ``eventlet.sleep(...)``, ``asyncio.sleep(...)``…"""
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    return (isinstance(func, ast.Name) and func.id == "sleep") or (
        isinstance(func, ast.Attribute) and func.attr == "sleep")


def _reads_the_clock(loop: ast.While) -> bool:
    return any(isinstance(node, ast.Call) and (
        (isinstance(node.func, ast.Attribute) and node.func.attr == "monotonic")
        or (isinstance(node.func, ast.Name) and node.func.id == "monotonic"))
        for node in ast.walk(loop))


def fixed_sleeps(source: str, filename: str = "<test>") -> list[int]:
    """Lines of the sleeps in ``source`` not inside a deadline-checking ``while`` loop of their own
    function (a loop around the function that defines the sleep does not count)."""
    tree = ast.parse(source, filename)
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    found = []
    for node in ast.walk(tree):
        if not _is_sleep(node):
            continue
        scope = parents.get(node)
        while scope is not None and not isinstance(scope, (ast.While, *SCOPES)):
            scope = parents.get(scope)
        if not (isinstance(scope, ast.While) and _reads_the_clock(scope)):
            found.append(node.lineno)
    return sorted(found)


def scanned_files() -> list[pathlib.Path]:
    return sorted({path for pattern in SCANNED for path in ROOT.glob(pattern)
                   if ".venv" not in path.parts})


def test_the_check_tells_a_polling_loop_from_a_fixed_sleep():
    assert fixed_sleeps("import time\ntime.sleep(0.5)\n") == [2]
    assert fixed_sleeps("def f():\n    eventlet.sleep(1)\n") == [2]
    assert fixed_sleeps("for _ in range(9):\n    sleep(0.2)\n") == [2]
    assert fixed_sleeps("while not done():\n    time.sleep(0.1)\n") == [2]  # no deadline
    assert fixed_sleeps("while True:\n    def later():\n        time.sleep(1)\n"
                        "    if time.monotonic() > end:\n        break\n") == [3]
    assert fixed_sleeps("deadline = time.monotonic() + 5\nwhile not done():\n"
                        "    assert time.monotonic() < deadline, 'never done'\n    time.sleep(0.05)\n") == []
    assert fixed_sleeps('cur.execute("SELECT pg_sleep(1)")\n') == []


def test_the_scan_covers_the_test_suites():
    names = {path.relative_to(ROOT).as_posix() for path in scanned_files()}
    assert {"conftest.py", "tests/e2e/conftest.py", "gateway/tests/test_gateway_errors.py",
            "services/common/tests/test_dead_letters.py", "tests/faults/test_faults.py",
            "tests/test_no_fixed_sleeps.py"} <= names


def test_no_test_sleeps_a_fixed_time():
    offenders = []
    for path in scanned_files():
        name = path.relative_to(ROOT).as_posix()
        if name in ALLOWED:
            continue
        offenders += [f"{name}:{line}" for line in fixed_sleeps(path.read_text(), name)]
    assert offenders == [], (
        "fixed sleeps in tests — wait for the condition with common.testing.wait_until, or prove "
        "'nothing more arrived' with a later marker: " + ", ".join(offenders))


def test_the_allowed_files_exist_and_still_need_it():
    for name in ALLOWED:
        path = ROOT / name
        assert path.exists(), f"{name} is allowed fixed sleeps but is gone: drop it from ALLOWED"
        assert fixed_sleeps(path.read_text(), name), f"{name} no longer sleeps: drop it from ALLOWED"
