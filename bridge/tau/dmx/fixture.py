"""Render one fixture's DMX slots from its patch and current level.

Pure: a `Patch` and a `Level` in, the fixture's bytes out, one per channel role.
"""

from __future__ import annotations

from tau.dmx.curves import apply_curve
from tau.dmx.level import FULL16, Level
from tau.dmx.mixing import (
    cct_value16,
    default_kelvin,
    extract_white,
    kelvin_to_rgb,
    split_warm_cool,
)
from tau.dmx.types import Patch

FINE_SUFFIX = "_fine"
KNOWN_ROLES = frozenset(
    role + suffix
    for role in ("dimmer", "warm", "cool", "cct", "red", "green", "blue", "white")
    for suffix in ("", FINE_SUFFIX)
)


def coarse8(value16: int) -> int:
    """An 8-bit slot: the high byte of the 16-bit value (so it equals a 16-bit pair's coarse
    byte), except a non-zero value never rounds down to off."""
    if value16 <= 0:
        return 0
    return max(1, min(255, value16 >> 8))


def unknown_roles(channels: tuple[str, ...]) -> list[str]:
    return [role for role in channels if role not in KNOWN_ROLES]


def role_values(patch: Patch, level: Level) -> dict[str, int]:
    """16-bit value for every base role this fixture has (dimmer, warm, cool, cct, r, g, b, w)."""
    roles = {role.removesuffix(FINE_SUFFIX) for role in patch.channels}
    out16 = apply_curve(level.level16, patch.dimming_curve, patch.min_level)
    has_dimmer = "dimmer" in roles
    # With a dimmer channel the colour channels carry colour only (at full); without one
    # they carry the intensity too.
    colour16 = FULL16 if has_dimmer else out16
    values: dict[str, int] = {"dimmer": out16} if has_dimmer else {}

    kelvin = level.kelvin
    if kelvin is None:
        kelvin = default_kelvin(patch.min_kelvin, patch.max_kelvin)
    if "warm" in roles or "cool" in roles:
        warm, cool = split_warm_cool(colour16, kelvin, patch.min_kelvin, patch.max_kelvin)
        values["warm"], values["cool"] = warm, cool
    if "cct" in roles:
        values["cct"] = cct_value16(kelvin, patch.min_kelvin, patch.max_kelvin)
    if roles & {"red", "green", "blue", "white"}:
        values.update(_rgbw(roles, level, colour16))
    return values


def _rgbw(roles: set[str], level: Level, colour16: int) -> dict[str, int]:
    if level.rgb is not None:
        r, g, b = (max(0.0, min(255.0, c)) / 255.0 for c in level.rgb)
        w = 0.0
        if "white" in roles:
            r, g, b, w = extract_white(r, g, b)
    elif level.kelvin is not None:
        r, g, b = kelvin_to_rgb(level.kelvin)
        w = 0.0
        if "white" in roles:
            r, g, b, w = extract_white(r, g, b)
    elif "white" in roles:
        r = g = b = 0.0
        w = 1.0
    else:
        r = g = b = 1.0
        w = 0.0
    return {
        "red": round(colour16 * r),
        "green": round(colour16 * g),
        "blue": round(colour16 * b),
        "white": round(colour16 * w),
    }


def render_fixture(patch: Patch, level: Level) -> bytes:
    """The fixture's slots in patch order: coarse/fine pairs share one 16-bit value,
    a lone 8-bit role gets its high byte, an unknown role stays at 0."""
    values = role_values(patch, level)
    roles = set(patch.channels)
    out = bytearray(len(patch.channels))
    for i, role in enumerate(patch.channels):
        if role.endswith(FINE_SUFFIX):
            base = role.removesuffix(FINE_SUFFIX)
            out[i] = values.get(base, 0) & 0xFF if base in roles else 0
            continue
        value16 = values.get(role, 0)
        out[i] = value16 >> 8 if role + FINE_SUFFIX in roles else coarse8(value16)
    return bytes(out)
