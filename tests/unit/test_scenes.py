"""Scene capture and recall commands."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tau.core.commands import LightCommand
from tau.core.installation import installation_from_rows
from tau.core.lights import FixtureState, apply_command
from tau.core.model import FixtureModel, Installation, Scene, SceneValue
from tau.core.scenes import capture, recall_targets, scenes_of_group
from tau.db.loader import InstallationRows


def test_capture_keeps_the_visible_colour_and_the_level_of_members_that_are_off() -> None:
    states = {
        3: FixtureState(is_on=True, brightness=200, kelvin=2700, color_mode="color_temp"),
        1: FixtureState(is_on=False, brightness=90, kelvin=4000, color_mode="color_temp"),
        2: FixtureState(
            is_on=True, brightness=128, kelvin=3000, color=(255, 0, 10), color_mode="rgb"
        ),
        4: FixtureState(is_on=True, brightness=64, color_mode="brightness"),
    }
    assert capture(states) == [
        SceneValue(1, False, 90, 4000, None),
        SceneValue(2, True, 128, None, (255, 0, 10)),
        SceneValue(3, True, 200, 2700, None),
        SceneValue(4, True, 64, None, None),
    ]


def test_recall_expresses_exactly_the_captured_state() -> None:
    scene = Scene(
        7,
        "Evening",
        "evening",
        1,
        (
            SceneValue(3, True, 200, 2700, None),
            SceneValue(1, False, 90, 4000, None),
            SceneValue(2, True, 128, None, (255, 0, 10)),
            SceneValue(4, True, 0, None, None),
        ),
    )
    assert recall_targets(scene) == [
        (1, LightCommand(state="OFF", brightness=90, kelvin=4000)),
        (2, LightCommand(state="ON", brightness=128, color=(255, 0, 10))),
        (3, LightCommand(state="ON", brightness=200, kelvin=2700)),
        (4, LightCommand(state="ON", brightness=1)),
    ]
    assert all(cmd.transition_s == 0.4 for _, cmd in recall_targets(scene, transition_s=0.4))


def test_capture_then_recall_round_trips_through_the_light_arithmetic() -> None:
    model = FixtureModel(1, "Acme", "TW", ("warm", "cool"), 2700, 6500, "linear", 0.0)
    captured = {
        1: FixtureState(is_on=True, brightness=150, kelvin=3100, color_mode="color_temp"),
        2: FixtureState(is_on=False, brightness=40, kelvin=5000, color_mode="color_temp"),
    }
    scene = Scene(1, "s", "s", None, tuple(capture(captured)))
    current = FixtureState(is_on=True, brightness=255, kelvin=6500, color_mode="color_temp")
    for fid, command in recall_targets(scene):
        want_on = command.state == "ON"
        restored = apply_command(current, model, command, want_on)
        assert restored.same_light(captured[fid])


def test_scenes_of_group_are_ordered_by_id() -> None:
    inst = Installation(
        scenes={
            9: Scene(9, "b", "b", 1, ()),
            2: Scene(2, "a", "a", 1, ()),
            5: Scene(5, "other", "other", 2, ()),
        }
    )
    assert [s.id for s in scenes_of_group(inst, 1)] == [2, 9]
    assert scenes_of_group(inst, 3) == []


def _rows(color: object) -> InstallationRows:
    model = {"id": 1, "manufacturer": "Acme", "model": "RGB", "channels": '["red","green","blue"]',
             "min_kelvin": 2000, "max_kelvin": 6500, "dimming_curve": "linear", "min_level": 0,
             "heads": "[]"}  # fmt: skip
    fixture = {"id": 1, "name": "Strip", "slug": "strip", "fixture_model_id": 1, "universe": 1,
               "start_channel": 1}  # fmt: skip
    value = {"scene_id": 3, "fixture_id": 1, "is_on": True, "brightness": 90, "kelvin": None,
             "color": color}  # fmt: skip
    scene = {"id": 3, "name": "Red", "slug": "red", "group_id": None}
    return InstallationRows([model], [fixture], [], [], [], [], [], [scene], [value], [], [])  # type: ignore[list-item]


def test_stored_scene_colours_are_read_through_the_rgb_model() -> None:
    for stored in ('{"r": 255, "g": 0, "b": 12}', {"r": 255.0, "g": 0, "b": 12}):
        inst = installation_from_rows(_rows(stored))
        assert inst.scenes[3].values == (SceneValue(1, True, 90, None, (255, 0, 12)),)
    assert installation_from_rows(_rows(None)).scenes[3].values[0].color is None
    with pytest.raises(ValidationError, match="r"):
        installation_from_rows(_rows({"r": 256, "g": 0, "b": 0}))
