"""${message}

Put this revision's DDL in sql/${up_revision}.sql (and its undo in
sql/${up_revision}.down.sql), then run `python3 database/build_init.py` so that
init.sql includes it. See database/README.md, "Adding a migration".

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}
"""

from __future__ import annotations

from pathlib import Path

from tau.db.migrate import run_sql_file

revision = ${repr(up_revision)}
down_revision: str | None = ${repr(down_revision)}
branch_labels: str | None = ${repr(branch_labels)}
depends_on: str | None = ${repr(depends_on)}

SQL = Path(__file__).resolve().parent / "sql"


def upgrade() -> None:
    run_sql_file(SQL / f"{revision}.sql")


def downgrade() -> None:
    run_sql_file(SQL / f"{revision}.down.sql")
