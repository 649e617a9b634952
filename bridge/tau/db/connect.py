"""Connecting to PostgreSQL: DSN handling, retries, and errors a user can act on."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import re
import socket
from urllib.parse import parse_qs, urlsplit

import asyncpg

from tau.backoff import Backoff
from tau.errors import ConfigurationError, DatabaseError
from tau.waiting import Waiting

log = logging.getLogger(__name__)


def plain_dsn(url: str) -> str:
    """asyncpg wants `postgresql://`; accept SQLAlchemy-style `postgresql+asyncpg://` too."""
    return re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql://", url)


# Up to the last "@" of the host part: asyncpg accepts an unescaped "@" in a password.
_USERINFO_PASSWORD = re.compile(r"(://[^:/?#@]*):[^/?#]*@")
# libpq-style parameters, which asyncpg honours too: `?password=...`, `&sslpassword=...`.
_PASSWORD_PARAMETER = re.compile(r"([?&](?:ssl)?password=)[^&#]*", re.IGNORECASE)


def redact(url: str) -> str:
    """The DSN with any password (user info or `password=` parameter) replaced, safe to log."""
    return _PASSWORD_PARAMETER.sub(r"\1***", _USERINFO_PASSWORD.sub(r"\1:***@", url, count=1))


def explain(exc: BaseException, url: str) -> str:
    """One sentence with the likely fix."""
    where = redact(url)
    if isinstance(exc, asyncpg.InvalidPasswordError):
        return f"PostgreSQL rejected the password for {where}: check TAU_DATABASE_URL"
    if isinstance(exc, asyncpg.InvalidCatalogNameError):
        return f"database in {where} does not exist: create it (createdb) or fix TAU_DATABASE_URL"
    if isinstance(exc, asyncpg.InvalidAuthorizationSpecificationError):
        return f"PostgreSQL refused the role in {where}: {exc}"
    if isinstance(exc, OSError | asyncio.TimeoutError | asyncpg.CannotConnectNowError):
        return f"cannot reach PostgreSQL at {where} ({exc or type(exc).__name__}): is it running?"
    return f"PostgreSQL error for {where}: {exc}"


def server_address(url: str) -> str:
    """`host:port` (or the unix socket directory) the DSN points at, without credentials."""
    try:
        parts = urlsplit(plain_dsn(url))
        host = parts.hostname or ""
        port = parts.port or 5432
    except ValueError:
        return redact(url)
    socket_dir = parse_qs(parts.query).get("host", [""])[0]
    if not host and socket_dir:
        return socket_dir
    if ":" in host:
        host = f"[{host}]"
    return f"{host or 'localhost'}:{port}"


def reason(exc: BaseException) -> str:
    """Why a connection attempt failed, in a few plain words."""
    if isinstance(exc, TimeoutError):
        return "no answer within 5 s"
    if isinstance(exc, socket.gaierror):
        return "unknown host name"
    if isinstance(exc, asyncpg.CannotConnectNowError):
        return "the server is starting up or shutting down"
    if isinstance(exc, ConnectionRefusedError) or (
        isinstance(exc, OSError)
        and (exc.errno == errno.ECONNREFUSED or "Connect call failed" in str(exc))
    ):
        return "connection refused"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc) or type(exc).__name__


def invalid_dsn(exc: BaseException) -> ConfigurationError:
    """asyncpg could not parse the DSN: the configuration's fault, said in one line."""
    detail = str(exc).split(":")[0] if "password" in str(exc).lower() else str(exc)
    return ConfigurationError(
        f"TAU_DATABASE_URL: is not a usable PostgreSQL URL ({detail}); "
        "e.g. TAU_DATABASE_URL=postgresql://tau:secret@127.0.0.1:5432/tau"
    )


# `application_name` of a bridge's connections (the nodes' lease connection says
# `tau node <name>`), so `pg_stat_activity` and `tau db restore` can tell a bridge is on.
BRIDGE_APPLICATION = "tau bridge"
BRIDGE_SETTINGS = {"application_name": BRIDGE_APPLICATION}


async def create_pool(
    url: str, *, retry: bool, stopping: asyncio.Event | None = None
) -> asyncpg.Pool:
    """Open a small pool; with `retry`, wait (capped backoff) until the server is up."""
    dsn = plain_dsn(url)
    backoff = Backoff(0.5, 5.0)
    waiting = Waiting(
        f"PostgreSQL at {server_address(url)}",
        hint="is it running? check TAU_DATABASE_URL",
        event="database_unreachable",
        logger=log,
    )
    while True:
        try:
            # min_size=0: asyncpg keeps a pool's floor with a background task that logs a
            # traceback on every failed retry while the server is down; our own writer and
            # info loop already report the outage once, in one line.
            pool: asyncpg.Pool = await asyncpg.create_pool(
                dsn,
                min_size=0,
                max_size=4,
                timeout=5,
                command_timeout=10,
                server_settings=BRIDGE_SETTINGS,
            )
            try:
                await pool.fetchval("SELECT 1")  # connect now: fail fast, not on first use
            except BaseException:
                pool.terminate()
                raise
            if waiting.waiting:
                log.info("event=database_connected url=%s", redact(url))
            waiting.done()
            return pool
        except (asyncpg.ClientConfigurationError, ValueError) as exc:
            raise invalid_dsn(exc) from None
        except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
            message = explain(exc, url)
            fatal = isinstance(exc, asyncpg.InvalidPasswordError | asyncpg.InvalidCatalogNameError)
            if not retry or fatal:
                raise DatabaseError(message) from None
            pause = backoff.delay()
            log.debug("event=database_retry retry_in=%.1fs detail=%r", pause, message)
            waiting.failed(reason(exc))
            if stopping is not None and stopping.is_set():
                raise DatabaseError(message) from None
            if stopping is None:
                await asyncio.sleep(pause)
            else:  # a SIGTERM while waiting ends the wait at once
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), pause)
                if stopping.is_set():
                    raise DatabaseError(message) from None
