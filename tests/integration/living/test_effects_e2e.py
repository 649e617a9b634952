"""Effects end to end: started over MQTT as Home Assistant sends them, rendered per frame
at the emulated Enttec USB Pro, stopped by the next command, kept across a restart."""

from __future__ import annotations

import time

import asyncpg
import pytest
from testkit.db import sql
from testkit.enttec import Frame

from tests.integration.living.conftest import Rig, add_fixture, add_group, add_model, start_rig

# slug -> (model, start channel)
FIXTURES = {"d1": ("dim", 1), "d2": ("dim", 2), "wc": ("wc", 3), "rgb": ("rgb", 5)}


async def _build(conn: asyncpg.Connection) -> dict[str, int]:
    models = {
        "dim": await add_model(conn, "dimmer", ["dimmer"]),
        "wc": await add_model(conn, "warm-cool", ["warm", "cool"]),
        "rgb": await add_model(conn, "rgb", ["red", "green", "blue"]),
    }
    ids = {slug: await add_fixture(conn, slug, models[m], s) for slug, (m, s) in FIXTURES.items()}
    ids["pair"] = await add_group(conn, "pair", [ids["d1"], ids["d2"]])
    ids["everything"] = await add_group(conn, "everything", [ids[s] for s in FIXTURES])
    return ids


@pytest.fixture(scope="module")
def rig(living_factory, living_widget, living_probe) -> Rig:
    return start_rig(living_factory, living_widget, living_probe, _build)


def off(rig: Rig) -> None:
    rig.set("group", "everything", "OFF")
    rig.slots(dict.fromkeys(range(1, 8), 0))


def frames_for(rig: Rig, seconds: float) -> list[Frame]:
    """The frames the widget receives over the next `seconds` (bounded, under 1 s)."""
    rig.widget.clear()
    deadline = time.monotonic() + seconds
    rig.widget.wait_for(lambda: time.monotonic() >= deadline, seconds + 0.5)
    return list(rig.widget.frames)


def test_candle_from_home_assistant_flickers_and_the_next_command_stops_it(rig: Rig) -> None:
    off(rig)
    mark = rig.probe.mark()
    rig.set("fixture", "d1", {"state": "ON", "effect": "candle"})  # as HA's light.turn_on
    state = rig.state("fixture", "d1", lambda s: s["state"] == "ON", after=mark)
    assert state["effect"] == "candle"
    frames = frames_for(rig, 0.8)
    levels = [f.slot(1) for f in frames]
    assert len(frames) >= 10, levels
    assert len(set(levels)) >= 5, levels  # it moves frame to frame
    assert all(40 <= v <= 255 for v in levels), levels  # a dimmed flame, never out
    assert {f.slot(2) for f in frames} == {0}  # nothing else lit

    mark = rig.probe.mark()
    rig.set("fixture", "d1", {"state": "ON", "brightness": 100})
    state = rig.state("fixture", "d1", lambda s: s["brightness"] == 100, after=mark)
    assert state["effect"] is None
    rig.steady({1: 100}, 0.5)


def test_group_members_flicker_independently_unless_asked_for_unison(rig: Rig) -> None:
    off(rig)
    mark = rig.probe.mark()
    rig.set("group", "pair", {"state": "ON", "brightness": 255, "effect": "fireplace"})
    assert rig.state("group", "pair", lambda s: s["state"] == "ON", after=mark)["effect"] == (
        "fireplace"
    )
    frames = frames_for(rig, 0.8)
    assert sum(f.slot(1) != f.slot(2) for f in frames) > len(frames) // 2

    reply = rig.request("effect", {"group": "pair", "effect": "fireplace", "unison": True})
    assert reply == {"effect": "fireplace", "fixtures": ["d1", "d2"]}
    frames = frames_for(rig, 0.8)
    assert len({f.slot(1) for f in frames}) >= 5
    assert all(f.slot(1) == f.slot(2) for f in frames), [(f.slot(1), f.slot(2)) for f in frames]

    mark = rig.probe.mark()
    rig.set("group", "pair", {"effect": "none"})
    assert rig.state("group", "pair", lambda s: s["effect"] is None, after=mark)["state"] == "ON"
    rig.steady({1: 255, 2: 255}, 0.3)


def test_breathe_keeps_a_group_in_step_and_colorloop_needs_rgb(rig: Rig) -> None:
    off(rig)
    rig.set("group", "pair", {"state": "ON", "brightness": 255, "effect": "breathe"})
    frames = frames_for(rig, 0.8)
    assert len({f.slot(1) for f in frames}) >= 5
    assert all(f.slot(1) == f.slot(2) for f in frames), [(f.slot(1), f.slot(2)) for f in frames]

    mark = rig.probe.mark()
    rig.set("fixture", "d1", {"state": "ON", "effect": "colorloop"})
    entry = rig.probe.wait_json(rig.topic("bridge", "log"), after=mark)
    assert "colorloop" in entry["message"] and "rgb" in entry["message"]
    rig.set("fixture", "d1", {"state": "ON", "effect": "disco"})
    entry = rig.probe.wait_json(
        rig.topic("bridge", "log"), lambda e: "disco" in e["message"], after=mark
    )
    assert "candle" in entry["message"]  # names what exists

    mark = rig.probe.mark()
    rig.set("fixture", "rgb", {"state": "ON", "effect": "colorloop"})
    rig.state("fixture", "rgb", lambda s: s.get("effect") == "colorloop", after=mark)
    frames_for(rig, 0.1)  # a frame rendered before the command may still be on the line
    rig.widget.clear()
    assert rig.widget.wait_for(lambda: len(rig.widget.frames) >= 10)
    colours = {(f.slot(5), f.slot(6), f.slot(7)) for f in rig.widget.frames}
    assert len(colours) >= 3 and all(max(c) >= 250 for c in colours), colours


def flickering(rig: Rig, channel: int) -> bool:
    return len({f.slot(channel) for f in frames_for(rig, 0.6)}) >= 4


def assert_steady(rig: Rig, channel: int) -> None:
    frames_for(rig, 0.1)  # a frame rendered before the command may still be on the line
    moved = {f.slot(channel) for f in frames_for(rig, 0.4)}
    assert len(moved) <= 1, moved  # the widget gets a frame only when something changes


def test_an_effect_is_a_scene_value_and_survives_a_restart(rig: Rig) -> None:
    off(rig)
    rig.set("fixture", "wc", {"state": "ON", "brightness": 200, "effect": "candle"})
    assert flickering(rig, 3)
    rig.request("scene/store", {"group": "everything", "slug": "cosy"})
    mark = rig.probe.mark()
    rig.set("fixture", "wc", {"state": "ON", "brightness": 200})
    rig.state("fixture", "wc", lambda s: s["effect"] is None, after=mark)
    assert_steady(rig, 3)

    mark = rig.probe.mark()
    rig.send(rig.topic("scene", "cosy", "set"), "ON")
    assert rig.state("fixture", "wc", lambda s: s["effect"] == "candle", after=mark)
    assert flickering(rig, 3)

    deadline = time.monotonic() + 3
    query = "SELECT effect FROM fixture_state WHERE fixture_id = $1"
    while sql(rig.url, query, rig.ids["wc"])[0]["effect"] != "candle":
        assert time.monotonic() < deadline, "the effect never reached the database"
        time.sleep(0.05)
    assert rig.bridge.terminate() == 0
    mark = rig.probe.mark()
    rig.bridge.start()
    rig.bridge.wait_online()
    state = rig.state("fixture", "wc", lambda s: s["state"] == "ON", after=mark)
    assert state["effect"] == "candle" and state["brightness"] == 200
    assert flickering(rig, 3)
    rig.set("fixture", "wc", "OFF")
    rig.slots({3: 0, 4: 0})
