"""Embedded services for `tau run --demo` on a machine with nothing installed.

`embedded_database_url` starts PostgreSQL from the `pgserver` wheel in the data
directory (it persists between runs) and returns a DSN for its unix socket, which
asyncpg, Alembic and `psql` all accept. `ensure_broker` starts an in-process `amqtt`
broker on 127.0.0.1 when nothing listens on the configured loopback MQTT port.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs

from tau.errors import ConfigurationError, DatabaseError
from tau.settings import MqttSettings, Settings

log = logging.getLogger("tau.embedded")

DATABASE_NAME = "tau"
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def data_directory(settings: Settings) -> Path:
    """`settings.data_dir`, else the per-user data directory (`~/.local/share/tau` on Linux)."""
    return settings.data_dir or Path(platformdirs.user_data_dir("tau"))


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
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        try:
            from pgserver.postgres_server import get_server
        except ImportError:
            raise ConfigurationError(
                "TAU_DATABASE_URL is unset and the embedded PostgreSQL (`pgserver`) is not "
                "installed on this platform; set TAU_DATABASE_URL to a PostgreSQL database"
            ) from None
    try:
        server: Any = get_server(pgdata, cleanup_mode="stop")
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
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        try:
            from pgserver.utils import PostmasterInfo
        except ImportError:
            raise ConfigurationError(
                "TAU_DATABASE_URL is unset and the embedded PostgreSQL (`pgserver`) is not "
                "installed"
            ) from None
    info = PostmasterInfo.read_from_pgdata(pgdata)
    if info is None or not info.is_running():
        raise DatabaseError(
            f"the embedded PostgreSQL in {pgdata} is not running: it runs while `tau run` "
            "does (for a backup without Tau running, use `tau db dump FILE`)"
        )
    return str(info.get_uri(database=DATABASE_NAME))


def _create_database(server: Any, pgdata: Path) -> None:
    from pgserver._commands import POSTGRES_BIN_PATH

    psql = [str(Path(POSTGRES_BIN_PATH) / "psql"), str(server.get_uri()), "-X", "-q", "-tA"]
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


@dataclass(slots=True)
class EmbeddedBroker:
    """An in-process amqtt broker; `stop()` closes its listener and client sessions."""

    host: str
    port: int
    _broker: Any

    async def stop(self) -> None:
        with contextlib.suppress(Exception):  # amqtt raises on a second shutdown
            await self._broker.shutdown()


async def _answers(host: str, port: int, timeout_s: float = 1.0) -> bool:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout_s)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


async def ensure_broker(settings: MqttSettings) -> EmbeddedBroker | None:
    """Start an embedded broker on 127.0.0.1:<port> if nothing answers there; else None.

    Only for a loopback host without TLS: a remote or TLS broker that does not answer
    is a configuration problem the MQTT session reports, not something to paper over.
    """
    if settings.host not in LOOPBACK or settings.tls is not None:
        return None
    if await _answers(settings.host, settings.port):
        return None
    for noisy in ("amqtt", "transitions"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        from amqtt.broker import Broker
    except ImportError:
        raise ConfigurationError(
            f"nothing listens on {settings.host}:{settings.port} and the embedded broker "
            "(`amqtt`) is not installed; start Mosquitto or set TAU_MQTT__HOST/PORT"
        ) from None
    config = {
        "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{settings.port}"}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }
    broker = Broker(config)
    try:
        await broker.start()
    except Exception as exc:  # noqa: BLE001 - amqtt wraps OS errors in its own BrokerError
        raise ConfigurationError(
            f"cannot start the embedded MQTT broker on 127.0.0.1:{settings.port}: {exc}; "
            "free the port or point TAU_MQTT__HOST/PORT at a running broker"
        ) from None
    return EmbeddedBroker("127.0.0.1", settings.port, broker)
