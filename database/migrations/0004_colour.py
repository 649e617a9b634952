"""Colour as the libraries say: CTC channel scales in `channels`, `constant_output`.

The DDL lives in sql/0004_colour.sql (frozen) so that database/init.sql can
be generated from exactly the same text; see database/README.md.

Revision ID: 0004_colour
Revises: 0003_nodes
Create Date: 2026-12-04
"""

from __future__ import annotations

from pathlib import Path

from tau.db.migrate import run_sql_file

revision = "0004_colour"
down_revision: str | None = "0003_nodes"
branch_labels: str | None = None
depends_on: str | None = None

SQL = Path(__file__).resolve().parent / "sql"


def upgrade() -> None:
    run_sql_file(SQL / "0004_colour.sql")


def downgrade() -> None:
    run_sql_file(SQL / "0004_colour.down.sql")
