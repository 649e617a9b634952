"""`tau db url|seed|dump|restore`: reach, fill, back up and restore the database Tau uses.

The database is `TAU_DATABASE_URL`, else the embedded PostgreSQL (`pgserver`) in the
data directory. The embedded server listens only on a unix socket in its data
directory and is a newer PostgreSQL than many distributions' clients, so `dump` and
`restore` run the `pg_dump`/`psql` that come with it; for `TAU_DATABASE_URL` they run
the ones on PATH (package `postgresql-client`).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import asyncpg

from tau.db.connect import BRIDGE_APPLICATION, explain, plain_dsn, redact
from tau.db.files import SEEDS_DIR
from tau.db.migrate import resolve_database_url
from tau.errors import DatabaseError, TauError

# A checkout (or the Docker image's /app) keeps the seeds next to the package.
CATALOGUE = ("02-fixture-models.sql", "03-switch-models.sql")
DEMO = "04-test-fixtures.sql"
T = TypeVar("T")


def _configured_url() -> str | None:
    return os.environ.get("TAU_DATABASE_URL") or None


def _embedded_url() -> str:
    from tau.embedded import embedded_database_url
    from tau.settings import load_settings

    return embedded_database_url(load_settings())


def database_url() -> tuple[str, bool]:
    """(DSN, embedded?): `TAU_DATABASE_URL`, else the embedded server, started if needed."""
    url = _configured_url()
    return (url, False) if url else (_embedded_url(), True)


def print_url() -> int:
    """`tau db url`: the DSN for psql/pg_dump. The embedded server must be running (it
    runs while `tau run` does); this command does not start one that would stop on exit."""
    url = _configured_url()
    if url is None:
        from tau.embedded import running_embedded_url
        from tau.settings import load_settings

        url = running_embedded_url(load_settings())
    print(plain_dsn(url))  # noqa: T201
    return 0


def seed(demo: bool) -> int:
    """`tau db seed [--demo]`: load the fixture and switch model catalogue (and the demo
    home). The files skip what exists, so seeding twice is harmless."""
    url, _ = database_url()
    files = [SEEDS_DIR / name for name in (*CATALOGUE, *((DEMO,) if demo else ()))]
    missing = [str(path) for path in files if not path.is_file()]
    if missing:
        raise DatabaseError(f"seed files missing: {', '.join(missing)}; run Tau from its checkout")
    asyncio.run(_execute(url, files))
    what = "fixture and switch models" + (" and the demo home" if demo else "")
    print(f"loaded {what} into {redact(plain_dsn(url))}")  # noqa: T201
    return 0


async def _execute(url: str, files: list[Path]) -> None:
    try:
        conn = await asyncpg.connect(plain_dsn(url), timeout=10)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        raise DatabaseError(explain(exc, url)) from None
    try:
        async with conn.transaction():
            for path in files:
                await conn.execute(path.read_text(encoding="utf-8"))
    except asyncpg.UndefinedTableError:
        raise DatabaseError(
            f"{redact(url)} has no Tau schema: run `tau db upgrade` first"
        ) from None
    except asyncpg.PostgresError as exc:
        raise DatabaseError(f"PostgreSQL refused the seeds: {exc}") from None
    finally:
        await conn.close()


def _tool(name: str, embedded: bool) -> str:
    if embedded:
        from tau.embedded import pgserver_bin_dir

        return str(pgserver_bin_dir() / name)
    found = shutil.which(name)
    if found is None:
        raise DatabaseError(
            f"{name} is not installed: install the PostgreSQL client tools "
            "(Debian/Ubuntu: `apt install postgresql-client`)"
        )
    return found


def _run(args: list[str], what: str, url: str) -> None:
    try:
        result = subprocess.run(args, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise DatabaseError(f"cannot run {args[0]}: {exc.strerror}") from None
    if result.returncode != 0:
        detail = result.stderr.strip().replace(url, redact(url)) or f"exit {result.returncode}"
        raise DatabaseError(f"{what} failed: {detail}")


def dump(path: str) -> int:
    """`tau db dump FILE`: plain SQL with `--clean --if-exists`, so `tau db restore`
    (or `psql -f`) replaces what the target database holds instead of colliding with it."""
    url, embedded = database_url()
    dsn = plain_dsn(url)
    args = [_tool("pg_dump", embedded), "--clean", "--if-exists", "-d", dsn, "-f", path]
    _run(args, "pg_dump", dsn)
    print(f"dumped {redact(dsn)} to {path}", file=sys.stderr)  # noqa: T201
    return 0


# A bridge's connections: its pool and LISTEN connection, and its node's lease connection.
BRIDGES_CONNECTED = """
SELECT application_name, backend_start FROM pg_stat_activity
 WHERE datname = current_database() AND pid <> pg_backend_pid()
   AND (application_name = $1 OR application_name LIKE 'tau node %')
 ORDER BY backend_start
"""


# A bridge that was just stopped may still show for a moment while its backends exit.
GONE_WITHIN_S = 1.0


async def _bridges_connected(dsn: str) -> list[str]:
    try:
        conn = await asyncpg.connect(dsn, timeout=10)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        raise DatabaseError(explain(exc, dsn)) from None
    try:
        deadline = time.monotonic() + GONE_WITHIN_S
        while True:
            rows = await conn.fetch(BRIDGES_CONNECTED, BRIDGE_APPLICATION)
            if not rows or time.monotonic() >= deadline:
                return sorted({r["application_name"] for r in rows})
            await asyncio.sleep(0.1)
    finally:
        await conn.close()


def restore(path: str, force: bool = False) -> int:
    """`tau db restore FILE`: run a dump in one transaction. Refused while a bridge is
    connected to the database (it would go on with the old installation in memory and
    write its state over the restored one), unless `force`."""
    if not Path(path).is_file():
        raise DatabaseError(f"no such dump file: {path}")
    url, embedded = database_url()
    dsn = plain_dsn(url)
    connected = asyncio.run(_bridges_connected(dsn))
    if connected and not force:
        raise DatabaseError(
            f"a Tau bridge is connected to {redact(dsn)} ({', '.join(connected)}): stop it "
            "first (Ctrl-C where `tau run` runs, `systemctl stop tau`, or `docker compose "
            "stop bridge`), then restore; --force restores anyway"
        )
    args = [_tool("psql", embedded), "-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction"]
    _run([*args, "-d", dsn, "-f", path], "restore", dsn)
    print(f"restored {path} into {redact(dsn)}", file=sys.stderr)  # noqa: T201
    return 0


def database_at_hand() -> str | None:
    """`TAU_DATABASE_URL`, else the embedded server's DSN while it runs; None when there
    is neither (nothing is started: for a command that only adds what the database says)."""
    url = _configured_url()
    if url is not None:
        return url
    from tau.embedded import running_embedded_url
    from tau.settings import load_settings

    try:
        return running_embedded_url(load_settings())
    except TauError:
        return None


def with_connection(
    work: Callable[[asyncpg.Connection], Awaitable[T]], url: str | None = None
) -> T:
    """Run `work` on one connection to `url`, else the database Tau uses (for one CLI
    command); an unreachable server or a missing schema is a `DatabaseError` saying what
    to do."""
    url = url or resolve_database_url()

    async def main() -> T:
        try:
            conn = await asyncpg.connect(plain_dsn(url), timeout=10)
        except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
            raise DatabaseError(explain(exc, url)) from None
        try:
            return await work(conn)
        except (asyncpg.UndefinedTableError, asyncpg.UndefinedColumnError):
            raise DatabaseError(
                "the database has no Tau schema, or an older one: run `tau db upgrade`"
            ) from None
        finally:
            await conn.close()

    return asyncio.run(main())
