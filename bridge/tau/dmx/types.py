"""The boundary between the state store and the DMX renderer.

The store hands the renderer `LightTarget` batches; each batch is applied in a
single frame. The renderer knows fixtures only as `Patch` entries.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True, frozen=True)
class CtcScale:
    """A colour-temperature (CTC) channel's own scale, as its library gives it.

    `dmx` are the DMX values at the two ends of the scale and `kelvin` the colour
    temperatures there (in either direction: 10000 K at DMX 16 and 2500 K at 255 is
    `dmx=(16, 255), kelvin=(10000, 2500)`); linear in kelvin between them. `neutral`
    is the value that leaves the colour emitters uncorrected ("RGBW raw", "no
    correction"); None when the library names none.
    """

    dmx: tuple[int, int]
    kelvin: tuple[int, int]
    neutral: int | None = None


@dataclass(slots=True, frozen=True)
class Patch:
    """Where and how one fixture is rendered."""

    fixture_id: int
    universe: int
    start_channel: int  # 1-based DMX slot
    channels: tuple[str, ...]  # roles, e.g. ("dimmer", "dimmer_fine")
    min_kelvin: int
    max_kelvin: int
    dimming_curve: str  # "linear" | "square" | "cie1931" | gamma number as text
    min_level: float  # percent
    # The value each `fixed` channel always sends, per channel (0 elsewhere); () if none.
    fixed: tuple[int, ...] = ()
    # Per channel (lo, hi, off) of a dimmer that owns only part of its channel; () if none.
    spans: tuple[tuple[int, int, int] | None, ...] = ()
    # The scale of the model's `cct` channels; None: 0-255 spans min_kelvin..max_kelvin.
    ctc: CtcScale | None = None
    # Keep the emitters' sum constant across a mix instead of the brightest at full.
    constant_output: bool = False


@dataclass(slots=True, frozen=True)
class LightTarget:
    """Where a fixture should be at the end of `transition_s`."""

    fixture_id: int
    is_on: bool
    brightness: int  # 0-255, the MQTT scale; kept while off so ON returns to it
    kelvin: int | None
    # rgb 0-255 when in a colour mode; (r, g, b, w) in rgbw, (r, g, b, c, w) in rgbww
    color: tuple[int, ...] | None
    transition_s: float
    effect: str | None = None  # a running effect (`tau.dmx.effects`), rendered per frame
    effect_seed: int | None = None  # None: the fixture id (members flicker independently)


@dataclass(slots=True, frozen=True)
class LiveLevel:
    """A fixture's output right now, mid-fade included (for hold-to-dim and scenes)."""

    brightness: float  # 0-255, fractional mid-fade; 0 when off
    kelvin: float | None
    color: tuple[float, ...] | None
