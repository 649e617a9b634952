"""The package's import graph points one way (issue 14).

cli -> app/view/check -> controller -> api, features -> core -> the leaves
(dmx, db, mqtt, fixtures, http) -> shared modules (settings, errors, units, ...).
Every import counts, including those inside functions and under TYPE_CHECKING,
because each one is a dependency a reader has to follow.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "bridge" / "tau"

# A part may import only parts of a strictly lower rank.
RANKS: dict[str, int] = {
    "timescale": -1,  # the test suite's fast-forward, read by the retry and reminder leaves
    # shared leaves: no Tau imports beyond each other
    "__init__": 0,
    "config_errors": 0,
    "errors": 0,
    "units": 0,
    "colours": 0,
    "backoff": 0,
    "data": 0,  # migrations and seeds (package data; see tau/db/files.py)
    "waiting": 0,
    "supervisor": 0,  # the one supervisor of long-running tasks (imports nothing of Tau)
    "metrics": 0,
    "settings": 1,
    "embedded": 2,
    # infrastructure leaves: know nothing of the application, nor of each other
    "dmx": 3,
    "db": 3,
    "mqtt": 3,
    "http": 3,
    "alembic": 4,
    "fixtures": 4,  # the fixture library writes models through tau.db
    "nodes": 4,  # leases of several bridges, through tau.db
    # the application, inside out
    "core": 5,
    "api": 6,
    "features": 6,
    "controller": 7,
    "extensions": 7,  # the list of extensions, built by app
    "web": 7,  # the web page, served by http's listener and wired by app
    "app": 8,
    "view": 9,
    "check": 9,
    "cli": 10,
    "__main__": 11,
}
LEAVES = {"dmx", "db", "mqtt"}
APPLICATION = {"core", "api", "features", "controller", "app", "view", "check", "cli", "web"}


def _part(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "tau":
        return None
    return parts[1] if len(parts) > 1 else "__init__"


def import_graph() -> dict[str, set[str]]:
    """Top-level part -> the other parts it imports."""
    graph: dict[str, set[str]] = defaultdict(set)
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE).with_suffix("").parts
        here = ["tau", *rel[:-1]]  # the package this file's relative imports start from
        source = rel[0]
        for node in ast.walk(ast.parse(path.read_text())):
            modules: list[str] = []
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = here[: len(here) - node.level + 1] if node.level else []
                modules = [".".join([*base, *(node.module or "").split(".")]).strip(".")]
            for module in modules:
                target = _part(module)
                if target is not None and target != source:
                    graph[source].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found: list[list[str]] = []

    def walk(node: str, path: list[str]) -> None:
        for nxt in sorted(graph.get(node, ())):
            if nxt in path:
                found.append([*path[path.index(nxt) :], nxt])
            elif len(path) < len(graph) + 1:
                walk(nxt, [*path, nxt])

    for start in sorted(graph):
        walk(start, [start])
    return found


def test_every_part_has_a_place_in_the_layers() -> None:
    parts = {p.stem for p in PACKAGE.glob("*.py")}
    parts |= {p.name for p in PACKAGE.iterdir() if p.is_dir() and any(p.rglob("*.py"))}
    assert sorted(parts - set(RANKS)) == [], "give each new part a rank in RANKS"


def test_the_import_graph_has_no_cycle() -> None:
    assert _cycles(import_graph()) == []


def test_imports_point_down_the_layers() -> None:
    upward = sorted(
        f"{source} -> {target}"
        for source, targets in import_graph().items()
        for target in targets
        if RANKS[target] >= RANKS[source]
    )
    assert upward == []


def test_leaves_import_nothing_of_the_application() -> None:
    graph = import_graph()
    wrong = sorted(
        f"{leaf} -> {t}" for leaf in LEAVES for t in graph.get(leaf, ()) if t in APPLICATION
    )
    assert wrong == []
    crossing = sorted(
        f"{leaf} -> {t}" for leaf in LEAVES for t in graph.get(leaf, ()) if t in LEAVES
    )
    assert crossing == []


def test_extensions_never_import_each_other() -> None:
    """Extensions talk through the store and the bus, never to each other."""
    ext_modules = {
        ".".join(("tau", *p.relative_to(PACKAGE).with_suffix("").parts))
        for p in PACKAGE.rglob("*extension.py")
        if p.parent.name != "core"
    }
    assert len(ext_modules) >= 3
    wrong = []
    for module in ext_modules:
        path = PACKAGE.joinpath(*module.split(".")[1:]).with_suffix(".py")
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module in ext_modules - {module}:
                wrong.append(f"{module} -> {node.module}")
    assert wrong == []


def test_the_checker_sees_imports_of_every_kind() -> None:
    """The graph would be worthless if it missed relative or function-level imports."""
    graph = import_graph()
    assert "db" in graph["core"]  # TYPE_CHECKING-only import in core/installation.py
    assert "view" in graph["cli"]  # imported inside `run()`
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [
        ["a", "b", "c", "a"],
        ["b", "c", "a", "b"],
        ["c", "a", "b", "c"],
    ]


def test_the_benchmarks_use_the_test_kit_not_the_test_suite() -> None:
    bench = PACKAGE.parents[1] / "bench"
    wrong = []
    for path in bench.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            wrong += [f"{path.name}: {n}" for n in names if n.split(".")[0] == "tests"]
    assert wrong == []
