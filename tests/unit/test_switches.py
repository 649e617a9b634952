"""Switches: normalisation, intents, press classification, engine and HA trigger types."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tau.core.commands import LightCommand
from tau.core.model import Installation, Scene, Switch, SwitchModel
from tau.errors import ConfigurationError, InvalidCommandError, UnknownTargetError
from tau.features.switches.classifier import PressClassifier
from tau.features.switches.engine import PressTimer, SwitchEngine
from tau.features.switches.vocabulary import (
    Action,
    Target,
    default_intent,
    normalize_action,
    parse_intent,
    supported_actions,
    trigger_types,
    validate_switch,
)

MOMENTARY = SwitchModel(1, "Generic", "Push button", "momentary", ("press", "release"), {})
LATCHING = SwitchModel(2, "Generic", "Rocker", "latching", ("on", "off"), {})
ROTARY = SwitchModel(3, "Generic", "Knob", "rotary", ("rotate", "single"), {})
KEYPAD = SwitchModel(4, "Generic", "4-button", "keypad", ("button_1", "button_2", "button_3"), {})
HUE_DIMMER = SwitchModel(
    5,
    "Philips",
    "324131092621",
    "momentary",
    (
        "on_press",
        "on_press_release",
        "on_hold",
        "on_hold_release",
        "up_press",
        "up_hold",
        "up_hold_release",
        "down_press",
        "down_hold",
        "down_hold_release",
        "off_press",
        "off_hold",
    ),
    {"off_hold": "scene:night"},
)
IKEA_REMOTE = SwitchModel(
    6,
    "IKEA",
    "E1524/E1810",
    "momentary",
    (
        "toggle",
        "brightness_up_click",
        "brightness_down_click",
        "brightness_up_hold",
        "brightness_up_release",
        "brightness_down_hold",
        "brightness_down_release",
        "arrow_left_click",
        "arrow_right_click",
        "toggle_hold",
    ),
    {"arrow_left_click": "scene_index:1", "arrow_right_click": "scene_index:2"},
)
Z2M_DIMMER = SwitchModel(
    7,
    "Tuya",
    "knob",
    "rotary",
    (
        "toggle",
        "brightness_step_up",
        "brightness_step_down",
        "brightness_move_up",
        "brightness_move_down",
        "brightness_stop",
    ),
    {},
)


def make_switch(
    model: SwitchModel,
    *,
    sid: int = 1,
    group: int | None = 10,
    fixture: int | None = None,
    mapping: dict[str, str] | None = None,
    dim_speed_ms: int = 2000,
) -> Switch:
    return Switch(sid, f"switch {sid}", f"sw{sid}", model, group, fixture, None,
                  mapping or {}, 500, 500, dim_speed_ms)  # fmt: skip


class Harness:
    """A SwitchEngine wired to recording callbacks and a settable target level."""

    def __init__(self, *switches: Switch, scenes: dict[int, Scene] | None = None) -> None:
        self.emitted: list[tuple[Target, LightCommand]] = []
        self.recalled: list[int] = []
        self.level: tuple[bool, int] = (False, 255)
        self.engine = SwitchEngine(
            lambda target, command: self.emitted.append((target, command)),
            self.recalled.append,
            lambda _target: self.level,
        )
        scenes = scenes or {}
        self.problems = self.engine.set_installation(
            Installation(
                switches={s.id: s for s in switches},
                scenes=scenes,
                scene_by_slug={s.slug: i for i, s in scenes.items()},
            )
        )

    def press(self, payload: str | bytes, now: float = 0.0, sid: int = 1) -> list[str]:
        raw = payload.encode() if isinstance(payload, str) else payload
        return self.engine.handle(sid, raw, now)

    def commands(self) -> list[LightCommand]:
        return [c for _, c in self.emitted]


SCENES = {
    5: Scene(5, "Bright", "bright", 10, ()),
    3: Scene(3, "Relax", "relax", 10, ()),
    8: Scene(8, "Night", "night", 11, ()),
}


# --- normalisation --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "payload", "expected"),
    [
        (MOMENTARY, "single", Action("single")),
        (MOMENTARY, " DOUBLE\n", Action("double")),
        (MOMENTARY, "hold", Action("hold")),
        (MOMENTARY, "release", Action("release")),
        (MOMENTARY, "press", Action("press")),
        (LATCHING, "ON", Action("on")),
        (LATCHING, "off", Action("off")),
        (ROTARY, "rotate:+12", Action("rotate", 12)),
        (ROTARY, "rotate:-300", Action("rotate", -300)),
        (KEYPAD, "button_2", Action("button_2")),
        (HUE_DIMMER, "up_hold", Action("up_hold")),
        (IKEA_REMOTE, "brightness_up_click", Action("brightness_up_click")),
        (IKEA_REMOTE, "toggle", Action("toggle")),
        (MOMENTARY, '{"action": "single"}', Action("single")),
        (MOMENTARY, '"double"', Action("double")),
        (ROTARY, '{"action": "rotate:5"}', Action("rotate", 5)),
        (ROTARY, '{"action": "rotate", "delta": -7}', Action("rotate", -7)),
        (ROTARY, '{"action": "rotate", "action_step_size": 3}', Action("rotate", 3)),
        (IKEA_REMOTE, '{"action": "toggle", "battery": 87, "linkquality": 120}', Action("toggle")),
        (
            Z2M_DIMMER,
            '{"action": "brightness_step_up", "action_step_size": 20}',
            Action("brightness_step_up", 20),
        ),
        (
            Z2M_DIMMER,
            '{"action": "brightness_step_down", "action_step_size": 20}',
            Action("brightness_step_down", -20),
        ),
        (Z2M_DIMMER, "brightness_step_down", Action("brightness_step_down", -32)),
    ],
)
def test_normalize_every_kind(model: SwitchModel, payload: str, expected: Action) -> None:
    assert normalize_action(payload.encode(), make_switch(model)) == expected


@pytest.mark.parametrize(
    "payload",
    ["", "   ", '{"action": ""}', '{"action": null}', '{"battery": 80, "linkquality": 90}', '""'],
)
def test_empty_actions_and_state_updates_are_ignored_silently(payload: str) -> None:
    assert normalize_action(payload.encode(), make_switch(IKEA_REMOTE)) is None


@pytest.mark.parametrize(
    ("model", "payload", "fragment"),
    [
        (LATCHING, "double", "has no action 'double'; it accepts: off, on"),
        (MOMENTARY, "explode", "has no action 'explode'"),
        (ROTARY, "rotate:abc", "malformed rotate 'rotate:abc'"),
        (ROTARY, "rotate:", "malformed rotate"),
        (ROTARY, "rotate:1.5", "malformed rotate"),
        (ROTARY, '{"action": "rotate"}', "malformed rotate"),
        (MOMENTARY, "{not json", "malformed JSON"),
        (MOMENTARY, "{}", 'needs an "action" key'),
        (MOMENTARY, "[1, 2]", "must be an action name"),
        (MOMENTARY, '{"action": 5}', '"action" must be a string'),
        (Z2M_DIMMER, '{"action": "brightness_step_up", "action_step_size": "x"}', "integer"),
        (LATCHING, "press", "has no action 'press'"),
    ],
)
def test_bad_payloads_say_what_is_wrong(model: SwitchModel, payload: str, fragment: str) -> None:
    with pytest.raises(InvalidCommandError) as info:
        normalize_action(payload.encode(), make_switch(model))
    assert fragment in str(info.value)


def test_payload_limits() -> None:
    with pytest.raises(InvalidCommandError, match="limit is 65536 bytes"):
        normalize_action(b"x" * 70_000, make_switch(MOMENTARY))
    with pytest.raises(InvalidCommandError, match="not valid UTF-8"):
        normalize_action(b"\xff\xfe", make_switch(MOMENTARY))


@given(st.binary(max_size=200))
def test_normalize_never_raises_anything_but_invalid_command(payload: bytes) -> None:
    with contextlib.suppress(InvalidCommandError):
        normalize_action(payload, make_switch(IKEA_REMOTE))


# --- intents --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "action", "intent"),
    [
        ("momentary", "single", "toggle"),
        ("momentary", "double", "full"),
        ("momentary", "hold", "dim_start"),
        ("momentary", "release", "dim_stop"),
        ("latching", "on", "on"),
        ("latching", "off", "off"),
        ("rotary", "rotate", "rotate"),
        ("rotary", "single", "toggle"),
        ("keypad", "button_3", "scene_index:3"),
        ("keypad", "button_2_single", "scene_index:2"),
        ("momentary", "button_3", "none"),
        ("momentary", "toggle", "toggle"),
        ("momentary", "toggle_hold", "dim_start"),
        ("momentary", "on_press", "on"),
        ("momentary", "off_press", "off"),
        ("momentary", "on_hold", "dim_up"),
        ("momentary", "up_press", "step:32"),
        ("momentary", "down_press", "step:-32"),
        ("momentary", "up_hold", "dim_up"),
        ("momentary", "down_hold", "dim_down"),
        ("momentary", "up_hold_release", "dim_stop"),
        ("momentary", "brightness_up_click", "step:32"),
        ("momentary", "brightness_down_hold", "dim_down"),
        ("momentary", "brightness_down_release", "dim_stop"),
        ("rotary", "brightness_move_up", "dim_up"),
        ("rotary", "brightness_stop", "dim_stop"),
        ("rotary", "brightness_step_up", "rotate"),
        ("momentary", "on_press_release", "none"),
        ("momentary", "arrow_left_click", "none"),
        ("momentary", "shake", "none"),
    ],
)
def test_default_intents(kind: str, action: str, intent: str) -> None:
    assert default_intent(kind, action) == intent


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("toggle", ("toggle", None)),
        ("step:-20", ("step", -20)),
        ("step:+8", ("step", 8)),
        ("scene:movie-night", ("scene", "movie-night")),
        ("scene_index:2", ("scene_index", 2)),
        ("NONE", ("none", None)),
    ],
)
def test_parse_intent(text: str, parsed: tuple[str, object]) -> None:
    assert parse_intent(text) == parsed


@pytest.mark.parametrize("text", ["dance", "step:", "step:x", "scene:", "scene_index:0", ""])
def test_parse_intent_rejects_unknown(text: str) -> None:
    with pytest.raises(ConfigurationError, match="intent"):
        parse_intent(text)


def test_validate_switch_reports_bad_mappings() -> None:
    switch = make_switch(MOMENTARY, mapping={"double": "party"})
    assert validate_switch(switch) == [
        "switch 'sw1' mapping 'double': unknown switch intent 'party'; use toggle, on, off, full, "
        "dim_start, dim_up, dim_down, dim_stop, step:<n>, rotate, scene:<slug>, "
        "scene_index:<n> or none"
    ]
    assert Harness(switch).problems == validate_switch(switch)


def test_validate_switch_reports_each_table_and_the_double_tap_window() -> None:
    model = SwitchModel(2, "Acme", "Pad", "keypad", ("1_single",), {"1_single": "scene_index:0"})
    switch = make_switch(model, mapping={"double": 3, "hold": "step:8"})  # type: ignore[dict-item]
    switch = dataclasses.replace(switch, double_tap_ms=150)
    assert validate_switch(switch) == [
        "switch 'sw1' mapping 'double': Input should be a valid string",
        "switch 'sw1' model action_map '1_single': intent 'scene_index:0': scene_index "
        "counts from 1",
        "switch 'sw1': double_tap_ms must be 200..900",
    ]


# --- engine: intents to commands ------------------------------------------------------


def test_single_toggles_double_goes_full_on_the_target() -> None:
    h = Harness(make_switch(ROTARY), make_switch(MOMENTARY, sid=2, group=None, fixture=7))
    assert h.press("single") == ["single"]
    assert h.emitted == [(("group", 10), LightCommand(state="TOGGLE"))]
    h.emitted.clear()
    h.engine.handle(2, b"double", 0.0)
    assert h.emitted == [(("fixture", 7), LightCommand(state="ON", brightness=255))]


def test_latching_on_off() -> None:
    h = Harness(make_switch(LATCHING))
    h.press("on")
    h.press('{"action": "off"}')
    assert h.commands() == [LightCommand(state="ON"), LightCommand(state="OFF")]


def test_rotate_steps_brightness_and_turns_on_from_off() -> None:
    h = Harness(make_switch(ROTARY))
    h.press("rotate:+40")
    h.level = (True, 100)
    h.press("rotate:-999")
    h.press("rotate:0")
    h.level = (False, 100)
    h.press("rotate:-10")  # stepping down from off does nothing
    assert h.commands() == [
        LightCommand(state="ON", brightness_step=40),
        LightCommand(brightness_step=-255),
    ]


def test_z2m_step_actions_use_their_step_size() -> None:
    h = Harness(make_switch(Z2M_DIMMER))
    h.level = (True, 128)
    h.press('{"action": "brightness_step_down", "action_step_size": 13}')
    h.press("brightness_step_up")
    assert h.commands() == [LightCommand(brightness_step=-13), LightCommand(brightness_step=32)]


def test_hold_dims_at_the_configured_speed_and_release_stops() -> None:
    h = Harness(make_switch(MOMENTARY), make_switch(MOMENTARY, sid=2, dim_speed_ms=4000))
    h.level = (True, 128)
    h.press("hold")
    h.press("release")
    h.engine.handle(2, b"hold", 0.0)
    assert h.commands() == [
        LightCommand(brightness_move=128),  # 0-100 % in 2 s
        LightCommand(brightness_move=0),
        LightCommand(brightness_move=64),
    ]


def test_dim_direction_alternates_starting_up_from_off_and_down_from_full() -> None:
    h = Harness(make_switch(MOMENTARY))
    rates = []
    levels = [(False, 200), (True, 128), (True, 128), (True, 128), (True, 255), (True, 128),
              (True, 10), (True, 128)]  # fmt: skip
    for level in levels:
        h.level = level
        h.emitted.clear()
        h.press("hold")
        rates.append(h.commands()[0].brightness_move)
    assert rates == [128, -128, 128, -128, -128, 128, 128, -128]
    h.level = (False, 200)
    h.emitted.clear()
    h.press("hold")
    assert h.commands() == [
        LightCommand(state="ON", brightness=1, brightness_move=128, transition_s=0.0)
    ]


def test_explicit_dim_up_and_down() -> None:
    h = Harness(make_switch(HUE_DIMMER))
    h.level = (True, 128)
    h.press("up_hold")
    h.press("up_hold_release")
    h.press("down_hold")
    h.level = (False, 128)
    h.press("down_hold")  # nothing to dim down from off
    assert [c.brightness_move for c in h.commands()] == [128, 0, -128]


def test_scenes_by_slug_and_by_index_of_the_target_group() -> None:
    h = Harness(
        make_switch(KEYPAD),
        make_switch(HUE_DIMMER, sid=2),
        make_switch(IKEA_REMOTE, sid=3),
        scenes={**SCENES, 9: Scene(9, "Night", "night", None, ())},
    )
    h.press("button_1")
    h.press("button_2")
    h.engine.handle(2, b"off_hold", 0.0)
    h.engine.handle(3, b"arrow_right_click", 0.0)
    assert h.recalled == [3, 5, 9, 5]
    assert h.emitted == []
    with pytest.raises(InvalidCommandError, match="scene 3 requested but the target group has 2"):
        h.press("button_3")


def test_unknown_scene_and_fixture_target_scene_index_are_errors() -> None:
    h = Harness(
        make_switch(MOMENTARY, mapping={"double": "scene:nope"}),
        make_switch(KEYPAD, sid=2, group=None, fixture=4),
    )
    with pytest.raises(InvalidCommandError, match="no scene 'nope'"):
        h.press("double")
    with pytest.raises(
        InvalidCommandError, match="scene_index needs a switch that targets a group"
    ):
        h.engine.handle(2, b"button_1", 0.0)


def test_per_switch_mapping_overrides_the_model() -> None:
    h = Harness(make_switch(HUE_DIMMER, mapping={"on_press": "full", "off_hold": "off"}))
    h.press("on_press")
    h.press("off_hold")
    assert h.press("on_press_release") == ["on_press_release"]  # intent none: re-emitted only
    assert h.commands() == [LightCommand(state="ON", brightness=255), LightCommand(state="OFF")]


def test_switch_without_target_still_reports_actions() -> None:
    h = Harness(make_switch(MOMENTARY, group=None))
    assert h.press("single") == ["single"]
    assert h.emitted == []


def test_unknown_switch() -> None:
    with pytest.raises(UnknownTargetError):
        Harness().press("single", sid=42)


def test_bad_payload_changes_nothing() -> None:
    h = Harness(make_switch(MOMENTARY))
    with pytest.raises(InvalidCommandError):
        h.press("rotate:5")
    assert h.emitted == []


# --- press classification -------------------------------------------------------------


def test_classifier_single_waits_for_the_double_tap_window() -> None:
    c = PressClassifier(500, 500)
    assert c.press(0.0) == []
    assert c.release(0.1) == []
    assert c.next_deadline() == pytest.approx(0.6)
    assert c.poll(0.599) == []
    assert c.poll(0.6) == ["single"]
    assert c.next_deadline() is None


def test_classifier_double() -> None:
    c = PressClassifier(500, 500)
    c.press(0.0)
    c.release(0.1)
    assert c.press(0.3) == []
    assert c.release(0.4) == ["double"]
    assert c.poll(5.0) == []


def test_classifier_hold_then_release() -> None:
    c = PressClassifier(500, 600)
    c.press(1.0)
    assert c.next_deadline() == pytest.approx(1.6)
    assert c.poll(1.59) == []
    assert c.poll(1.6) == ["hold"]
    assert c.pressed
    assert c.poll(3.0) == []  # hold is emitted once
    assert c.release(3.5) == ["release"]
    assert not c.pressed


def test_classifier_release_reports_a_late_hold_first() -> None:
    c = PressClassifier(500, 500)
    c.press(0.0)
    assert c.release(0.8) == ["hold", "release"]  # nobody polled at 0.5


def test_classifier_tap_then_hold() -> None:
    c = PressClassifier(500, 500)
    c.press(0.0)
    c.release(0.1)
    c.press(0.3)
    assert c.poll(0.8) == ["single", "hold"]
    assert c.release(1.0) == ["release"]


@pytest.mark.parametrize(("window_ms", "expected_s"), [(100, 0.2), (200, 0.2), (900, 0.9),
                                                       (2000, 0.9)])  # fmt: skip
def test_classifier_window_is_bounded(window_ms: int, expected_s: float) -> None:
    assert PressClassifier(window_ms).window_s == expected_s


@pytest.mark.parametrize("window_ms", [200, 500, 900])
def test_double_tap_window_edges(window_ms: int) -> None:
    window = window_ms / 1000
    inside = PressClassifier(window_ms)
    inside.press(0.0)
    inside.release(0.05)
    assert inside.press(0.05 + window - 0.001) == []
    assert inside.release(0.05 + window + 0.05) == ["double"]
    outside = PressClassifier(window_ms)
    outside.press(0.0)
    outside.release(0.05)
    assert outside.press(0.05 + window) == ["single"]  # the window closed: a new first tap
    assert outside.release(0.05 + window + 0.05) == []


def test_classifier_single_immediately_and_bounces() -> None:
    c = PressClassifier(500, 500, single_immediately=True)
    assert c.release(0.0) == []  # stray release
    c.press(0.0)
    assert c.press(0.01) == []  # bounce
    assert c.release(0.1) == ["single"]
    assert c.next_deadline() is None


@given(st.lists(st.tuples(st.booleans(), st.floats(0, 0.5)), max_size=30))
def test_classifier_holds_are_always_released(edges: list[tuple[bool, float]]) -> None:
    c, t, events = PressClassifier(400, 500), 0.0, []
    for is_press, gap in edges:
        t += gap
        events += c.press(t) if is_press else c.release(t)
    events += c.release(t + 10)
    events += c.poll(t + 20)
    assert events.count("hold") == events.count("release")
    assert set(events) <= {"single", "double", "hold", "release"}


def test_engine_classifies_raw_press_release() -> None:
    h = Harness(make_switch(MOMENTARY))
    h.level = (True, 128)
    assert h.press("press", 0.0) == []
    assert h.press("release", 0.1) == []
    assert h.engine.next_deadline() == pytest.approx(0.6)
    assert h.engine.poll(0.6) == [(1, ["single"])]
    assert h.press("press", 1.0) == []
    assert h.engine.poll(1.5) == [(1, ["hold"])]
    assert h.press("release", 2.0) == ["release"]
    assert h.commands() == [
        LightCommand(state="TOGGLE"),
        LightCommand(brightness_move=128),  # a first hold from mid-level dims up
        LightCommand(brightness_move=0),
    ]


def test_engine_emits_single_immediately_when_double_is_unused() -> None:
    h = Harness(make_switch(MOMENTARY, mapping={"double": "none"}))
    h.press("press", 0.0)
    assert h.press("release", 0.1) == ["single"]
    assert h.engine.next_deadline() is None


# --- HA device triggers ---------------------------------------------------------------


def test_trigger_types_are_known_up_front() -> None:
    assert trigger_types(make_switch(MOMENTARY)) == [
        ("single", "button_short_press", "button_1"),
        ("double", "button_double_press", "button_1"),
        ("hold", "button_long_press", "button_1"),
        ("release", "button_long_release", "button_1"),
    ]
    assert trigger_types(make_switch(LATCHING)) == [
        ("on", "button_short_press", "turn_on"),
        ("off", "button_short_press", "turn_off"),
    ]
    assert trigger_types(make_switch(ROTARY)) == [
        ("rotate", "action", "rotate"),
        ("single", "button_short_press", "button_1"),
    ]
    assert [t[2] for t in trigger_types(make_switch(KEYPAD))] == [
        "button_1",
        "button_2",
        "button_3",
    ]


def test_trigger_types_for_zigbee2mqtt_vocabularies_are_unique() -> None:
    ikea = {a: (t, s) for a, t, s in trigger_types(make_switch(IKEA_REMOTE))}
    assert ikea["toggle"] == ("button_short_press", "toggle")
    assert ikea["brightness_up_click"] == ("button_short_press", "dim_up")
    assert ikea["brightness_up_hold"] == ("button_long_press", "dim_up")
    assert ikea["brightness_down_release"] == ("button_long_release", "dim_down")
    assert ikea["arrow_left_click"] == ("button_short_press", "left")
    assert ikea["toggle_hold"] == ("button_long_press", "toggle")
    hue = trigger_types(make_switch(HUE_DIMMER))
    assert ("on_press", "button_short_press", "turn_on") in hue
    assert ("on_press_release", "button_short_release", "turn_on") in hue
    assert ("up_hold_release", "button_long_release", "dim_up") in hue
    for switch in (IKEA_REMOTE, HUE_DIMMER, Z2M_DIMMER, MOMENTARY, KEYPAD):
        pairs = [(t, s) for _, t, s in trigger_types(make_switch(switch))]
        assert len(pairs) == len(set(pairs))


def test_trigger_types_collisions_fall_back_to_the_action_name() -> None:
    model = SwitchModel(9, "X", "Y", "momentary", ("single", "1_single", "button_1"), {})
    assert trigger_types(make_switch(model)) == [
        ("single", "button_short_press", "button_1"),
        ("1_single", "action", "1_single"),
        ("button_1", "action", "button_1"),
    ]


def test_supported_actions_include_mapping_keys_and_fall_back_to_kind() -> None:
    model = SwitchModel(9, "X", "Y", "latching", (), {})
    assert supported_actions(make_switch(model)) == ["on", "off"]
    assert supported_actions(make_switch(model, mapping={"double": "full"})) == ["double"]


# --- asyncio driver -------------------------------------------------------------------


async def test_press_timer_emits_single_after_the_window_and_hold_while_pressed() -> None:
    h = Harness(make_switch(MOMENTARY))
    h.level = (True, 128)
    reemitted: list[tuple[int, list[str]]] = []
    got = asyncio.Event()

    def on_actions(sid: int, actions: list[str]) -> None:
        reemitted.append((sid, actions))
        got.set()

    timer = PressTimer(h.engine, on_actions)
    timer.start()
    try:
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert timer.handle(1, b"press") == []
        assert timer.handle(1, b"release") == []
        await asyncio.wait_for(got.wait(), timeout=5)
        assert reemitted == [(1, ["single"])]
        assert loop.time() - started >= 0.5
        got.clear()
        timer.handle(1, json.dumps({"action": "press"}).encode())
        await asyncio.wait_for(got.wait(), timeout=5)
        assert reemitted[-1] == (1, ["hold"])
        assert timer.handle(1, b"release") == ["release"]
    finally:
        timer.stop()
    assert h.commands() == [
        LightCommand(state="TOGGLE"),
        LightCommand(brightness_move=128),
        LightCommand(brightness_move=0),
    ]
