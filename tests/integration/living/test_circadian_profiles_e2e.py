"""Circadian profile settings changed over MQTT (`circadian/profile/...`), end to end:
the running bridge reloads and its next manual change, tick, timeout or sleep level
already follows the new settings, read back as DMX bytes at the emulated widget. Bad
values are refused in the edit layer's words and change nothing.

The day and the clock are `test_circadian_e2e`'s (06:00 20 % 2700 K → 12:00 100 %
6500 K → 20:00 40 % 2700 K, Europe/Berlin); one profile "Day" with the default settings,
followed by "lounge" (a warm/cool pair and a dimmer); "Spare" is followed by nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest
from testkit.db import sql

from tests.integration.living.conftest import (
    Rig,
    add_fixture,
    add_group,
    add_model,
    pct_to_255,
    start_rig,
)
from tests.integration.living.test_circadian_e2e import (
    AT_09,
    AT_12,
    CLOCK_ENV,
    PROFILE,
    TICK_S,
    at,
    dark,
    expected_slots,
    on_target,
    reset,
    turn_on,
)

LOUNGE = {"lounge-1": ("wc", 1), "lounge-2": ("dim", 3)}
SETTINGS = "SELECT take_over, resume_after_s, sleep_brightness_pct, sleep_kelvin, keyframes"
DEFAULTS = {"take_over": "changed", "resume_after_s": None, "sleep_kelvin": None}


async def _build(conn: asyncpg.Connection) -> dict[str, int]:
    models = {
        "wc": await add_model(conn, "warm-cool", ["warm", "cool"]),
        "dim": await add_model(conn, "dimmer", ["dimmer"]),
    }
    day = await conn.fetchval(
        "INSERT INTO circadian_profiles (name, keyframes) VALUES ('Day', $1::jsonb) RETURNING id",
        json.dumps(PROFILE),
    )
    await conn.execute(
        "INSERT INTO circadian_profiles (name, keyframes) VALUES ('Spare', $1::jsonb)",
        json.dumps(PROFILE),
    )
    ids = {slug: await add_fixture(conn, slug, models[m], s) for slug, (m, s) in LOUNGE.items()}
    ids["lounge"] = await add_group(conn, "lounge", list(ids.values()), day)
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


@pytest.fixture
def day(rig: Rig) -> Iterator[Rig]:
    """Day back at its defaults after the test, whatever the test changed."""
    yield rig
    body = {"name": "Day", **DEFAULTS, "sleep_brightness_pct": 1, "keyframes": PROFILE}
    rig.request("circadian/profile/update", body)
    rig.send(rig.topic("group", "lounge", "sleep", "set"), "OFF")


def refused(rig: Rig, name: str, body: dict[str, Any]) -> str:
    """A request's error, which `tau/bridge/log` repeats."""
    mark = rig.probe.mark()
    rig.send(rig.topic("bridge", "request", *name.split("/")), {**body, "transaction": "bad"})
    reply = rig.probe.wait_json(
        rig.topic("bridge", "response", *name.split("/")),
        lambda d: d.get("transaction") == "bad",
        after=mark,
    )
    assert reply["status"] == "error", reply
    logged = rig.probe.wait_json(rig.topic("bridge", "log"), after=mark)
    assert logged["message"] == reply["error"]
    return str(reply["error"])


def test_take_over_all_set_by_request_holds_colour_on_a_manual_brightness(day: Rig) -> None:
    rig = day
    reset(rig, "lounge", LOUNGE)
    turn_on(rig, "lounge", LOUNGE, AT_09)
    # `changed` (the default): a brightness change leaves colour adapting
    mark = rig.probe.mark()
    rig.set("group", "lounge", {"brightness": 50})
    state = rig.state("fixture", "lounge-1", lambda s: s["brightness"] == 50, after=mark)
    assert state["circadian_paused"] == ["brightness"]
    at(rig, AT_12)
    rig.slots(expected_slots(LOUNGE, 50, AT_12.kelvin))

    reply = rig.request("circadian/profile/update", {"name": "Day", "take_over": "all"})
    assert reply["take_over"] == "all" and reply["groups"] == ["lounge"]
    # the bridge reloaded before replying: the next manual change takes over all
    reset(rig, "lounge", LOUNGE)
    turn_on(rig, "lounge", LOUNGE, AT_09)
    mark = rig.probe.mark()
    rig.set("group", "lounge", {"brightness": 50})
    state = rig.state("fixture", "lounge-1", lambda s: s["brightness"] == 50, after=mark)
    assert state["circadian"] == "ON"
    assert state["circadian_paused"] == ["brightness", "colour"]
    at(rig, AT_12)
    held = expected_slots(LOUNGE, 50, AT_09.kelvin)
    rig.steady(held, 3 * TICK_S)
    assert rig.last_state("fixture", "lounge-1")["color_temp_kelvin"] == AT_09.kelvin


def test_resume_after_set_by_request_hands_back_and_null_clears_it(day: Rig) -> None:
    rig = day
    reset(rig, "lounge", LOUNGE)
    turn_on(rig, "lounge", LOUNGE, AT_09)
    assert rig.request("circadian/profile/update", {"name": "Day", "resume_after_s": 1})[
        "resume_after_s"
    ] == pytest.approx(1)
    mark = rig.probe.mark()
    rig.set("group", "lounge", {"brightness": 60})
    topic = rig.topic("fixture", "lounge-2")
    taken = rig.probe.wait_for(
        topic, lambda m: m.json()["circadian_paused"] == ["brightness"], after=mark
    )
    back = rig.probe.wait_for(
        topic, lambda m: m.json()["circadian_paused"] == [], after=taken.index
    )
    assert back.received - taken.received >= 0.9
    rig.slots(expected_slots(LOUNGE, AT_09.brightness, AT_09.kelvin))

    reply = rig.request("circadian/profile/update", {"name": "Day", "resume_after_s": None})
    assert reply["resume_after_s"] is None
    rig.set("group", "lounge", {"brightness": 60})
    rig.steady(expected_slots(LOUNGE, 60, AT_09.kelvin), 4 * TICK_S)  # held past 1 s now


def test_sleep_level_set_by_request_is_where_sleep_mode_turns_on(day: Rig) -> None:
    rig = day
    reset(rig, "lounge", LOUNGE)
    reply = rig.request(
        "circadian/profile/update",
        {"name": "Day", "sleep_brightness_pct": 10, "sleep_kelvin": 3000},
    )
    assert (reply["sleep_brightness_pct"], reply["sleep_kelvin"]) == (10, 3000)
    mark = rig.probe.mark()
    rig.send(rig.topic("group", "lounge", "sleep", "set"), "ON")
    rig.probe.wait_for(rig.topic("group", "lounge", "sleep"), lambda m: m.text == "ON", after=mark)
    mark = rig.probe.mark()
    rig.set("group", "lounge", "ON")
    rig.slots(expected_slots(LOUNGE, pct_to_255(10), 3000))
    state = rig.state("fixture", "lounge-1", lambda s: s["state"] == "ON", after=mark)
    assert (state["brightness"], state["color_temp_kelvin"]) == (pct_to_255(10), 3000)


def test_bad_values_are_refused_in_the_edit_layers_words_and_change_nothing(rig: Rig) -> None:
    before = sql(rig.url, f"{SETTINGS} FROM circadian_profiles ORDER BY name")
    update = "invalid circadian/profile/update request"
    cases = {
        "take_over": (
            "some",
            f'{update}: take_over: take_over must be "changed" (a manual change takes over '
            'only what it changed) or "all" (any manual level or colour takes over both), '
            'got "some"',
        ),
        "resume_after_s": (
            0,
            f"{update}: resume_after_s: resume_after_s must be a number of seconds above 0, "
            "or null (a manual change is handed back only at the next off → on or by the "
            "Circadian switch), got 0",
        ),
        "sleep_brightness_pct": (
            101,
            f"{update}: sleep_brightness_pct: sleep_brightness_pct must be above 0 and at "
            "most 100 (percent), got 101",
        ),
        "sleep_kelvin": (
            500,
            f"{update}: sleep_kelvin: sleep_kelvin must be a whole number from 1000 to 20000 "
            "(kelvin), or null (each fixture's warmest white), got 500",
        ),
    }
    for field, (value, words) in cases.items():
        assert refused(rig, "circadian/profile/update", {"name": "Day", field: value}) == words
    # what only the edit layer and the database can judge, in their words
    assert refused(rig, "circadian/profile/update", {"name": "Day", "take_over": None}) == (
        'take_over cannot be null: take_over must be "changed" (a manual change takes over '
        'only what it changed) or "all" (any manual level or colour takes over both)'
    )
    bad_frames = [{"at": "06:00", "brightness": 20, "kelvin": 500}]
    assert refused(rig, "circadian/profile/update", {"name": "Day", "keyframes": bad_frames}) == (
        "circadian profile 'Day': keyframe 1: \"kelvin\" must be a number from 1000 to 20000, "
        "got 500"
    )
    assert (
        refused(rig, "circadian/profile/update", {"name": "Night", "take_over": "all"})
        == "no circadian profile named 'Night'"
    )
    assert refused(rig, "circadian/profile/add", {"name": "Spare", "keyframes": PROFILE}) == (
        "a circadian profile with name 'Spare' already exists"
    )
    assert refused(rig, "circadian/profile/remove", {"name": "Day"}) == (
        "circadian profile 'Day' is still followed by 1 group (lounge): give them another "
        "profile or none first (the group/update request's circadian_profile, null for none)"
    )
    assert sql(rig.url, f"{SETTINGS} FROM circadian_profiles ORDER BY name") == before


def test_add_list_and_remove_by_request(rig: Rig) -> None:
    frames = [{"at": "07:00", "brightness": 50, "kelvin": 3000}]
    added = rig.request(
        "circadian/profile/add",
        {"name": "Evening", "keyframes": frames, "take_over": "all", "sleep_kelvin": 2200},
    )
    assert added == {
        "id": added["id"],
        "name": "Evening",
        "keyframes": frames,
        "take_over": "all",
        "resume_after_s": None,
        "sleep_brightness_pct": 1,
        "sleep_kelvin": 2200,
        "groups": [],
    }
    listed = rig.request("circadian/profile/list")
    assert [p["name"] for p in listed] == ["Day", "Evening", "Spare"]
    assert listed[0]["groups"] == ["lounge"]
    assert rig.request("circadian/profile/remove", {"name": "Evening"})["name"] == "Evening"
    assert [p["name"] for p in rig.request("circadian/profile/list")] == ["Day", "Spare"]


def test_the_lounge_still_follows_day_after_the_changes(rig: Rig) -> None:
    """What the other tests changed was put back: the profile drives the lounge as before."""
    reset(rig, "lounge", LOUNGE)
    turn_on(rig, "lounge", LOUNGE, AT_09)
    mark = rig.probe.mark()
    at(rig, AT_12)
    rig.slots(expected_slots(LOUNGE, AT_12.brightness, AT_12.kelvin))
    rig.state("fixture", "lounge-1", on_target(AT_12), after=mark)
    rig.set("group", "lounge", "OFF")
    rig.slots(dark(LOUNGE))
