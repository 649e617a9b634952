"""Shared pieces for the living-light end-to-end tests (circadian, switches, scenes).

Each module builds its own installation in a fresh empty-schema database with
exactly-known parameters (linear curves, no minimum level), starts one bridge on
one emulated Enttec widget and shares it between its tests (`Rig`). Expected DMX
bytes are worked out here by hand, independently of the renderer's code.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import asyncpg
import pytest
from testkit.bridge import BridgeProcess
from testkit.db import run_async
from testkit.enttec import EnttecEmulator, Frame
from testkit.mqtt import MqttProbe
from testkit.services import MqttServer

from tests.conftest import BridgeFactory

T = TypeVar("T")

WARM_K, COOL_K = 2700, 6500  # the tunable-white test model's range


# ----------------------------------------------------------------- expected values


def pct_to_255(pct: float) -> int:
    """Profile brightness percent to the MQTT scale (what the bridge publishes)."""
    return round(pct * 255 / 100)


def mired_blend(kelvin_a: float, kelvin_b: float, fraction: float) -> float:
    """Colour temperature `fraction` of the way from a to b, linear in mireds."""
    mired = 1e6 / kelvin_a + (1e6 / kelvin_b - 1e6 / kelvin_a) * fraction
    return 1e6 / mired


def coarse8(value16: int) -> int:
    """An 8-bit slot of a 16-bit value: the high byte, never rounding a lit value to 0."""
    return 0 if value16 <= 0 else max(1, min(255, value16 >> 8))


def warm_cool_bytes(
    brightness: int,
    kelvin: float,
    lo: int = WARM_K,
    hi: int = COOL_K,
    *,
    constant_output: bool = False,
) -> tuple[int, int]:
    """(warm, cool) bytes of an 8-bit warm/cool pair, linear curve, no minimum level.

    The mix is split linearly in mireds (all warm at `lo`, all cool at `hi`) and scaled
    so its brightest white is at the 16-bit level (brightness * 257); with
    `constant_output` the two shares are kept as they are, so they add up to that level.
    """
    level16 = brightness * 257
    k = min(max(kelvin, lo), hi)
    cool_share = (1e6 / lo - 1e6 / k) / (1e6 / lo - 1e6 / hi)
    top = 1.0 if constant_output else max(cool_share, 1.0 - cool_share)
    cool16 = round(level16 * cool_share / top)
    warm16 = round(level16 * (1.0 - cool_share) / top)
    return coarse8(warm16), coarse8(cool16)


# ------------------------------------------------------------------------ database


def db_run(url: str, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    """Run `work(conn)` on a fresh connection to `url` (from sync test code)."""

    async def main() -> T:
        conn = await asyncpg.connect(url, timeout=5)
        try:
            return await work(conn)
        finally:
            await conn.close()

    return run_async(main, timeout=30)


async def add_model(
    conn: asyncpg.Connection, model: str, channels: list[str], lo: int = WARM_K, hi: int = COOL_K
) -> int:
    model_id: int = await conn.fetchval(
        "INSERT INTO fixture_models (manufacturer, model, channels, min_kelvin, max_kelvin, "
        "dimming_curve, min_level) VALUES ('Test', $1, $2::jsonb, $3, $4, 'linear', 0) "
        "RETURNING id",
        model,
        json.dumps(channels),
        lo,
        hi,
    )
    return model_id


async def add_fixture(conn: asyncpg.Connection, slug: str, model_id: int, start: int) -> int:
    fixture_id: int = await conn.fetchval(
        "INSERT INTO fixtures (name, slug, fixture_model_id, universe, start_channel) "
        "VALUES ($1, $1, $2, 1, $3) RETURNING id",
        slug,
        model_id,
        start,
    )
    return fixture_id


async def add_group(
    conn: asyncpg.Connection, slug: str, fixture_ids: list[int], profile_id: int | None = None
) -> int:
    group_id: int = await conn.fetchval(
        "INSERT INTO groups (name, slug, circadian_profile_id) VALUES ($1, $1, $2) RETURNING id",
        slug,
        profile_id,
    )
    for fid in fixture_ids:
        await conn.execute(
            "INSERT INTO group_fixtures (group_id, fixture_id) VALUES ($1, $2)", group_id, fid
        )
    return group_id


# ----------------------------------------------------------------------------- rig


@dataclass
class Rig:
    """One running bridge on one widget, a probe subscribed to everything under its base."""

    bridge: BridgeProcess
    widget: EnttecEmulator
    probe: MqttProbe
    ids: dict[str, int] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.bridge.database_url

    def topic(self, *parts: str) -> str:
        return self.bridge.topic(*parts)

    def send(self, topic: str, payload: str | bytes | Mapping[str, Any]) -> None:
        body = json.dumps(payload) if isinstance(payload, Mapping) else payload
        self.probe.publish(topic, body)

    def set(self, kind: str, slug: str, payload: str | Mapping[str, Any]) -> None:
        """A light command on `<base>/<kind>/<slug>/set`."""
        self.send(self.topic(kind, slug, "set"), payload)

    def request(self, name: str, body: Mapping[str, Any] | None = None, timeout: float = 5) -> Any:
        """A bridge request; returns the reply's data, failing on an error reply."""
        transaction = uuid.uuid4().hex[:10]
        mark = self.probe.mark()
        self.send(
            self.topic("bridge", "request", name), {**(body or {}), "transaction": transaction}
        )
        reply = self.probe.wait_json(
            self.topic("bridge", "response", name),
            lambda d: d.get("transaction") == transaction,
            timeout,
            after=mark,
        )
        assert reply["status"] == "ok", reply
        return reply["data"]

    def state(
        self,
        kind: str,
        slug: str,
        predicate: Callable[[Any], bool] | None = None,
        timeout: float = 3,
        after: int | None = None,
    ) -> Any:
        """The first state (at or after `after`) of a fixture or group matching `predicate`."""
        return self.probe.wait_json(self.topic(kind, slug), predicate, timeout, after=after)

    def last_state(self, kind: str, slug: str) -> Any:
        messages = self.probe.messages(self.topic(kind, slug))
        assert messages, f"no state seen for {kind} {slug}"
        return messages[-1].json()

    def circadian_switch(self, slug: str, value: str, after: int | None = None) -> None:
        """Wait for `<base>/group/<slug>/circadian` = value."""
        self.probe.wait_for(
            self.topic("group", slug, "circadian"), lambda m: m.text == value, 3, after=after
        )

    def slots(self, expected: Mapping[int, int], timeout: float = 3) -> Frame:
        return self.widget.wait_for_slots(expected, timeout)

    def steady(self, channels: Mapping[int, int], seconds: float) -> None:
        """Assert the widget keeps showing `channels` for `seconds` (a bounded negative check)."""
        self.slots(channels)

        def moved() -> bool:
            last = self.widget.frames[-1] if self.widget.frames else None
            return last is not None and any(last.slot(c) != v for c, v in channels.items())

        if self.widget.wait_for(moved, seconds):
            last = self.widget.latest()
            assert last is not None
            got = {c: last.slot(c) for c in channels}
            raise AssertionError(f"slots moved from {dict(channels)} to {got}")


_LIVING = pytest.StashKey[list[BridgeProcess]]()


@pytest.fixture(scope="module")
def living_factory(
    request: pytest.FixtureRequest,
    pg_admin_url: str,
    mqtt_server: MqttServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[BridgeFactory]:
    """A `BridgeFactory` shared by a module's tests (one bridge start per module)."""
    factory = BridgeFactory(pg_admin_url, mqtt_server, tmp_path_factory.mktemp("living"))
    request.node.stash[_LIVING] = factory.bridges
    try:
        yield factory
    finally:
        factory.close()


@pytest.fixture(scope="module")
def living_widget(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EnttecEmulator]:
    with EnttecEmulator(tmp_path_factory.mktemp("widget")) as widget:
        yield widget
        assert widget.errors == []


@pytest.fixture(scope="module")
def living_probe(mqtt_server: MqttServer) -> Iterator[MqttProbe]:
    probe = MqttProbe(mqtt_server.host, mqtt_server.port).connect()
    try:
        yield probe
    finally:
        probe.close()


def start_rig(
    factory: BridgeFactory,
    widget: EnttecEmulator,
    probe: MqttProbe,
    build: Callable[[asyncpg.Connection], Awaitable[dict[str, int]]],
    env: Mapping[str, str] | None = None,
) -> Rig:
    """Build the installation with `build(conn)` (returns named ids), start the bridge."""
    url = factory.database(schema=True, seeds=False)
    ids = db_run(url, build)
    bridge = factory(
        database_url=url,
        universes={"1": {"driver": "enttec_pro", "port": widget.port}},
        default_transition=0,
        env=dict(env or {}),
    )
    probe.subscribe(f"{bridge.base_topic}/#")
    return Rig(bridge, widget, probe, ids)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.failed:
        for node in item.listchain():
            for bridge in node.stash.get(_LIVING, []):
                report.sections.append(
                    (f"{bridge.name} log tail ({bridge.log_path})", bridge.log_tail())
                )
    return report
