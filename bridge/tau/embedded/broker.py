"""The embedded MQTT broker: `ensure_broker` starts one on 127.0.0.1 when nothing
listens on the configured loopback port: Mosquitto as a child process when it is
installed, else the in-process `amqtt`.

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
import getpass
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tau.errors import ConfigurationError
from tau.settings import MqttSettings

log = logging.getLogger("tau.embedded")

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
PR_SET_PDEATHSIG = 1  # <sys/prctl.h>
MOSQUITTO_DIRS = ("/usr/sbin", "/usr/local/sbin", "/opt/homebrew/sbin")
AMQTT_NOTE = (
    "amqtt can drop a message published while a wildcard subscriber (mosquitto_sub -t "
    "'tau-demo/#') is connected; install Mosquitto for the embedded broker to be one"
)


# As config/mosquitto.conf: no Nagle delay behind a PUBACK, and room for Tau's
# reconnect burst and an area switched at once (Mosquitto drops beyond 1000 by default).
MOSQUITTO_SETTINGS = "set_tcp_nodelay true\nmax_queued_messages 20000\n"


# What a production install leaves out (pyproject's `embedded` extra; `make run` has it).
INSTALL_EMBEDDED = "install Tau's embedded services (pip install 'tau-lighting[embedded]')"


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
        f"{MOSQUITTO_SETTINGS}"
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
            f"(neither `mosquitto` nor `amqtt`): start Mosquitto, {INSTALL_EMBEDDED}, "
            "or set TAU_MQTT__HOST/PORT"
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
