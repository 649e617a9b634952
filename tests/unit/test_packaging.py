"""`make run` installs only the runtime dependencies, and they are all the bridge imports."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _runtime_distributions() -> set[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    names = {_name(r) for r in project["dependencies"]}
    names |= {_name(r) for r in project["optional-dependencies"]["fast"]}
    names |= {_name(r) for r in project["optional-dependencies"]["embedded"]}
    return names


def _imported_top_level_modules() -> set[str]:
    found: set[str] = set()
    for path in (REPO / "bridge" / "tau").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"tau", "__future__"}


def test_the_bridge_imports_only_runtime_dependencies() -> None:
    runtime = _runtime_distributions()
    owners = packages_distributions()
    outside = {
        module: owners.get(module, ["(not installed)"])
        for module in _imported_top_level_modules()
        if not {d.lower().replace("_", "-") for d in owners.get(module, [])} & runtime
        # modules of a runtime dependency's own dependencies (pydantic_core, annotated_types)
        and module not in {"pydantic_core", "annotated_types", "typing_extensions"}
    }
    assert outside == {}, "imported by bridge/tau but not a runtime dependency in pyproject"


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_run_installs_the_runtime_only_and_make_test_the_dev_tools(tmp_path: Path) -> None:
    def dry_run(target: str) -> str:
        return subprocess.run(
            [
                "make",
                "-n",
                "--no-print-directory",
                "-C",
                str(REPO),
                f"VENV={tmp_path / '.venv'}",
                target,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    run = dry_run("run")
    assert "pip install --quiet -e '.[fast,embedded]'" in run
    assert ".[dev]" not in run
    assert run.rstrip().splitlines()[-1].endswith("bin/tau run --demo")
    for target in ("pytest", "lint", "typecheck", "bench", "test"):
        assert "pip install --quiet -e '.[dev]'" in dry_run(target), target


EMBEDDED = {"pgserver", "amqtt"}


def test_the_embedded_services_are_an_extra_that_production_leaves_out() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    assert {_name(r) for r in project["dependencies"]} & EMBEDDED == set()
    assert {_name(r) for r in extras["embedded"]} == EMBEDDED
    assert {_name(r) for r in extras["dev"]} >= EMBEDDED  # the tests use both
    installs = [
        line for line in (REPO / "Dockerfile").read_text().splitlines() if "pip install" in line
    ]
    assert installs and all("[" not in line for line in installs), installs


def test_the_embedded_services_are_imported_only_when_used() -> None:
    """Module-level imports of pgserver or amqtt would break `pip install tau-lighting`."""
    found = []
    for path in (REPO / "bridge" / "tau").rglob("*.py"):
        for node in ast.parse(path.read_text(), str(path)).body:
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            found += [f"{path.name}: {n}" for n in names if n.split(".")[0] in EMBEDDED]
    assert found == []


BLOCKED = """
import importlib.abc, sys
class Blocked(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"pgserver", "amqtt"}:
            raise ImportError(f"No module named {name!r}")
        return None
sys.meta_path.insert(0, Blocked())
from tau.cli import main
sys.exit(main(["run", "--no-view"]))
"""


def test_tau_run_without_the_extra_says_in_one_line_what_to_install(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAU_")}
    env.update(PYTHONPATH=str(REPO / "bridge"), TAU_DATA_DIR=str(tmp_path / "data"))
    result = subprocess.run(
        [sys.executable, "-c", BLOCKED],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    lines = [line for line in result.stderr.splitlines() if line.startswith("tau:")]
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1, result.stderr
    assert "pip install 'tau-lighting[embedded]'" in lines[0]
    assert "TAU_DATABASE_URL" in lines[0]
