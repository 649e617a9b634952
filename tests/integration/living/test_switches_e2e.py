"""Wall switches end to end: presses on the Tau topic or a foreign input topic, DMX out.

The switch models are the seeded ones (`database/seeds/03-switch-models.sql`, so
the Zigbee2MQTT vocabulary tested is the one users get); fixtures and switches
are built here: one dimmer channel per fixture, linear, so a byte is a brightness.
Every switch uses a 200 ms double-tap window, 300 ms hold and a 2 s full sweep.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Callable

import asyncpg
import pytest
from testkit.db import DATABASE_DIR, object_key
from testkit.mqtt import Message

from tests.integration.living.conftest import Rig, add_fixture, add_group, add_model, start_rig

FOREIGN = f"z2m-{uuid.uuid4().hex[:8]}"  # a foreign base, unique on the shared broker

# slug -> group, dimmer channels
GROUPS = {
    "hall": [1, 2],
    "den": [4],
    "lounge": [5, 6],
    "study": [7],
    "workshop": [8],
}
PORCH = 3  # a fixture on its own, the rocker's target
MOMENTARY = ("Generic", "Momentary push button")
SWITCHES = {  # slug -> (model, target, input topic)
    "button": (MOMENTARY, ("group", "hall"), f"{FOREIGN}/button/action"),
    "gpio": (MOMENTARY, ("group", "workshop"), f"{FOREIGN}/gpio/contact"),
    "rocker": (("Generic", "Latching rocker switch"), ("fixture", "porch"), f"{FOREIGN}/rocker"),
    "knob": (("Generic", "Rotary encoder with push"), ("group", "den"), f"{FOREIGN}/knob/action"),
    "keypad": (("Generic", "4-button scene keypad"), ("group", "lounge"), f"{FOREIGN}/keypad"),
    "remote1": (
        ("IKEA", "TRADFRI remote control E1524/E1810"),
        ("group", "study"),
        f"{FOREIGN}/remote1/action",
    ),
}
LOUNGE_SCENES = {  # recalled by button_<n> in id order: (on, brightness) per member
    "lounge-reading": [(True, 200), (False, 90)],
    "lounge-movie": [(True, 30), (True, 60)],
}
TRADFRI_ACTIONS = [
    "toggle",
    "toggle_hold",
    "brightness_up_click",
    "brightness_down_click",
    "brightness_up_hold",
    "brightness_up_release",
    "brightness_down_hold",
    "brightness_down_release",
    "arrow_left_click",
    "arrow_right_click",
    "arrow_left_hold",
    "arrow_right_hold",
    "arrow_left_release",
    "arrow_right_release",
]
EXPECTED_ACTIONS = {
    "button": {"single", "double", "hold", "release"},
    "gpio": {"single", "double", "hold", "release"},
    "rocker": {"on", "off"},
    "knob": {"rotate", "single"},
    "keypad": {"button_1", "button_2", "button_3", "button_4"},
    "remote1": set(TRADFRI_ACTIONS),
}


async def _build(conn: asyncpg.Connection) -> dict[str, int]:
    await conn.execute((DATABASE_DIR / "seeds" / "03-switch-models.sql").read_text())
    dimmer = await add_model(conn, "dimmer", ["dimmer"])
    ids: dict[str, int] = {"porch": await add_fixture(conn, "porch", dimmer, PORCH)}
    for group, channels in GROUPS.items():
        members = []
        for n, channel in enumerate(channels, 1):
            ids[f"{group}-{n}"] = await add_fixture(conn, f"{group}-{n}", dimmer, channel)
            members.append(ids[f"{group}-{n}"])
        ids[group] = await add_group(conn, group, members)
    for scene, values in LOUNGE_SCENES.items():
        ids[scene] = await conn.fetchval(
            "INSERT INTO scenes (name, slug, group_id) VALUES ($1, $1, $2) RETURNING id",
            scene,
            ids["lounge"],
        )
        for n, (on, brightness) in enumerate(values, 1):
            await conn.execute(
                "INSERT INTO scene_values (scene_id, fixture_id, is_on, brightness) "
                "VALUES ($1, $2, $3, $4)",
                ids[scene],
                ids[f"lounge-{n}"],
                on,
                brightness,
            )
    for slug, ((maker, model), (kind, target), topic) in SWITCHES.items():
        model_id = await conn.fetchval(
            "SELECT id FROM switch_models WHERE manufacturer = $1 AND model = $2", maker, model
        )
        ids[slug] = await conn.fetchval(
            "INSERT INTO switches (name, slug, switch_model_id, target_group_id, "
            "target_fixture_id, input_topic, double_tap_ms, hold_ms, dim_speed_ms) "
            "VALUES ($1, $1, $2, $3, $4, $5, 200, 300, 2000) RETURNING id",
            slug,
            model_id,
            ids[target] if kind == "group" else None,
            ids[target] if kind == "fixture" else None,
            topic,
        )
    return ids


@pytest.fixture(scope="module")
def rig(living_factory, living_widget, living_probe) -> Rig:
    rig = start_rig(living_factory, living_widget, living_probe, _build)
    living_probe.subscribe(f"{FOREIGN}/#")
    return rig


Press = Callable[[str], None]


def presser(rig: Rig, slug: str, via: str) -> Press:
    """Publishes an action for switch `slug` on the Tau topic or its foreign input topic.

    On the foreign topic a JSON payload is sent as {"action": ...} like a Zigbee2MQTT
    or Shelly device; plain names are sent as they are.
    """
    topic = rig.topic("switch", slug, "action") if via == "tau" else SWITCHES[slug][2]

    def press(action: str) -> None:
        rig.send(topic, action)

    return press


def events(rig: Rig, slug: str, after: int) -> list[str]:
    return [
        m.json()["event_type"]
        for m in rig.probe.messages(rig.topic("switch", slug, "event"), after=after)
    ]


def assert_events(rig: Rig, slug: str, after: int, expected: list[str]) -> None:
    """The switch re-emitted exactly `expected` (in order) since `after`."""
    deadline = time.monotonic() + 3
    while len(events(rig, slug, after)) < len(expected) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert events(rig, slug, after) == expected


def wait_event(rig: Rig, slug: str, action: str, after: int, timeout: float = 3) -> Message:
    """Wait for `{"event_type": action}` on the switch's event topic."""
    return rig.probe.wait_for(
        rig.topic("switch", slug, "event"),
        lambda m: m.json() == {"event_type": action},
        timeout,
        after=after,
    )


def level(rig: Rig, channel: int) -> int:
    frame = rig.widget.latest()
    return frame.slot(channel) if frame else 0


def wait_level(rig: Rig, channel: int, predicate: Callable[[int], bool], timeout: float = 3) -> int:
    assert rig.widget.wait_for(lambda: predicate(level(rig, channel)), timeout), level(rig, channel)
    return level(rig, channel)


def assert_ramp(rig: Rig, channel: int, since: float, up: bool) -> list[int]:
    """The channel's values in frames since `since`: monotonic, in small steps, really moving."""
    values = [f.slot(channel) for f in rig.widget.frames if f.t >= since]
    assert values == sorted(values, reverse=not up), values
    steps = [abs(b - a) for a, b in itertools.pairwise(values)]
    assert len(set(values)) >= 8 and max(steps) <= 8, values
    # dim_speed_ms 2000: the whole 0-255 range in 2 s, so about 128 units a second.
    moving = [(f.t, f.slot(channel)) for f in rig.widget.frames if f.t >= since]
    changes = [i for i in range(1, len(moving)) if moving[i][1] != moving[i - 1][1]]
    (t0, v0), (t1, v1) = moving[changes[0] - 1], moving[changes[-2]]
    rate = abs(v1 - v0) / (t1 - t0)
    assert 90 <= rate <= 170, f"{rate:.0f} units/s"
    return values


def hold_and_release(
    rig: Rig,
    slug: str,
    press: Press,
    channels: list[int],
    up: bool,
    *,
    hold: str = "hold",
    release: str = "release",
    raw: bool = False,
    travel: int = 60,
) -> int:
    """Hold, let it ramp `travel` levels, release: the ramp is smooth and monotonic, and
    stops exactly where the published state says. Returns that brightness."""
    start = level(rig, channels[0])
    mark = rig.probe.mark()
    since = time.monotonic()
    press("press" if raw else hold)
    if raw:  # the classifier decides on a hold by itself after hold_ms
        assert wait_event(rig, slug, "hold", mark).received - since >= 0.25
    wait_level(
        rig, channels[0], (lambda v: v >= start + travel) if up else (lambda v: v <= start - travel)
    )
    press(release)
    released = wait_event(rig, slug, release, mark)
    assert_ramp(rig, channels[0], since, up)
    member = f"{SWITCHES[slug][1][1]}-1"
    final = int(
        rig.probe.wait_json(rig.topic("fixture", member), after=released.index)["brightness"]
    )
    rig.steady(dict.fromkeys(channels, final), 0.4)
    return final


def off(rig: Rig, kind: str, slug: str, channels: list[int]) -> None:
    rig.set(kind, slug, "OFF")
    rig.slots(dict.fromkeys(channels, 0))


# ------------------------------------------------------------------------ discovery


def test_device_triggers_are_discovered_up_front_for_every_action(rig: Rig) -> None:
    """Before any press: one trigger per supported action, unique (type, subtype) per
    device, all reading the switch's event topic; plus an event entity listing them."""
    retained = {t: m.json() for t, m in rig.probe.retained(rig.bridge.discovery_prefix).items()}
    node = rig.bridge.base_topic
    for slug, expected in EXPECTED_ACTIONS.items():
        sid = object_key(rig.url, "switches", rig.ids[slug])
        triggers = {
            c["payload"]: c
            for t, c in retained.items()
            if t.startswith(f"{rig.bridge.discovery_prefix}/device_automation/{node}/switch_{sid}_")
        }
        assert set(triggers) == expected, slug
        for config in triggers.values():
            assert config["automation_type"] == "trigger"
            assert config["topic"] == rig.topic("switch", slug, "event")
            assert "value_json.event_type" in config["value_template"]
            assert config["type"] and config["subtype"] and config["device"]["identifiers"]
        pairs = {(c["type"], c["subtype"]) for c in triggers.values()}
        assert len(pairs) == len(triggers), f"{slug}: (type, subtype) must be unique"
        event = retained[f"{rig.bridge.discovery_prefix}/event/{node}/switch_{sid}/config"]
        assert set(event["event_types"]) == expected
        assert event["state_topic"] == rig.topic("switch", slug, "event")
    key = object_key(rig.url, "switches", rig.ids["button"])
    button = {
        c["payload"]: c["type"]
        for t, c in retained.items()
        if f"/device_automation/{node}/switch_{key}_" in t
    }
    assert button == {
        "single": "button_short_press",
        "double": "button_double_press",
        "hold": "button_long_press",
        "release": "button_long_release",
    }


# ------------------------------------------------------------------------- presses


@pytest.mark.parametrize("via", ["tau", "foreign"])
def test_momentary_single_double_hold_release(rig: Rig, via: str) -> None:
    press = presser(rig, "button", via)
    hall = GROUPS["hall"]
    off(rig, "group", "hall", hall)
    mark = rig.probe.mark()

    press("single" if via == "tau" else '{"action": "single"}')
    on = rig.state("group", "hall", lambda s: s["state"] == "ON", after=mark)
    rig.slots(dict.fromkeys(hall, on["brightness"]))
    press("single")
    rig.state("group", "hall", lambda s: s["state"] == "OFF", after=mark)
    rig.slots(dict.fromkeys(hall, 0))

    press("double")
    rig.slots(dict.fromkeys(hall, 255))
    off(rig, "group", "hall", hall)

    # Hold from off ramps up from the bottom; the next hold goes the other way. The first
    # ramp goes far enough up that the second has 60 levels of room above the floor (1):
    # released at 60 exactly, the way down could never reach 0.
    top = hold_and_release(rig, "button", press, hall, up=True, travel=120)
    assert 120 <= top < 255
    bottom = hold_and_release(rig, "button", press, hall, up=False)
    assert 1 <= bottom < top
    assert_events(rig, "button", mark, [
        "single", "single", "double", "hold", "release", "hold", "release",
    ])  # fmt: skip


@pytest.mark.parametrize("via", ["tau", "foreign"])
def test_raw_press_release_is_classified(rig: Rig, via: str) -> None:
    press = presser(rig, "gpio", via)
    workshop = GROUPS["workshop"]
    off(rig, "group", "workshop", workshop)

    # A tap is a single once the 200 ms double-tap window has passed without a second.
    mark = rig.probe.mark()
    press("press")
    press("release")
    released = time.monotonic()
    assert wait_event(rig, "gpio", "single", mark).received - released >= 0.15
    on = rig.state("group", "workshop", lambda s: s["state"] == "ON", after=mark)
    rig.slots(dict.fromkeys(workshop, on["brightness"]))

    # Two quick taps are one double (full), never a single.
    mark = rig.probe.mark()
    for edge in ("press", "release", "press", "release"):
        press(edge)
    wait_event(rig, "gpio", "double", mark)
    rig.slots(dict.fromkeys(workshop, 255))
    rig.steady(dict.fromkeys(workshop, 255), 0.3)
    assert_events(rig, "gpio", mark, ["double"])

    # Held past 300 ms it is a hold: the light ramps until the release.
    off(rig, "group", "workshop", workshop)
    mark = rig.probe.mark()
    top = hold_and_release(rig, "gpio", press, workshop, up=True, raw=True)
    assert 60 <= top < 255
    assert_events(rig, "gpio", mark, ["hold", "release"])


@pytest.mark.parametrize("via", ["tau", "foreign"])
def test_latching_on_off_reaches_dmx_at_once(rig: Rig, via: str) -> None:
    press = presser(rig, "rocker", via)
    off(rig, "fixture", "porch", [PORCH])
    rig.set("fixture", "porch", {"state": "ON", "brightness": 180})
    rig.slots({PORCH: 180})
    off(rig, "fixture", "porch", [PORCH])

    mark = rig.probe.mark()
    sent = time.monotonic()
    press("on")
    frame = rig.slots({PORCH: 180})
    assert frame.t - sent < 0.25, "a press reaches DMX in the next frame"
    press("off")
    rig.slots({PORCH: 0})
    press("off")  # a latching switch is a position, not a toggle
    rig.steady({PORCH: 0}, 0.2)
    assert_events(rig, "rocker", mark, ["on", "off", "off"])


@pytest.mark.parametrize("via", ["tau", "foreign"])
def test_rotary_steps_brightness(rig: Rig, via: str) -> None:
    press = presser(rig, "knob", via)
    den = GROUPS["den"]
    rig.set("group", "den", {"state": "ON", "brightness": 100})
    rig.slots({den[0]: 100})
    mark = rig.probe.mark()

    press("rotate:+30")
    rig.slots({den[0]: 130})
    press('{"action": "rotate", "delta": -50}' if via == "foreign" else "rotate:-50")
    rig.slots({den[0]: 80})
    rig.state("group", "den", lambda s: s["brightness"] == 80, after=mark)
    press("single")
    rig.slots({den[0]: 0})
    assert_events(rig, "knob", mark, ["rotate", "rotate", "single"])


@pytest.mark.parametrize("via", ["tau", "foreign"])
def test_keypad_buttons_recall_the_groups_scenes(rig: Rig, via: str) -> None:
    press = presser(rig, "keypad", via)
    lounge = GROUPS["lounge"]
    off(rig, "group", "lounge", lounge)
    mark = rig.probe.mark()

    press("button_1" if via == "tau" else '{"action": "button_1"}')
    rig.slots({lounge[0]: 200, lounge[1]: 0})
    press("button_2")
    rig.slots({lounge[0]: 30, lounge[1]: 60})
    press("button_1")
    rig.slots({lounge[0]: 200, lounge[1]: 0})
    assert_events(rig, "keypad", mark, ["button_1", "button_2", "button_1"])


@pytest.mark.parametrize("via", ["tau", "foreign"])
def test_zigbee2mqtt_remote_vocabulary(rig: Rig, via: str) -> None:
    press = presser(rig, "remote1", via)
    study = GROUPS["study"]
    off(rig, "group", "study", study)
    rig.set("group", "study", {"state": "ON", "brightness": 120})
    off(rig, "group", "study", study)
    mark = rig.probe.mark()
    log_mark = rig.probe.mark()

    press("toggle")
    rig.slots({study[0]: 120})
    press("")  # Zigbee2MQTT clears the action after each press: ignored, not an error
    press("brightness_down_click")
    rig.slots({study[0]: 120 - 32})

    up_to = hold_and_release(
        rig,
        "remote1",
        press,
        study,
        up=True,
        hold="brightness_up_hold",
        release="brightness_up_release",
    )
    hold_and_release(
        rig,
        "remote1",
        press,
        study,
        up=False,
        hold="brightness_down_hold",
        release="brightness_down_release",
    )
    assert up_to > 120 - 32

    # The device's whole state JSON works too (action plus battery, linkquality...).
    press('{"action": "toggle", "battery": 87, "linkquality": 120}')
    rig.slots({study[0]: 0})
    assert_events(rig, "remote1", mark, [
        "toggle", "brightness_down_click", "brightness_up_hold", "brightness_up_release",
        "brightness_down_hold", "brightness_down_release", "toggle",
    ])  # fmt: skip
    assert rig.probe.messages(rig.topic("bridge", "log"), after=log_mark) == []


def test_an_unknown_action_is_logged_and_changes_nothing(rig: Rig) -> None:
    hall = GROUPS["hall"]
    off(rig, "group", "hall", hall)
    mark = rig.probe.mark()
    presser(rig, "button", "foreign")("spin")
    entry = rig.probe.wait_json(rig.topic("bridge", "log"), after=mark)
    assert entry["topic"] == SWITCHES["button"][2]
    assert "spin" in entry["message"] and "single" in entry["message"]
    rig.steady(dict.fromkeys(hall, 0), 0.2)
    assert_events(rig, "button", mark, [])
