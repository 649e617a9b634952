"""Colour mixing: tunable white in mireds, CCT channels, kelvin to RGB, RGBW/RGBA extraction."""

from __future__ import annotations

import math

from tau.dmx.level import FULL16
from tau.units import clamp_kelvin, mired


def cool_fraction(kelvin: float, min_kelvin: int, max_kelvin: int) -> float:
    """Share of the cool channel, linear in mireds: 0 at `min_kelvin` (warm), 1 at `max_kelvin`."""
    if max_kelvin <= min_kelvin:
        return 0.5
    k = clamp_kelvin(kelvin, min_kelvin, max_kelvin)
    warm_m, cool_m = mired(min_kelvin), mired(max_kelvin)
    return (warm_m - mired(k)) / (warm_m - cool_m)


def cct_value16(kelvin: float, min_kelvin: int, max_kelvin: int) -> int:
    """A CCT channel's value: 0 at the warm end, 65535 at the cool end, linear in kelvin."""
    if max_kelvin <= min_kelvin:
        return 0
    k = clamp_kelvin(kelvin, min_kelvin, max_kelvin)
    return round((k - min_kelvin) / (max_kelvin - min_kelvin) * FULL16)


def kelvin_to_rgb(kelvin: float) -> tuple[float, float, float]:
    """Approximate colour of a black body at `kelvin` as rgb 0-1 with the brightest at 1.

    Tanner Helland's fit of the CIE 1964 10° data, good to a few percent between
    1000 K and 40000 K: enough to tint an RGB fixture asked for a colour temperature.
    """
    t = max(1000.0, min(40000.0, kelvin)) / 100.0
    if t <= 66:
        r = 255.0
        g = 99.4708025861 * math.log(t) - 161.1195681661
        b = 0.0 if t <= 19 else 138.5177312231 * math.log(t - 10) - 305.0447927307
    else:
        r = 329.698727446 * (t - 60) ** -0.1332047592
        g = 288.1221695283 * (t - 60) ** -0.0755148492
        b = 255.0
    rgb = tuple(max(0.0, min(255.0, c)) for c in (r, g, b))
    top = max(rgb)
    return (rgb[0] / top, rgb[1] / top, rgb[2] / top)


def extract_white(r: float, g: float, b: float) -> tuple[float, float, float, float]:
    """RGB (0-1) to RGBW: the common part goes to the white emitter."""
    w = min(r, g, b)
    return r - w, g - w, b - w, w


# An amber emitter (about 590 nm) seen as RGB: full red, half green, no blue.
AMBER_GREEN = 0.5


def extract_amber(r: float, g: float) -> tuple[float, float, float]:
    """Red and green (0-1) to (red, green, amber): the amber emitter takes as much of the
    red + half-green pair as it can make, red and green keep the rest."""
    a = min(r, g / AMBER_GREEN)
    return r - a, g - a * AMBER_GREEN, a
