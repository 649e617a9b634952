"""Scenes end to end: `scene/store` captures a group, `scene/<slug>/set` restores its DMX bytes.

One group of five different fixture types (8- and 16-bit tunable white, 16-bit
dimmer, RGB, a dimmer that is off when captured), linear, no minimum level.
"""

from __future__ import annotations

import json

import asyncpg
import pytest
from testkit.db import object_key, sql
from testkit.enttec import Frame

from tests.integration.living.conftest import (
    Rig,
    add_fixture,
    add_group,
    add_model,
    start_rig,
    warm_cool_bytes,
)

FIXTURES = {  # slug -> (channel roles, start channel)
    "wc": (["warm", "cool"], 1),
    "wc16": (["warm", "warm_fine", "cool", "cool_fine"], 3),
    "d16": (["dimmer", "dimmer_fine"], 7),
    "rgb": (["red", "green", "blue"], 9),
    "d8": (["dimmer"], 12),
}
SLOTS = range(1, 13)
MEMBER_SLOTS = {slug: range(start, start + len(roles)) for slug, (roles, start) in FIXTURES.items()}


async def _build(conn: asyncpg.Connection) -> dict[str, int]:
    ids: dict[str, int] = {}
    for slug, (roles, start) in FIXTURES.items():
        model = await add_model(conn, slug, roles, 2000 if slug == "rgb" else 2700, 6500)
        ids[slug] = await add_fixture(conn, slug, model, start)
    ids["stage"] = await add_group(conn, "stage", list(ids.values()))
    return ids


@pytest.fixture(scope="module")
def rig(living_factory, living_widget, living_probe) -> Rig:
    return start_rig(living_factory, living_widget, living_probe, _build)


def frame_slots(frame: Frame | None) -> tuple[int, ...]:
    assert frame is not None
    return tuple(frame.slot(c) for c in SLOTS)


def settle(rig: Rig, known: dict[int, int]) -> tuple[int, ...]:
    """Wait for the hand-computed `known` slots, then for the whole patch to hold still."""
    frame = rig.slots(known)
    current = dict(zip(SLOTS, frame_slots(frame), strict=True))
    rig.steady(current, 0.15)
    return frame_slots(rig.widget.latest())


def look_a(rig: Rig) -> tuple[int, ...]:
    """Every member different; commands apply in order, so the last one's state means done."""
    mark = rig.probe.mark()
    rig.set("fixture", "wc", {"state": "ON", "brightness": 200, "color_temp_kelvin": 3000})
    rig.set("fixture", "wc16", {"state": "ON", "brightness": 77, "color_temp_kelvin": 5000})
    rig.set("fixture", "d16", {"state": "ON", "brightness": 129})
    rig.set("fixture", "d8", {"state": "ON", "brightness": 90})
    rig.set("fixture", "d8", "OFF")  # captured off, remembering 90
    rig.set(
        "fixture", "rgb", {"state": "ON", "brightness": 180, "color": {"r": 255, "g": 100, "b": 10}}
    )
    rig.state("fixture", "rgb", lambda s: s["brightness"] == 180, after=mark)
    warm, cool = warm_cool_bytes(200, 3000)
    # rgb: 180 * 257 = 46260 scaled by 255/255, 100/255, 10/255 -> high bytes 180, 70, 7
    return settle(rig, {1: warm, 2: cool, 7: 129, 8: 129, 9: 180, 10: 70, 11: 7, 12: 0})


def look_b(rig: Rig) -> tuple[int, ...]:
    mark = rig.probe.mark()
    rig.set("group", "stage", {"state": "ON", "brightness": 40, "color_temp_kelvin": 6000})
    rig.set("fixture", "rgb", {"color": {"r": 0, "g": 0, "b": 255}})
    rig.state("fixture", "rgb", lambda s: s.get("color") == {"r": 0, "g": 0, "b": 255}, after=mark)
    warm, cool = warm_cool_bytes(40, 6000)
    return settle(rig, {1: warm, 2: cool, 7: 40, 8: 40, 9: 0, 10: 0, 11: 40, 12: 40})


def test_store_then_recall_restores_the_bytes_in_one_frame(rig: Rig) -> None:
    captured = look_a(rig)
    stored = rig.request("scene/store", {"group": "stage", "slug": "show", "name": "Show"})
    assert stored

    rows = {
        r["fixture_id"]: r
        for r in sql(
            rig.url,
            "SELECT v.* FROM scene_values v JOIN scenes s ON s.id = v.scene_id "
            "WHERE s.slug = 'show'",
        )
    }
    assert set(rows) == {rig.ids[s] for s in FIXTURES}
    wc, rgb, d8 = rows[rig.ids["wc"]], rows[rig.ids["rgb"]], rows[rig.ids["d8"]]
    assert (wc["is_on"], wc["brightness"], wc["kelvin"]) == (True, 200, 3000)
    assert json.loads(rgb["color"]) == {"r": 255, "g": 100, "b": 10}
    assert (d8["is_on"], d8["brightness"]) == (False, 90)

    changed = look_b(rig)
    assert all(
        tuple(changed[c - 1] for c in slots) != tuple(captured[c - 1] for c in slots)
        for slots in MEMBER_SLOTS.values()
    ), "every member must look different before the recall"

    rig.widget.clear()
    mark = rig.probe.mark()
    rig.send(rig.topic("scene", "show", "set"), "ON")
    rig.slots(dict(zip(SLOTS, captured, strict=True)))
    frames = [frame_slots(f) for f in rig.widget.frames]
    first = next(f for f in frames if f != changed)
    assert first == captured, "every member changes in the same frame, to the exact bytes"
    rig.steady(dict(zip(SLOTS, captured, strict=True)), 0.2)

    wc_state = rig.state("fixture", "wc", lambda s: s["brightness"] == 200, after=mark)
    assert wc_state["color_temp_kelvin"] == 3000 and wc_state["state"] == "ON"
    assert rig.state("fixture", "d8", after=mark)["state"] == "OFF"
    assert rig.state("fixture", "rgb", lambda s: s["color_mode"] == "rgb", after=mark)["color"] == {
        "r": 255,
        "g": 100,
        "b": 10,
    }


def test_the_scene_is_a_home_assistant_scene_entity(rig: Rig) -> None:
    if not sql(rig.url, "SELECT 1 FROM scenes WHERE slug = 'show'"):
        look_a(rig)
        rig.request("scene/store", {"group": "stage", "slug": "show", "name": "Show"})
    sid = object_key(
        rig.url, "scenes", sql(rig.url, "SELECT id FROM scenes WHERE slug = 'show'")[0]["id"]
    )
    prefix, node = rig.bridge.discovery_prefix, rig.bridge.base_topic
    config = rig.probe.retained(prefix)[f"{prefix}/scene/{node}/scene_{sid}/config"].json()
    assert config["command_topic"] == rig.topic("scene", "show", "set")
    assert config.get("payload_on", "ON") == "ON"


def test_recall_with_a_transition_moves_every_member_together(rig: Rig) -> None:
    captured = look_a(rig)
    rig.request("scene/store", {"group": "stage", "slug": "evening", "name": "Evening"})
    changed = look_b(rig)

    rig.widget.clear()
    rig.send(rig.topic("scene", "evening", "set"), json.dumps({"state": "ON", "transition": 0.5}))
    rig.slots(dict(zip(SLOTS, captured, strict=True)), timeout=3)
    frames = [(f.t, frame_slots(f)) for f in rig.widget.frames]
    starts, ends = [], []
    for slots in MEMBER_SLOTS.values():
        moving = [
            i for i, (_, f) in enumerate(frames) if any(f[c - 1] != changed[c - 1] for c in slots)
        ]
        starts.append(moving[0])
        done = [
            i for i, (_, f) in enumerate(frames) if all(f[c - 1] == captured[c - 1] for c in slots)
        ]
        ends.append(frames[done[0]][0])
    assert max(starts) - min(starts) <= 1, f"members started moving in frames {starts}"
    assert 0.3 <= max(ends) - frames[min(starts)][0] <= 0.8, "the fade lasts the transition"
