"""`BridgeProcess`: the real bridge (`python -m tau run --no-view`) as a subprocess.

    bridge = BridgeProcess(database_url=url, mqtt=mqtt_server, log_dir=tmp_path,
                           universes={"1": {"driver": "enttec_pro", "port": widget.port}})
    bridge.start()
    bridge.wait_online()
    probe.publish(bridge.topic("group", "kitchen", "set"), "ON")
    bridge.terminate()          # SIGTERM, returns the exit code

Each instance gets its own base topic and discovery prefix (`tau-<hex8>`,
`ha-<hex8>`), so retained messages never leak between tests sharing a broker.
Several nodes of one installation (testkit/cluster.py) pass the same `base_topic`
and `discovery_prefix` and each its own `node` (TAU_NODE__NAME).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from testkit.mqtt import MqttProbe
from testkit.services import MqttServer, redact_url, tail

REPO = Path(__file__).resolve().parents[1]


class BridgeError(AssertionError):
    """The bridge did not reach the expected state; the message ends with its log tail."""


class BridgeProcess:
    def __init__(
        self,
        *,
        database_url: str,
        mqtt: MqttServer,
        log_dir: Path,
        base_topic: str | None = None,
        discovery_prefix: str | None = None,
        universes: Mapping[str, Mapping[str, Any]] | None = None,
        fps: float | None = None,
        default_transition: float | None = None,
        env: Mapping[str, str] | None = None,
        args: tuple[str, ...] = ("run", "--no-view"),
        name: str | None = None,
        node: str | None = None,
        lease_s: float | None = None,
    ) -> None:
        suffix = uuid.uuid4().hex[:8]
        self.database_url = database_url
        self.mqtt = mqtt
        self.base_topic = base_topic or f"tau-{suffix}"
        self.discovery_prefix = discovery_prefix or f"ha-{suffix}"
        self.name = name or node or "bridge"
        self.node = node
        self.args = args
        self.killed_at: float | None = None  # monotonic time of the last kill()
        self.log_path = log_dir / f"{self.name}-{suffix}.log"
        self.starts = 0
        self._proc: subprocess.Popen[bytes] | None = None
        node_env = {"TAU_NODE__NAME": node} if node is not None else {}
        if lease_s is not None:
            node_env["TAU_NODE__LEASE_S"] = str(lease_s)
        self.env = self._environment(
            universes, fps, default_transition, {**node_env, **(env or {})}
        )

    def _environment(
        self,
        universes: Mapping[str, Mapping[str, Any]] | None,
        fps: float | None,
        default_transition: float | None,
        extra: Mapping[str, str],
    ) -> dict[str, str]:
        # No TAU_* from the developer's shell; cwd is the log dir, so no ./tau.toml either.
        env = {k: v for k, v in os.environ.items() if not k.startswith("TAU_")}
        env.update(
            TAU_DATABASE_URL=self.database_url,
            TAU_MQTT__HOST=self.mqtt.host,
            TAU_MQTT__PORT=str(self.mqtt.port),
            TAU_MQTT__BASE_TOPIC=self.base_topic,
            TAU_MQTT__DISCOVERY_PREFIX=self.discovery_prefix,
            TAU_LOG_LEVEL="INFO",
            # Its own data directory (when the broker session was last up), not ~/.local.
            TAU_DATA_DIR=str(self.log_path.parent / "data"),
            PYTHONUNBUFFERED="1",
            PYTHONPATH=os.pathsep.join(
                p for p in (str(REPO / "bridge"), os.environ.get("PYTHONPATH")) if p
            ),
        )
        if universes is not None:
            env["TAU_DMX__UNIVERSES"] = json.dumps({str(k): dict(v) for k, v in universes.items()})
        if fps is not None:
            env["TAU_DMX__FPS"] = str(fps)
        if default_transition is not None:
            env["TAU_DEFAULT_TRANSITION"] = str(default_transition)
        env.update(extra)
        return env

    # -- topics

    def topic(self, *parts: str) -> str:
        """`bridge.topic("group", "kitchen", "set")` → `tau-1a2b3c4d/group/kitchen/set`."""
        return "/".join((self.base_topic, *parts))

    @property
    def state_topic(self) -> str:
        return self.topic("bridge", "state")

    # -- lifecycle

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def returncode(self) -> int | None:
        return self._proc.poll() if self._proc else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> BridgeProcess:
        if self.running:
            raise BridgeError(f"{self.name} is already running (pid {self.pid})")
        self.starts += 1
        with self.log_path.open("ab") as log:
            log.write(f"\n===== start #{self.starts} {time.strftime('%X')} =====\n".encode())
            log.flush()
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "tau", *self.args],
                env=self.env,
                cwd=self.log_path.parent,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def wait_online(self, timeout: float = 30, probe: MqttProbe | None = None) -> None:
        """Wait for retained `<base>/bridge/state` = `online`; fail fast if the bridge exits."""
        own = probe is None
        watcher = probe or MqttProbe(self.mqtt.host, self.mqtt.port).connect()
        try:
            mark = watcher.mark()
            watcher.subscribe(self.state_topic)
            deadline = time.monotonic() + timeout
            while True:
                try:
                    watcher.wait_for(
                        self.state_topic, lambda m: m.payload == b"online", 0.25, after=mark
                    )
                    return
                except TimeoutError:
                    pass
                if not self.running:
                    self.fail(f"exited with code {self.returncode} before going online")
                if time.monotonic() >= deadline:
                    self.fail(f"not online on {self.state_topic} after {timeout} s")
        finally:
            if own:
                watcher.close()

    def terminate(self, timeout: float = 20) -> int:
        """SIGTERM and wait for a clean exit; returns the exit code (SIGKILL after `timeout`)."""
        return self._stop(signal.SIGTERM, timeout)

    def kill(self) -> int:
        """SIGKILL, like a power cut: no flush, no LWT sent by the bridge itself.

        `killed_at` keeps the monotonic time the signal was sent."""
        self.killed_at = time.monotonic()
        return self._stop(signal.SIGKILL, 10)

    def restart(self, *, wait: bool = True, timeout: float = 30) -> None:
        self.terminate()
        self.start()
        if wait:
            self.wait_online(timeout)

    def _stop(self, sig: signal.Signals, timeout: float) -> int:
        proc = self._proc
        if proc is None:
            raise BridgeError(f"{self.name} was never started")
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(sig)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._kill_group(proc)
                self.fail(f"did not exit {timeout} s after {sig.name}")
        return proc.returncode

    @staticmethod
    def _kill_group(proc: subprocess.Popen[bytes]) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(10)

    def close(self) -> None:
        """Teardown: stop whatever still runs, never raising."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            self._kill_group(proc)

    # -- diagnostics

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = 60) -> str:
        return tail(self.log_path, lines)

    def fail(self, reason: str) -> None:
        raise BridgeError(
            f"{self.name} ({redact_url(self.database_url)}, {self.mqtt.url}, base "
            f"{self.base_topic}) {reason}\n--- log tail ({self.log_path}) ---\n{self.log_tail()}"
        )

    def __enter__(self) -> BridgeProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def request(
    probe: MqttProbe,
    bridge: BridgeProcess,
    name: str,
    body: Mapping[str, Any] | None = None,
    timeout: float = 10,
) -> Any:
    """A bridge request and its response (matched by a fresh transaction id), as a
    dashboard sends it: `<base>/bridge/request/<name>` → `<base>/bridge/response/<name>`."""
    transaction = uuid.uuid4().hex[:12]
    response = bridge.topic("bridge", "response", *name.split("/"))
    probe.subscribe(response)
    mark = probe.mark()
    payload = {**(body or {}), "transaction": transaction}
    probe.publish(bridge.topic("bridge", "request", *name.split("/")), json.dumps(payload))
    return probe.wait_json(
        response, lambda d: d.get("transaction") == transaction, timeout, after=mark
    )
