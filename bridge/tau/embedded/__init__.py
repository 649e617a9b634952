"""Embedded services for `tau run --demo` on a machine with nothing installed.

`embedded_database_url` starts PostgreSQL from the `pgserver` wheel in the data
directory (it persists between runs) and returns a DSN for its unix socket, which
asyncpg, Alembic and `psql` all accept. The data directory and its lock live here
too; the embedded broker (`ensure_broker`) is `tau.embedded.broker`.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import importlib
import logging
import os
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs

from tau.embedded.broker import (
    AMQTT_NOTE,
    INSTALL_EMBEDDED,
    EmbeddedBroker,
    ensure_broker,
    find_mosquitto,
)
from tau.errors import ConfigurationError, DatabaseError
from tau.settings import Settings

log = logging.getLogger("tau.embedded")

__all__ = [  # the broker's names too, as `tau.embedded` has always offered them
    "AMQTT_NOTE",
    "EmbeddedBroker",
    "data_directory",
    "embedded_database_url",
    "ensure_broker",
    "find_mosquitto",
    "lock_data_directory",
    "pgserver_bin_dir",
    "running_embedded_url",
    "stop_embedded_database",
    "stop_embedded_database_if_unused",
]

DATABASE_NAME = "tau"


def data_directory(settings: Settings) -> Path:
    """`settings.data_dir`, else the per-user data directory (`~/.local/share/tau` on Linux)."""
    return settings.data_dir or Path(platformdirs.user_data_dir("tau"))


LOCK_FILE = "tau.lock"
ROOT_NOTE = (
    "running as root: PostgreSQL refuses to, so pgserver runs it as the system user "
    "'pgserver' (created with useradd if missing), which owns the data directory; the "
    "directories above it are made traversable (o+rx) for that user. Run Tau as a normal "
    "user, or set TAU_DATABASE_URL, to avoid both"
)


@dataclass(slots=True)
class DataLock:
    """An exclusive `flock` on `<data dir>/tau.lock`, held while one Tau uses the directory."""

    path: Path
    fd: int | None

    def release(self) -> None:
        fd, self.fd = self.fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            os.close(fd)  # closing the descriptor releases the lock


def lock_data_directory(settings: Settings) -> DataLock:
    """Take the data directory for this process, or say which Tau already has it.

    The lock is released by the kernel when the process ends, however it ends.
    """
    directory = data_directory(settings)
    path = directory / LOCK_FILE
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise ConfigurationError(
            f"cannot create the data directory {directory}: {exc.strerror}; "
            "set TAU_DATA_DIR to a writable directory or TAU_DATABASE_URL to an existing database"
        ) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
        os.close(fd)
        who = f"another Tau (pid {holder})" if holder.isdigit() else "another Tau"
        raise ConfigurationError(
            f"{who} is already running on the embedded database in {directory}: stop it, "
            "or give this one its own TAU_DATA_DIR (or a TAU_DATABASE_URL)"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return DataLock(path, fd)


def embedded_database_url(settings: Settings) -> str:
    """Start (or reuse) the embedded PostgreSQL, create database `tau` if missing, return its DSN.

    Blocking: call it from a worker thread. Running as root, pgserver runs the
    server as a dedicated `pgserver` system account (PostgreSQL refuses root), creating
    it if needed and making the data directory's parents traversable for it.
    """
    pgdata = data_directory(settings) / "postgres"
    try:
        pgdata.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigurationError(
            f"cannot create the data directory {pgdata.parent}: {exc.strerror}; "
            "set TAU_DATA_DIR to a writable directory or TAU_DATABASE_URL to an existing database"
        ) from None
    root = hasattr(os, "geteuid") and os.geteuid() == 0
    log.info(
        "event=embedded_database_starting data=%s%s",
        pgdata,
        f" note={ROOT_NOTE!r}" if root else "",
    )
    get_server = _pgserver("pgserver.postgres_server").get_server
    try:
        # Tau decides when the server stops (`stop_embedded_database`): pgserver's own
        # reference counting never forgets a process killed with -9, and after one such
        # crash it would leave the server running for good.
        server: Any = get_server(pgdata, cleanup_mode=None)
        if not (pgdata / "postmaster.pid").exists():
            # a handle kept from earlier in this process, its server stopped since
            server.ensure_postgres_running()
    except (subprocess.SubprocessError, OSError, AssertionError) as exc:
        raise DatabaseError(
            f"the embedded PostgreSQL in {pgdata} did not start ({exc}); "
            f"see {pgdata / 'log'}, or set TAU_DATABASE_URL to an existing database"
        ) from None
    _create_database(server, pgdata)
    return str(server.get_uri(database=DATABASE_NAME))


def running_embedded_url(settings: Settings) -> str:
    """The DSN of the embedded PostgreSQL if it is running (it runs while `tau run` does);
    nothing is started. For `tau db url`, so `psql "$(tau db url)"` reaches its socket."""
    pgdata = data_directory(settings) / "postgres"
    info = _pgserver("pgserver.utils").PostmasterInfo.read_from_pgdata(pgdata)
    if info is None or not info.is_running():
        raise DatabaseError(
            f"the embedded PostgreSQL in {pgdata} is not running: it runs while `tau run` "
            "does (for a backup without Tau running, use `tau db dump FILE`)"
        )
    return str(info.get_uri(database=DATABASE_NAME))


def _pgserver(module: str) -> Any:
    """Import (a part of) pgserver quietly, or say in one line that it is missing."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        try:
            return importlib.import_module(module)
        except ImportError:
            raise ConfigurationError(
                "TAU_DATABASE_URL is unset and the embedded PostgreSQL (`pgserver`) is not "
                f"installed: {INSTALL_EMBEDDED}, or set TAU_DATABASE_URL to a PostgreSQL "
                "database"
            ) from None


@functools.cache
def pgserver_bin_dir() -> Path:
    """The PostgreSQL programs that come with pgserver (its server is newer than the
    system's client tools), asked through pgserver's public `pg_config` wrapper."""
    # pgserver makes one function per program at import time (`pg_config` among them).
    return Path(_pgserver("pgserver").pg_config(["--bindir"]).strip())


def _system_user() -> str | None:
    """The account pgserver runs PostgreSQL as: `pgserver` when Tau runs as root."""
    return "pgserver" if hasattr(os, "geteuid") and os.geteuid() == 0 else None


def stop_embedded_database(settings: Settings) -> bool:
    """Stop the embedded PostgreSQL if it runs (`pg_ctl stop -m fast`); True if it was stopped.

    Blocking: call it from a worker thread in async code.
    """
    pgdata = data_directory(settings) / "postgres"
    if not (pgdata / "postmaster.pid").exists():
        return False
    pg_ctl = str(pgserver_bin_dir() / "pg_ctl")
    try:
        done = subprocess.run(
            [pg_ctl, "-D", str(pgdata), "-m", "fast", "-w", "stop"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            user=_system_user(),
            check=False,
        )
    except (subprocess.TimeoutExpired, OSError) as exc:
        log.warning("event=embedded_database_stop_failed data=%s error=%r", pgdata, exc)
        return False
    if done.returncode != 0:
        log.debug("event=embedded_database_not_stopped data=%s detail=%r", pgdata, done.stderr)
        return False
    log.debug("event=embedded_database_stopped data=%s", pgdata)
    return True


def stop_embedded_database_if_unused(settings: Settings) -> None:
    """After `tau check` or `tau db`: stop the embedded PostgreSQL unless a `tau run` uses it."""
    try:
        lock = lock_data_directory(settings)
    except ConfigurationError:
        return  # a running Tau holds the directory and keeps its server
    try:
        stop_embedded_database(settings)
    finally:
        lock.release()


def _create_database(server: Any, pgdata: Path) -> None:
    psql = [str(pgserver_bin_dir() / "psql"), str(server.get_uri()), "-X", "-q", "-tA"]
    psql += ["-v", "ON_ERROR_STOP=1"]
    exists_sql = "SELECT 1 FROM pg_database WHERE datname = 'tau'"  # DATABASE_NAME
    try:
        found = subprocess.run(
            [*psql, "-c", exists_sql], capture_output=True, text=True, check=True, timeout=30
        )
        if found.stdout.strip() != "1":
            subprocess.run(
                [*psql, "-c", "CREATE DATABASE tau"],
                capture_output=True,
                text=True,
                check=True,
                timeout=60,
            )
    except subprocess.CalledProcessError as exc:
        raise DatabaseError(
            f"the embedded PostgreSQL in {pgdata} refused to create database "
            f"{DATABASE_NAME!r}: {exc.stderr.strip()}"
        ) from None
    except (subprocess.TimeoutExpired, OSError) as exc:
        raise DatabaseError(f"the embedded PostgreSQL in {pgdata} did not answer: {exc}") from None
