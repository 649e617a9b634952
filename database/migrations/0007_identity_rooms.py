"""One installation, its own Home Assistant entities (installation id, per-object uids); rooms.

The DDL lives in sql/0007_identity_rooms.sql (frozen) so that database/init.sql can
be generated from exactly the same text; see database/README.md.

Revision ID: 0007_identity_rooms
Revises: 0006_library_identity
Create Date: 2026-12-04
"""

from __future__ import annotations

from pathlib import Path

from tau.db.migrate import run_sql_file

revision = "0007_identity_rooms"
down_revision: str | None = "0006_library_identity"
branch_labels: str | None = None
depends_on: str | None = None

SQL = Path(__file__).resolve().parent / "sql"


def upgrade() -> None:
    run_sql_file(SQL / "0007_identity_rooms.sql")


def downgrade() -> None:
    run_sql_file(SQL / "0007_identity_rooms.down.sql")
