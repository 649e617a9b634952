"""Circadian take-over rules: pure functions on a fixture's state and its profile.

Adaptive Lighting's "take over control": a manual change takes the light away from
its profile, and the profile's `take_over` says how much of it. With `changed` (the
default) only what the change chose — a brightness change stops brightness
adaptation, a colour or colour-temperature change stops colour adaptation, and the
other keeps following the profile; with `all`, any manual level or colour stops both.
What was taken over is handed back at the light's next off -> on, or after the
profile's `resume_after_s`. Sleep mode replaces the profile's level by its sleep level.
"""

from __future__ import annotations

from typing import Protocol

from tau.core.commands import LightCommand
from tau.core.lights import FixtureState, clamp_kelvin
from tau.core.model import CircadianProfile, FixtureModel

BRIGHTNESS = "brightness"
COLOUR = "colour"
TAKE_OVER = ("changed", "all")


class Goal(Protocol):
    @property
    def brightness(self) -> int: ...
    @property
    def kelvin(self) -> int: ...


def taken(command: LightCommand, take_over: str) -> frozenset[str]:
    """The aspects a manual command takes from a profile whose `take_over` is given."""
    aspects: set[str] = set()
    if command.sets_level:
        aspects.add(BRIGHTNESS)
    if command.sets_colour:
        aspects.add(COLOUR)
    if aspects and take_over == "all":
        return frozenset({BRIGHTNESS, COLOUR})
    return frozenset(aspects)


def take(state: FixtureState, aspects: frozenset[str], now: float) -> bool:
    """Mark `aspects` taken over at `now`; True when that changed anything."""
    before = (state.circadian_suspended, state.colour_suspended)
    if BRIGHTNESS in aspects:
        state.circadian_suspended = True
    if COLOUR in aspects:
        state.colour_suspended = True
    if (state.circadian_suspended, state.colour_suspended) == before:
        return False
    state.suspended_at = now
    return True


def resume(state: FixtureState) -> bool:
    """Hand everything back to the profile; True when something was taken over."""
    was = state.circadian_suspended or state.colour_suspended
    state.circadian_suspended = state.colour_suspended = False
    state.suspended_at = None
    return was


def paused(state: FixtureState) -> list[str]:
    """What is taken over, as the `circadian_paused` state attribute lists it."""
    out = []
    if state.circadian_suspended:
        out.append(BRIGHTNESS)
    if state.colour_suspended:
        out.append(COLOUR)
    return out


def fully_taken(state: FixtureState) -> bool:
    return state.circadian_suspended and state.colour_suspended


def resume_due(state: FixtureState, resume_after_s: float | None, now: float) -> bool:
    """Whether what was taken over has been held for `resume_after_s` (None: never)."""
    return (
        resume_after_s is not None
        and state.suspended_at is not None
        and now - state.suspended_at >= resume_after_s
    )


def land(state: FixtureState, model: FixtureModel, goal: Goal) -> None:
    """Move the aspects the profile still controls to `goal`."""
    if not state.circadian_suspended:
        state.brightness = max(1, goal.brightness)
    if "color_temp" in model.color_modes and not state.colour_suspended:
        state.kelvin = clamp_kelvin(model, goal.kelvin)
        state.color_mode = "color_temp"


def follow(state: FixtureState, model: FixtureModel, goal: Goal) -> None:
    """A tick: like `land`, but colour follows only while the light shows a white."""
    if not state.circadian_suspended:
        state.brightness = max(1, goal.brightness)
    tunable = "color_temp" in model.color_modes
    if tunable and not state.colour_suspended and state.color_mode == "color_temp":
        state.kelvin = clamp_kelvin(model, goal.kelvin)


def sleep_goal(profile: CircadianProfile, model: FixtureModel) -> tuple[int, int]:
    """(brightness 0-255, kelvin) of sleep mode: the profile's sleep level, and its sleep
    colour temperature or else the fixture's warmest."""
    brightness = max(1, round(profile.sleep_brightness_pct * 255 / 100))
    kelvin = profile.sleep_kelvin if profile.sleep_kelvin is not None else model.min_kelvin
    return brightness, clamp_kelvin(model, kelvin)
