"""Circadian profiles end to end: MQTT in, an injected clock, DMX bytes out of the widget.

One day (06:00 20 % 2700 K → 12:00 100 % 6500 K → 20:00 40 % 2700 K, wrapping
midnight back to 06:00) on three groups, in Europe/Berlin (UTC+2 in June), so the
clock is given in UTC and the keyframes are read in local time: living and den follow
it with the default take-over (`changed`: a manual change takes only what it changed),
office with `take_over = all`. The bridge ticks every 0.5 s by itself;
`circadian/clock` freezes the clock and runs one tick.
"""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass

import asyncpg
import pytest
from testkit.db import sql
from testkit.enttec import EnttecEmulator

from tests.integration.living.conftest import (
    Rig,
    add_fixture,
    add_group,
    add_model,
    mired_blend,
    pct_to_255,
    start_rig,
    warm_cool_bytes,
)

PROFILE = [
    {"at": "06:00", "brightness": 20, "kelvin": 2700},
    {"at": "12:00", "brightness": 100, "kelvin": 6500},
    {"at": "20:00", "brightness": 40, "kelvin": 2700},
]
TICK_S = 0.5
# The bridge's clock set by the tests (`circadian/clock`), ticking every TICK_S.
CLOCK_ENV = {
    "TAU_CIRCADIAN__CLOCK_CONTROL": "true",
    "TAU_CIRCADIAN__TICK_SECONDS": str(TICK_S),
    "TAU_LOCATION__TIMEZONE": "Europe/Berlin",
}


@dataclass(frozen=True)
class Moment:
    utc: str  # what the clock request gets
    brightness: int  # expected MQTT brightness 0-255
    kelvin: int


# 09:00 local: halfway 06:00 → 12:00, so 60 % and the mired midpoint of 2700/6500 K.
AT_09 = Moment("2026-06-21T07:00:00+00:00", pct_to_255(60), round(mired_blend(2700, 6500, 0.5)))
# 12:00 local: exactly on a keyframe.
AT_12 = Moment("2026-06-21T10:00:00+00:00", 255, 6500)
# 23:00 local: 3 h into the 10 h overnight span 20:00 (40 %) → 06:00 (20 %).
AT_23 = Moment("2026-06-21T21:00:00+00:00", pct_to_255(40 - 20 * 0.3), 2700)
# 03:00 local the next day: before the first keyframe, 7 h into the same span.
AT_03 = Moment("2026-06-22T01:00:00+00:00", pct_to_255(40 - 20 * 0.7), 2700)

# slug -> (model, start channel); warm/cool pairs are 2700-6500 K, linear, min level 0.
LIVING = {"lamp-a": ("wc", 1), "lamp-b": ("wc", 3), "lamp-c": ("dim", 5)}
DEN = {"den-1": ("wc", 6)}
OFFICE = {"office-1": ("wc", 8), "office-2": ("wc", 10)}
HALL = {"hall-1": ("dim", 12)}


def expected_slots(fixtures: dict[str, tuple[str, int]], brightness: int, kelvin: int) -> dict:
    slots: dict[int, int] = {}
    for model, start in fixtures.values():
        if model == "wc":
            slots[start], slots[start + 1] = warm_cool_bytes(brightness, kelvin)
        else:
            slots[start] = brightness
    return slots


def dark(fixtures: dict[str, tuple[str, int]]) -> dict[int, int]:
    return dict.fromkeys(expected_slots(fixtures, 1, 2700), 0)


async def _build(conn: asyncpg.Connection) -> dict[str, int]:
    models = {
        "wc": await add_model(conn, "warm-cool", ["warm", "cool"]),
        "dim": await add_model(conn, "dimmer", ["dimmer"]),
    }
    profile = await conn.fetchval(
        "INSERT INTO circadian_profiles (name, keyframes) VALUES ('Day', $1::jsonb) RETURNING id",
        json.dumps(PROFILE),
    )
    all_of_it = await conn.fetchval(
        "INSERT INTO circadian_profiles (name, keyframes, take_over) "
        "VALUES ('Day, all or nothing', $1::jsonb, 'all') RETURNING id",
        json.dumps(PROFILE),
    )
    ids: dict[str, int] = {}
    for group, members, profile_id in (
        ("living", LIVING, profile),
        ("den", DEN, profile),
        ("office", OFFICE, all_of_it),
        ("hall", HALL, None),
    ):
        fixture_ids = []
        for slug, (model, start) in members.items():
            ids[slug] = await add_fixture(conn, slug, models[model], start)
            fixture_ids.append(ids[slug])
        ids[group] = await add_group(conn, group, fixture_ids, profile_id)
    button = await conn.fetchval(
        "INSERT INTO switch_models (manufacturer, model, kind, actions) "
        "VALUES ('Test', 'Push button', 'momentary', '[\"single\", \"hold\", \"release\"]') "
        "RETURNING id"
    )
    await conn.execute(
        "INSERT INTO switches (name, slug, switch_model_id, target_group_id, double_tap_ms, "
        "hold_ms, dim_speed_ms) VALUES ('Living button', 'living-button', $1, $2, 200, 300, 2000)",
        button,
        ids["living"],
    )
    return ids


@pytest.fixture(scope="module")
def rig(living_factory, living_widget, living_probe) -> Rig:
    return start_rig(
        living_factory,
        living_widget,
        living_probe,
        _build,
        env=CLOCK_ENV,
    )


def at(rig: Rig, moment: Moment) -> None:
    """Freeze the circadian clock at `moment` (the request also runs one tick)."""
    reply = rig.request("circadian/clock", {"now": moment.utc})
    assert reply["now"].startswith(moment.utc[:19])


def reset(rig: Rig, group: str, fixtures: dict[str, tuple[str, int]]) -> None:
    """Clock at 09:00, the group's profile enabled and not suspended, its lights off."""
    at(rig, AT_09)
    mark = rig.probe.mark()
    rig.send(rig.topic("group", group, "circadian", "set"), "ON")
    rig.set("group", group, "OFF")
    rig.slots(dark(fixtures))
    # Wait for the states this reset produced (not older ones), so a later `mark` starts
    # after everything the reset published.
    rig.state(
        "group", group, lambda s: s["state"] == "OFF" and s.get("circadian") == "ON", after=mark
    )
    for slug in fixtures:
        rig.state("fixture", slug, lambda s: s["state"] == "OFF", after=mark)


def turn_on(rig: Rig, group: str, fixtures: dict[str, tuple[str, int]], moment: Moment) -> None:
    """ON without a level lands on the profile's values for `moment`."""
    mark = rig.probe.mark()
    rig.set("group", group, "ON")
    rig.slots(expected_slots(fixtures, moment.brightness, moment.kelvin))
    for slug in fixtures:
        rig.state("fixture", slug, lambda s: s["state"] == "ON", after=mark)


def on_target(moment: Moment, tunable: bool = True):
    def check(s: dict) -> bool:
        ok = s["state"] == "ON" and s["brightness"] == moment.brightness
        return ok and (not tunable or s.get("color_temp_kelvin") == moment.kelvin)

    return check


def test_turn_on_lands_on_the_profile_values_without_a_flash(rig: Rig) -> None:
    reset(rig, "living", LIVING)
    rig.widget.clear()
    mark = rig.probe.mark()
    rig.set("group", "living", "ON")

    group = rig.state("group", "living", on_target(AT_09), after=mark)
    assert group["circadian"] == "ON"
    assert group["color_mode"] == "color_temp"
    for slug in ("lamp-a", "lamp-b"):
        state = rig.state("fixture", slug, on_target(AT_09), after=mark)
        assert state["circadian"] == "ON"
    assert (
        rig.state("fixture", "lamp-c", on_target(AT_09, tunable=False), after=mark)["circadian"]
        == "ON"
    )
    target = expected_slots(LIVING, AT_09.brightness, AT_09.kelvin)
    rig.slots(target)
    # No flash of the remembered full level: every lit frame is already the target.
    lit = [f for f in rig.widget.frames if any(f.slot(c) for c in target)]
    assert lit and all({c: f.slot(c) for c in target} == target for f in lit)
    # Nothing but the targeted groups lit.
    rig.steady(dark(HALL), 0)


def test_ticks_follow_the_clock_smoothly_and_across_midnight(rig: Rig) -> None:
    reset(rig, "living", LIVING)
    turn_on(rig, "living", LIVING, AT_09)

    rig.widget.clear()
    mark = rig.probe.mark()
    at(rig, AT_12)
    rig.slots(expected_slots(LIVING, AT_12.brightness, AT_12.kelvin))
    state = rig.state("fixture", "lamp-a", on_target(AT_12), after=mark)
    assert state["source"] == "circadian" and state["circadian"] == "ON"
    rig.state("group", "living", on_target(AT_12), after=mark)
    # The tick fades over about one tick: the dimmer climbs in small monotonic steps.
    ramp = [f.slot(5) for f in rig.widget.frames]
    assert ramp == sorted(ramp), ramp
    assert ramp[-1] == 255 and len(set(ramp)) >= 6, ramp
    assert max(b - a for a, b in itertools.pairwise(ramp)) <= 16, ramp

    for moment in (AT_23, AT_03):
        mark = rig.probe.mark()
        at(rig, moment)
        rig.slots(expected_slots(LIVING, moment.brightness, moment.kelvin))
        rig.state("fixture", "lamp-b", on_target(moment), after=mark)


def test_manual_brightness_leaves_colour_temperature_adapting_until_off_then_on(
    rig: Rig,
) -> None:
    reset(rig, "living", LIVING)
    turn_on(rig, "living", LIVING, AT_09)

    mark = rig.probe.mark()
    rig.set("group", "living", {"brightness": 50})
    for slug in LIVING:
        state = rig.state("fixture", slug, lambda s: s["brightness"] == 50, after=mark)
        # the fixtures say what their group's switch says; what was taken is apart
        assert state["circadian"] == "ON" and state["circadian_paused"] == ["brightness"]
    group = rig.state("group", "living", lambda s: s["brightness"] == 50, after=mark)
    assert group["circadian"] == "ON" and group["circadian_paused"] == ["brightness"]
    rig.slots(expected_slots(LIVING, 50, AT_09.kelvin))

    # A tick (the clock request's) moves colour temperature, never the brightness.
    mark = rig.probe.mark()
    at(rig, AT_12)
    adapted = expected_slots(LIVING, 50, AT_12.kelvin)
    rig.slots(adapted)
    rig.steady(adapted, 3 * TICK_S)
    state = rig.state("fixture", "lamp-a", lambda s: s["color_temp_kelvin"] == 6500, after=mark)
    assert state["brightness"] == 50 and state["source"] == "circadian"
    moved = [m.json() for m in rig.probe.messages(rig.topic("fixture", "+"), after=mark)]
    assert all(s["brightness"] == 50 for s in moved if s["state"] == "ON"), moved
    switch_topic = rig.topic("group", "living", "circadian")
    assert "OFF" not in [m.text for m in rig.probe.messages(switch_topic, after=mark)]

    # Off → on hands brightness back and lands on the profile's current values.
    rig.set("group", "living", "OFF")
    rig.slots(dark(LIVING))
    mark = rig.probe.mark()
    rig.set("group", "living", "ON")
    rig.slots(expected_slots(LIVING, AT_12.brightness, AT_12.kelvin))
    state = rig.state("fixture", "lamp-a", on_target(AT_12), after=mark)
    assert state["circadian"] == "ON" and state["circadian_paused"] == []


def test_circadian_switch_resumes_and_disables(rig: Rig) -> None:
    reset(rig, "living", LIVING)
    turn_on(rig, "living", LIVING, AT_09)

    mark = rig.probe.mark()
    rig.set("group", "living", {"color_temp_kelvin": 3000})  # takes over colour only
    state = rig.state("fixture", "lamp-b", lambda s: s["color_temp_kelvin"] == 3000, after=mark)
    assert state["circadian_paused"] == ["colour"]
    rig.slots(expected_slots(LIVING, AT_09.brightness, 3000))

    # Switching Circadian ON (again) hands everything back at once.
    mark = rig.probe.mark()
    rig.send(rig.topic("group", "living", "circadian", "set"), "ON")
    rig.circadian_switch("living", "ON", after=mark)
    rig.slots(expected_slots(LIVING, AT_09.brightness, AT_09.kelvin))
    state = rig.state("fixture", "lamp-b", on_target(AT_09), after=mark)
    assert state["circadian"] == "ON" and state["circadian_paused"] == []

    # OFF disables: the clock moves, the lights do not.
    mark = rig.probe.mark()
    rig.send(rig.topic("group", "living", "circadian", "set"), "OFF")
    rig.circadian_switch("living", "OFF", after=mark)
    assert rig.state("fixture", "lamp-a", lambda s: s.get("circadian") == "OFF", after=mark)
    at(rig, AT_12)
    held = expected_slots(LIVING, AT_09.brightness, AT_09.kelvin)
    rig.steady(held, 3 * TICK_S)

    # Off → on does not re-enable a profile the user switched off.
    rig.set("group", "living", "OFF")
    rig.slots(dark(LIVING))
    mark = rig.probe.mark()
    rig.set("group", "living", "ON")
    rig.steady(held, 2 * TICK_S)
    switch_topic = rig.topic("group", "living", "circadian")
    assert "ON" not in [m.text for m in rig.probe.messages(switch_topic, after=mark)]

    mark = rig.probe.mark()
    rig.send(rig.topic("group", "living", "circadian", "set"), "ON")
    rig.circadian_switch("living", "ON", after=mark)
    rig.slots(expected_slots(LIVING, AT_12.brightness, AT_12.kelvin))


def test_fixture_override_suspends_only_that_fixture(rig: Rig) -> None:
    reset(rig, "office", OFFICE)
    turn_on(rig, "office", OFFICE, AT_09)

    mark = rig.probe.mark()
    rig.set("fixture", "office-1", {"brightness": 40})
    state = rig.state("fixture", "office-1", lambda s: s["brightness"] == 40, after=mark)
    # office's profile takes over all: colour stops too
    assert state["circadian"] == "ON" and state["circadian_paused"] == ["brightness", "colour"]
    at(rig, AT_12)
    one = {8: warm_cool_bytes(40, AT_09.kelvin)[0], 9: warm_cool_bytes(40, AT_09.kelvin)[1]}
    two = {10: warm_cool_bytes(255, 6500)[0], 11: warm_cool_bytes(255, 6500)[1]}
    rig.slots({**one, **two})
    rig.steady({**one, **two}, 2 * TICK_S)
    switch_topic = rig.topic("group", "office", "circadian")
    assert "OFF" not in [m.text for m in rig.probe.messages(switch_topic, after=mark)]
    assert rig.last_state("fixture", "office-2")["circadian"] == "ON"
    assert rig.last_state("fixture", "office-2")["circadian_paused"] == []
    assert rig.last_state("group", "office")["circadian_paused"] == ["brightness", "colour"]

    # Its own off → on resumes it.
    rig.set("fixture", "office-1", "OFF")
    rig.slots({8: 0, 9: 0})
    mark = rig.probe.mark()
    rig.set("fixture", "office-1", "ON")
    rig.slots(expected_slots(OFFICE, AT_12.brightness, AT_12.kelvin))
    assert rig.state("fixture", "office-1", on_target(AT_12), after=mark)["circadian"] == "ON"


def test_a_tick_never_turns_a_light_on(rig: Rig) -> None:
    reset(rig, "office", OFFICE)
    mark = rig.probe.mark()
    rig.set("fixture", "office-1", "ON")
    rig.slots({8: warm_cool_bytes(AT_09.brightness, AT_09.kelvin)[0]})

    for moment in (AT_23, AT_12, AT_03):
        at(rig, moment)
        rig.request("circadian/tick")
        rig.slots(
            expected_slots({"office-1": OFFICE["office-1"]}, moment.brightness, moment.kelvin)
        )
    rig.steady({10: 0, 11: 0, 12: 0}, 2 * TICK_S)
    for slug in ("office-2", "hall-1"):
        states = [m.json() for m in rig.probe.messages(rig.topic("fixture", slug), after=mark)]
        assert all(s["state"] == "OFF" for s in states), states

    # Turning off during a circadian fade cancels the fade: it stays dark.
    at(rig, AT_23)
    rig.slots(expected_slots({"office-1": OFFICE["office-1"]}, AT_23.brightness, 2700))
    rig.send(rig.topic("bridge", "request", "circadian", "clock"), f'{{"now": "{AT_12.utc}"}}')
    time.sleep(0.1)  # let the 0.5 s fade towards 12:00 get under way
    rig.set("group", "office", "OFF")
    rig.steady(dark(OFFICE), 3 * TICK_S)
    assert rig.last_state("fixture", "office-1")["state"] == "OFF"


def test_a_recalled_scene_holds_against_ticks(rig: Rig) -> None:
    """A scene is an explicit level: recalling it suspends the profile like a command."""
    reset(rig, "living", LIVING)
    turn_on(rig, "living", LIVING, AT_09)
    rig.request("scene/store", {"group": "living", "slug": "living-morning"})
    at(rig, AT_12)
    rig.slots(expected_slots(LIVING, AT_12.brightness, AT_12.kelvin))

    mark = rig.probe.mark()
    rig.send(rig.topic("scene", "living-morning", "set"), "ON")
    morning = expected_slots(LIVING, AT_09.brightness, AT_09.kelvin)
    rig.slots(morning)
    rig.steady(morning, 3 * TICK_S)
    for slug in LIVING:  # a scene sets brightness and colour: both are taken
        white = ["brightness", "colour"] if slug != "lamp-c" else ["brightness"]
        state = rig.state(
            "fixture", slug, lambda s, w=white: s["circadian_paused"] == w, after=mark
        )
        assert state["circadian"] == "ON", slug

    # and the next off → on resumes the profile
    rig.set("group", "living", "OFF")
    rig.slots(dark(LIVING))
    rig.set("group", "living", "ON")
    rig.slots(expected_slots(LIVING, AT_12.brightness, AT_12.kelvin))


def test_a_wall_switch_turns_on_at_profile_values_and_its_dimming_suspends(rig: Rig) -> None:
    reset(rig, "living", LIVING)
    press_topic = rig.topic("switch", "living-button", "action")
    mark = rig.probe.mark()
    rig.send(press_topic, "single")
    rig.slots(expected_slots(LIVING, AT_09.brightness, AT_09.kelvin))
    assert rig.state("fixture", "lamp-a", on_target(AT_09), after=mark)["circadian"] == "ON"

    mark = rig.probe.mark()
    rig.send(press_topic, "hold")
    # An 8-bit dimmer byte is the 16-bit level's high byte: 200 already shows from
    # brightness 199.2, so wait for 201 (from 200.2) before releasing at "at least 200".
    assert rig.widget.wait_for(lambda: (f := rig.widget.latest()) is not None and f.slot(5) >= 201)
    rig.send(press_topic, "release")
    released = rig.probe.wait_for(
        rig.topic("switch", "living-button", "event"),
        lambda m: m.json() == {"event_type": "release"},
        after=mark,
    )
    final = rig.probe.wait_json(rig.topic("fixture", "lamp-c"), after=released.index)
    assert final["circadian_paused"] == ["brightness"] and 200 <= final["brightness"] < 255
    at(rig, AT_23)
    rig.steady({5: final["brightness"]}, 3 * TICK_S)


def _wait_db(rig: Rig, query: str, *args: object, timeout: float = 3) -> None:
    deadline = time.monotonic() + timeout
    while not sql(rig.url, query, *args)[0]["ok"]:
        assert time.monotonic() < deadline, f"database never satisfied: {query}"
        time.sleep(0.05)


def test_suspension_survives_a_restart(rig: Rig) -> None:
    reset(rig, "den", DEN)
    reset(rig, "office", OFFICE)
    turn_on(rig, "den", DEN, AT_09)
    turn_on(rig, "office", OFFICE, AT_09)
    rig.set("group", "den", {"brightness": 60})
    rig.set("fixture", "office-1", {"brightness": 30})
    kept = {
        **expected_slots(DEN, 60, AT_09.kelvin),
        **expected_slots({"office-1": OFFICE["office-1"]}, 30, AT_09.kelvin),
    }
    rig.slots(kept)
    _wait_db(
        rig,
        "SELECT circadian_suspended AND NOT colour_suspended AS ok FROM fixture_state "
        "WHERE fixture_id = $1",
        rig.ids["den-1"],
    )
    _wait_db(
        rig,
        "SELECT circadian_suspended AND colour_suspended AS ok FROM fixture_state "
        "WHERE fixture_id = $1",
        rig.ids["office-1"],
    )
    # ... and per group, as PRODUCT.md's group_state says: the den's brightness is taken
    # over by hand (a fixture of the office is too: its group records it as well).
    _wait_db(
        rig,
        "SELECT bool_and(circadian_suspended) AS ok FROM group_state WHERE group_id = ANY($1)",
        [rig.ids["den"], rig.ids["office"]],
    )

    assert rig.bridge.terminate() == 0
    mark = rig.probe.mark()
    rig.bridge.start()
    rig.bridge.wait_online()
    rig.circadian_switch("den", "ON", after=mark)
    rig.circadian_switch("office", "ON", after=mark)
    assert rig.state("fixture", "den-1", after=mark)["circadian_paused"] == ["brightness"]
    assert rig.state("fixture", "office-1", after=mark)["circadian_paused"] == [
        "brightness",
        "colour",
    ]
    assert rig.state("fixture", "office-2", after=mark)["circadian_paused"] == []
    rig.slots(kept)

    at(rig, AT_12)
    rig.slots(expected_slots({"office-2": OFFICE["office-2"]}, AT_12.brightness, AT_12.kelvin))
    held = {  # den-1's colour follows the profile; office-1 is held whole
        **expected_slots(DEN, 60, AT_12.kelvin),
        **expected_slots({"office-1": OFFICE["office-1"]}, 30, AT_09.kelvin),
    }
    rig.steady(held, 2 * TICK_S)

    mark = rig.probe.mark()
    rig.set("group", "den", "OFF")
    rig.slots(dark(DEN))
    rig.set("group", "den", "ON")
    assert rig.state("fixture", "den-1", on_target(AT_12), after=mark)["circadian_paused"] == []
    rig.slots(expected_slots(DEN, AT_12.brightness, AT_12.kelvin))


def test_a_suspension_expires_after_the_configured_timeout(
    bridge_factory, mqtt_probe, tmp_path
) -> None:
    with EnttecEmulator(tmp_path / "widget") as widget:
        rig = start_rig(
            bridge_factory,
            widget,
            mqtt_probe,
            _build,
            env={
                "TAU_CIRCADIAN__CLOCK_CONTROL": "true",
                "TAU_CIRCADIAN__TICK_SECONDS": str(TICK_S),
                "TAU_CIRCADIAN__SUSPEND_TIMEOUT_S": "1",
                "TAU_LOCATION__TIMEZONE": "Europe/Berlin",
            },
        )
        at(rig, AT_09)
        turn_on(rig, "den", DEN, AT_09)
        mark = rig.probe.mark()
        rig.set("group", "den", {"brightness": 60})
        topic = rig.topic("fixture", "den-1")
        suspended = rig.probe.wait_for(
            topic, lambda m: m.json()["circadian_paused"] == ["brightness"], after=mark
        )
        rig.slots(expected_slots(DEN, 60, AT_09.kelvin))

        resumed = rig.probe.wait_for(
            topic, lambda m: m.json()["circadian_paused"] == [], after=suspended.index
        )
        assert resumed.received - suspended.received >= 0.9
        rig.slots(expected_slots(DEN, AT_09.brightness, AT_09.kelvin))
        assert widget.errors == []


def test_sleep_mode_turns_on_at_the_sleep_level_without_a_flash(rig: Rig) -> None:
    reset(rig, "den", DEN)
    turn_on(rig, "den", DEN, AT_09)  # den remembers the profile's 09:00 level
    rig.set("group", "den", "OFF")
    rig.slots(dark(DEN))

    mark = rig.probe.mark()
    rig.send(rig.topic("group", "den", "sleep", "set"), "ON")
    rig.probe.wait_for(rig.topic("group", "den", "sleep"), lambda m: m.text == "ON", after=mark)
    rig.widget.clear()
    mark = rig.probe.mark()
    rig.set("group", "den", "ON")
    # 1 % and the fixture's warmest white (the profile sets no sleep_kelvin)
    sleep = expected_slots(DEN, pct_to_255(1), 2700)
    assert sleep == {6: 3, 7: 0}
    rig.slots(sleep)
    lit = [f for f in rig.widget.frames if any(f.slot(c) for c in sleep)]
    assert lit and all({c: f.slot(c) for c in sleep} == sleep for f in lit), lit[:3]
    state = rig.state("fixture", "den-1", lambda s: s["state"] == "ON", after=mark)
    assert (state["brightness"], state["color_temp_kelvin"]) == (3, 2700)

    # Ticks keep the sleep level; sleep OFF goes back to the profile's.
    at(rig, AT_12)
    rig.steady(sleep, 2 * TICK_S)
    mark = rig.probe.mark()
    rig.send(rig.topic("group", "den", "sleep", "set"), "OFF")
    rig.slots(expected_slots(DEN, AT_12.brightness, AT_12.kelvin))
    rig.probe.wait_for(rig.topic("group", "den", "sleep"), lambda m: m.text == "OFF", after=mark)

    mark = rig.probe.mark()
    rig.send(rig.topic("group", "den", "sleep", "set"), "maybe")
    entry = rig.probe.wait_json(rig.topic("bridge", "log"), after=mark)
    assert "sleep payload must be ON or OFF" in entry["message"]


def test_sleep_mode_survives_a_restart(rig: Rig) -> None:
    """Sleep ON, a clean stop and a start: the switch still says ON (its retained topic,
    what Home Assistant's Sleep switch reads) and the group turns on at the sleep level."""
    reset(rig, "den", DEN)
    mark = rig.probe.mark()
    rig.send(rig.topic("group", "den", "sleep", "set"), "ON")
    sleep_topic = rig.topic("group", "den", "sleep")
    rig.probe.wait_for(sleep_topic, lambda m: m.text == "ON", after=mark)

    # Stopped as soon as it says ON: the clean stop writes what is not written yet.
    assert rig.bridge.terminate() == 0
    assert sql(rig.url, "SELECT sleep FROM group_state WHERE group_id = $1", rig.ids["den"]) == [
        {"sleep": True}
    ]
    mark = rig.probe.mark()
    rig.bridge.start()
    rig.bridge.wait_online()
    rig.probe.wait_for(sleep_topic, lambda m: m.text == "ON", after=mark)
    assert [m.text for m in rig.probe.messages(sleep_topic, after=mark)] == ["ON"]
    assert rig.state("fixture", "den-1", after=mark)["state"] == "OFF"

    # Home Assistant's Sleep switch reads the retained state topic its discovery names.
    configs = rig.probe.retained(rig.bridge.discovery_prefix)
    switch = next(
        m.json()
        for topic, m in configs.items()
        if topic.startswith(f"{rig.bridge.discovery_prefix}/switch/")
        and m.json()["default_entity_id"] == "switch.den_sleep"
    )
    assert switch["state_topic"] == sleep_topic
    assert rig.probe.retained(rig.topic("group", "den"))[sleep_topic].text == "ON"

    # Turning on lands at the sleep level: 1 % at the warmest white, from the first frame.
    rig.widget.clear()
    mark = rig.probe.mark()
    rig.set("group", "den", "ON")
    sleep = expected_slots(DEN, pct_to_255(1), 2700)
    rig.slots(sleep)
    lit = [f for f in rig.widget.frames if any(f.slot(c) for c in sleep)]
    assert lit and {c: lit[0].slot(c) for c in sleep} == sleep, lit[:3]
    assert all({c: f.slot(c) for c in sleep} == sleep for f in lit), lit[:3]
    state = rig.state("fixture", "den-1", lambda s: s["state"] == "ON", after=mark)
    assert (state["brightness"], state["color_temp_kelvin"]) == (3, 2700)

    mark = rig.probe.mark()
    rig.send(rig.topic("group", "den", "sleep", "set"), "OFF")
    rig.probe.wait_for(sleep_topic, lambda m: m.text == "OFF", after=mark)
