"""Circadian take-over rules, as pure functions of a command, a state and a profile."""

from __future__ import annotations

from datetime import UTC, datetime

from tau.core.commands import LightCommand
from tau.core.installation import state_from_rows
from tau.core.lights import FixtureState
from tau.core.model import CircadianProfile, FixtureModel
from tau.core.takeover import (
    BRIGHTNESS,
    COLOUR,
    follow,
    land,
    paused,
    resume,
    resume_due,
    sleep_goal,
    take,
    taken,
)

TUNABLE = FixtureModel(2, "Acme", "Tunable", ("warm", "cool"), 2700, 6500, "linear", 0.0)


class Goal:
    brightness = 90
    kelvin = 4000


def test_changed_takes_only_what_the_command_chose() -> None:
    assert taken(LightCommand(brightness=10), "changed") == {BRIGHTNESS}
    assert taken(LightCommand(brightness_step=-20), "changed") == {BRIGHTNESS}
    assert taken(LightCommand(brightness_move=50), "changed") == {BRIGHTNESS}
    assert taken(LightCommand(kelvin=3000), "changed") == {COLOUR}
    assert taken(LightCommand(color=(1, 2, 3)), "changed") == {COLOUR}
    assert taken(LightCommand(brightness=5, mired_step=10), "changed") == {BRIGHTNESS, COLOUR}
    # a bare on/off or an effect chooses neither
    assert taken(LightCommand(state="ON"), "changed") == frozenset()
    assert taken(LightCommand(effect="candle"), "all") == frozenset()


def test_all_takes_both_on_any_manual_level_or_colour() -> None:
    assert taken(LightCommand(brightness=10), "all") == {BRIGHTNESS, COLOUR}
    assert taken(LightCommand(kelvin=3000), "all") == {BRIGHTNESS, COLOUR}


def test_take_resume_and_timeout() -> None:
    state = FixtureState(is_on=True)
    assert take(state, frozenset({COLOUR}), 100.0)
    assert paused(state) == [COLOUR] and state.suspended_at == 100.0
    assert not take(state, frozenset({COLOUR}), 150.0)  # nothing new: the clock keeps
    assert state.suspended_at == 100.0
    assert take(state, frozenset({BRIGHTNESS}), 160.0)
    assert paused(state) == [BRIGHTNESS, COLOUR]
    assert not resume_due(state, None, 10_000.0)
    assert not resume_due(state, 60.0, 219.0)
    assert resume_due(state, 60.0, 220.0)
    assert resume(state) and paused(state) == [] and state.suspended_at is None
    assert not resume(state)


def test_land_and_follow_leave_what_was_taken() -> None:
    state = FixtureState(is_on=True, brightness=10, kelvin=6000, color_mode="color_temp")
    take(state, frozenset({BRIGHTNESS}), 1.0)
    land(state, TUNABLE, Goal())
    assert (state.brightness, state.kelvin) == (10, 4000)
    state = FixtureState(is_on=True, brightness=10, color=(255, 0, 0), color_mode="rgb")
    follow(state, TUNABLE, Goal())  # a tick leaves a colour the user picked alone
    assert (state.brightness, state.color_mode) == (90, "rgb")
    land(state, TUNABLE, Goal())  # landing (turn on, sleep) goes back to white
    assert (state.kelvin, state.color_mode) == (4000, "color_temp")


def test_sleep_goal_defaults_to_one_percent_and_the_warmest_white() -> None:
    assert sleep_goal(CircadianProfile(1, "p", ()), TUNABLE) == (3, 2700)
    custom = CircadianProfile(1, "p", (), sleep_brightness_pct=10, sleep_kelvin=2000)
    assert sleep_goal(custom, TUNABLE) == (26, 2700)  # clamped into the fixture's range
    assert sleep_goal(CircadianProfile(1, "p", (), sleep_kelvin=3000), TUNABLE)[1] == 3000


def test_take_over_effects_and_sleep_are_read_back_from_the_state_rows() -> None:
    taken_at = datetime(2026, 12, 4, 18, 0, tzinfo=UTC)
    fixture_row = {
        "fixture_id": 1, "is_on": True, "brightness": 90, "kelvin": 3000, "color": None,
        "color_mode": "color_temp", "circadian_suspended": False, "suspended_at": taken_at,
        "colour_suspended": True, "effect": "candle", "effect_seed": 12,
    }  # fmt: skip
    group_row = {
        "group_id": 5, "circadian_enabled": True, "circadian_suspended": False,
        "suspended_at": None, "sleep": True,
    }  # fmt: skip
    fixtures, groups = state_from_rows([fixture_row], [group_row])
    state = fixtures[1]
    assert paused(state) == [COLOUR] and state.suspended_at == taken_at.timestamp()
    assert (state.effect, state.effect_seed) == ("candle", 12)
    assert groups[5].sleep
