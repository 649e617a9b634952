"""Shared pieces of the reliability suites: SQL, light catalogue, state comparison, RSS.

Everything here talks to the bridge the way users do (MQTT, SQL, the serial port),
never to its internals.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from testkit.bridge import BridgeProcess, request
from testkit.db import run_async, sql
from testkit.mqtt import Message, MqttProbe
from testkit.services import MqttServer

from tau.colours import COLOUR_KEYS

# Seeded installation (database/seeds/04-test-fixtures.sql).
UNIVERSE_1 = (
    "kitchen-ceiling",
    "kitchen-island",
    "kitchen-counter",
    "dining-pendant",
    "dining-wall",
    "living-ceiling",
    "living-lamp",
    "living-strip",
    "hallway-downlight",
)
UNIVERSE_2 = (
    "bedroom-ceiling",
    "bedroom-bedside",
    "bathroom-mirror",
    "study-desk",
    "garden-spot",
)
FIXTURES = UNIVERSE_1 + UNIVERSE_2
GROUPS = (
    "house",
    "downstairs",
    "upstairs",
    "garden",
    "kitchen",
    "dining",
    "living",
    "hallway",
    "bedroom",
    "bathroom",
    "study",
)
# The fault suites never want a circadian tick moving lights behind their back.
QUIET_ENV = {"TAU_CIRCADIAN__TICK_SECONDS": "3600"}
# The bridge's retry delays, "still waiting" reminders and the 30 s after which a
# connection counts as stable, run tenfold faster (tau/timescale.py): a test watches a
# backoff grow in seconds instead of a minute. Production timings are unchanged.
FAST = 0.1
FAST_ENV = {**QUIET_ENV, "TAU_TEST_TIME_SCALE": str(FAST)}


# --------------------------------------------------------------------------- SQL


def sql_script(url: str, script: str) -> None:
    """Run a multi-statement script (no parameters)."""

    async def run() -> None:
        conn = await asyncpg.connect(url, timeout=5)
        try:
            await conn.execute(script)
        finally:
            await conn.close()

    run_async(run, timeout=60)


def drop_database(admin_url: str, name: str) -> None:
    sql(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def with_database(url: str, name: str) -> str:
    """`url` pointing at database `name` instead."""
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


def stored_states(url: str) -> dict[str, dict[str, Any]]:
    """fixture_state rows by slug, in the MQTT state shape (see `light_state`)."""
    rows = sql(
        url,
        "SELECT f.slug, s.is_on, s.brightness, s.kelvin, s.color, s.color_mode "
        "FROM fixture_state s JOIN fixtures f ON f.id = s.fixture_id",
    )
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        color = r["color"]
        if isinstance(color, str):
            color = json.loads(color)
        mode = r["color_mode"] or "brightness"
        state: dict[str, Any] = {
            "state": "ON" if r["is_on"] else "OFF",
            "brightness": r["brightness"],
            "color_mode": mode,
        }
        if mode == "color_temp":
            state["color_temp"] = r["kelvin"]
        if mode in COLOUR_KEYS:
            state["color"] = {k: color[k] for k in COLOUR_KEYS[mode]} if color else None
        out[r["slug"]] = state
    return out


# ------------------------------------------------------------------------- states


def light_state(payload: dict[str, Any]) -> dict[str, Any]:
    """The light part of a published state (drops informational keys like `source`)."""
    out = {k: payload.get(k) for k in ("state", "brightness", "color_mode")}
    if payload.get("color_mode") == "color_temp":
        out["color_temp"] = payload.get("color_temp")
    if payload.get("color_mode") in COLOUR_KEYS:
        out["color"] = payload.get("color")
    return out


@dataclass(frozen=True, slots=True)
class LightInfo:
    slug: str
    kind: str  # "fixture" or "group"
    modes: tuple[str, ...]
    min_kelvin: int | None
    max_kelvin: int | None
    unique_id: str
    members: tuple[str, ...]  # unique ids of group members

    @property
    def tunable(self) -> bool:
        return "color_temp" in self.modes

    @property
    def rgb(self) -> bool:
        return any(mode in COLOUR_KEYS for mode in self.modes)


def catalogue(
    probe: MqttProbe, bridge: BridgeProcess, expect: int = len(FIXTURES) + len(GROUPS)
) -> dict[str, LightInfo]:
    """Every light the bridge announced, keyed "fixture/<slug>" / "group/<slug>".

    Discovery follows `online` on connect, so this waits until `expect` lights are in.
    """
    deadline = time.monotonic() + 10
    while True:
        found = _catalogue(probe, bridge)
        if len(found) >= expect or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def _catalogue(probe: MqttProbe, bridge: BridgeProcess) -> dict[str, LightInfo]:
    configs = probe.retained(bridge.discovery_prefix)
    out: dict[str, LightInfo] = {}
    for topic, msg in configs.items():
        if "/light/" not in topic:
            continue
        cfg = msg.json()
        kind, slug = cfg["state_topic"].split("/")[-2:]
        out[f"{kind}/{slug}"] = LightInfo(
            slug=slug,
            kind=kind,
            modes=tuple(cfg["supported_color_modes"]),
            min_kelvin=cfg.get("min_kelvin"),
            max_kelvin=cfg.get("max_kelvin"),
            unique_id=cfg["unique_id"],
            members=tuple(cfg.get("group", ())),
        )
    return out


def retained_states(
    probe: MqttProbe, bridge: BridgeProcess, kind: str, expect: int = 0
) -> dict[str, Any]:
    """Retained `<base>/<kind>/<slug>` states by slug (JSON payloads); waits for `expect`."""
    prefix = bridge.topic(kind)
    deadline = time.monotonic() + 10
    while True:
        out = {}
        for topic, msg in probe.retained(prefix).items():
            rest = topic[len(prefix) + 1 :]
            if "/" not in rest:
                out[rest] = msg.json()
        if len(out) >= expect or time.monotonic() > deadline:
            return out
        time.sleep(0.1)


def last_states(
    messages: list[Message], bridge: BridgeProcess, kind: str = "fixture"
) -> dict[str, list[Message]]:
    """State messages per slug, in arrival order."""
    prefix = bridge.topic(kind) + "/"
    out: dict[str, list[Message]] = {}
    for msg in messages:
        if msg.topic.startswith(prefix) and "/" not in msg.topic[len(prefix) :] and msg.payload:
            out.setdefault(msg.topic[len(prefix) :], []).append(msg)
    return out


def health(probe: MqttProbe, bridge: BridgeProcess, timeout: float = 10) -> dict[str, Any]:
    reply = request(probe, bridge, "health_check", timeout=timeout)
    assert reply["status"] == "ok", reply
    data: dict[str, Any] = reply["data"]
    return data


# --------------------------------------------------------------------- processes


def rss_kib(pid: int) -> int:
    """Resident set size of `pid` in KiB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


class RssSampler:
    """Samples a process's RSS on a thread; `peak` and `samples` in KiB."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid = pid
        self.interval = interval
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples.append(rss_kib(self.pid))
            except (OSError, RuntimeError):
                return
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(2)

    @property
    def peak(self) -> int:
        return max(self.samples, default=0)


def probe_for(server: MqttServer, **options: Any) -> MqttProbe:
    return MqttProbe(server.host, server.port, **options).connect()


@contextmanager
def connected_probe(server: MqttServer, **options: Any) -> Iterator[MqttProbe]:
    probe = probe_for(server, **options)
    try:
        yield probe
    finally:
        probe.close()


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


REPO = Path(__file__).resolve().parents[2]


def create_test_database(admin_url: str, name: str, *, seeds: bool = True) -> str:
    """A fresh database with the schema (and seeds); the suite's helper when present."""
    try:
        from testkit.db import create_database
    except ImportError:  # until testkit/db.py lands: init.sql is the schema
        return _create_from_init_sql(admin_url, name, seeds=seeds)
    url: str = create_database(admin_url, name, schema=True, seeds=seeds)
    return url


def _create_from_init_sql(admin_url: str, name: str, *, seeds: bool) -> str:
    sql(admin_url, f'CREATE DATABASE "{name}"')
    url = with_database(admin_url, name)
    sql_script(url, (REPO / "database" / "init.sql").read_text())
    if seeds:
        for path in sorted((REPO / "database" / "seeds").glob("0*.sql")):
            sql_script(url, path.read_text())
    return url
