"""One colour path per colour mode: what each emitter of a fixture does for a request.

Pure: the fixture's emitters (`Emitters`, from its channel roles, kelvin range and CTC
scale) and a request (a colour, a colour temperature, or plain white) in, each
emitter's share (0-1, before the level and the dimming curve) and the CTC channel's
value out.

- A **colour** (r, g, b, optionally the white LEDs' own values as Home Assistant's
  `rgbw`/`rgbww` send them) lights the colour emitters; a white-like emitter (white,
  warm, cool) carries only the white part of the colour, amber only the part it can
  make of what red and green are left with; a CTC channel sits at its neutral value;
  nothing tints a saturated colour (lime, cyan, indigo and UV stay dark).
- A **colour temperature** comes from the whites (warm/cool mixed in mireds) or a CTC
  channel (set on its own scale, with the emitters that make white at full), and
  from the colour emitters only for what the whites cannot reach, or when there are
  no whites (the black-body colour, with white and amber taking their share).
- At 100 % the mix is scaled so its brightest emitter is at full (the most light that
  chromaticity allows), unless the model asks for constant output.
"""

from __future__ import annotations

from dataclasses import dataclass

from tau.dmx.mixing import (
    cct_value16,
    cool_fraction,
    extract_amber,
    extract_white,
    kelvin_to_rgb,
)
from tau.dmx.types import CtcScale
from tau.units import clamp_kelvin, default_kelvin

# The white point of an rgb colour (sRGB's D65): the colour temperature a white-like
# emitter stands in for when it carries a colour's white part, and where a CTC channel
# that names no "no correction" value sits under a colour.
NEUTRAL_KELVIN = 6500
_RGB = ("red", "green", "blue")
# Emitters that make white together: full under a CTC channel set to a temperature.
_WHITE_MAKERS = ("red", "green", "blue", "white")


@dataclass(slots=True, frozen=True)
class Emitters:
    """What a fixture can make light with."""

    roles: frozenset[str]  # base roles (no `_fine`)
    min_kelvin: int
    max_kelvin: int
    ctc: CtcScale | None = None
    constant_output: bool = False

    @property
    def has_rgb(self) -> bool:
        return bool(self.roles & set(_RGB))

    @property
    def white_pair(self) -> bool:
        """Warm and cool whites, mixed in mireds."""
        return "warm" in self.roles and "cool" in self.roles

    @property
    def white_role(self) -> str | None:
        """The one white LED of an rgbw fixture: `white`, or a lone warm or cool white."""
        if "white" in self.roles:
            return "white"
        lone = self.roles & {"warm", "cool"}
        return next(iter(lone)) if len(lone) == 1 else None


@dataclass(slots=True, frozen=True)
class Mix:
    """Each emitter's share (0-1) and the CTC channel's 16-bit value (None: no CTC)."""

    shares: dict[str, float]
    cct16: int | None = None


def ctc_value16(kelvin: float | None, em: Emitters) -> int:
    """The CTC channel's 16-bit value for `kelvin`, or its neutral value for None.

    On a library scale: linear in kelvin between the scale's ends, clamped to them.
    Without one: 0 at `min_kelvin`, full at `max_kelvin`. The neutral value is the
    library's "no correction" value, else the scale's value at `NEUTRAL_KELVIN`.
    """
    scale = em.ctc
    if kelvin is None and scale is not None and scale.neutral is not None:
        return scale.neutral * 257
    k = float(NEUTRAL_KELVIN) if kelvin is None else kelvin
    if scale is None:
        return cct_value16(k, em.min_kelvin, em.max_kelvin)
    (d0, d1), (k0, k1) = scale.dmx, scale.kelvin
    k = clamp_kelvin(k, k0, k1)
    dmx = d0 + (d1 - d0) * (k - k0) / (k1 - k0)
    return round(dmx * 257)


def white_split(kelvin: float, em: Emitters) -> dict[str, float]:
    """(warm, cool) shares making `kelvin` (in mireds, within the pair's range), summing to 1."""
    cool = cool_fraction(kelvin, em.min_kelvin, em.max_kelvin)
    return {"warm": 1.0 - cool, "cool": cool}


def colour_format(roles: frozenset[str] | set[str]) -> str:
    """The colour a fixture takes as is: `rgbw` with a white LED, `rgbww` with warm and
    cool ones, else `rgb` (Home Assistant's colour modes)."""
    if "warm" in roles and "cool" in roles:
        return "rgbww"
    if roles & {"white", "warm", "cool"}:
        return "rgbw"
    return "rgb"


def convert_colour(
    colour: tuple[float, ...], fmt: str, min_kelvin: int, max_kelvin: int
) -> tuple[float, ...]:
    """A colour (0-255: r, g, b[, w] or r, g, b, c, w) in format `fmt` for a fixture
    whose warm and cool whites are `min_kelvin` and `max_kelvin`.

    Plain rgb gives its white part (the common part of r, g, b) to the white LEDs, a
    warm + cool pair making it at `NEUTRAL_KELVIN`; white LEDs a fixture lacks become
    the rgb light they make (rescaled so nothing passes 255).
    """
    r, g, b = (max(0.0, min(255.0, c)) for c in colour[:3])
    whites = [max(0.0, min(255.0, c)) for c in colour[3:5]]
    if fmt == "rgb" or not whites:
        if whites:
            light = (
                [(1.0, 1.0, 1.0)]
                if len(whites) == 1
                else [
                    kelvin_to_rgb(max_kelvin),
                    kelvin_to_rgb(min_kelvin),
                ]
            )
            for amount, (kr, kg, kb) in zip(whites, light, strict=True):
                r, g, b = r + amount * kr, g + amount * kg, b + amount * kb
            top = max(r, g, b)
            if top > 255.0:
                r, g, b = (c * 255.0 / top for c in (r, g, b))
        if fmt == "rgb":
            return (r, g, b)
        r, g, b, w = extract_white(r, g, b)
        whites = [w]
    if fmt == "rgbw":
        return (r, g, b, min(255.0, sum(whites)))
    if len(whites) == 1:  # rgbw's w on warm + cool LEDs: a neutral white
        cool = cool_fraction(NEUTRAL_KELVIN, min_kelvin, max_kelvin)
        whites = [whites[0] * cool, whites[0] * (1.0 - cool)]
    return (r, g, b, whites[0], whites[1])


def mix_colour(colour: tuple[float, ...], em: Emitters) -> Mix:
    """A colour on the 0-255 scale: (r, g, b), (r, g, b, w) or (r, g, b, c, w)."""
    fixture = convert_colour(colour, colour_format(em.roles), em.min_kelvin, em.max_kelvin)
    r, g, b = (c / 255.0 for c in fixture[:3])
    shares: dict[str, float] = {}
    if len(fixture) == 4 and em.white_role is not None:
        shares[em.white_role] = fixture[3] / 255.0
    elif len(fixture) == 5:
        shares["cool"], shares["warm"] = fixture[3] / 255.0, fixture[4] / 255.0
    if "amber" in em.roles:
        r, g, shares["amber"] = extract_amber(r, g)
    shares.update(red=r, green=g, blue=b)
    cct16 = ctc_value16(None, em) if "cct" in em.roles else None
    return Mix(_scaled(shares, em), cct16)


def mix_kelvin(kelvin: float, em: Emitters) -> Mix:
    """A colour temperature: from the whites and the CTC channel, else the colour emitters."""
    shares: dict[str, float] = {}
    if "cct" in em.roles:
        # The fixture makes the temperature from the emitters that make white.
        shares.update(dict.fromkeys(_WHITE_MAKERS, 1.0))
        if em.white_role is not None:
            shares[em.white_role] = 1.0
        if em.white_pair:
            shares.update(white_split(kelvin, em))
        return Mix(_scaled(shares, em), ctc_value16(kelvin, em))
    if em.white_pair:
        lo, hi = em.min_kelvin, em.max_kelvin
        reach = clamp_kelvin(kelvin, lo, hi)
        shares.update(white_split(reach, em))
        if reach != kelvin and em.has_rgb:
            # Beyond the whites' range: the whites (at full) make the black body at
            # `reach`; red, green and blue add what it lacks of the one asked for.
            want, have = kelvin_to_rgb(kelvin), kelvin_to_rgb(reach)
            scale = max(h / max(w, 1e-6) for w, h in zip(want, have, strict=True))
            extra = [max(0.0, scale * w - h) for w, h in zip(want, have, strict=True)]
            shares.update(zip(_RGB, extra, strict=True))
        return Mix(_scaled(shares, em))
    r, g, b = kelvin_to_rgb(kelvin)
    if em.white_role is not None:
        r, g, b, shares[em.white_role] = extract_white(r, g, b)
    if "amber" in em.roles:
        r, g, shares["amber"] = extract_amber(r, g)
    shares.update(red=r, green=g, blue=b)
    return Mix(_scaled(shares, em))


def mix_request(colour: tuple[float, ...] | None, kelvin: float | None, em: Emitters) -> Mix:
    """The mix for a request: a colour wins over a colour temperature; neither is white
    (full white on colour fixtures, the default temperature on tunable whites)."""
    if colour is not None and em.has_rgb:
        return mix_colour(colour, em)
    if kelvin is None:
        if em.has_rgb:
            return mix_colour((255.0, 255.0, 255.0), em)
        kelvin = default_kelvin(em.min_kelvin, em.max_kelvin)
    if em.has_rgb or em.white_pair or "cct" in em.roles:
        return mix_kelvin(kelvin, em)
    return Mix({})


def _scaled(shares: dict[str, float], em: Emitters) -> dict[str, float]:
    """Only the fixture's own emitters; the brightest at full unless output is constant."""
    own = {role: max(0.0, s) for role, s in shares.items() if role in em.roles}
    top = max(own.values(), default=0.0)
    if em.constant_output or top <= 0:
        return own
    return {role: s / top for role, s in own.items()}
