"""Fixture library: more emitter roles, fixed channels, heads and where a model came from.

The DDL lives in sql/0002_fixture_library.sql (frozen) so that database/init.sql can
be generated from exactly the same text; see database/README.md.

Revision ID: 0002_fixture_library
Revises: 0001_initial
Create Date: 2026-12-01
"""

from __future__ import annotations

from pathlib import Path

from tau.db.migrate import run_sql_file

revision = "0002_fixture_library"
down_revision: str | None = "0001_initial"
branch_labels: str | None = None
depends_on: str | None = None

SQL = Path(__file__).resolve().parent / "sql"


def upgrade() -> None:
    run_sql_file(SQL / "0002_fixture_library.sql")


def downgrade() -> None:
    run_sql_file(SQL / "0002_fixture_library.down.sql")
