"""Schema migrations: Alembic through SQLAlchemy's asyncpg dialect, behind `tau db`.

`run_db_command("upgrade", "head")` is what `tau db upgrade` runs; `upgrade_head(url)`
is for code (the bridge at start, tests). Both configure Alembic in code, so they
work from any directory; `bridge/alembic.ini` is the same setup for the `alembic`
command run from `bridge/`. Failures become `DatabaseError`s with one sentence that
says what to fix, and never contain the DSN's password.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import asyncpg

from tau.db.connect import explain, plain_dsn, redact
from tau.db.files import MIGRATIONS_DIR
from tau.errors import ConfigurationError, DatabaseError, TauError

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)

ALEMBIC_DIR = Path(__file__).resolve().parent.parent / "alembic"
COMMANDS = ("upgrade", "downgrade", "current", "history")
# Errors that mean "could not connect": explained with the fix for the DSN.
_CONNECT_ERRORS = (
    OSError,
    TimeoutError,
    asyncpg.InvalidPasswordError,
    asyncpg.InvalidCatalogNameError,
    asyncpg.InvalidAuthorizationSpecificationError,
    asyncpg.CannotConnectNowError,
)


def migrations_dir() -> Path:
    """`TAU_MIGRATIONS_DIR`, else the migrations the package carries."""
    configured = os.environ.get("TAU_MIGRATIONS_DIR")
    path = Path(configured) if configured else MIGRATIONS_DIR
    if not path.is_dir():
        raise DatabaseError(
            f"the migrations directory {path} does not exist: reinstall Tau "
            "or set TAU_MIGRATIONS_DIR to database/migrations"
        )
    return path


def resolve_database_url() -> str:
    """`TAU_DATABASE_URL`, else the embedded PostgreSQL (started on demand)."""
    from tau.embedded import embedded_database_url
    from tau.settings import load_settings

    url = os.environ.get("TAU_DATABASE_URL")
    if url:
        load_settings()  # one clear line for a malformed URL (or any other setting)
        return url

    return embedded_database_url(load_settings())


def alembic_config(database_url: str | None = None) -> Config:
    """An Alembic `Config` for Tau's environment; the DSN is resolved lazily when None."""
    from alembic.config import Config

    config = Config(stdout=sys.stdout)  # the current stdout, not the one at import time
    # ConfigParser interpolates '%': escape it in paths; os.pathsep splits, so spaces are safe.
    config.set_main_option("path_separator", "os")
    config.set_main_option("script_location", str(ALEMBIC_DIR).replace("%", "%%"))
    config.set_main_option("version_locations", str(migrations_dir()).replace("%", "%%"))
    config.attributes["database_url"] = database_url
    return config


def async_engine_url(url: str) -> str:
    """`postgres://` / `postgresql://` → `postgresql+asyncpg://` (SQLAlchemy's spelling)."""
    return "postgresql+asyncpg://" + plain_dsn(url).removeprefix("postgresql://")


def run_db_command(command: str, revision: str | None) -> int:
    """`tau db upgrade|downgrade|current|history`; returns the exit status."""
    if command not in COMMANDS:
        raise DatabaseError(f"unknown database command {command!r}: use one of {COMMANDS}")
    if command == "downgrade" and not revision:
        raise DatabaseError("downgrade needs a revision: e.g. `tau db downgrade -1` or `base`")
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING, format="%(message)s")
        logging.getLogger("alembic.runtime.migration").setLevel(logging.INFO)
    try:
        _run_alembic(command, revision, None)
    finally:
        if not os.environ.get("TAU_DATABASE_URL"):
            from tau.embedded import stop_embedded_database_if_unused
            from tau.settings import load_settings

            with contextlib.suppress(TauError):  # a bad setting was reported already
                stop_embedded_database_if_unused(load_settings())
    return 0


def upgrade_head(database_url: str) -> None:
    """Migrate the database to the newest revision; safe to call from a running event loop."""
    _run_alembic("upgrade", "head", database_url)


def _run_alembic(command: str, revision: str | None, database_url: str | None) -> None:
    # env.py drives asyncpg with asyncio.run(), which cannot nest in a running loop:
    # Alembic always gets a thread (and so an event loop) of its own.
    failure: list[BaseException] = []

    def work() -> None:
        try:
            _alembic(command, revision, database_url)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            failure.append(exc)

    worker = threading.Thread(target=work, name=f"tau-db-{command}", daemon=True)
    worker.start()
    worker.join()
    if failure:
        raise failure[0]


def _alembic(command: str, revision: str | None, database_url: str | None) -> None:
    from alembic import command as alembic_command
    from alembic.util.exc import CommandError

    config = alembic_config(database_url)
    try:
        if command == "upgrade":
            alembic_command.upgrade(config, revision or "head")
        elif command == "downgrade":
            alembic_command.downgrade(config, revision or "-1")
        elif command == "current":
            alembic_command.current(config)
        else:
            alembic_command.history(config)
    except (DatabaseError, ConfigurationError):
        raise
    except CommandError as exc:
        raise DatabaseError(f"{command} failed: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - any failure becomes one sentence for the user
        raise DatabaseError(_describe(exc, config)) from None


def _describe(exc: BaseException, config: Config) -> str:
    """One sentence for a failed migration, from the innermost driver or socket error."""
    url = config.attributes.get("database_url") or "the database"
    for cause in _chain(exc):
        if isinstance(cause, _CONNECT_ERRORS):
            return explain(cause, url)
        if isinstance(cause, asyncpg.PostgresError):
            return (
                f"migrating {redact(url)} failed: {cause}; the change was rolled back "
                "(is this a Tau database, and does the role own its tables?)"
            )
    return f"migrating {redact(url)} failed: {exc}"


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        item = todo.pop(0)
        if item is None or any(item is s for s in seen):
            continue
        seen.append(item)
        todo += [getattr(item, "orig", None), item.__cause__, item.__context__]
    return seen


def run_sql_file(path: Path) -> None:
    """Execute a migration's SQL file verbatim (plain SQL, `$$` bodies, many statements).

    For use inside Alembic revision scripts. The text goes to asyncpg unchanged (no
    SQLAlchemy bind-parameter parsing of `:name`), inside the migration's transaction.
    """
    from alembic import context, op
    from sqlalchemy.util import await_only

    sql = path.read_text(encoding="utf-8")
    if context.is_offline_mode():
        op.get_context().impl.static_output(sql)
        return
    bind = op.get_bind()
    bind.exec_driver_sql("SELECT 1")  # makes SQLAlchemy open the migration's transaction
    driver = bind.connection.driver_connection
    if driver is None:
        raise DatabaseError("the migration connection is closed")
    await_only(driver.execute(sql))
