"""The state store on plain data: group resolution, derivation, suspension, batches."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tau.core.bus import Bus
from tau.core.commands import LightCommand
from tau.core.events import ChangeBatch
from tau.core.installation import build_installation
from tau.core.model import CircadianProfile, Fixture, FixtureModel, Group, Installation
from tau.core.state import StateStore
from tau.dmx.types import LiveLevel
from tau.errors import InvalidCommandError, UnknownTargetError

DIMMER = FixtureModel(1, "Acme", "Dimmer", ("dimmer",), 2700, 6500, "linear", 0.0)
TUNABLE = FixtureModel(2, "Acme", "Tunable", ("warm", "cool"), 2700, 6500, "linear", 0.0)


def _f(*ids: int) -> frozenset[int]:
    return frozenset(ids)


def _installation() -> Installation:
    """house > downstairs > kitchen(1, 2); house > hall(3); 4 is in no group."""
    fixtures = {
        1: Fixture(1, "Kitchen ceiling", "kitchen-ceiling", DIMMER, 1, 1),
        2: Fixture(2, "Kitchen island", "kitchen-island", TUNABLE, 1, 2),
        3: Fixture(3, "Hall", "hall-light", DIMMER, 2, 1),
        4: Fixture(4, "Shed", "shed", DIMMER, 2, 5),
    }
    groups = {
        10: Group(
            10, "House", "house", None, frozenset({1, 2, 3}), frozenset(), frozenset({11, 13})
        ),
        11: Group(
            11, "Downstairs", "downstairs", None, frozenset({1, 2}), frozenset(), frozenset({12})
        ),
        12: Group(12, "Kitchen", "kitchen", 7, frozenset({1, 2}), frozenset({1, 2}), frozenset()),
        13: Group(13, "Hall", "hall", None, frozenset({3}), frozenset({3}), frozenset()),
    }
    return build_installation({1: DIMMER, 2: TUNABLE}, fixtures, groups, {}, {}, {}, {})


@dataclass
class _Target:
    brightness: int
    kelvin: int


class _Circadian:
    def __init__(self) -> None:
        self.profile = CircadianProfile(7, "Day", ())

    def profile_group_of(self, fixture_id: int) -> int | None:
        return 12 if fixture_id in (1, 2) else None

    def profile_of(self, fixture_id: int) -> CircadianProfile | None:
        return self.profile if fixture_id in (1, 2) else None

    def target_for_fixture(self, fixture_id: int) -> _Target | None:
        return _Target(100, 3000) if fixture_id in (1, 2) else None


LIVE: dict[int, LiveLevel] = {}  # what the renderer would report mid-fade


@pytest.fixture
def store() -> tuple[StateStore, list[ChangeBatch]]:
    LIVE.clear()
    return _store(live=LIVE.get)


@pytest.fixture
def circadian_store() -> tuple[StateStore, list[ChangeBatch]]:
    return _store(circadian=_Circadian())


def _store(bus: Bus | None = None, **kwargs: Any) -> tuple[StateStore, list[ChangeBatch]]:
    bus = bus or Bus()
    s = StateStore(default_transition_s=0.4, clock=lambda: 1000.0, bus=bus, **kwargs)
    s.set_installation(_installation())
    batches: list[ChangeBatch] = []
    bus.subscribe(ChangeBatch, "test", batches.append)
    return s, batches


def test_nested_group_command_changes_exactly_its_members_in_one_batch(store) -> None:
    s, batches = store
    s.command(("group", 11), LightCommand(state="ON", brightness=128))
    assert len(batches) == 1
    assert {t.fixture_id for t in batches[0].targets} == {1, 2}
    assert all(t.brightness == 128 and t.is_on for t in batches[0].targets)
    assert not s.fixture(3).is_on and not s.fixture(4).is_on
    assert batches[0].group_ids == {10, 11, 12}
    assert s.group_light(10).is_on and not s.group_light(13).is_on


def test_group_state_is_derived_from_members(store) -> None:
    s, _ = store
    s.command(("fixture", 1), LightCommand(state="ON", brightness=50))
    s.command(("fixture", 2), LightCommand(state="ON", brightness=200, kelvin=3000))
    light = s.group_light(12)
    assert (light.is_on, light.brightness, light.kelvin) == (True, 200, 3000)
    s.command(("fixture", 2), LightCommand(state="OFF"))
    assert s.group_light(12).brightness == 50
    s.command(("fixture", 1), LightCommand(state="OFF"))
    assert not s.group_light(12).is_on


def test_toggle_on_group_follows_the_group_state(store) -> None:
    s, _ = store
    s.command(("fixture", 1), LightCommand(state="ON"))
    s.command(("group", 12), LightCommand(state="TOGGLE"))
    assert not s.fixture(1).is_on and not s.fixture(2).is_on
    s.command(("group", 12), LightCommand(state="TOGGLE"))
    assert s.fixture(1).is_on and s.fixture(2).is_on


def test_brightness_zero_turns_off_and_remembers_level(store) -> None:
    s, _ = store
    s.command(("fixture", 3), LightCommand(state="ON", brightness=90))
    s.command(("fixture", 3), LightCommand(brightness=0))
    assert not s.fixture(3).is_on
    s.command(("fixture", 3), LightCommand(state="ON"))
    assert s.fixture(3).brightness == 90


def test_steps_clamp_and_turn_on(store) -> None:
    s, _ = store
    s.command(("fixture", 3), LightCommand(brightness_step=30))
    assert s.fixture(3).is_on and s.fixture(3).brightness == 30
    s.command(("fixture", 3), LightCommand(brightness_step=-100))
    assert not s.fixture(3).is_on


def test_kelvin_is_clamped_to_the_model(store) -> None:
    s, _ = store
    s.command(("fixture", 2), LightCommand(state="ON", kelvin=10000))
    assert s.fixture(2).kelvin == 6500


def test_colour_a_target_cannot_show_is_refused(store) -> None:
    s, batches = store
    with pytest.raises(InvalidCommandError, match="does not support"):
        s.command(("fixture", 1), LightCommand(kelvin=3000))
    assert batches == []


def test_unknown_target(store) -> None:
    s, _ = store
    with pytest.raises(UnknownTargetError):
        s.command(("group", 99), LightCommand(state="ON"))


def test_circadian_on_lands_on_target_and_manual_level_takes_over_brightness(
    circadian_store,
) -> None:
    s, _ = circadian_store
    s.command(("group", 12), LightCommand(state="ON"))
    assert (s.fixture(2).brightness, s.fixture(2).kelvin) == (100, 3000)
    assert s.circadian_switch_on(12)
    s.command(("group", 12), LightCommand(brightness=255))
    # the switch stays ON, fixtures and group agree; only brightness is taken over
    assert s.circadian_switch_on(12) and s.fixture_circadian(1) is True
    assert s.fixture(2).circadian_suspended and not s.fixture(2).colour_suspended
    assert s.group_state(12).circadian_suspended  # group_state records it too
    assert s.circadian_active(2)  # colour still follows
    s.apply_circadian([(1, 30, 4000), (2, 30, 4000)], 1.0)
    assert (s.fixture(2).brightness, s.fixture(2).kelvin) == (255, 4000)
    assert s.fixture(1).brightness == 255
    s.command(("group", 12), LightCommand(state="OFF"))
    s.command(("group", 12), LightCommand(state="ON"))
    assert not s.fixture(2).circadian_suspended
    assert not s.group_state(12).circadian_suspended  # resumed: the group's record too
    assert (s.fixture(2).brightness, s.fixture(2).kelvin) == (100, 3000)


def test_take_over_all_stops_both_and_a_colour_change_only_colour(circadian_store) -> None:
    s, _ = circadian_store
    s.command(("group", 12), LightCommand(state="ON"))
    s.command(("fixture", 2), LightCommand(kelvin=5000))
    assert s.fixture(2).colour_suspended and not s.fixture(2).circadian_suspended
    s.apply_circadian([(2, 30, 4000)], 1.0)
    assert (s.fixture(2).brightness, s.fixture(2).kelvin) == (30, 5000)

    circadian: _Circadian = s._circadian  # type: ignore[assignment]
    circadian.profile = CircadianProfile(7, "Day", (), take_over="all")
    s.command(("fixture", 1), LightCommand(brightness=9))
    assert s.fixture(1).circadian_suspended and s.fixture(1).colour_suspended
    assert not s.circadian_active(1)
    assert s.circadian_switch_on(12) and s.fixture_circadian(1) is True


def test_turn_on_with_a_level_lands_colour_on_the_profile(circadian_store) -> None:
    s, _ = circadian_store
    s.command(("fixture", 2), LightCommand(state="ON", brightness=20))
    assert (s.fixture(2).brightness, s.fixture(2).kelvin) == (20, 3000)
    assert s.fixture(2).circadian_suspended and not s.fixture(2).colour_suspended


def test_sleep_mode_lands_at_the_sleep_level(circadian_store) -> None:
    s, _ = circadian_store
    s.set_sleep(12, True)
    s.command(("group", 12), LightCommand(state="ON"))
    # 1 % of 255, and the fixture's warmest (2700 K) without a profile sleep_kelvin
    assert (s.fixture(2).brightness, s.fixture(2).kelvin) == (3, 2700)
    assert s.fixture(1).brightness == 3
    s.apply_circadian([(2, 200, 5000)], 1.0)  # a tick keeps the sleep level
    assert (s.fixture(2).brightness, s.fixture(2).kelvin) == (3, 2700)
    s.set_sleep(12, False)
    assert (s.fixture(2).brightness, s.fixture(2).kelvin) == (100, 3000)


def test_fixture_command_through_unprofiled_parent_suspends_fixtures(circadian_store) -> None:
    s, _ = circadian_store
    s.command(("group", 10), LightCommand(state="ON", brightness=40))
    assert s.fixture(1).circadian_suspended and s.fixture(2).circadian_suspended
    assert not s.fixture(3).circadian_suspended  # no profile governs it
    assert s.circadian_switch_on(12)  # the profiled group itself was not targeted


def test_circadian_tick_never_turns_lights_on(circadian_store) -> None:
    s, batches = circadian_store
    s.apply_circadian([(1, 200, 3000), (2, 200, 3000)], 30.0)
    assert not s.fixture(1).is_on and not s.fixture(2).is_on
    assert batches[-1].targets == ()


def test_circadian_switch_resumes_and_disables(circadian_store) -> None:
    s, _ = circadian_store
    s.command(("group", 12), LightCommand(state="ON", brightness=10))
    assert s.fixture(1).circadian_suspended
    s.set_circadian(12, True)
    assert s.circadian_switch_on(12) and s.fixture(1).brightness == 100
    assert not s.fixture(1).circadian_suspended
    s.set_circadian(12, False)
    assert not s.circadian_switch_on(12) and not s.circadian_active(1)


def test_suspension_times_out(circadian_store) -> None:
    s, _ = circadian_store
    s.command(("group", 12), LightCommand(state="ON", brightness=10))
    s._clock = lambda: 5000.0
    s.expire_suspensions(None)  # no timeout anywhere: kept
    assert s.fixture(1).circadian_suspended
    s.expire_suspensions(3600)
    assert not s.fixture(1).circadian_suspended
    s.command(("group", 12), LightCommand(brightness=10))
    circadian: _Circadian = s._circadian  # type: ignore[assignment]
    circadian.profile = CircadianProfile(7, "Day", (), resume_after_s=60)
    s._clock = lambda: 5059.0
    s.expire_suspensions(3600)  # the profile's resume_after_s wins
    assert s.fixture(1).circadian_suspended
    s._clock = lambda: 5061.0
    s.expire_suspensions(3600)
    assert not s.fixture(1).circadian_suspended


def test_brightness_move_and_stop_reads_live_level(store) -> None:
    s, batches = store
    s.command(("fixture", 3), LightCommand(state="ON", brightness=55))
    s.command(("fixture", 3), LightCommand(brightness_move=100))
    assert s.fixture(3).brightness == 255
    assert batches[-1].targets[0].transition_s == pytest.approx(2.0)
    LIVE[3] = LiveLevel(brightness=140.4, kelvin=None, color=None)
    s.command(("fixture", 3), LightCommand(brightness_move=0))
    assert s.fixture(3).brightness == 140
    assert batches[-1].targets[0].transition_s == 0.0


def test_a_failing_subscriber_does_not_break_others(caplog) -> None:
    def broken(_batch: ChangeBatch) -> None:
        raise RuntimeError("boom")

    bus = Bus()
    bus.subscribe(ChangeBatch, "broken", broken)  # before the test's own subscriber
    s, batches = _store(bus)
    s.command(("fixture", 4), LightCommand(state="ON"))
    assert len(batches) == 1
    assert "subscriber=broken" in caplog.text


def test_restored_state_is_fitted_to_the_model() -> None:
    from tau.core.lights import FixtureState

    s = StateStore(default_transition_s=0)
    stored = {
        1: FixtureState(is_on=False, brightness=0, color_mode="color_temp", kelvin=3000),
        2: FixtureState(is_on=True, brightness=80, color_mode="rgb", kelvin=20000),
    }
    s.set_installation(_installation(), stored)
    assert s.fixture(1).color_mode == "brightness"
    assert (s.fixture(2).color_mode, s.fixture(2).kelvin) == ("color_temp", 6500)
    s.command(("fixture", 1), LightCommand(state="ON"))
    assert s.fixture(1).brightness == 255  # never on at level 0


def test_an_effect_runs_until_any_other_command(store) -> None:
    s, batches = store
    s.command(("group", 12), LightCommand(effect="candle"))  # naming one turns the light on
    assert s.fixture(1).is_on and s.fixture(1).effect == "candle"
    assert batches[-1].targets[0].effect == "candle"
    assert s.group_light(12).effect == "candle"
    s.command(("fixture", 2), LightCommand(state="ON"))  # a bare ON is a command too
    assert s.fixture(2).effect is None and s.group_light(12).effect is None
    s.command(("fixture", 1), LightCommand(brightness_move=40))
    assert s.fixture(1).effect is None
    s.command(("fixture", 1), LightCommand(effect="pulse", effect_seed=3))
    s.command(("fixture", 1), LightCommand(effect="none"))
    assert s.fixture(1).is_on and s.fixture(1).effect is None
    s.command(("fixture", 1), LightCommand(state="OFF", effect="candle"))
    assert not s.fixture(1).is_on and s.fixture(1).effect is None
    with pytest.raises(InvalidCommandError, match="colorloop effect"):
        s.command(("group", 12), LightCommand(effect="colorloop"))
