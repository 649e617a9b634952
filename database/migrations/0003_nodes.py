"""Several bridges: node heartbeats and leases (leader, universes) in PostgreSQL.

The DDL lives in sql/0003_nodes.sql (frozen) so that database/init.sql can
be generated from exactly the same text; see database/README.md.

Revision ID: 0003_nodes
Revises: 0002_fixture_library
Create Date: 2026-12-01
"""

from __future__ import annotations

from pathlib import Path

from tau.db.migrate import run_sql_file

revision = "0003_nodes"
down_revision: str | None = "0002_fixture_library"
branch_labels: str | None = None
depends_on: str | None = None

SQL = Path(__file__).resolve().parent / "sql"


def upgrade() -> None:
    run_sql_file(SQL / "0003_nodes.sql")


def downgrade() -> None:
    run_sql_file(SQL / "0003_nodes.down.sql")
