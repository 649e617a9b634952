"""Effect frames are pure: deterministic in (effect, t, seed), bounded, and shaped as named."""

from __future__ import annotations

import itertools
import statistics

import pytest

from tau.dmx.effects import (
    BREATHE_PERIOD_S,
    COLORLOOP_PERIOD_S,
    EFFECTS,
    PULSE_PERIOD_S,
    effect_frame,
    effects_for,
)

FPS = 44
SECONDS = 20


def series(effect: str, seed: int, start: float = 1000.0) -> list[float]:
    return [effect_frame(effect, start + i / FPS, seed).factor for i in range(SECONDS * FPS)]


@pytest.mark.parametrize("effect", EFFECTS)
def test_same_inputs_same_frame_and_factors_stay_in_range(effect: str) -> None:
    for i in range(500):
        t = 1_733_000_000.0 + i * 0.0371
        first, again = effect_frame(effect, t, 7), effect_frame(effect, t, 7)
        assert first == again
        assert 0.0 <= first.factor <= 1.0
        if first.rgb is not None:
            assert all(0.0 <= c <= 255.0 for c in first.rgb)


@pytest.mark.parametrize("effect", ["candle", "fireplace"])
def test_flicker_moves_frame_to_frame_and_seeds_flicker_independently(effect: str) -> None:
    a, b = series(effect, seed=1), series(effect, seed=2)
    assert len({round(x, 3) for x in a}) > 100  # it flickers, not a few steps
    assert statistics.pstdev(a) > 0.04
    assert min(a) > 0.15  # a flame dims, it does not go out
    assert max(a) <= 1.0
    # two members of a group are different flames: barely correlated
    assert abs(statistics.correlation(a, b)) < 0.5
    # smooth enough to read as a flame, not noise: small changes between frames
    assert max(abs(y - x) for x, y in itertools.pairwise(a)) < 0.2


def test_a_fireplace_is_deeper_and_slower_than_a_candle() -> None:
    candle, fire = series("candle", 3), series("fireplace", 3)
    assert min(fire) < min(candle)
    assert statistics.pstdev(fire) > statistics.pstdev(candle)


def test_periodic_effects_ignore_the_seed_so_a_group_moves_in_step() -> None:
    for effect in ("breathe", "pulse", "colorloop"):
        for t in (0.0, 1.3, 99.9):
            assert effect_frame(effect, t, 1) == effect_frame(effect, t, 99)


def test_breathe_and_pulse_shapes() -> None:
    assert effect_frame("breathe", 0.0, 0).factor == pytest.approx(0.08)
    assert effect_frame("breathe", BREATHE_PERIOD_S / 2, 0).factor == pytest.approx(1.0)
    assert effect_frame("breathe", BREATHE_PERIOD_S, 0).factor == pytest.approx(0.08)
    peak = effect_frame("pulse", 3 * PULSE_PERIOD_S, 0).factor
    later = effect_frame("pulse", 3.5 * PULSE_PERIOD_S, 0).factor
    assert peak == pytest.approx(1.0) and later < 0.2


def test_colour_effects_cycle_hues_at_full_level() -> None:
    red = effect_frame("colorloop", 0.0, 5)
    assert red.factor == 1.0 and red.rgb == pytest.approx((255.0, 0.0, 0.0))
    third = effect_frame("colorloop", COLORLOOP_PERIOD_S / 3, 5).rgb
    assert third == pytest.approx((0.0, 255.0, 0.0))
    # a rainbow spreads a group's members around the circle
    hues = {effect_frame("rainbow", 10.0, seed).rgb for seed in range(1, 5)}
    assert len(hues) == 4


def test_unknown_effect_is_steady_and_lists_follow_colour_modes() -> None:
    assert effect_frame("disco", 1.0, 1).factor == 1.0
    assert effects_for(["brightness"]) == ["candle", "fireplace", "breathe", "pulse", "none"]
    for colour in ("rgb", "rgbw", "rgbww"):
        assert effects_for(["color_temp", colour])[-3:] == ["colorloop", "rainbow", "none"]
