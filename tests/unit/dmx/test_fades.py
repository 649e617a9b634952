import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tau.dmx.fades import Fade, start_fade
from tau.dmx.level import Level
from tau.units import mired

LEVELS = st.integers(0, 65535)
KELVINS = st.floats(1800, 8000)
TIMES = st.floats(0, 1, allow_nan=False)


@given(LEVELS, LEVELS, st.floats(0.01, 60), st.lists(TIMES, min_size=2, max_size=30))
def test_brightness_is_monotonic_and_on_the_path(
    a: int, b: int, duration: float, fractions: list[float]
) -> None:
    fade = Fade(Level(a), Level(b), 100.0, duration)
    values = [fade.value_at(100.0 + f * duration).level16 for f in sorted(fractions)]
    step = [v2 - v1 for v1, v2 in itertools.pairwise(values)]
    assert all(s >= 0 for s in step) if b >= a else all(s <= 0 for s in step)
    for f in fractions:
        ideal = a + (b - a) * f
        assert abs(fade.value_at(100.0 + f * duration).level16 - ideal) <= 1


@given(LEVELS, LEVELS, KELVINS, KELVINS, st.floats(0.01, 60))
def test_ends_are_exact(a: int, b: int, ka: float, kb: float, duration: float) -> None:
    start, end = Level(a, ka), Level(b, kb)
    fade = Fade(start, end, 10.0, duration)
    assert fade.value_at(10.0) == start
    assert fade.value_at(9.0) == start
    assert fade.value_at(10.0 + duration) == end
    assert fade.value_at(10.0 + duration * 2) == end
    assert fade.done(10.0 + duration)


@given(KELVINS, KELVINS, TIMES)
def test_kelvin_moves_linearly_in_mireds(ka: float, kb: float, f: float) -> None:
    fade = Fade(Level(65535, ka), Level(65535, kb), 0.0, 1.0)
    kelvin = fade.value_at(f).kelvin
    assert kelvin is not None
    assert mired(kelvin) == pytest.approx(mired(ka) + (mired(kb) - mired(ka)) * f)


def test_rgb_moves_per_component() -> None:
    fade = Fade(Level(65535, rgb=(255, 0, 0)), Level(65535, rgb=(0, 0, 255)), 0.0, 2.0)
    assert fade.value_at(0.5).rgb == pytest.approx((191.25, 0, 63.75))


@given(LEVELS, LEVELS, LEVELS, st.floats(0.05, 0.95))
def test_retarget_mid_fade_starts_from_the_current_value(a: int, b: int, c: int, f: float) -> None:
    first = Fade(Level(a, 2700.0), Level(b, 2700.0), 0.0, 2.0)
    current = first.value_at(2.0 * f)
    second = start_fade(current, Level(c, 2700.0), 2.0 * f, 1.0)
    assert second.value_at(2.0 * f) == current
    assert second.value_at(2.0 * f + 1.0).level16 == c


def test_from_off_colour_jumps_to_the_target() -> None:
    fade = start_fade(Level(0, 2700.0), Level(65535, 6500.0), 0.0, 1.0)
    assert fade.value_at(0.5).kelvin == pytest.approx(6500.0)


def test_to_off_keeps_the_colour() -> None:
    fade = start_fade(Level(65535, 2700.0), Level(0, 6500.0), 0.0, 1.0)
    assert fade.value_at(0.5).kelvin == pytest.approx(2700.0)
    assert fade.value_at(1.0).level16 == 0


def test_zero_duration_is_immediate() -> None:
    fade = Fade(Level(0), Level(65535), 5.0, 0.0)
    assert fade.value_at(5.0) == Level(65535)
