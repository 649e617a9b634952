import pytest
from hypothesis import given
from hypothesis import strategies as st

from tau.dmx.curves import apply_curve, min_level16, parse_curve

CURVES = st.sampled_from(["linear", "square", "cie1931", "2.2", "1.8", "0.5", "3"])
LEVELS = st.integers(0, 65535)
MIN_LEVELS = st.floats(0, 50, allow_nan=False)


@given(CURVES, MIN_LEVELS)
def test_endpoints_are_exact(curve: str, min_level: float) -> None:
    assert apply_curve(0, curve, min_level) == 0
    assert apply_curve(65535, curve, min_level) == 65535


@given(CURVES, MIN_LEVELS, LEVELS, LEVELS)
def test_monotonic(curve: str, min_level: float, a: int, b: int) -> None:
    lo, hi = sorted((a, b))
    assert apply_curve(lo, curve, min_level) <= apply_curve(hi, curve, min_level)


@given(CURVES, MIN_LEVELS, st.integers(1, 65535))
def test_non_zero_is_at_least_min_level(curve: str, min_level: float, level: int) -> None:
    out = apply_curve(level, curve, min_level)
    assert out >= max(1, min_level16(min_level))
    assert out <= 65535


def test_one_percent_is_visible_with_min_level() -> None:
    # 1 % through a square curve is 0.01 % of full: without a floor, dark.
    assert apply_curve(655, "square", 0) < 257
    assert apply_curve(655, "square", 5) >= round(0.05 * 65535)


def test_linear_is_identity() -> None:
    assert [apply_curve(v, "linear") for v in (1, 257, 32896, 65534)] == [1, 257, 32896, 65534]


def test_cie1931_midpoint() -> None:
    # L* = 50 → Y ≈ 18.4 %
    assert apply_curve(32768, "cie1931") == pytest.approx(0.1842 * 65535, rel=0.01)


@pytest.mark.parametrize("bad", ["cubic", "", "-1", "nan", "100"])
def test_unknown_curve_is_rejected(bad: str) -> None:
    with pytest.raises(ValueError, match=r"curve|gamma"):
        parse_curve(bad)
