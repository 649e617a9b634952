"""Effects with the fixture state and in scenes; circadian take-over and sleep settings.

The DDL lives in sql/0005_effects_circadian.sql (frozen) so that database/init.sql can
be generated from exactly the same text; see database/README.md.

Revision ID: 0005_effects_circadian
Revises: 0004_colour
Create Date: 2026-12-04
"""

from __future__ import annotations

from pathlib import Path

from tau.db.migrate import run_sql_file

revision = "0005_effects_circadian"
down_revision: str | None = "0004_colour"
branch_labels: str | None = None
depends_on: str | None = None

SQL = Path(__file__).resolve().parent / "sql"


def upgrade() -> None:
    run_sql_file(SQL / "0005_effects_circadian.sql")


def downgrade() -> None:
    run_sql_file(SQL / "0005_effects_circadian.down.sql")
