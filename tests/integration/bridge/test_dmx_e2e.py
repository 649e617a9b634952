"""MQTT -> bridge -> emulated Enttec DMX USB Pro: exact bytes, sync across universes, fades.

The installation is built here with known parameters (linear curves unless
stated, no minimum level), so every expected byte is worked out by hand.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from typing import Any

import asyncpg
import pytest
from testkit.mqtt import MqttProbe

MODELS = {  # key: (channels, min K, max K, curve)
    "d8": (["dimmer"], 2700, 6500, "linear"),
    "d16": (["dimmer", "dimmer_fine"], 2700, 6500, "linear"),
    "wc8": (["warm", "cool"], 2700, 6500, "linear"),
    "wc16": (["warm", "warm_fine", "cool", "cool_fine"], 2700, 6500, "linear"),
    "dcct": (["dimmer", "cct"], 2700, 6500, "linear"),
    "rgb": (["red", "green", "blue"], 2000, 6500, "linear"),
    "rgbw": (["red", "green", "blue", "white"], 2000, 6500, "linear"),
    "sq8": (["dimmer"], 2700, 6500, "square"),
    # A 7-channel RGBW PAR: master dimmer (square curve), colours, shutter parked open,
    # macro parked off.
    "par7": (
        [
            "dimmer",
            *("red", "green", "blue", "white"),
            {"role": "fixed", "value": 255, "name": "Shutter"},
            {"role": "fixed", "value": 0, "name": "Macro"},
        ],
        2000,
        6500,
        "square",
    ),
    # A two-cell RGB+UV bar driven as one light: both cells alike, UV never lit.
    "bar2": (
        ["dimmer", {"role": "fixed", "value": 8}, *("red", "green", "blue", "uv") * 2],
        2000,
        6500,
        "linear",
    ),
}
FIXTURES = [  # slug, model, universe, start channel
    ("d8", "d8", 1, 1),
    ("d16", "d16", 1, 2),
    ("wc8", "wc8", 1, 4),
    ("wc16", "wc16", 1, 6),
    ("dcct", "dcct", 1, 10),
    ("rgb", "rgb", 1, 12),
    ("rgbw", "rgbw", 1, 15),
    ("sq8", "sq8", 1, 19),
    ("par", "par7", 1, 20),
    ("bar", "bar2", 1, 27),
    ("far", "d8", 2, 1),
    ("far16", "d16", 2, 100),
]


async def _build(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        ids = {}
        for key, (channels, lo, hi, curve) in MODELS.items():
            ids[key] = await conn.fetchval(
                "INSERT INTO fixture_models (manufacturer, model, channels, min_kelvin, "
                "max_kelvin, dimming_curve, min_level) "
                "VALUES ('Test', $1, $2::jsonb, $3, $4, $5, 0) "
                "RETURNING id",
                key,
                json.dumps(channels),
                lo,
                hi,
                curve,
            )
        for slug, model, universe, start in FIXTURES:
            await conn.execute(
                "INSERT INTO fixtures (name, slug, fixture_model_id, universe, start_channel) "
                "VALUES ($1, $1, $2, $3, $4)",
                slug,
                ids[model],
                universe,
                start,
            )
        await conn.execute(
            "INSERT INTO groups (name, slug) VALUES ('All', 'all'), ('Near', 'near')"
        )
        await conn.execute(
            "INSERT INTO group_hierarchy (parent_group_id, child_group_id) "
            "SELECT p.id, c.id FROM groups p, groups c WHERE p.slug='all' AND c.slug='near'"
        )
        await conn.execute(
            "INSERT INTO group_fixtures (group_id, fixture_id) SELECT g.id, f.id FROM groups g, "
            "fixtures f WHERE (g.slug='near' AND f.universe=1) OR (g.slug='all' AND f.universe=2)"
        )
    finally:
        await conn.close()


@pytest.fixture
def rig(bridge_factory, widgets):
    one, two = widgets
    url = bridge_factory.database(schema=True, seeds=False)
    asyncio.run(_build(url))
    return bridge_factory(
        database_url=url,
        default_transition=0,
        universes={
            "1": {"driver": "enttec_pro", "port": one.port},
            "2": {"driver": "enttec_pro", "port": two.port},
        },
    )


def send(probe: MqttProbe, bridge, slug: str, body: dict[str, Any]) -> None:
    probe.publish(bridge.topic("fixture", slug, "set"), json.dumps(body))


CASES = [
    # slug, command, {channel: byte}
    ("d8", {"state": "ON", "brightness": 255}, {1: 255}),
    ("d8", {"brightness": 128}, {1: 128}),
    ("d8", {"brightness": 1}, {1: 1}),
    ("d8", {"state": "OFF"}, {1: 0}),
    ("d16", {"state": "ON", "brightness": 128}, {2: 128, 3: 128}),
    ("d16", {"brightness": 1}, {2: 1, 3: 1}),
    ("d16", {"brightness": 255}, {2: 255, 3: 255}),
    ("wc8", {"state": "ON", "brightness": 255, "color_temp_kelvin": 2700}, {4: 255, 5: 0}),
    ("wc8", {"color_temp_kelvin": 6500}, {4: 0, 5: 255}),
    (
        "wc16",
        {"state": "ON", "brightness": 255, "color_temp_kelvin": 2700},
        {6: 255, 7: 255, 8: 0, 9: 0},
    ),
    ("wc16", {"color_temp_kelvin": 6500}, {6: 0, 7: 0, 8: 255, 9: 255}),
    ("dcct", {"state": "ON", "brightness": 255, "color_temp_kelvin": 2700}, {10: 255, 11: 0}),
    ("dcct", {"brightness": 128, "color_temp_kelvin": 6500}, {10: 128, 11: 255}),
    (
        "rgb",
        {"state": "ON", "brightness": 255, "color": {"r": 255, "g": 0, "b": 0}},
        {12: 255, 13: 0, 14: 0},
    ),
    ("rgb", {"brightness": 128, "color": {"r": 255, "g": 128, "b": 0}}, {12: 128, 13: 64, 14: 0}),
    (
        "rgbw",
        {"state": "ON", "brightness": 255, "color": {"r": 255, "g": 255, "b": 255}},
        {15: 0, 16: 0, 17: 0, 18: 255},
    ),
    ("rgbw", {"color": {"r": 255, "g": 0, "b": 0}}, {15: 255, 16: 0, 17: 0, 18: 0}),
    ("sq8", {"state": "ON", "brightness": 128}, {19: 64}),
    ("sq8", {"brightness": 255}, {19: 255}),
    # master dimmer carries the level through the curve, colours stay at full scale
    (
        "par",
        {"state": "ON", "brightness": 128, "color": {"r": 255, "g": 0, "b": 0}},
        {20: 64, 21: 255, 22: 0, 23: 0, 24: 0, 25: 255, 26: 0},
    ),
    (
        "par",
        {"brightness": 255, "color": {"r": 255, "g": 255, "b": 255}},
        {20: 255, 21: 0, 22: 0, 23: 0, 24: 255, 25: 255, 26: 0},
    ),
    ("par", {"state": "OFF"}, {20: 0, 24: 255, 25: 255, 26: 0}),
    (
        "bar",
        {"state": "ON", "brightness": 200, "color": {"r": 0, "g": 255, "b": 255}},
        {27: 200, 28: 8, 29: 0, 30: 255, 31: 255, 32: 0, 33: 0, 34: 255, 35: 255, 36: 0},
    ),
]


def test_exact_bytes_for_each_model_type(rig, widgets, mqtt_probe) -> None:
    one, _ = widgets
    for slug, command, expected in CASES:
        send(mqtt_probe, rig, slug, command)
        frame = one.wait_for_slots(expected, timeout=3)
        assert {ch: frame.slot(ch) for ch in expected} == expected, (slug, command)


def test_fixed_channels_are_sent_before_any_command(rig, widgets) -> None:
    one, _ = widgets
    # Shutter open and macro off from the first frame; both stay dark (master dimmers at
    # 0), the bar's UV too.
    frame = one.wait_for_slots({20: 0, 25: 255, 26: 0, 27: 0, 28: 8}, timeout=5)
    assert (frame.slot(32), frame.slot(36)) == (0, 0)


def test_tunable_white_midpoint_is_both_whites_at_full(rig, widgets, mqtt_probe) -> None:
    one, _ = widgets
    # 3815 K is the mired midpoint of 2700..6500 K: as much warm as cool, and at 100 %
    # the mix is scaled so the brightest white is at full: both (within a 16-bit step).
    send(mqtt_probe, rig, "wc16", {"state": "ON", "brightness": 255, "color_temp_kelvin": 3815})
    assert one.wait_for(lambda: (f := one.latest()) is not None and f.slot(6) > 0, timeout=3)
    frame = one.latest()
    warm = frame.slot(6) << 8 | frame.slot(7)
    cool = frame.slot(8) << 8 | frame.slot(9)
    assert max(warm, cool) == 65535
    assert abs(warm - cool) < 65535 * 0.002


def test_nested_group_over_two_universes_changes_in_the_same_tick(rig, widgets, mqtt_probe) -> None:
    one, two = widgets
    for _ in range(3):
        one.clear()
        two.clear()
        mqtt_probe.publish(rig.topic("group", "all", "set"), '{"state":"ON","brightness":200}')
        a = one.wait_for_slots({1: 200, 2: 200}, timeout=3)
        b = two.wait_for_slots({1: 200, 100: 200}, timeout=3)
        first_a = next(f for f in one.frames if f.slot(1))
        first_b = next(f for f in two.frames if f.slot(1))
        assert first_a == a and first_b == b  # no partial frame before the full change
        # same render tick: both widgets receive within half a frame period (44 fps)
        assert abs(first_a.t - first_b.t) < 1 / 44 / 2
        mqtt_probe.publish(rig.topic("group", "all", "set"), "OFF")
        one.wait_for_slots({1: 0}, timeout=3)
        two.wait_for_slots({1: 0}, timeout=3)


def test_two_second_transition_is_a_monotonic_ramp_at_frame_rate(rig, widgets, mqtt_probe) -> None:
    one, _ = widgets
    send(mqtt_probe, rig, "d16", {"state": "ON", "brightness": 1, "transition": 0})
    one.wait_for_slots({2: 1, 3: 1}, timeout=3)
    one.clear()
    start = time.monotonic()
    send(mqtt_probe, rig, "d16", {"brightness": 255, "transition": 2})
    one.wait_for_slots({2: 255, 3: 255}, timeout=5)
    frames = [f for f in one.frames if f.t >= start]
    values = [f.slot(2) << 8 | f.slot(3) for f in frames]
    assert values == sorted(values), "fade must be monotonic"
    assert len(values) >= 60, f"only {len(values)} frames in a 2 s fade at 44 fps"
    duration = frames[-1].t - frames[0].t
    assert 1.8 <= duration <= 2.3
    steps = [b - a for a, b in itertools.pairwise(values)]
    # 16-bit fade: each frame moves by about 65535/88; no frozen stretch then a jump
    assert max(steps) < 65535 * 0.05


def test_widget_unplug_and_replug_resumes_with_the_current_frame(rig, widgets, mqtt_probe) -> None:
    one, _ = widgets
    mqtt_probe.subscribe(rig.topic("fixture", "d8"))
    mqtt_probe.subscribe(rig.topic("bridge", "info"))
    send(mqtt_probe, rig, "d8", {"state": "ON", "brightness": 90})
    one.wait_for_slots({1: 90}, timeout=3)
    one.unplug()
    send(mqtt_probe, rig, "d8", {"brightness": 170})
    mqtt_probe.wait_json(rig.topic("fixture", "d8"), lambda d: d["brightness"] == 170, 3)
    time.sleep(0.5)
    one.replug()
    t0 = time.monotonic()
    frame = one.wait_for_slots({1: 170}, timeout=2.5)
    assert frame.t - t0 <= 2.0
    info = mqtt_probe.wait_json(
        rig.topic("bridge", "info"), lambda d: d["universes"]["1"]["state"] == "ok", 5
    )
    assert info["universes"]["1"]["driver"] == "enttec_pro"
