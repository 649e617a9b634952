"""Render one fixture's DMX slots from its patch and current level.

Pure: a `Patch` and a `Level` in, the fixture's bytes out, one per channel role.
"""

from __future__ import annotations

from tau.dmx.colour import Emitters, mix_request
from tau.dmx.curves import apply_curve
from tau.dmx.level import FULL16, Level
from tau.dmx.types import Patch

FINE_SUFFIX = "_fine"
FIXED = "fixed"
# Emitters an RGB request mixes: red, green and blue, with white and amber taking their
# share of it (`tau.dmx.colour`).
MIXED_EMITTERS = ("red", "green", "blue", "white", "amber")
# Emitters no Home Assistant colour describes: in a fixture with red/green/blue they stay
# at 0 (UV is never switched on by a colour request); as a fixture's only emitters (a UV
# blacklight, a single-colour strip) they carry the level like a dimmer.
EXTRA_EMITTERS = ("uv", "lime", "cyan", "indigo")
BASE_ROLES = ("dimmer", "warm", "cool", "cct", *MIXED_EMITTERS, *EXTRA_EMITTERS)
KNOWN_ROLES = frozenset(
    {role + suffix for role in BASE_ROLES for suffix in ("", FINE_SUFFIX)} | {FIXED}
)
# A lone warm or cool white (no pair to mix) is a single emitter too.
_SINGLE_EMITTERS = frozenset({*MIXED_EMITTERS, *EXTRA_EMITTERS, "warm", "cool"})


def coarse8(value16: int) -> int:
    """An 8-bit slot: the high byte of the 16-bit value (so it equals a 16-bit pair's coarse
    byte), except a non-zero value never rounds down to off."""
    if value16 <= 0:
        return 0
    return max(1, min(255, value16 >> 8))


def unknown_roles(channels: tuple[str, ...]) -> list[str]:
    return [role for role in channels if role not in KNOWN_ROLES]


def role_values(patch: Patch, level: Level) -> dict[str, int]:
    """16-bit value for every base role this fixture has (dimmer, warm, cool, cct, colours).

    A master `dimmer` carries the level (through the curve) and the emitters the mix at
    full scale, as the fixture multiplies the two itself; without one the emitters
    carry the level too. Either way the light is dimmed once. The mix is one colour
    path per request (`tau.dmx.colour`).
    """
    roles = frozenset(role.removesuffix(FINE_SUFFIX) for role in patch.channels)
    out16 = apply_curve(level.level16, patch.dimming_curve, patch.min_level)
    has_dimmer = "dimmer" in roles
    colour16 = FULL16 if has_dimmer else out16
    values: dict[str, int] = {"dimmer": out16} if has_dimmer else {}
    em = Emitters(roles, patch.min_kelvin, patch.max_kelvin, patch.ctc, patch.constant_output)
    if em.has_rgb or em.white_pair or "cct" in roles:
        mix = mix_request(level.rgb, level.kelvin, em)
        for role, share in mix.shares.items():
            values[role] = round(colour16 * share)
        if mix.cct16 is not None:
            values["cct"] = mix.cct16
    else:
        # Single-colour emitters (a white, amber or UV fixture, a blacklight...): each
        # one carries the level.
        for role in roles & _SINGLE_EMITTERS:
            values[role] = colour16
    return values


def render_fixture(patch: Patch, level: Level) -> bytes:
    """The fixture's slots in patch order: coarse/fine pairs share one 16-bit value,
    a lone 8-bit role gets its high byte, a `fixed` channel its value, a dimmer with a
    span its share of the span (its "off" value at 0), a role no channel of this kind
    drives (UV in a colour mix, an unknown role) stays at 0."""
    values = role_values(patch, level)
    roles = set(patch.channels)
    out = bytearray(len(patch.channels))
    if patch.fixed or patch.spans:
        _render_library(patch, values, roles, out)
        return bytes(out)
    for i, role in enumerate(patch.channels):
        if role.endswith(FINE_SUFFIX):
            base = role.removesuffix(FINE_SUFFIX)
            out[i] = values.get(base, 0) & 0xFF if base in roles else 0
            continue
        value16 = values.get(role, 0)
        out[i] = value16 >> 8 if role + FINE_SUFFIX in roles else coarse8(value16)
    return bytes(out)


def _render_library(patch: Patch, values: dict[str, int], roles: set[str], out: bytearray) -> None:
    """`render_fixture` for a model with fixed channels or spanned dimmers."""
    fixed = patch.fixed
    spans = patch.spans
    for i, role in enumerate(patch.channels):
        if role == FIXED:
            out[i] = fixed[i] if fixed else 0
            continue
        span = spans[i] if spans else None
        if span is not None:
            lo, hi, off = span
            value16 = values.get(role, 0)
            out[i] = off if value16 <= 0 else lo + round((hi - lo) * value16 / FULL16)
            continue
        if role.endswith(FINE_SUFFIX):
            base = role.removesuffix(FINE_SUFFIX)
            out[i] = values.get(base, 0) & 0xFF if base in roles else 0
            continue
        value16 = values.get(role, 0)
        out[i] = value16 >> 8 if role + FINE_SUFFIX in roles else coarse8(value16)
