"""Colour temperature units in one place: kelvin ↔ mired, blending, and the default white.

A shared leaf (imports nothing of Tau), so the pure core, the features and the
DMX renderer all use the same maths. Colour temperature is blended linearly in
mireds (1,000,000 / kelvin), which is close to how the eye sees the change.

The one default-white rule: a tunable fixture that was never given a colour
temperature sits at the **mired midpoint** of its model's range
(`default_kelvin`), e.g. 2700-6500 K -> 3815 K. The state store reports that
value and the renderer mixes it, so what Home Assistant shows is what is output.
"""

from __future__ import annotations

MIN_KELVIN = 1000
MAX_KELVIN = 20000


def mired(kelvin: float) -> float:
    """Kelvin to mireds (micro reciprocal degrees); the same formula converts back."""
    return 1_000_000.0 / kelvin


def kelvin_of_mired(value: float) -> float:
    return 1_000_000.0 / value


def blend_kelvin(start: float, end: float, fraction: float) -> float:
    """The colour temperature `fraction` (0-1) of the way from `start` to `end`, in mireds."""
    return kelvin_of_mired(mired(start) + (mired(end) - mired(start)) * fraction)


def default_kelvin(min_kelvin: float, max_kelvin: float) -> float:
    """The mired midpoint of a range: the white of a fixture never given a temperature."""
    return 2.0 / (1.0 / min_kelvin + 1.0 / max_kelvin)


def clamp_kelvin(kelvin: float, min_kelvin: float, max_kelvin: float) -> float:
    lo, hi = sorted((min_kelvin, max_kelvin))
    return max(float(lo), min(float(hi), kelvin))
