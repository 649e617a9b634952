"""The bridge reads its migrations and seeds from its own package (tau/data), and those
are the repository's database/ files: one copy, the layout PRODUCT.md fixes."""

from __future__ import annotations

import tomllib
from fnmatch import fnmatch
from pathlib import Path

from tau.db import files
from tau.db.migrate import migrations_dir

REPO = Path(__file__).resolve().parents[2]


def test_the_package_data_is_the_database_folder() -> None:
    assert files.MIGRATIONS_DIR.resolve() == (REPO / "database" / "migrations").resolve()
    assert files.SEEDS_DIR.resolve() == (REPO / "database" / "seeds").resolve()
    assert files.DATA_DIR.parent == Path(files.__file__).resolve().parent.parent


def test_the_bridge_uses_the_package_data(monkeypatch) -> None:
    monkeypatch.delenv("TAU_MIGRATIONS_DIR", raising=False)
    assert migrations_dir() == files.MIGRATIONS_DIR


def test_every_file_the_bridge_reads_is_declared_package_data() -> None:
    globs = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["tau"]
    package = REPO / "bridge" / "tau"
    wanted = [
        *files.MIGRATIONS_DIR.glob("*.py"),
        *files.MIGRATIONS_DIR.glob("sql/*.sql"),
        *files.SEEDS_DIR.glob("*.sql"),
    ]
    assert len(wanted) > 5
    undeclared = [
        str(p.relative_to(package))
        for p in wanted
        if not any(fnmatch(str(p.relative_to(package)), g) for g in globs)
    ]
    assert undeclared == []
