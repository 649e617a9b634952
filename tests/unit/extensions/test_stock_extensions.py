"""The stock extensions on an in-memory bus with a fake clock: no loop, broker or database."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tau.core.bus import Bus
from tau.core.commands import LightCommand
from tau.core.events import ChangeBatch, InstallationReloaded
from tau.core.extension import EXTERNAL, Context
from tau.core.installation import build_installation
from tau.core.model import (
    CircadianProfile,
    Fixture,
    FixtureModel,
    Group,
    Installation,
    Scene,
    SceneValue,
    Switch,
    SwitchModel,
)
from tau.core.state import StateStore
from tau.errors import InvalidCommandError, UnknownTargetError
from tau.features.circadian.engine import CircadianClock, CircadianEngine
from tau.features.circadian.extension import CircadianExtension, CircadianTicked, ClockBody
from tau.features.scene_extension import ScenesExtension
from tau.features.switches.extension import SwitchesExtension
from tau.settings import Settings

TUNABLE = FixtureModel(1, "Acme", "Tunable", ("warm", "cool"), 2000, 6500, "linear", 0.0)
ROCKER = SwitchModel(1, "Generic", "Rocker", "latching", ("on", "off"), {})
DAY = (
    {"at": "06:00", "brightness": 20, "kelvin": 2700},
    {"at": "18:00", "brightness": 100, "kelvin": 5000},
)


def _installation() -> Installation:
    fixtures = {1: Fixture(1, "Lamp", "lamp", TUNABLE, 1, 1)}
    groups = {10: Group(10, "Room", "room", 7, frozenset({1}), frozenset({1}), frozenset())}
    scenes = {3: Scene(3, "Dim", "dim", 10, (SceneValue(1, True, 40, 2200, None),))}
    switch = Switch(
        5, "Rocker", "rocker", ROCKER, 10, None, "z2m/rocker/action", {}, 500, 500, 2000
    )
    return build_installation(
        {1: TUNABLE},
        fixtures,
        groups,
        {7: CircadianProfile(7, "Day", DAY)},
        scenes,
        {1: ROCKER},
        {5: switch},
    )


@pytest.fixture
def world() -> Any:
    now = [datetime(2026, 6, 21, 6, 0, tzinfo=UTC)]
    clock = CircadianClock(settable=True, real=lambda: now[0])
    settings = Settings(location={"timezone": "UTC"})
    engine = CircadianEngine(clock.now, settings.location, 30.0)
    bus = Bus()
    store = StateStore(0.0, circadian=engine, bus=bus)
    published: list[tuple[str, str]] = []
    ctx = Context(settings, store, bus, lambda t, p: published.append((t, p)))
    exts = [CircadianExtension(ctx, engine, clock), ScenesExtension(ctx), SwitchesExtension(ctx)]
    for ext in exts:
        for event_type, handler in ext.events():
            bus.subscribe(event_type, ext.name, handler)
    inst = _installation()
    store.set_installation(inst)
    bus.publish(InstallationReloaded(inst, Installation(), True))
    batches: list[ChangeBatch] = []
    bus.subscribe(ChangeBatch, "test", batches.append)
    return store, bus, exts, clock, published, batches


def test_circadian_turn_on_lands_on_the_profile_and_the_tick_follows_the_clock(world: Any) -> None:
    store, bus, (circadian, _scenes, _switches), _clock, _published, batches = world
    ticks: list[CircadianTicked] = []
    bus.subscribe(CircadianTicked, "test", ticks.append)
    store.command(("group", 10), LightCommand(state="ON"))
    assert (store.fixture(1).brightness, store.fixture(1).kelvin) == (51, 2700)  # 20 % at 06:00
    _, clock_request = circadian.requests()["circadian/clock"]
    clock_request(ClockBody(now="2026-06-21T12:00:00+00:00"))  # sets the clock, then ticks
    assert batches[-1].reason == "circadian" and len(ticks) == 1
    assert store.fixture(1).brightness == round(60 * 255 / 100)  # halfway 20 -> 100 %
    circadian.on_message("circadian_set", "room", b"OFF")
    assert not store.circadian_active(1)
    with pytest.raises(InvalidCommandError, match="ON or OFF"):
        circadian.on_message("circadian_set", "room", b"maybe")


def test_scene_recall_applies_the_stored_values(world: Any) -> None:
    store, _bus, (_c, scenes, _s), _clock, _published, batches = world
    scenes.on_message("scene_set", "dim", b'{"state": "ON", "transition": 0}')
    assert (store.fixture(1).is_on, store.fixture(1).brightness, store.fixture(1).kelvin) == (
        True,
        40,
        2200,
    )
    assert batches[-1].reason == "scene"
    with pytest.raises(UnknownTargetError):
        scenes.on_message("scene_set", "nope", b"ON")


async def test_a_switch_on_its_external_topic_commands_and_echoes_the_press(world: Any) -> None:
    store, _bus, (_c, _sc, switches), _clock, published, _batches = world
    await switches.start()
    try:
        assert switches.external_topics() == {"z2m/rocker/action"}
        switches.on_message(EXTERNAL, "z2m/rocker/action", b"on")
        assert store.fixture(1).is_on
        assert published == [("switch/rocker/event", '{"event_type": "on"}')]
        assert switches.device_triggers(store.installation)[5]
    finally:
        await switches.stop()


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b'{"state": "OFF"}', "state: a scene can only be recalled (state ON), got 'OFF'"),
        (b'{"transition": "slow"}', "transition: must be a number of seconds, got 'slow'"),
        (b'{"transition": true}', "transition: must be a number of seconds, got True"),
        (b'{"transition": 3601}', "transition: must be within 0..3600 seconds, got 3601"),
        (b'{"brightness": 3}', "brightness: unknown key"),
        (b"[1]", "scene payload must be ON, got '[1]'"),
        (b"OFF", "scene payload must be ON, got 'OFF'"),
    ],
)
def test_a_bad_scene_payload_names_its_problem_and_changes_nothing(
    world: Any, payload: bytes, message: str
) -> None:
    store, _bus, (_c, scenes, _s), _clock, _published, batches = world
    before = len(batches)
    with pytest.raises(InvalidCommandError) as caught:
        scenes.on_message("scene_set", "dim", payload)
    assert message in str(caught.value)
    assert len(batches) == before and not store.fixture(1).is_on
