"""Initial Tau schema: installation model, runtime state, rules, NOTIFY, views.

The DDL lives in sql/0001_initial.sql (frozen) so that database/init.sql can be
generated from exactly the same text; see database/README.md.

Revision ID: 0001_initial
Revises:
Create Date: 2025-11-24
"""

from __future__ import annotations

from pathlib import Path

from tau.db.migrate import run_sql_file

revision = "0001_initial"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

SQL = Path(__file__).resolve().parent / "sql"


def upgrade() -> None:
    run_sql_file(SQL / "0001_initial.sql")


def downgrade() -> None:
    run_sql_file(SQL / "0001_initial.down.sql")
