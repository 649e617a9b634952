"""Each library keeps its own rows: an imported model is one library's file and mode.

The DDL lives in sql/0006_library_identity.sql (frozen) so that database/init.sql can
be generated from exactly the same text; see database/README.md.

Revision ID: 0006_library_identity
Revises: 0005_effects_circadian
Create Date: 2026-12-04
"""

from __future__ import annotations

from pathlib import Path

from tau.db.migrate import run_sql_file

revision = "0006_library_identity"
down_revision: str | None = "0005_effects_circadian"
branch_labels: str | None = None
depends_on: str | None = None

SQL = Path(__file__).resolve().parent / "sql"


def upgrade() -> None:
    run_sql_file(SQL / "0006_library_identity.sql")


def downgrade() -> None:
    run_sql_file(SQL / "0006_library_identity.down.sql")
