import pytest
from hypothesis import given
from hypothesis import strategies as st

from tau.dmx.colour import Emitters, white_split
from tau.dmx.mixing import (
    AMBER_GREEN,
    cct_value16,
    cool_fraction,
    extract_amber,
    extract_white,
    kelvin_to_rgb,
)
from tau.units import default_kelvin, mired

RANGES = st.tuples(st.integers(1500, 4000), st.integers(4001, 10000))


def split(kelvin: float, rng: tuple[int, int]) -> tuple[float, float]:
    shares = white_split(kelvin, Emitters(frozenset({"warm", "cool"}), *rng))
    return shares["warm"], shares["cool"]


@given(st.floats(1000, 12000), RANGES)
def test_warm_plus_cool_is_one(kelvin: float, rng: tuple[int, int]) -> None:
    warm, cool = split(kelvin, rng)
    assert warm + cool == pytest.approx(1.0)
    assert warm >= 0
    assert cool >= 0


@given(RANGES)
def test_ends_are_pure_channels(rng: tuple[int, int]) -> None:
    lo, hi = rng
    assert split(lo, rng) == (1.0, 0.0)
    assert split(hi, rng) == (0.0, 1.0)
    # outside the range clamps to the nearest end
    assert split(lo - 500, rng) == (1.0, 0.0)
    assert split(hi + 500, rng) == (0.0, 1.0)


@given(RANGES)
def test_mired_midpoint_is_an_even_mix(rng: tuple[int, int]) -> None:
    mid = default_kelvin(*rng)
    assert mired(mid) == pytest.approx((mired(rng[0]) + mired(rng[1])) / 2)
    warm, cool = split(mid, rng)
    assert warm == pytest.approx(cool)


@given(RANGES, st.floats(1000, 12000), st.floats(1000, 12000))
def test_cool_share_grows_with_kelvin(rng: tuple[int, int], a: float, b: float) -> None:
    lo, hi = sorted((a, b))
    assert cool_fraction(lo, *rng) <= cool_fraction(hi, *rng)
    assert cct_value16(lo, *rng) <= cct_value16(hi, *rng)


def test_cct_channel_spans_the_model_range() -> None:
    assert cct_value16(2700, 2700, 6500) == 0
    assert cct_value16(6500, 2700, 6500) == 65535
    assert cct_value16(4600, 2700, 6500) == 32768


@given(st.floats(1000, 40000))
def test_kelvin_to_rgb_is_normalised(kelvin: float) -> None:
    rgb = kelvin_to_rgb(kelvin)
    assert max(rgb) == pytest.approx(1.0)
    assert all(0.0 <= c <= 1.0 for c in rgb)


def test_kelvin_to_rgb_warm_is_red_cool_is_blue() -> None:
    warm, cool = kelvin_to_rgb(2200), kelvin_to_rgb(9000)
    assert warm[0] == 1.0
    assert warm[2] < 0.4
    assert cool[2] == 1.0
    assert cool[0] < 0.9
    assert kelvin_to_rgb(6600) == pytest.approx((1.0, 1.0, 1.0), abs=0.05)


@given(st.floats(0, 1), st.floats(0, 1), st.floats(0, 1))
def test_white_extraction_keeps_the_colour(r: float, g: float, b: float) -> None:
    r2, g2, b2, w = extract_white(r, g, b)
    assert w == min(r, g, b)
    assert (r2 + w, g2 + w, b2 + w) == pytest.approx((r, g, b))
    assert min(r2, g2, b2) == pytest.approx(0)


@given(st.floats(0, 1), st.floats(0, 1))
def test_amber_extraction_keeps_the_colour(r: float, g: float) -> None:
    r2, g2, a = extract_amber(r, g)
    assert (r2 + a, g2 + a * AMBER_GREEN) == pytest.approx((r, g))
    assert min(r2, g2) == pytest.approx(0, abs=1e-9)
    assert r2 >= -1e-12 and g2 >= -1e-12 and 0 <= a <= 1
