"""Throwaway Tau databases for tests: `create_database(admin_url, name, schema=..., seeds=...)`.

The first call per (schema, seeds) combination builds a template database from
`database/init.sql` (+ the seeds) once per process; every database after that is a
`CREATE DATABASE ... TEMPLATE` copy, which takes milliseconds. Templates are dropped
when the process exits. Everything is synchronous (each call runs its own event
loop in a worker thread), so it is safe from sync tests, fixtures and async tests.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import shutil
import subprocess
import threading
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
DATABASE_DIR = ROOT / "database"
INIT_SQL = DATABASE_DIR / "init.sql"
# The newest Alembic revision: its SQL file sorts last (see database/build_init.py).
HEAD_REVISION = sorted(
    p.stem
    for p in (DATABASE_DIR / "migrations" / "sql").glob("[0-9][0-9][0-9][0-9]_*.sql")
    if not p.name.endswith(".down.sql")
)[-1]
SEED_FILES = (
    DATABASE_DIR / "seeds" / "02-fixture-models.sql",
    DATABASE_DIR / "seeds" / "03-switch-models.sql",
    DATABASE_DIR / "seeds" / "04-test-fixtures.sql",
)

T = TypeVar("T")
_lock = threading.Lock()
_templates: dict[tuple[str, bool, bool], str] = {}
_RUN = uuid.uuid4().hex[:8]


def database_url(admin_url: str, name: str) -> str:
    """`admin_url` pointing at database `name` instead (host, user, query kept)."""
    parts = urlsplit(admin_url)
    return urlunsplit(parts._replace(path="/" + name))


def run_async(factory: Callable[[], Awaitable[T]], timeout: float = 120) -> T:
    """Run a coroutine to completion on a fresh loop in a worker thread."""

    async def main() -> T:
        return await factory()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, main()).result(timeout)


def sql(url: str, query: str, *args: object) -> list[dict[str, Any]]:
    """Run one statement on a connection of its own; the rows as dicts. Safe to call
    from a test that runs inside an event loop (the work happens in `run_async`)."""

    async def fetch() -> list[dict[str, Any]]:
        conn = await asyncpg.connect(url, timeout=5)
        try:
            return [dict(r) for r in await conn.fetch(query, *args)]
        finally:
            await conn.close()

    return run_async(fetch, timeout=60)


def tool(name: str) -> str:
    """A PostgreSQL client program (psql, pg_dump): PATH first, then the server's bin dir."""
    found = shutil.which(name)
    if found:
        return found
    from testkit.services import postgres_bin_dir

    return str(postgres_bin_dir() / name)


def psql(url: str, *args: str, cwd: Path | None = None, stdin: str | None = None) -> str:
    """Run psql with ON_ERROR_STOP; returns stdout, raises with stderr on failure."""
    cmd = [tool("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, *args]
    result = subprocess.run(
        cmd, cwd=cwd, input=stdin, capture_output=True, text=True, check=False, timeout=120
    )
    if result.returncode != 0:
        raise RuntimeError(f"psql {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
    return result.stdout


async def _admin(admin_url: str, sql: str) -> None:
    conn = await asyncpg.connect(admin_url, timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def execute_admin(admin_url: str, sql: str) -> None:
    """Run one statement on the maintenance database (CREATE/DROP DATABASE, roles)."""
    run_async(lambda: _admin(admin_url, sql))


def drop_database(admin_url: str, name: str) -> None:
    """Drop `name` even if connections are still open."""
    execute_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _load(url: str, files: list[Path]) -> None:
    conn = await asyncpg.connect(url, timeout=10)
    try:
        for path in files:
            await conn.execute(path.read_text(encoding="utf-8"))
    finally:
        await conn.close()


def load_files(url: str, files: list[Path]) -> None:
    """Execute SQL files (plain SQL, no psql meta-commands) in order."""
    run_async(lambda: _load(url, files))


def _template(admin_url: str, schema: bool, seeds: bool) -> str:
    key = (admin_url, schema, seeds)
    with _lock:
        name = _templates.get(key)
        if name is not None:
            return name
        name = f"tau_test_tpl_{_RUN}_{int(schema)}{int(seeds)}"
        drop_database(admin_url, name)
        execute_admin(admin_url, f'CREATE DATABASE "{name}"')
        files = ([INIT_SQL] if schema else []) + (list(SEED_FILES) if seeds else [])
        try:
            load_files(database_url(admin_url, name), files)
        except BaseException:
            drop_database(admin_url, name)
            raise
        _templates[key] = name
        return name


def create_database(admin_url: str, name: str, *, schema: bool = True, seeds: bool = False) -> str:
    """Create database `name` (Tau schema at head, optionally the seeds); returns its DSN.

    The caller drops it (`drop_database`) when done.
    """
    if seeds and not schema:
        raise ValueError("seeds need the schema")
    template = _template(admin_url, schema, seeds)
    for attempt in range(20):
        try:
            execute_admin(admin_url, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
            break
        except asyncpg.ObjectInUseError:
            # another thread is copying the same template right now
            if attempt == 19:
                raise
            threading.Event().wait(0.1 * (attempt + 1))
    url = database_url(admin_url, name)
    if schema:
        # A copy of the template would share its installation id: each test database is
        # an installation of its own, as two real ones are (their Home Assistant entities
        # differ).
        run_async(lambda: _admin(url, "UPDATE installation SET id = gen_random_uuid()"))
    return url


@atexit.register
def _drop_templates() -> None:
    # At interpreter exit executors refuse new work (asyncpg's DNS lookup needs one): psql.
    for (admin_url, _, _), name in list(_templates.items()):
        with contextlib.suppress(Exception):
            psql(admin_url, "-c", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _templates.clear()


def object_key(url: str, table: str, ident: int) -> str:
    """The `<kind>_<key>` part of an object's Home Assistant config topic and unique id:
    its uid without dashes (`fixtures`, `groups`, `scenes` or `switches`)."""
    if table not in ("fixtures", "groups", "scenes", "switches"):
        raise ValueError(table)
    rows = sql(url, f"SELECT replace(uid::text, '-', '') AS key FROM {table} WHERE id = $1", ident)  # noqa: S608
    return str(rows[0]["key"])
