"""Fixtures for the schema tests: a fresh Tau database per test (template copies)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
import pytest_asyncio
from testkit.db import create_database, drop_database


def unique_name(prefix: str = "tau_test_db") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def fresh_database(pg_admin_url: str) -> Iterator[tuple[str, str]]:
    """An empty database (no schema): (name, url); dropped at teardown."""
    name = unique_name()
    url = create_database(pg_admin_url, name, schema=False)
    try:
        yield name, url
    finally:
        drop_database(pg_admin_url, name)


@pytest.fixture
def schema_url(pg_admin_url: str) -> Iterator[str]:
    """A database with the Tau schema at head and no data."""
    name = unique_name()
    url = create_database(pg_admin_url, name)
    try:
        yield url
    finally:
        drop_database(pg_admin_url, name)


@pytest.fixture
def seeded_url(pg_admin_url: str) -> Iterator[str]:
    """A database with the schema and the three seed files."""
    name = unique_name()
    url = create_database(pg_admin_url, name, seeds=True)
    try:
        yield url
    finally:
        drop_database(pg_admin_url, name)


# The suite's default fixture loop is the session's; tests run on their own loop, so
# connections used by a test must be made on that (function) loop.
@pytest_asyncio.fixture(loop_scope="function")
async def db(schema_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection to an empty Tau database."""
    conn = await asyncpg.connect(schema_url)
    try:
        yield conn
    finally:
        await conn.close()


@pytest_asyncio.fixture(loop_scope="function")
async def seeded(seeded_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection to the seeded demo home."""
    conn = await asyncpg.connect(seeded_url)
    try:
        yield conn
    finally:
        await conn.close()
