"""Embedded services for `tau run --demo` on a machine with nothing installed.

`embedded_database_url` starts PostgreSQL from the `pgserver` wheel in the data
directory (it persists between runs) and returns a DSN for its unix socket, which
asyncpg, Alembic and `psql` all accept. `ensure_broker` starts a broker on 127.0.0.1
when nothing listens on the configured loopback MQTT port: Mosquitto as a child
process when it is installed, else the in-process `amqtt`.

amqtt 0.12 sends every newly connected client the retained messages matching every
other client's subscriptions (`Broker._handle_client_session`), so with a wildcard
subscriber on `tau/#` each short-lived `mosquitto_pub` is flooded with Tau's retained
states, disconnects in the middle of it, and its own PUBLISH is dropped (with a
"Task exception was never retrieved" per unsent message). That cannot be fixed from
outside amqtt: Mosquitto is preferred, amqtt's errors are kept at DEBUG, and the
start-up line says so when amqtt is used.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import fcntl
import functools
import getpass
import importlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Awaitable, Callable
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
                "installed on this platform; set TAU_DATABASE_URL to a PostgreSQL database"
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


PR_SET_PDEATHSIG = 1  # <sys/prctl.h>
MOSQUITTO_DIRS = ("/usr/sbin", "/usr/local/sbin", "/opt/homebrew/sbin")
AMQTT_NOTE = (
    "amqtt can drop a message published while a wildcard subscriber (mosquitto_sub -t "
    "'tau/#') is connected; install Mosquitto for the embedded broker to be one"
)


def find_mosquitto() -> str | None:
    """The `mosquitto` broker binary: on PATH, else in the usual sbin directories."""
    found = shutil.which("mosquitto")
    if found is None:
        found = shutil.which("mosquitto", path=os.pathsep.join(MOSQUITTO_DIRS))
    return found


@dataclass(slots=True)
class EmbeddedBroker:
    """A broker Tau started for `tau run --demo`; `stop()` ends it (idempotent).

    `kind` is "mosquitto" (a child process with a generated configuration) or "amqtt"
    (in-process, the fallback when no Mosquitto is installed).
    """

    host: str
    port: int
    kind: str
    _stop: Callable[[], Awaitable[None]] | None

    async def stop(self) -> None:
        stop, self._stop = self._stop, None
        if stop is not None:
            await stop()


async def _answers(host: str, port: int, timeout_s: float = 1.0) -> bool:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout_s)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


async def ensure_broker(
    settings: MqttSettings,
    *,
    mosquitto: str | bool | None = True,
    workdir: Path | None = None,
) -> EmbeddedBroker | None:
    """Start an embedded broker on 127.0.0.1:<port> if nothing answers there; else None.

    Only for a loopback host without TLS: a remote or TLS broker that does not answer
    is a configuration problem the MQTT session reports, not something to paper over.
    `mosquitto`: True finds the binary (`find_mosquitto`), a path uses that one, False or
    None (not installed) falls back to the in-process amqtt broker. Mosquitto's generated
    configuration and its log go to `workdir` (`mosquitto-<port>.conf/.log`, kept for a
    look after a problem), else to a temporary directory removed at stop.
    """
    if settings.host not in LOOPBACK or settings.tls is not None:
        return None
    if await _answers(settings.host, settings.port):
        return None
    binary = find_mosquitto() if mosquitto is True else mosquitto or None
    if binary:
        return await _start_mosquitto(binary, settings.port, workdir)
    return await _start_amqtt(settings.port)


def _same_user() -> str:
    """`user <name>` keeping Mosquitto the user Tau runs as (as root it would switch to
    `mosquitto`, and a change of user clears the parent-death signal)."""
    try:
        return f"user {getpass.getuser()}\n"
    except (KeyError, OSError):
        return ""


def _die_with_parent() -> None:
    """In the child before exec (Linux): SIGTERM when Tau ends, even by kill -9."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


async def _start_mosquitto(binary: str, port: int, workdir: Path | None) -> EmbeddedBroker:
    owned = workdir is None  # a temporary directory, removed again at stop
    if workdir is None:
        workdir = Path(tempfile.mkdtemp(prefix="tau-mosquitto-"))
    else:
        try:
            workdir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigurationError(
                f"cannot create {workdir} for the embedded MQTT broker: {exc.strerror}; "
                "set TAU_DATA_DIR to a writable directory"
            ) from None
    config = workdir / f"mosquitto-{port}.conf"
    config.write_text(
        "# generated by Tau for `tau run --demo` at each start\n"
        f"{_same_user()}listener {port} 127.0.0.1\n"
        "allow_anonymous true\n"
        "persistence false\n"
        "log_dest stderr\n"
        "log_type error\n"
        "log_type warning\n"
    )
    log_path = workdir / f"mosquitto-{port}.log"
    with log_path.open("wb") as log_file:
        proc = await asyncio.create_subprocess_exec(
            binary,
            "-c",
            str(config),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C in the terminal is Tau's to handle
            preexec_fn=_die_with_parent,
        )

    async def stop() -> None:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 5)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        if owned:
            shutil.rmtree(workdir, ignore_errors=True)

    deadline = time.monotonic() + 5
    while not await _answers("127.0.0.1", port, 0.5):
        if proc.returncode is not None or time.monotonic() > deadline:
            detail = log_path.read_text(errors="replace").strip().splitlines()
            await stop()
            raise ConfigurationError(
                f"cannot start the embedded MQTT broker ({binary}) on 127.0.0.1:{port}: "
                f"{detail[-1] if detail else 'it did not answer within 5 s'}; "
                "free the port or point TAU_MQTT__HOST/PORT at a running broker"
            )
        await asyncio.sleep(0.05)
    return EmbeddedBroker("127.0.0.1", port, "mosquitto", stop)


def _quiet_amqtt(loop: asyncio.AbstractEventLoop) -> Callable[[], None]:
    """Keep amqtt's unretrieved-task errors (a client gone mid-send) out of the terminal.

    They are logged at DEBUG; every other loop error goes to the previous handler.
    Returns the function that restores the previous handler.
    """
    previous = loop.get_exception_handler()

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        task = context.get("future") or context.get("task")
        coro = task.get_coro() if isinstance(task, asyncio.Task) else None
        code = getattr(coro, "cr_code", None)
        if code is not None and f"{os.sep}amqtt{os.sep}" in code.co_filename:
            log.debug("event=embedded_broker_error detail=%r", context.get("exception"))
            return
        if previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handler)
    return lambda: loop.set_exception_handler(previous)


async def _start_amqtt(port: int) -> EmbeddedBroker:
    for noisy in ("amqtt", "transitions"):
        logging.getLogger(noisy).setLevel(logging.CRITICAL)
    try:
        from amqtt.broker import Broker
    except ImportError:
        raise ConfigurationError(
            f"nothing listens on 127.0.0.1:{port} and no embedded broker is installed "
            "(neither `mosquitto` nor `amqtt`); start Mosquitto or set TAU_MQTT__HOST/PORT"
        ) from None
    config = {
        "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }
    broker = Broker(config)
    restore = _quiet_amqtt(asyncio.get_running_loop())
    try:
        await broker.start()
    except Exception as exc:  # noqa: BLE001 - amqtt wraps OS errors in its own BrokerError
        restore()
        raise ConfigurationError(
            f"cannot start the embedded MQTT broker on 127.0.0.1:{port}: {exc}; "
            "free the port or point TAU_MQTT__HOST/PORT at a running broker"
        ) from None

    async def stop() -> None:
        with contextlib.suppress(Exception):  # amqtt raises on a second shutdown
            await broker.shutdown()
        restore()

    return EmbeddedBroker("127.0.0.1", port, "amqtt", stop)
