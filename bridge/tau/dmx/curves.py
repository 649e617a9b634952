"""Dimming curves: a linear 16-bit level in, the 16-bit output a fixture should get out.

Every curve maps 0 to exactly 0 and full to exactly full, is monotonic, and lifts
any non-zero level to at least `min_level` percent, so 1 % is visible and off is off.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache

from tau.dmx.level import FULL16

CurveFn = Callable[[float], float]

NAMED_CURVES = ("linear", "square", "cie1931")


def _linear(x: float) -> float:
    return x


def _square(x: float) -> float:
    return x * x


def _cie1931(x: float) -> float:
    """Luminance for a perceptual lightness L* = 100 x (CIE 1931 / CIELAB inverse)."""
    lightness = x * 100.0
    if lightness <= 8.0:
        return lightness / 903.3
    return ((lightness + 16.0) / 116.0) ** 3


def _gamma(gamma: float) -> CurveFn:
    def curve(x: float) -> float:
        return float(x**gamma)

    return curve


def parse_curve(name: str) -> CurveFn:
    """`linear`, `square`, `cie1931` or a positive gamma number given as text (e.g. "2.2")."""
    key = name.strip().lower()
    if key == "linear":
        return _linear
    if key == "square":
        return _square
    if key == "cie1931":
        return _cie1931
    try:
        gamma = float(key)
    except ValueError:
        raise ValueError(
            f"unknown dimming curve {name!r}: use linear, square, cie1931 or a gamma number"
        ) from None
    if not math.isfinite(gamma) or not 0.1 <= gamma <= 10.0:
        raise ValueError(f"gamma {name!r} out of range: use a number between 0.1 and 10")
    return _gamma(gamma)


@lru_cache(maxsize=256)
def _curve(name: str) -> CurveFn:
    return parse_curve(name)


def min_level16(min_level_pct: float) -> int:
    """The 16-bit output a model's `min_level` percent stands for (the curve starts there)."""
    pct = max(0.0, min(100.0, min_level_pct))
    return round(pct / 100.0 * FULL16)


def apply_curve(level16: int, curve: str, min_level_pct: float = 0.0) -> int:
    """Map a linear 16-bit level through `curve`, then lift it above `min_level_pct`.

    0 stays exactly 0 and 65535 stays exactly 65535; everything between is
    monotonic and at least the minimum level.
    """
    if level16 <= 0:
        return 0
    if level16 >= FULL16:
        return FULL16
    floor = min_level16(min_level_pct)
    y = _curve(curve)(level16 / FULL16)
    out = floor + y * (FULL16 - floor)
    # A non-zero level never renders as off, even where a steep curve rounds to 0.
    return max(1, floor, min(FULL16, round(out)))
