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
        return "warm" in self.roles or "cool" in self.roles


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


def mix_colour(colour: tuple[float, ...], em: Emitters) -> Mix:
    """A colour on the 0-255 scale: (r, g, b), (r, g, b, w) or (r, g, b, c, w)."""
    r, g, b = (max(0.0, min(255.0, c)) / 255.0 for c in colour[:3])
    shares: dict[str, float] = {}
    explicit = [max(0.0, min(255.0, c)) / 255.0 for c in colour[3:]]
    white = explicit[0] if len(explicit) == 1 else 0.0
    cold_white, warm_white = explicit if len(explicit) == 2 else (0.0, 0.0)
    # White LEDs named by the request that this fixture lacks become their rgb light.
    if white and "white" not in em.roles and not em.white_pair:
        r, g, b = r + white, g + white, b + white
        white = 0.0
    if (cold_white or warm_white) and not em.white_pair:
        for amount, k in ((cold_white, em.max_kelvin), (warm_white, em.min_kelvin)):
            if "white" in em.roles:
                white += amount
                continue
            kr, kg, kb = kelvin_to_rgb(k)
            r, g, b = r + amount * kr, g + amount * kg, b + amount * kb
        cold_white = warm_white = 0.0
    if explicit:
        if "white" in em.roles:
            shares["white"] = min(1.0, white)
        elif em.white_pair:
            if white:  # rgbw's w on warm + cool LEDs: a neutral white
                split = white_split(NEUTRAL_KELVIN, em)
                cold_white += white * split["cool"]
                warm_white += white * split["warm"]
            shares["cool"], shares["warm"] = min(1.0, cold_white), min(1.0, warm_white)
    elif "white" in em.roles:
        r, g, b, shares["white"] = extract_white(r, g, b)
    elif em.white_pair:
        r, g, b, w = extract_white(r, g, b)
        for role, share in white_split(NEUTRAL_KELVIN, em).items():
            shares[role] = w * share
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
        if em.white_pair:
            shares.update(white_split(kelvin, em))
        return Mix(_scaled(shares, em), ctc_value16(kelvin, em))
    if em.white_pair:
        lo, hi = em.min_kelvin, em.max_kelvin
        reach = clamp_kelvin(kelvin, lo, hi)
        shares.update(white_split(reach, em))
        if reach != kelvin and em.has_rgb:
            # Beyond the whites: the colour emitters add the tint they lack.
            want = kelvin_to_rgb(kelvin)
            have = kelvin_to_rgb(reach)
            tint = [max(0.0, w / max(h, 1e-6) - 1.0) for w, h in zip(want, have, strict=True)]
            top = max(tint)
            if top > 0:
                shares.update(zip(_RGB, (t / top for t in tint), strict=True))
        return Mix(_scaled(shares, em))
    r, g, b = kelvin_to_rgb(kelvin)
    if "white" in em.roles:
        r, g, b, shares["white"] = extract_white(r, g, b)
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
