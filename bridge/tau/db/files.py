"""Where the SQL the running bridge needs lives: the package's data.

`tau/data/migrations` and `tau/data/seeds` are links to the repository's
`database/migrations` and `database/seeds` (PRODUCT.md fixes that layout, and
`alembic upgrade head` from `bridge/` reads `database/migrations` directly):
one copy of every file, nothing to keep in sync. A built wheel carries the files
themselves (`[tool.setuptools.package-data]`), so an installed Tau needs no
checkout. `TAU_MIGRATIONS_DIR` still overrides the migrations.
"""

from __future__ import annotations

from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
MIGRATIONS_DIR = DATA_DIR / "migrations"
SEEDS_DIR = DATA_DIR / "seeds"
