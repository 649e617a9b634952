"""Scenes: capture members' light state, and the commands that restore it exactly.

Pure helpers; the state store supplies the states and applies the commands in
one batch (one DMX frame) with the default transition.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from tau.colours import COLOUR_KEYS
from tau.core.commands import LightCommand
from tau.core.model import Installation, Scene, SceneValue


class CapturableState(Protocol):
    """What a scene needs from a fixture's state (`tau.core.lights.FixtureState` fits)."""

    @property
    def is_on(self) -> bool: ...
    @property
    def brightness(self) -> int: ...
    @property
    def kelvin(self) -> int | None: ...
    @property
    def color(self) -> tuple[int, ...] | None: ...
    @property
    def color_mode(self) -> str: ...
    @property
    def effect(self) -> str | None: ...


def capture(fixture_states: Mapping[int, CapturableState]) -> list[SceneValue]:
    """One `SceneValue` per fixture, ordered by fixture id.

    Only the colour the fixture is showing is kept (`kelvin` in `color_temp` mode,
    `color` in `rgb` mode), so recall renders exactly what was captured. Brightness
    is kept for members that are off, so a later ON returns to it.
    """
    values = []
    for fid in sorted(fixture_states):
        state = fixture_states[fid]
        kelvin = state.kelvin if state.color_mode == "color_temp" else None
        color = state.color if state.color_mode in COLOUR_KEYS else None
        effect = state.effect if state.is_on else None
        values.append(SceneValue(fid, state.is_on, state.brightness, kelvin, color, effect))
    return values


def value_command(value: SceneValue, transition_s: float | None = None) -> LightCommand:
    """The command that puts one fixture in its captured state."""
    brightness = min(max(value.brightness, 1), 255)  # 0 would mean OFF to the store
    color = value.color
    kelvin = value.kelvin if color is None else None
    return LightCommand(
        state="ON" if value.is_on else "OFF",
        brightness=brightness,
        kelvin=kelvin,
        color=color,
        transition_s=transition_s,
        effect=value.effect if value.is_on else None,
    )


def recall_targets(
    scene: Scene, transition_s: float | None = None
) -> list[tuple[int, LightCommand]]:
    """(fixture id, command) for every member of the scene, ordered by fixture id.

    Members captured off get `OFF` with their brightness and colour (they stay off
    but remember the level); the others `ON` with brightness and kelvin or colour.
    `transition_s=None` leaves the store's default transition.
    """
    ordered = sorted(scene.values, key=lambda v: v.fixture_id)
    return [(v.fixture_id, value_command(v, transition_s)) for v in ordered]


def scenes_of_group(installation: Installation, group_id: int) -> list[Scene]:
    """The group's scenes ordered by id (what `scene_index:<n>` counts, from 1)."""
    return [
        installation.scenes[sid]
        for sid in sorted(installation.scenes)
        if installation.scenes[sid].group_id == group_id
    ]
