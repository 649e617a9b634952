"""Alembic environment for Tau: async, through SQLAlchemy's asyncpg dialect.

The DSN is `config.attributes["database_url"]` (set by `tau.db.migrate`), else
`TAU_DATABASE_URL`, else the embedded PostgreSQL. SQLAlchemy only hosts Alembic:
the connection itself is made by asyncpg from the DSN as given (unix sockets,
`?sslmode=` and the like behave exactly as in the bridge).
"""

from __future__ import annotations

import asyncio
from logging.config import fileConfig

import asyncpg
from alembic import context
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from tau.db.connect import plain_dsn
from tau.db.migrate import resolve_database_url

config = context.config
if config.config_file_name is not None:  # the `alembic` command with bridge/alembic.ini
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _database_url() -> str:
    url: str | None = config.attributes.get("database_url")
    if not url:
        url = resolve_database_url()
        config.attributes["database_url"] = url
    return url


def _migrate(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=None)
    with context.begin_transaction():
        context.run_migrations()


async def _run_online(url: str) -> None:
    dsn = plain_dsn(url)

    async def connect() -> asyncpg.Connection:
        return await asyncpg.connect(dsn, timeout=10)

    engine = create_async_engine("postgresql+asyncpg://", async_creator=connect, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_migrate)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    # `alembic upgrade head --sql`: print the SQL instead of running it.
    context.configure(url="postgresql://", dialect_name="postgresql", literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_online(_database_url()))
