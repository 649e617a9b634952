"""Light effects: what a fixture running one looks like at a moment, as pure functions.

`effect_frame(effect, t, seed)` returns the `EffectFrame` at time `t` (seconds on
the renderer's shared time base): a brightness factor (0..1, applied to the
fixture's own level, so a dimmed candle flickers dimmed) and, for the colour
effects, the colour to show. It is deterministic: the same (effect, t, seed)
always gives the same frame, so every universe and every bridge rendering at the
same `t` agree. `seed` is the fixture's (its id, unless a group asks for unison):
the flickering effects (`candle`, `fireplace`) use it so a group's members do not
flicker together; the periodic ones (`breathe`, `pulse`, `colorloop`) ignore it,
so a group breathes in step; `rainbow` spreads its members around the hue circle.

Example::

    frame = effect_frame("candle", t=12.5, seed=7)
    level16 = round(level16 * frame.factor)
"""

from __future__ import annotations

import colorsys
import functools
import math
from collections.abc import Iterable
from dataclasses import dataclass

from tau.colours import COLOUR_KEYS

# The effects every light offers, then those only colour (rgb) fixtures offer.
BRIGHTNESS_EFFECTS = ("candle", "fireplace", "breathe", "pulse")
COLOUR_EFFECTS = ("colorloop", "rainbow")
EFFECTS = BRIGHTNESS_EFFECTS + COLOUR_EFFECTS
# Payload values that stop a running effect (`none` is in every `effect_list`).
STOP = frozenset({"none", "off", "stop", "stop_effect"})

BREATHE_PERIOD_S = 4.0
PULSE_PERIOD_S = 1.0
COLORLOOP_PERIOD_S = 30.0
RAINBOW_PERIOD_S = 10.0
_GOLDEN = 0.6180339887498949
_MASK = 0xFFFFFFFFFFFFFFFF


@dataclass(slots=True, frozen=True)
class EffectFrame:
    factor: float  # 0..1, multiplies the fixture's brightness
    rgb: tuple[float, float, float] | None = None  # 0..255, colour effects only


def effects_for(color_modes: Iterable[str]) -> list[str]:
    """The `effect_list` of a light with these colour modes (`none` stops an effect)."""
    names = list(BRIGHTNESS_EFFECTS)
    if any(mode in COLOUR_KEYS for mode in color_modes):
        names.extend(COLOUR_EFFECTS)
    return [*names, "none"]


def needs_rgb(effect: str) -> bool:
    return effect in COLOUR_EFFECTS


# A noise lattice point lasts from 0.07 s (fireplace crackle) to 1.7 s (a draught): each
# is asked for on many frames in a row, so remembering the recent ones saves most of
# the hashing (100 flames use about 600 points at a time).
@functools.lru_cache(maxsize=8192)
def _unit(seed: int, index: int) -> float:
    """A uniform 0..1 number fixed by (seed, index): splitmix64, no state."""
    z = (seed * 0x9E3779B97F4A7C15 + index * 0xBF58476D1CE4E5B9 + 0x94D049BB133111EB) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return ((z ^ (z >> 31)) & 0xFFFFFFFF) / 0xFFFFFFFF


def _noise(seed: int, x: float) -> float:
    """Smooth 1-D value noise in 0..1: random values at integers, eased between them."""
    i = math.floor(x)
    f = x - i
    a = _unit(seed, i)
    return a + (_unit(seed, i + 1) - a) * f * f * (3.0 - 2.0 * f)


def _candle(t: float, seed: int) -> float:
    # A slow sway and a fast flutter; now and then a deeper dip (a draught).
    sway = _noise(seed, t * 1.7)
    flutter = _noise(seed ^ 0x5A5A, t * 9.0)
    dip = max(0.0, _noise(seed ^ 0xC3C3, t * 0.6) - 0.8) * 2.0  # 0..0.4, rarely non-zero
    return min(1.0, 0.62 + 0.24 * sway + 0.14 * flutter - 0.3 * dip)


def _fireplace(t: float, seed: int) -> float:
    # Deeper and slower than a candle, with crackles: short bright flares.
    glow = _noise(seed, t * 0.8)
    lick = _noise(seed ^ 0x1F1F, t * 4.5)
    crackle = max(0.0, _noise(seed ^ 0x7E7E, t * 14.0) - 0.85) * 4.0  # 0..0.6
    return min(1.0, 0.35 + 0.35 * glow + 0.2 * lick + 0.3 * crackle)


def _breathe(t: float) -> float:
    phase = (t % BREATHE_PERIOD_S) / BREATHE_PERIOD_S
    return 0.08 + 0.92 * (0.5 - 0.5 * math.cos(2.0 * math.pi * phase))


def _pulse(t: float) -> float:
    # A heartbeat-like blink: full at the start of each period, decaying fast.
    phase = (t % PULSE_PERIOD_S) / PULSE_PERIOD_S
    return 0.1 + 0.9 * math.exp(-6.0 * phase)


def _hue_rgb(hue: float) -> tuple[float, float, float]:
    r, g, b = colorsys.hsv_to_rgb(hue % 1.0, 1.0, 1.0)
    return r * 255.0, g * 255.0, b * 255.0


def effect_frame(effect: str, t: float, seed: int) -> EffectFrame:
    """The frame of `effect` at time `t` for a fixture seeded `seed`; unknown → steady."""
    if effect == "candle":
        return EffectFrame(_candle(t, seed))
    if effect == "fireplace":
        return EffectFrame(_fireplace(t, seed))
    if effect == "breathe":
        return EffectFrame(_breathe(t))
    if effect == "pulse":
        return EffectFrame(_pulse(t))
    if effect == "colorloop":
        return EffectFrame(1.0, _hue_rgb(t / COLORLOOP_PERIOD_S))
    if effect == "rainbow":
        return EffectFrame(1.0, _hue_rgb(t / RAINBOW_PERIOD_S + seed * _GOLDEN))
    return EffectFrame(1.0)
